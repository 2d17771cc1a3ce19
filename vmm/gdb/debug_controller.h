// All-stop debugging of the vCPUs: holding every vCPU thread outside KVM_RUN while gdb looks,
// letting them go, and turning KVM's debug exits into the stop events gdb is told about. The
// breakpoints and watchpoints are kept here and given to each vCPU (KVM_SET_GUEST_DEBUG) when
// the vCPUs are let go; writing a software breakpoint's int3 into memory is the server's.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/vcpu.h"

namespace wisp::gdb {

// gdb's Z packet types.
enum class BreakpointType { kSoftware = 0, kHardware = 1, kWrite = 2, kRead = 3, kAccess = 4 };

struct StopEvent {
  enum class Cause {
    kAttach,     // gdb connected: the VM was stopped for it
    kInterrupt,  // Ctrl-C
    kSoftwareBreakpoint,
    kHardwareBreakpoint,
    kWatchpoint,
    kStep,
  };
  uint32_t vcpu = 0;
  Cause cause = Cause::kInterrupt;
  BreakpointType watch_type = BreakpointType::kWrite;  // kWatchpoint: which kind
  uint64_t watch_address = 0;                          // kWatchpoint: the watched address
};

class DebugController final : public VcpuDebugHook {
 public:
  // x86 has four debug address registers.
  static constexpr size_t kHardwareSlots = 4;

  // `held` from the start: the vCPUs wait before their first instruction (--gdb-wait).
  // `supported` is KVM's KVM_CAP_SET_GUEST_DEBUG2 answer: the control flags it takes.
  DebugController(std::vector<Vcpu*> vcpus, bool held, uint32_t supported);

  // Called (on a vCPU thread) when a debug event stopped the VM while it ran.
  void set_on_stop(std::function<void()> on_stop) { on_stop_ = std::move(on_stop); }

  // Holds every vCPU and waits until all are held: false if the VM stops meanwhile.
  bool hold_all();
  // Gives each vCPU the breakpoints, and `step` single-stepping, then lets them all run.
  Result<void> release_all(std::optional<uint32_t> step);
  // The event that stopped the VM, taken once; an interrupt (Ctrl-C) if none.
  StopEvent take_stop_event();
  // The VM is stopping: held threads go, hold_all returns false from now on.
  void shut_down();

  // Breakpoints, in effect from the next release_all. Software ones are found by the address of
  // their int3 on a #BP exit; hardware ones and watchpoints take a debug register each.
  bool add_hardware(BreakpointType type, uint64_t address, uint64_t length);
  bool remove_hardware(BreakpointType type, uint64_t address, uint64_t length);
  void add_software(uint64_t address) { software_.insert(address); }
  void remove_software(uint64_t address) { software_.erase(address); }
  void clear_breakpoints();

  void before_run(Vcpu& vcpu) override;
  void debug_exit(Vcpu& vcpu, const kvm_debug_exit_arch& exit) override;

 private:
  struct HardwareSlot {
    bool used = false;
    BreakpointType type = BreakpointType::kHardware;
    uint64_t address = 0;
    uint64_t length = 1;
  };

  kvm_guest_debug settings(uint32_t vcpu) const;
  void stop_on(StopEvent event);  // with mutex_ held

  std::vector<Vcpu*> vcpus_;
  uint32_t supported_;
  std::function<void()> on_stop_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool hold_ = false;
  bool shut_down_ = false;
  size_t held_ = 0;
  std::optional<StopEvent> event_;
  std::optional<uint32_t> stepping_;
  std::set<uint64_t> software_;
  HardwareSlot slots_[kHardwareSlots];
};

}  // namespace wisp::gdb
