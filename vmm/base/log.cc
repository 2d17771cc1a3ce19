#include "vmm/base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "vmm/base/fd.h"

namespace wisp::log {
namespace {

std::atomic<Level> g_level{Level::kWarn};

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void set_level(Level level) {
  g_level.store(level);
}

Result<void> send_to(const std::string& path) {
  Fd file(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!file.valid()) return fail_errno(fmt::format("log_path {}", path));
  if (::dup2(file.get(), STDERR_FILENO) < 0) return fail_errno("dup2 onto stderr");
  return {};
}

bool enabled(Level level) {
  return level >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message) {
  // The terminal may be in raw mode: end lines with \r\n so they start at column 0.
  fmt::print(stderr, "wisp: {}: {}\r\n", level_name(level), message);
}

bool RateLimit::allow(std::string_view what) {
  if (remaining_.load(std::memory_order_relaxed) < 0) return false;
  int left = remaining_.fetch_sub(1, std::memory_order_relaxed);
  if (left > 0) return true;
  if (left == 0) warn("further {} messages suppressed", what);
  return false;
}

}  // namespace wisp::log
