#include "vmm/base/signal_stack.h"

#include <signal.h>
#include <sys/mman.h>

namespace wisp {
namespace {

constexpr size_t kAlternateStackBytes = 64 * 1024;

// Mapped, not allocated: freeing 64 KiB at thread exit would make malloc trim the thread's
// arena, which first reads a /proc file that the thread's seccomp filter refuses.
class AlternateStack {
 public:
  AlternateStack() {
    void* memory = ::mmap(nullptr, kAlternateStackBytes, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return;
    stack_t stack{};
    stack.ss_sp = memory;
    stack.ss_size = kAlternateStackBytes;
    if (sigaltstack(&stack, nullptr) == 0) {
      memory_ = memory;
    } else {
      ::munmap(memory, kAlternateStackBytes);
    }
  }
  ~AlternateStack() {
    if (!memory_) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    ::munmap(memory_, kAlternateStackBytes);
  }
  AlternateStack(const AlternateStack&) = delete;
  AlternateStack& operator=(const AlternateStack&) = delete;

 private:
  void* memory_ = nullptr;
};

}  // namespace

void use_alternate_signal_stack() {
  thread_local AlternateStack stack;
}

}  // namespace wisp
