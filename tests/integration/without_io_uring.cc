// without_io_uring PROGRAM ARGS...: runs PROGRAM with io_uring_setup refused (EPERM) by a seccomp
// filter, as a container runtime's profile or a hardened host would, so that a test can check
// Wisp's fallback to synchronous disk I/O.
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: without_io_uring PROGRAM ARGS...\n");
    return 2;
  }
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (!filter ||
      seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0) != 0 ||
      seccomp_load(filter) != 0) {
    std::fprintf(stderr, "without_io_uring: cannot install the seccomp filter\n");
    return 2;
  }
  seccomp_release(filter);
  ::execv(argv[1], argv + 1);
  std::perror("without_io_uring: execv");
  return 2;
}
