#include "vmm/teardown_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "vmm/base/log.h"

namespace wisp {
namespace {

// Closes every descriptor of this process except those in `keep` (sorted). Runs in the forked
// child, so it makes system calls only.
void close_all_except(const std::vector<int>& keep) {
  unsigned int next = 0;
  for (int fd : keep) {
    if (static_cast<unsigned int>(fd) > next) ::close_range(next, static_cast<unsigned>(fd) - 1, 0);
    next = static_cast<unsigned int>(fd) + 1;
  }
  ::close_range(next, UINT_MAX, 0);
}

}  // namespace

void hand_off_kvm_teardown(std::span<const int> kvm_fds) {
  int exit_pipe[2];  // the write end lives as long as this process: EOF tells the child it exited
  if (::pipe2(exit_pipe, O_CLOEXEC) < 0) return;
  // The child's write end closes once it has closed everything else: EOF tells this process that
  // no TAP, disk (and its lock) or pipe outlives it in the child.
  int closed_pipe[2];
  if (::pipe2(closed_pipe, O_CLOEXEC) < 0) {
    ::close(exit_pipe[0]);
    ::close(exit_pipe[1]);
    return;
  }
  std::vector<int> keep(kvm_fds.begin(), kvm_fds.end());
  keep.push_back(exit_pipe[0]);
  keep.push_back(closed_pipe[1]);
  std::sort(keep.begin(), keep.end());

  pid_t child = ::fork();
  int fork_errno = errno;
  if (child == 0) {
    // Stdout, stderr and any descriptor the caller passed in close now, so that a caller reading
    // them to EOF sees it as soon as wisp exits.
    close_all_except(keep);
    ::close(closed_pipe[1]);
    char byte;
    while (::read(exit_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);  // closes the VM: KVM destroys it here
  }
  ::close(exit_pipe[0]);
  ::close(closed_pipe[1]);
  if (child < 0) {
    log::debug("fork for the KVM teardown failed ({}); tearing down here", fork_errno);
    ::close(exit_pipe[1]);
  } else {
    // Whoever waits for this process may reuse its TAP or disks at once: wait until the child
    // holds none of them (it has closed them, or died).
    char byte;
    while (::read(closed_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  ::close(closed_pipe[0]);
}

}  // namespace wisp
