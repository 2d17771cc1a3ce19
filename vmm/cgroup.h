// A cgroup of the jail's own with the limits --cgroup asks for, on cgroup v2 or, where a host
// mounts a controller only there, v1 (a hybrid host keeps memory and cpu on v1 and an empty v2 at
// /sys/fs/cgroup/unified). Made by the supervisor before the VMM starts, joined by the VMM, and
// removed by the supervisor once the VMM has exited.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace wisp {

struct CgroupLimits {
  std::optional<uint64_t> memory_bytes;  // memory.max / memory.limit_in_bytes
  std::optional<double> cpus;            // a CFS quota of this many CPUs' time
  std::optional<uint64_t> pids;          // pids.max
  std::string parent;  // where in each hierarchy to make the cgroup; "": the current cgroup

  bool empty() const { return !memory_bytes && !cpus && !pids; }
};

// "memory=SIZE,cpu=N,pids=N[,parent=PATH]", any non-empty subset of the limits.
Result<CgroupLimits> parse_cgroup_limits(std::string_view text);

// Where a controller's files are: a v2 hierarchy that has the controller, or its v1 mount.
struct CgroupHierarchy {
  bool v2 = false;
  std::string mount_point;   // /sys/fs/cgroup, /sys/fs/cgroup/memory, ...
  std::string current_path;  // this process's cgroup there, from its root: "/", "/a/b"
};

// Finds the hierarchy for `controller` from /proc/self/mountinfo and /proc/self/cgroup texts.
// `v2_controllers` lists what the v2 root offers (its cgroup.controllers), "" without v2.
Result<CgroupHierarchy> find_cgroup_hierarchy(std::string_view controller,
                                              std::string_view mountinfo,
                                              std::string_view proc_cgroup,
                                              std::string_view v2_controllers);

// The cgroup directories made for one jail. Destroying it removes them (they must be empty:
// call it once the jailed process has been reaped).
class JailCgroup {
 public:
  // Makes `name` under limits.parent (or the current cgroup) in each hierarchy the limits need,
  // and writes the limits there.
  static Result<JailCgroup> create(const CgroupLimits& limits, const std::string& name);

  JailCgroup() = default;
  JailCgroup(JailCgroup&& other) noexcept : directories_(std::move(other.directories_)) {
    other.directories_.clear();
  }
  JailCgroup& operator=(JailCgroup&&) = delete;
  JailCgroup(const JailCgroup&) = delete;
  ~JailCgroup();

  // Moves the calling process into every directory made.
  Result<void> join() const;

  const std::vector<std::string>& directories() const { return directories_; }

 private:
  Result<void> make_directory(const CgroupHierarchy& hierarchy, const std::string& parent,
                              const std::string& name, std::string_view controller);

  std::vector<std::string> directories_;
};

}  // namespace wisp
