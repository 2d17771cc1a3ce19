// Logging on top of fmt: one line per message to stderr, with a level. Off the hot path: guest
// misbehaviour is reported through warn_limited so a looping guest cannot flood the host.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "vmm/base/result.h"

namespace wisp::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void set_level(Level level);
// Sends the log (stderr) to the file or FIFO at `path` instead, made if missing (Firecracker's
// logger log_path). Opened for reading too, as Firecracker opens it, so that a FIFO nobody reads
// yet does not block the open.
Result<void> send_to(const std::string& path);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kDebug))
    write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
}

// A budget of messages for one source of guest-triggered warnings: the first few are logged,
// then one notice that the rest are suppressed.
class RateLimit {
 public:
  explicit RateLimit(int budget) : remaining_(budget) {}
  // True when the caller may log; prints the suppression notice when the budget runs out.
  bool allow(std::string_view what);

 private:
  std::atomic<int> remaining_;
};

}  // namespace wisp::log
