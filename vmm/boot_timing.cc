#include "vmm/boot_timing.h"

#include <fmt/format.h>

namespace wisp {

int64_t BootTiming::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void BootTiming::mark(Phase phase) {
  int64_t unset = 0;
  marks_[static_cast<size_t>(phase)].compare_exchange_strong(unset, now_ns());
}

std::string BootTiming::report() const {
  constexpr const char* kNames[] = {"", "parse", "build", "first KVM_RUN", "run", "teardown"};
  std::string text;
  int64_t previous = marks_[0].load();
  for (size_t i = 1; i < marks_.size(); ++i) {
    int64_t at = marks_[i].load();
    if (at == 0) continue;
    text += fmt::format("{}{} {:.2f} ms", text.empty() ? "" : ", ", kNames[i],
                        static_cast<double>(at - previous) / 1e6);
    previous = at;
  }
  return text + fmt::format("; total {:.2f} ms", static_cast<double>(previous - marks_[0]) / 1e6);
}

}  // namespace wisp
