#include "vmm/api/metrics.h"

#include <fcntl.h>
#include <unistd.h>

namespace wisp::api {

Result<MetricsSink> MetricsSink::open(const std::string& path) {
  // O_RDWR, as Firecracker opens it: the open of a FIFO without a reader then does not block.
  Fd file(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0644));
  if (!file.valid()) return fail_errno(fmt::format("metrics_path {}", path));
  return MetricsSink(std::move(file), path);
}

Result<void> MetricsSink::write_line(const std::string& line) {
  std::string whole = line + '\n';
  // Lines are short: a FIFO takes one whole (PIPE_BUF) or not at all when it is full.
  ssize_t written = ::write(file_.get(), whole.data(), whole.size());
  if (written < 0 && errno == EAGAIN) {
    ++dropped_;
    return {};
  }
  if (written < 0) return fail_errno(fmt::format("writing metrics to {}", path_));
  if (static_cast<size_t>(written) != whole.size())
    return fail("writing metrics to {}: {} of {} bytes written", path_, written, whole.size());
  return {};
}

}  // namespace wisp::api
