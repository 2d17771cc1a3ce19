// Seccomp filters, one per kind of thread (--seccomp). Each thread installs its own before it
// touches anything the guest controls, and may then make only the system calls its work needs,
// ioctl only with the requests it uses. A forbidden call ends Wisp with one line naming it.
#pragma once

#include <string_view>

#include "vmm/base/result.h"

namespace wisp {

enum class SeccompMode {
  kOff,  // no filter (debugging)
  kLog,  // forbidden calls are allowed but logged by the kernel (dmesg, audit)
  kOn,   // forbidden calls end Wisp: one line on stderr, exit status 10
};

// Under AddressSanitizer forbidden calls are only logged: its reports and LeakSanitizer's exit
// check make calls the filters do not allow, and must still work.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr SeccompMode kDefaultSeccompMode = SeccompMode::kLog;
#else
inline constexpr SeccompMode kDefaultSeccompMode = SeccompMode::kOn;
#endif

enum class ThreadKind {
  kMain,         // builds the VM, runs the event loop; may build it again (--on-reboot restart)
  kVcpu,         // KVM_RUN and the device registers
  kBlockDevice,  // a disk's queues: io_uring or plain reads and writes on the image
  kNetDevice,    // a NIC's queues: reads and writes on the TAP
  kFsDevice,     // a virtio-fs device: talks to its vhost-user back end
  kVsockDevice,  // a virtio-vsock device: its unix sockets (accept, connect, send, receive)
  kDebugger,     // the gdb stub: its socket, and the vCPUs' registers while they are held
};

// "on", "off" or "log".
Result<SeccompMode> parse_seccomp_mode(std::string_view text);

// Installs the filter of `kind` on the calling thread, with no_new_privs; does nothing for kOff,
// or when this thread already has a filter of this kind (a restarted guest's main thread).
Result<void> install_seccomp_filter(ThreadKind kind, SeccompMode mode);

const char* thread_kind_name(ThreadKind kind);

}  // namespace wisp
