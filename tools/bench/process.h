// Starting a VMM process for a benchmark: wall time to its first line of output and to its exit,
// its peak RSS (from wait4), its status.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace wisp::bench {

struct Timed {
  double first_line_ms = -1;  // -1: it printed no line
  double exit_ms = 0;
  long peak_rss_kib = 0;
  int status = -1;
  std::string output;
};

// Runs argv with stdin and stderr on /dev/null and stdout captured. `on_first_line`, if given,
// is called with the child's pid when its first line arrives (the child is still running).
Timed run_timed(const std::vector<std::string>& argv,
                const std::function<void(pid_t)>& on_first_line = nullptr);

}  // namespace wisp::bench
