#include "vmm/config.h"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>

namespace wisp {

Result<uint64_t> parse_size(std::string_view text) {
  uint64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data())
    return fail("'{}' is not a size (expected e.g. 512M or 2G)", text);
  std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  int shift;
  if (suffix.empty() || suffix == "M" || suffix == "m" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    shift = 10;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    shift = 30;
  } else if (suffix == "T" || suffix == "t" || suffix == "TiB") {
    shift = 40;
  } else {
    return fail("'{}' has an unknown size suffix '{}' (use K, M, G or T)", text, suffix);
  }
  if (number > (std::numeric_limits<uint64_t>::max() >> shift))
    return fail("size '{}' is too large", text);
  return number << shift;
}

Result<SerialConfig> parse_serial(std::string_view text) {
  if (text == "stdio") return SerialConfig{SerialMode::kStdio, ""};
  if (text == "none") return SerialConfig{SerialMode::kNone, ""};
  if (text.starts_with("file=") && text.size() > 5)
    return SerialConfig{SerialMode::kFile, std::string(text.substr(5))};
  return fail("--serial '{}' is not one of stdio, none, file=PATH", text);
}

Result<RebootAction> parse_reboot_action(std::string_view text) {
  if (text == "exit") return RebootAction::kExit;
  if (text == "restart") return RebootAction::kRestart;
  return fail("--on-reboot '{}' is not one of exit, restart", text);
}

Result<void> validate(const VmConfig& config, uint64_t host_memory) {
  if (config.kernel_path.empty()) return fail("--kernel is required");
  if (::access(config.kernel_path.c_str(), R_OK) != 0)
    return fail_errno(fmt::format("kernel {}", config.kernel_path));
  if (!config.initrd_path.empty() && ::access(config.initrd_path.c_str(), R_OK) != 0)
    return fail_errno(fmt::format("initrd {}", config.initrd_path));
  if (config.cpus == 0 || config.cpus > kMaximumCpus)
    return fail("--cpus {} is out of range (1 to {})", config.cpus, kMaximumCpus);
  if (config.memory_bytes < kMinimumMemoryBytes)
    return fail("--memory {} MiB is too small (at least {} MiB)", config.memory_bytes >> 20,
                kMinimumMemoryBytes >> 20);
  if (config.memory_bytes % 4096 != 0) return fail("--memory must be a whole number of pages");
  if (config.memory_bytes > host_memory)
    return fail("--memory {} MiB is more than this host has ({} MiB)", config.memory_bytes >> 20,
                host_memory >> 20);
  if (config.cmdline.find('\0') != std::string::npos)
    return fail("the kernel command line contains a NUL byte");
  return {};
}

Result<uint64_t> host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib << 10;
  }
  return fail("cannot read MemTotal from /proc/meminfo");
}

}  // namespace wisp
