// in_background PROGRAM ARGS...: runs PROGRAM as a background job would run, in a process group
// of its own that is not the terminal's foreground group, and exits with its status. If the job
// stops instead (SIGTTOU or SIGTTIN, as a shell's job would), prints "in_background: stopped by
// signal N", kills it and exits 99.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: in_background PROGRAM ARGS...\n");
    return 2;
  }
  pid_t child = ::fork();
  if (child < 0) return 2;
  if (child == 0) {
    ::setpgid(0, 0);
    ::execvp(argv[1], argv + 1);
    ::_exit(127);
  }
  ::setpgid(child, child);  // either side may run first
  int status = 0;
  if (::waitpid(child, &status, WUNTRACED) < 0) return 2;
  if (WIFSTOPPED(status)) {
    std::printf("in_background: stopped by signal %d\n", WSTOPSIG(status));
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return 99;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
