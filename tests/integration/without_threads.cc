// without_threads PROGRAM ARGS...: runs PROGRAM where no thread can be created, as under a
// process limit that is already reached: a seccomp filter refuses clone3 (ENOSYS, so that glibc
// falls back to clone) and clone with CLONE_THREAD (EAGAIN, what pthread_create then reports).
// Processes can still be created. For the test that a failed thread start is an error, not an
// abort.
#include <sched.h>
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: without_threads PROGRAM ARGS...\n");
    return 2;
  }
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (!filter ||
      seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0 ||
      seccomp_rule_add(filter, SCMP_ACT_ERRNO(EAGAIN), SCMP_SYS(clone), 1,
                       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0 ||
      seccomp_load(filter) != 0) {
    std::fprintf(stderr, "without_threads: cannot install the seccomp filter\n");
    return 2;
  }
  seccomp_release(filter);
  ::execv(argv[1], argv + 1);
  std::perror("without_threads: execv");
  return 2;
}
