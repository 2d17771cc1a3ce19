#include "vmm/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

#include "vmm/base/fd.h"
#include "vmm/base/log.h"
#include "vmm/config.h"

namespace wisp {
namespace {

constexpr uint64_t kCpuPeriodMicroseconds = 100'000;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool list_has(std::string_view list, char separator, std::string_view item) {
  for (std::string_view part : split(list, separator))
    if (part == item) return true;
  return false;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::string_view line : split(text, '\n'))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

Result<uint64_t> parse_count(std::string_view key, std::string_view value) {
  uint64_t count = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), count);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || count == 0)
    return fail("--cgroup {}={}: not a positive whole number", key, value);
  return count;
}

Result<double> parse_cpus(std::string_view value) {
  double cpus = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), cpus);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() ||
      !std::isfinite(cpus) || cpus < 0.01 || cpus > 4096)
    return fail("--cgroup cpu={}: not a number of CPUs from 0.01 to 4096", value);
  return cpus;
}

Result<void> write_file(const std::string& path, const std::string& value) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(fmt::format("opening {}", path));
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return fail_errno(fmt::format("writing '{}' to {}", value, path));
  return {};
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A mountinfo line's fields: mount point (5th), then past " - " the type and super options.
struct MountLine {
  std::string_view root, mount_point, type, options;
};

std::optional<MountLine> parse_mount_line(std::string_view line) {
  std::vector<std::string_view> fields = split(line, ' ');
  size_t dash = 0;
  while (dash < fields.size() && fields[dash] != "-") ++dash;
  if (dash < 5 || dash + 3 >= fields.size()) return std::nullopt;
  return MountLine{fields[3], fields[4], fields[dash + 1], fields[dash + 3]};
}

// The current cgroup's path in the hierarchy whose /proc/self/cgroup line matches.
std::optional<std::string_view> current_path(std::string_view proc_cgroup, bool v2,
                                             std::string_view controller) {
  for (std::string_view line : lines_of(proc_cgroup)) {
    std::vector<std::string_view> fields = split(line, ':');
    if (fields.size() < 3) continue;
    bool match = v2 ? fields[0] == "0" && fields[1].empty() : list_has(fields[1], ',', controller);
    if (match) return line.substr(fields[0].size() + fields[1].size() + 2);
  }
  return std::nullopt;
}

// A path from the hierarchy's root, seen through a mount of `mount_root` (not "/" inside some
// containers): the part below the mount's root.
std::string below_mount_root(std::string_view path, std::string_view mount_root) {
  if (mount_root != "/" && path.starts_with(mount_root)) path.remove_prefix(mount_root.size());
  return path.empty() ? "/" : std::string(path);
}

std::string join_path(std::string_view directory, std::string_view child) {
  std::string path(directory);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string_view rest = child;
  while (rest.starts_with('/')) rest.remove_prefix(1);
  if (rest.empty()) return path;
  return path + "/" + std::string(rest);
}

}  // namespace

Result<CgroupLimits> parse_cgroup_limits(std::string_view text) {
  CgroupLimits limits;
  for (const std::string& item : split_list(text)) {
    size_t equals = item.find('=');
    std::string key = item.substr(0, equals);
    std::string value = equals == std::string::npos ? "" : item.substr(equals + 1);
    if (key == "memory") {
      auto bytes = parse_size(value);
      if (!bytes) return std::unexpected(bytes.error().context("--cgroup memory=" + value));
      limits.memory_bytes = *bytes;
    } else if (key == "cpu") {
      limits.cpus = TRY(parse_cpus(value));
    } else if (key == "pids") {
      limits.pids = TRY(parse_count(key, value));
    } else if (key == "parent" && value.starts_with('/')) {
      limits.parent = value;
    } else if (key == "parent") {
      return fail("--cgroup parent={}: give a path from the hierarchy's root, e.g. /wisp", value);
    } else {
      return fail("--cgroup '{}' is not one of memory=SIZE, cpu=N, pids=N, parent=PATH", item);
    }
  }
  if (limits.empty()) return fail("--cgroup '{}' sets no limit (memory=, cpu= or pids=)", text);
  return limits;
}

Result<CgroupHierarchy> find_cgroup_hierarchy(std::string_view controller,
                                              std::string_view mountinfo,
                                              std::string_view proc_cgroup,
                                              std::string_view v2_controllers) {
  bool on_v2 = list_has(v2_controllers, ' ', controller);
  for (std::string_view line : lines_of(mountinfo)) {
    auto mount = parse_mount_line(line);
    if (!mount) continue;
    bool match = on_v2 ? mount->type == "cgroup2"
                       : mount->type == "cgroup" && list_has(mount->options, ',', controller);
    if (!match) continue;
    auto path = current_path(proc_cgroup, on_v2, controller);
    if (!path) return fail("/proc/self/cgroup has no line for the {} controller", controller);
    return CgroupHierarchy{on_v2, std::string(mount->mount_point),
                           below_mount_root(*path, mount->root)};
  }
  return fail("no cgroup hierarchy with the {} controller is mounted (/proc/self/mountinfo)",
              controller);
}

