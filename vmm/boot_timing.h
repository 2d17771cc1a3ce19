// When each phase of a VM's life ended, for `--boot-timing`: the command line parsed, the VM
// built (KVM objects, memory, devices, kernel loaded), the first KVM_RUN entered, the guest
// stopped, and the VM torn down.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <string>

namespace wisp {

class BootTiming {
 public:
  enum class Phase { kStart, kParsed, kBuilt, kFirstRun, kStopped, kTornDown, kCount };

  BootTiming() { mark(Phase::kStart); }

  // Records the time now for `phase` (the first mark wins; safe from any thread).
  void mark(Phase phase);
  // "parse 0.10 ms, build 1.20 ms, ..." between consecutive phases.
  std::string report() const;

 private:
  static int64_t now_ns();
  std::array<std::atomic<int64_t>, static_cast<size_t>(Phase::kCount)> marks_{};
};

}  // namespace wisp
