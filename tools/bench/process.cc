#include "tools/bench/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

extern char** environ;

namespace wisp::bench {

pid_t spawn_with_output(const std::vector<std::string>& argv, int& output) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) std::abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "bench: cannot start %s\n", args[0]);
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  output = out[0];
  return pid;
}

Timed run_timed(const std::vector<std::string>& argv,
                const std::function<void(pid_t)>& on_first_line) {
  Timed timed;
  auto start = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  int output_fd;
  pid_t pid = spawn_with_output(argv, output_fd);
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(output_fd, buffer, sizeof(buffer))) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    size_t scanned = timed.output.size();
    timed.output.append(buffer, static_cast<size_t>(n));
    size_t lines_before = timed.line_ms.size();
    double now = elapsed_ms();
    for (size_t at = scanned; (at = timed.output.find('\n', at)) != std::string::npos; ++at)
      timed.line_ms.push_back(now);
    if (lines_before == 0 && !timed.line_ms.empty()) {
      timed.first_line_ms = now;
      if (on_first_line) on_first_line(pid);
    }
  }
  ::close(output_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  timed.exit_ms = elapsed_ms();
  timed.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return timed;
}

namespace {

long vm_hwm_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  long kib = -1;
  while (std::getline(status, line))
    if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kib) == 1) break;
  return kib;
}

}  // namespace

long peak_rss_kib(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    // Stop before exec so that the parent can set the tracing options first.
    if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0 || ::raise(SIGSTOP) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) return -1;
  ::ptrace(PTRACE_SETOPTIONS, pid, nullptr, PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC);
  ::ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  long kib = -1;
  while (::waitpid(pid, &status, 0) == pid && WIFSTOPPED(status)) {
    int event = status >> 16;
    int signal = WSTOPSIG(status);
    if (event == PTRACE_EVENT_EXIT) kib = vm_hwm_kib(pid);  // the address space is still there
    // Events and the exec SIGTRAP are ours; any other signal goes on to the process.
    bool ours = event != 0 || signal == SIGTRAP;
    ::ptrace(PTRACE_CONT, pid, nullptr, ours ? 0 : signal);
  }
  return kib;
}

}  // namespace wisp::bench
