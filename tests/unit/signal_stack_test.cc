#include <signal.h>

#include <catch2/catch.hpp>
#include <thread>

#include "vmm/base/signal_stack.h"

using namespace wisp;

namespace {

stack_t current_alternate_stack() {
  stack_t stack{};
  sigaltstack(nullptr, &stack);
  return stack;
}

}  // namespace

TEST_CASE("each thread gets its own alternate signal stack, once") {
  stack_t first{}, again{}, before{};
  std::thread([&] {
    before = current_alternate_stack();
    use_alternate_signal_stack();
    first = current_alternate_stack();
    use_alternate_signal_stack();
    again = current_alternate_stack();
  }).join();
  // A new thread has none of its own, unless AddressSanitizer gave it one: then it is replaced.
  if (!(before.ss_flags & SS_DISABLE)) CHECK(first.ss_sp != before.ss_sp);
  CHECK((first.ss_flags & SS_DISABLE) == 0);
  CHECK(first.ss_size >= 64 * 1024);
  CHECK(again.ss_sp == first.ss_sp);

  stack_t other{};
  std::thread([&] {
    use_alternate_signal_stack();
    other = current_alternate_stack();
  }).join();
  CHECK((other.ss_flags & SS_DISABLE) == 0);
}
