// Runs a program the way a test suite would: argv, bytes on its stdin, a deadline; collects its
// stdout, stderr and exit status.
#pragma once

#include <string>
#include <vector>

namespace wisp::test {

struct ProcessResult {
  int status = -1;         // exit status, or 128 + signal
  bool timed_out = false;  // killed at the deadline
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          int timeout_seconds);

// A file's whole contents ("" if it cannot be read): a serial log, an image.
std::string read_file(const std::string& path);

}  // namespace wisp::test
