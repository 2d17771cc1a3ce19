// Why a VM stops, and the one place devices and vCPUs report it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace wisp {

enum class StopKind {
  kPowerOff,     // ACPI S5 from the guest
  kReset,        // ACPI reset register or i8042 reset (when reboots end the VMM)
  kDebugExit,    // a write to the debug-exit port
  kTripleFault,  // KVM_EXIT_SHUTDOWN
  kPanic,        // the guest said it panicked (pvpanic)
  kTimeout,      // --timeout expired
  kUserQuit,     // Ctrl-A x on the console, SIGINT, SIGTERM, SIGHUP or SIGQUIT
  kError,        // a VMM or KVM failure (internal error, failed entry, ...)
};

struct StopReason {
  StopReason(StopKind stop_kind, uint32_t exit_value = 0, std::string what = {})
      : kind(stop_kind), debug_exit_value(exit_value), detail(std::move(what)) {}

  StopKind kind;
  uint32_t debug_exit_value;  // for kDebugExit
  std::string detail;         // what happened, for kError and kTripleFault
};

class VmStopper {
 public:
  virtual ~VmStopper() = default;
  // The first request wins; later ones are ignored. Safe from any thread.
  virtual void request_stop(StopReason reason) = 0;
};

}  // namespace wisp
