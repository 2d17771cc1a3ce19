// The exit statuses of `wisp run`, one per way a VM can end (documented in README.md).
#pragma once

#include "vmm/base/vm_stop.h"

namespace wisp {

inline constexpr int kExitPowerOff = 0;     // the guest powered off
inline constexpr int kExitUsage = 2;        // bad command line or configuration
inline constexpr int kExitReset = 4;        // the guest rebooted (with --on-reboot=exit)
inline constexpr int kExitTripleFault = 6;  // the guest triple-faulted
inline constexpr int kExitTimeout = 8;      // --timeout expired
inline constexpr int kExitError = 10;       // the VMM or KVM failed (a one-line reason is printed)
inline constexpr int kExitUserQuit = 12;    // Ctrl-A x, SIGINT, SIGTERM, SIGHUP or SIGQUIT
// A write of v to the debug-exit port gives (v << 1) | 1, as QEMU's isa-debug-exit: always odd.

inline int exit_status(const StopReason& reason) {
  switch (reason.kind) {
    case StopKind::kPowerOff:
      return kExitPowerOff;
    case StopKind::kReset:
      return kExitReset;
    case StopKind::kDebugExit:
      return static_cast<int>(((reason.debug_exit_value << 1) | 1) & 0xff);
    case StopKind::kTripleFault:
      return kExitTripleFault;
    case StopKind::kTimeout:
      return kExitTimeout;
    case StopKind::kUserQuit:
      return kExitUserQuit;
    case StopKind::kError:
      return kExitError;
  }
  return kExitError;
}

}  // namespace wisp
