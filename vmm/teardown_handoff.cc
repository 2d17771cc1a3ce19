#include "vmm/teardown_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "vmm/base/log.h"

namespace wisp {
namespace {

int g_supervisor_socket = -1;  // a jailed VMM's line to its supervisor
// Descriptors per message: the kernel takes at most SCM_MAX_FD (253).
constexpr size_t kDescriptorsPerMessage = 250;

// One message of a byte and a control buffer for up to `descriptors` SCM_RIGHTS descriptors.
struct DescriptorMessage {
  explicit DescriptorMessage(size_t descriptors) : control(CMSG_SPACE(descriptors * sizeof(int))) {
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control.data();
    header.msg_controllen = control.size();
  }
  DescriptorMessage(const DescriptorMessage&) = delete;
  DescriptorMessage& operator=(const DescriptorMessage&) = delete;

  char byte = 0;
  iovec data{&byte, 1};
  std::vector<char> control;
  msghdr header{};
};

bool send_descriptors(int socket, std::span<const int> fds) {
  while (!fds.empty()) {
    std::span<const int> part = fds.first(std::min(fds.size(), kDescriptorsPerMessage));
    DescriptorMessage message(part.size());
    cmsghdr* rights = CMSG_FIRSTHDR(&message.header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(part.size_bytes());
    std::memcpy(CMSG_DATA(rights), part.data(), part.size_bytes());
    if (::sendmsg(socket, &message.header, MSG_NOSIGNAL) < 0) return false;
    fds = fds.subspan(part.size());
  }
  return true;
}

std::vector<int> receive_descriptors(int socket) {
  std::vector<int> fds;
  while (true) {
    DescriptorMessage message(kDescriptorsPerMessage);
    if (::recvmsg(socket, &message.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) return fds;
    for (cmsghdr* rights = CMSG_FIRSTHDR(&message.header); rights;
         rights = CMSG_NXTHDR(&message.header, rights)) {
      if (rights->cmsg_level != SOL_SOCKET || rights->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (rights->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* received = reinterpret_cast<const int*>(CMSG_DATA(rights));
      fds.insert(fds.end(), received, received + count);
    }
  }
}

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
  if (g_supervisor_socket >= 0 && send_descriptors(g_supervisor_socket, kvm_fds)) return;
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

void send_kvm_teardown_to(int socket) {
  g_supervisor_socket = socket;
}

void kvm_teardown_received(int socket, Teardown when) {
  std::vector<int> fds = receive_descriptors(socket);
  if (fds.empty()) return;
  log::debug("jail: the VM's teardown ({} descriptors) is {} outside its PID namespace", fds.size(),
             when == Teardown::kNow ? "done" : "handed off");
  if (when == Teardown::kHandOff) hand_off_kvm_teardown(fds);
  for (int fd : fds) ::close(fd);
}

}  // namespace wisp
