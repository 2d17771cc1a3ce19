// Starting a VMM process for a benchmark: wall time to its first line of output and to its exit,
// and its status; or, in a separate run, its peak RSS.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace wisp::bench {

struct Timed {
  double first_line_ms = -1;  // -1: it printed no line
  double exit_ms = 0;
  int status = -1;
  std::string output;
  std::vector<double> line_ms;  // when each line of output was complete (its '\n' read)
};

// Starts argv with stdin and stderr on /dev/null and stdout into a pipe, whose reading end goes
// to `output`; exits the benchmark when it cannot start.
pid_t spawn_with_output(const std::vector<std::string>& argv, int& output);

// Runs argv with stdin and stderr on /dev/null and stdout captured. `on_first_line`, if given,
// is called with the child's pid when its first line arrives (the child is still running).
Timed run_timed(const std::vector<std::string>& argv,
                const std::function<void(pid_t)>& on_first_line = nullptr);

// The peak RSS (VmHWM) of argv's own address space, in KiB, read when the process exits, with
// its stdout, stdin and stderr on /dev/null; -1 if it could not be read. wait4's ru_maxrss would
// not do: it also counts the address space the child had before exec (the benchmark's own).
// The process runs traced (stopped once at exit), so its timing is not representative.
long peak_rss_kib(const std::vector<std::string>& argv);

}  // namespace wisp::bench
