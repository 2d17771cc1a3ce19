// The exit statuses of `wisp run`, one per way a VM can end (documented in README.md).
#pragma once

#include <string>
#include <string_view>

#include "vmm/base/vm_stop.h"

namespace wisp {

inline constexpr int kExitPowerOff = 0;     // the guest powered off
inline constexpr int kExitUsage = 2;        // bad command line or configuration
inline constexpr int kExitReset = 4;        // the guest rebooted (with --on-reboot=exit)
inline constexpr int kExitTripleFault = 6;  // the guest triple-faulted
inline constexpr int kExitTimeout = 8;      // --timeout expired
inline constexpr int kExitError = 10;       // the VMM or KVM failed (a one-line reason is printed)
inline constexpr int kExitUserQuit = 12;    // Ctrl-A x, SIGINT, SIGTERM, SIGHUP or SIGQUIT
inline constexpr int kExitPanic = 14;       // the guest panicked (pvpanic)
// A write of v to the debug-exit port gives (v << 1) | 1, as QEMU's isa-debug-exit: always odd.

// What each status means: the one table behind `wisp --help` and README.md's "Exit status"
// (tests/unit/exit_status_test.cc holds the README to it). `code` marks are Markdown's.
struct ExitStatusMeaning {
  std::string_view status;
  std::string_view meaning;
};

inline constexpr ExitStatusMeaning kExitStatusTable[] = {
    {"0", "the guest powered off (ACPI S5)"},
    {"odd: `(v << 1) | 1`",
     "the guest wrote `v` to the debug-exit port 0xf4 (as QEMU's `isa-debug-exit`)"},
    {"2",
     "bad usage: a bad option or value, a missing kernel file, a command line longer than the "
     "kernel takes, more vCPUs than KVM allows (one line on stderr says which)"},
    {"4", "the guest rebooted (ACPI reset register, i8042 reset, or its jump to the reset vector)"},
    {"6", "the guest triple-faulted"},
    {"8", "`--timeout` expired"},
    {"10",
     "Wisp or KVM failed: not a kernel, initrd too large, `/dev/kvm` missing, KVM internal error, "
     "a `--serial` file that can no longer be written..."},
    {"12", "stopped by Ctrl-A x, SIGINT, SIGTERM, SIGHUP or SIGQUIT (with or without a terminal)"},
    {"14", "the guest panicked: it said so through pvpanic (unless `--on-panic continue`)"},
};

// The table as `wisp --help` prints it, and as README.md shows it.
std::string exit_status_help();
std::string exit_status_markdown();

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
    case StopKind::kPanic:
      return kExitPanic;
    case StopKind::kError:
      return kExitError;
  }
  return kExitError;
}

}  // namespace wisp