Result<JailCgroup> JailCgroup::create(const CgroupLimits& limits, const std::string& name) {
  std::string mountinfo = read_text("/proc/self/mountinfo");
  std::string proc_cgroup = read_text("/proc/self/cgroup");
  std::string v2_controllers;
  for (std::string_view line : lines_of(mountinfo)) {
    auto mount = parse_mount_line(line);
    if (mount && mount->type == "cgroup2")
      v2_controllers = read_text(join_path(mount->mount_point, "cgroup.controllers"));
  }
  while (!v2_controllers.empty() && v2_controllers.back() == '\n') v2_controllers.pop_back();

  JailCgroup cgroup;
  // The cgroup's directory in the controller's hierarchy, and whether that is v2.
  auto place = [&](std::string_view controller) -> Result<std::pair<std::string, bool>> {
    auto hierarchy = TRY(find_cgroup_hierarchy(controller, mountinfo, proc_cgroup, v2_controllers));
    std::string parent = join_path(hierarchy.mount_point,
                                   limits.parent.empty() ? hierarchy.current_path : limits.parent);
    TRY(cgroup.make_directory(hierarchy, parent, name, controller));
    return std::pair{join_path(parent, name), hierarchy.v2};
  };
  if (limits.memory_bytes) {
    auto [directory, v2] = TRY(place("memory"));
    TRY(write_file(join_path(directory, v2 ? "memory.max" : "memory.limit_in_bytes"),
                   std::to_string(*limits.memory_bytes)));
  }
  if (limits.cpus) {
    auto [directory, v2] = TRY(place("cpu"));
    auto quota = static_cast<uint64_t>(std::llround(*limits.cpus * kCpuPeriodMicroseconds));
    if (v2) {
      TRY(write_file(join_path(directory, "cpu.max"),
                     fmt::format("{} {}", quota, kCpuPeriodMicroseconds)));
    } else {
      TRY(write_file(join_path(directory, "cpu.cfs_period_us"),
                     std::to_string(kCpuPeriodMicroseconds)));
      TRY(write_file(join_path(directory, "cpu.cfs_quota_us"), std::to_string(quota)));
    }
  }
  if (limits.pids) {
    auto [directory, v2] = TRY(place("pids"));
    TRY(write_file(join_path(directory, "pids.max"), std::to_string(*limits.pids)));
  }
  return cgroup;
}

Result<void> JailCgroup::make_directory(const CgroupHierarchy& hierarchy, const std::string& parent,
                                        const std::string& name, std::string_view controller) {
  if (hierarchy.v2) {
    // A v2 controller works in a cgroup only if its parent hands it down.
    std::string subtree = join_path(parent, "cgroup.subtree_control");
    std::string enabled_now = read_text(subtree);
    if (!enabled_now.empty() && enabled_now.back() == '\n') enabled_now.pop_back();
    if (!list_has(enabled_now, ' ', controller)) {
      auto enabled = write_file(subtree, fmt::format("+{}", controller));
      if (!enabled)
        return std::unexpected(enabled.error().context(fmt::format(
            "--cgroup: the {} controller cannot be enabled below {} (a v2 cgroup with processes "
            "of its own cannot; give --cgroup parent=PATH)",
            controller, parent)));
    }
  }
  std::string directory = join_path(parent, name);
  for (const std::string& made : directories_)
    if (made == directory) return {};  // one v2 cgroup, or one v1 mount of cpu and pids, serves
  if (::mkdir(directory.c_str(), 0755) != 0)
    return fail_errno(fmt::format("--cgroup: making {}", directory));
  directories_.push_back(directory);
  return {};
}

Result<void> JailCgroup::join() const {
  for (const std::string& directory : directories_)
    TRY(write_file(join_path(directory, "cgroup.procs"), "0"));
  return {};
}

JailCgroup::~JailCgroup() {
  // The last process's exit is reaped before its cgroup is empty to the kernel; v1 memory in
  // particular can answer EBUSY for a few milliseconds.
  for (auto directory = directories_.rbegin(); directory != directories_.rend(); ++directory) {
    int tries = 0;
    while (::rmdir(directory->c_str()) != 0) {
      if (errno != EBUSY || ++tries > 100) {
        log::warn("cannot remove the jail's cgroup {}: {}", *directory, std::strerror(errno));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace wisp
