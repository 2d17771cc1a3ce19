// KVM destroys a VM when the last file descriptor on it is closed, and destroying it waits for
// RCU grace periods: 1 to 15 ms on an idle host, longer than the rest of a tiny guest's life. A
// VMM about to exit can hand those descriptors to a short-lived child that closes them once the
// VMM has exited, so that whoever waits for wisp (a test suite, a shell) is not kept waiting for
// KVM's bookkeeping. The guest's RAM is not the child's to keep: it is freed with the VMM.
#pragma once

#include <span>

namespace wisp {

// Forks a child that keeps only `kvm_fds` open, waits until this process has exited and then
// exits itself, which closes the VM. Call it once the VM will never run again. If it cannot fork
// it does nothing, and the VM is torn down by this process as usual.
void hand_off_kvm_teardown(std::span<const int> kvm_fds);

// In a jailed VMM: hand_off_kvm_teardown sends the descriptors to the jail's supervisor over
// `socket` (SCM_RIGHTS) rather than forking. A child forked here would stay in the VMM's PID
// namespace, whose end (the VMM is its PID 1) waits for it: the wait the hand-off exists to skip.
void send_kvm_teardown_to(int socket);
// In the supervisor, once the VMM has exited: hands off the descriptors it sent, if any, or with
// `now`, closes them here (the VM is gone when this returns).
enum class Teardown { kHandOff, kNow };
void kvm_teardown_received(int socket, Teardown when);

}  // namespace wisp
