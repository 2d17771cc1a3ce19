// The filters, each in a child process of its own (a filter cannot be taken off again).
#include <fcntl.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <string>

#include "vmm/exit_status.h"
#include "vmm/seccomp_filter.h"

using namespace wisp;

namespace {

struct ChildResult {
  int status = -1;  // exit status, or 128 + signal
  std::string err;
};

// Runs `body` in a child process under the filter of `kind`; its exit status is what `body`
// returns, unless the filter ends it first.
ChildResult run_filtered(ThreadKind kind, SeccompMode mode, const std::function<int()>& body) {
  int err[2];
  REQUIRE(::pipe(err) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(err[1], STDERR_FILENO);
    if (!install_seccomp_filter(kind, mode)) ::_exit(99);
    ::_exit(body());
  }
  ::close(err[1]);
  ChildResult result;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(err[0], buffer, sizeof(buffer))) > 0) result.err.append(buffer, n);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

TEST_CASE("a forbidden system call ends the process with status 10 and names the call") {
  auto vcpu = run_filtered(ThreadKind::kVcpu, SeccompMode::kOn, [] {
    ::syscall(SYS_getppid);  // no thread of Wisp's asks for its parent
    return 0;
  });
  CHECK(vcpu.status == kExitError);
  CHECK(vcpu.err == "wisp: seccomp: a vCPU thread made a forbidden system call: getppid (110)\n");

  auto disk = run_filtered(ThreadKind::kBlockDevice, SeccompMode::kOn,
                           [] { return ::socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 0 : 1; });
  CHECK(disk.status == kExitError);
  CHECK(disk.err.find("a disk thread made a forbidden system call: socket") != std::string::npos);
}

TEST_CASE("the vsock thread makes and uses unix sockets, and no more") {
  auto sockets = run_filtered(ThreadKind::kVsockDevice, SeccompMode::kOn, [] {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strcpy(address.sun_path, "/nonexistent/v.sock_52");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 ||
        errno != ENOENT)
      return 2;
    char byte = 0;
    ::recv(fd, &byte, 1, MSG_DONTWAIT);
    ::send(fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ::close(fd);
    return 0;
  });
  CHECK(sockets.status == 0);
  auto sync = run_filtered(ThreadKind::kVsockDevice, SeccompMode::kOn, [] {
    ::fdatasync(STDOUT_FILENO);
    return 0;
  });
  CHECK(sync.status == kExitError);
  CHECK(sync.err.find("a vsock thread made a forbidden system call: fdatasync") !=
        std::string::npos);
}

TEST_CASE("a disk thread may wait in poll for its back end's completions") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  auto wait = [&] {
    pollfd ready{fds[0], POLLIN, 0};
    return ::poll(&ready, 1, -1) == 1 ? 0 : 1;
  };
  auto disk = run_filtered(ThreadKind::kBlockDevice, SeccompMode::kOn, wait);
  CHECK(disk.status == 0);
  CHECK(disk.err.empty());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("ioctl is allowed only with the requests a thread kind uses") {
  // TUNSETOFFLOAD on a pipe: the network thread may ask (and gets ENOTTY); a vCPU may not.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto ask = [&] { return ::ioctl(fds[0], TUNSETOFFLOAD, 0) < 0 && errno == ENOTTY ? 0 : 1; };
  CHECK(run_filtered(ThreadKind::kNetDevice, SeccompMode::kOn, ask).status == 0);
  auto vcpu = run_filtered(ThreadKind::kVcpu, SeccompMode::kOn, ask);
  CHECK(vcpu.status == kExitError);
  CHECK(vcpu.err.find("forbidden system call: ioctl") != std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("opening a file fails quietly on the threads that may not, and works on the main one") {
  auto open_meminfo = [] {
    int fd = ::open("/proc/meminfo", O_RDONLY);
    if (fd >= 0) return 0;
    return errno == EACCES ? 3 : 4;
  };
  CHECK(run_filtered(ThreadKind::kVcpu, SeccompMode::kOn, open_meminfo).status == 3);
  CHECK(run_filtered(ThreadKind::kNetDevice, SeccompMode::kOn, open_meminfo).status == 3);
  CHECK(run_filtered(ThreadKind::kMain, SeccompMode::kOn, open_meminfo).status == 0);
}

TEST_CASE("log mode lets a forbidden call through, and off installs nothing") {
  auto ask_parent = [] { return ::syscall(SYS_getppid) > 0 ? 0 : 1; };
  CHECK(run_filtered(ThreadKind::kVcpu, SeccompMode::kLog, ask_parent).status == 0);
  auto seccomp_state = [] {
    std::string status;
    int fd = ::open("/proc/self/status", O_RDONLY);
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n > 0) status.assign(buffer, static_cast<size_t>(n));
    return status.find("Seccomp:\t0") != std::string::npos ? 0 : 1;
  };
  CHECK(run_filtered(ThreadKind::kVcpu, SeccompMode::kOff, seccomp_state).status == 0);
}

TEST_CASE("the values of --seccomp") {
  CHECK(*parse_seccomp_mode("on") == SeccompMode::kOn);
  CHECK(*parse_seccomp_mode("off") == SeccompMode::kOff);
  CHECK(*parse_seccomp_mode("log") == SeccompMode::kLog);
  CHECK(parse_seccomp_mode("strict").error().message() ==
        "--seccomp 'strict' is not one of on, off, log");
}
