#include "vmm/base/signal_stack.h"

#include <signal.h>

#include <memory>

namespace wisp {
namespace {

constexpr size_t kAlternateStackBytes = 64 * 1024;

class AlternateStack {
 public:
  AlternateStack() : memory_(new uint8_t[kAlternateStackBytes]) {
    stack_t stack{};
    stack.ss_sp = memory_.get();
    stack.ss_size = kAlternateStackBytes;
    if (sigaltstack(&stack, nullptr) != 0) memory_.reset();
  }
  ~AlternateStack() {
    if (!memory_) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
  AlternateStack(const AlternateStack&) = delete;
  AlternateStack& operator=(const AlternateStack&) = delete;

 private:
  std::unique_ptr<uint8_t[]> memory_;
};

}  // namespace

void use_alternate_signal_stack() {
  thread_local AlternateStack stack;
}

}  // namespace wisp
