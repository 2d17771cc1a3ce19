// The jail's root directory: only the files the VM needs, each bind-mounted at its own absolute
// path below DIR (so paths and messages stay the user's), device nodes of its own for /dev/kvm and
// /dev/net/tun, and a /proc of the jail's PID namespace.
//
// The supervisor (outside the jail) makes the mount points in DIR and removes them after the
// VMM exits; the VMM mounts everything in its own mount namespace, so the host never sees the
// mounts, and pivot_roots into DIR.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace wisp {

struct JailFile {
  enum class Access { kReadOnly, kWritable };
  std::string path;  // absolute
  Access access = Access::kReadOnly;
};

struct JailOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

class JailRoot {
 public:
  // Makes DIR/dev, DIR/proc and an empty mount point for each file (with its parent
  // directories), remembering what did not exist before. `devices` are host device nodes
  // (/dev/kvm, ...) to recreate inside, owned by `owner`.
  static Result<JailRoot> prepare(const std::string& directory, std::vector<JailFile> files,
                                  std::vector<std::string> devices, JailOwner owner);

  JailRoot(JailRoot&& other) noexcept;
  JailRoot& operator=(JailRoot&&) = delete;
  JailRoot(const JailRoot&) = delete;
  ~JailRoot();  // removes what prepare made, deepest first

  // In a new mount namespace (unshare(CLONE_NEWNS)) and PID namespace, as root: mounts the files,
  // /dev and /proc, pivot_roots into DIR and makes the root read-only.
  Result<void> enter() const;

 private:
  JailRoot() = default;
  Result<void> make_directory(const std::string& path);
  Result<void> make_mount_point(const JailFile& file);
  Result<void> mount_files() const;
  Result<void> switch_root() const;
  Result<void> make_devices() const;

  std::string directory_;
  std::vector<JailFile> files_;
  std::vector<std::string> devices_;
  JailOwner owner_;
  std::vector<std::string> made_;  // in the order made
};

// The path of `path` (absolute) inside `directory`.
std::string path_in_jail(const std::string& directory, const std::string& path);

}  // namespace wisp
