// Firecracker's metrics sink (PUT /metrics): one JSON object per line, written to a file or a
// FIFO when asked (FlushMetrics) and once a minute. A reader that falls behind loses lines, never
// stalls the VMM: the FIFO is written without blocking.
#pragma once

#include <cstdint>
#include <string>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp::api {

class MetricsSink {
 public:
  // Opens (or creates) `path` for appending; a FIFO no one reads yet does not block the open.
  static Result<MetricsSink> open(const std::string& path);

  // Writes `line` and a newline whole, or counts it as dropped when the reader is not keeping up.
  Result<void> write_line(const std::string& line);
  uint64_t dropped() const { return dropped_; }
  const std::string& path() const { return path_; }

 private:
  MetricsSink(Fd file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  Fd file_;
  std::string path_;
  uint64_t dropped_ = 0;
};

}  // namespace wisp::api
