#include "vmm/jail_root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "vmm/base/fd.h"
#include "vmm/base/log.h"

namespace wisp {
namespace {

constexpr unsigned long kPrivateMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

Result<void> mount_or_fail(const char* source, const std::string& target, const char* type,
                           unsigned long flags, const char* data, std::string_view what) {
  if (::mount(source, target.c_str(), type, flags, data) != 0)
    return fail_errno(fmt::format("jail: {} at {}", what, target));
  return {};
}

}  // namespace

std::string path_in_jail(const std::string& directory, const std::string& path) {
  std::string inside = directory;
  while (inside.size() > 1 && inside.back() == '/') inside.pop_back();
  return inside + path;
}

Result<JailRoot> JailRoot::prepare(const std::string& directory, std::vector<JailFile> files,
                                   std::vector<std::string> devices, JailOwner owner) {
  JailRoot root;
  root.directory_ = directory;
  root.files_ = std::move(files);
  root.devices_ = std::move(devices);
  root.owner_ = owner;
  TRY(root.make_directory(path_in_jail(directory, "/dev")));
  TRY(root.make_directory(path_in_jail(directory, "/proc")));
  for (const JailFile& file : root.files_) TRY(root.make_mount_point(file));
  return root;
}

JailRoot::JailRoot(JailRoot&& other) noexcept
    : directory_(std::move(other.directory_)),
      files_(std::move(other.files_)),
      devices_(std::move(other.devices_)),
      owner_(other.owner_),
      made_(std::move(other.made_)) {
  other.made_.clear();
}

JailRoot::~JailRoot() {
  for (auto path = made_.rbegin(); path != made_.rend(); ++path) {
    if (::remove(path->c_str()) != 0)
      log::warn("jail: cannot remove {}: {}", *path, std::strerror(errno));
  }
}

Result<void> JailRoot::make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    made_.push_back(path);
    return {};
  }
  struct stat status {};
  if (errno == EEXIST && ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) return {};
  return fail_errno(fmt::format("jail: making the directory {}", path));
}

Result<void> JailRoot::make_mount_point(const JailFile& file) {
  std::filesystem::path inside = path_in_jail(directory_, file.path);
  // The parents, outermost first.
  std::vector<std::string> parents;
  for (auto parent = inside.parent_path(); parent.string().size() > directory_.size();
       parent = parent.parent_path())
    parents.push_back(parent.string());
  for (auto parent = parents.rbegin(); parent != parents.rend(); ++parent)
    TRY(make_directory(*parent));
  Fd made(::open(inside.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (made.valid()) {
    made_.push_back(inside.string());
    return {};
  }
  // Left by a run that was killed before it could clean up: a mount point all the same.
  struct stat status {};
  if (errno == EEXIST && ::stat(inside.c_str(), &status) == 0 && S_ISREG(status.st_mode)) return {};
  return fail_errno(fmt::format("jail: making the mount point {}", inside.string()));
}

Result<void> JailRoot::enter() const {
  // Nothing mounted from here on reaches the host's mount namespace.
  TRY(mount_or_fail(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr, "making mounts private"));
  // pivot_root needs the new root to be a mount point.
  TRY(mount_or_fail(directory_.c_str(), directory_, nullptr, MS_BIND, nullptr, "binding DIR"));
  TRY(mount_files());
  TRY(make_devices());
  TRY(mount_or_fail("proc", path_in_jail(directory_, "/proc"), "proc", kPrivateMountFlags, nullptr,
                    "mounting /proc"));
  if (::chdir(directory_.c_str()) != 0)
    return fail_errno(fmt::format("jail: chdir {}", directory_));
  TRY(switch_root());
  return mount_or_fail(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | kPrivateMountFlags,
                       nullptr, "making the root read-only");
}

// Into DIR, the current directory.
Result<void> JailRoot::switch_root() const {
  // pivot_root stacks the old root under the new one, which is then detached.
  if (::syscall(SYS_pivot_root, ".", ".") == 0) {
    if (::umount2(".", MNT_DETACH) != 0) return fail_errno("jail: detaching the host's root");
  } else if (errno == EINVAL) {
    // A host running from its initramfs (rootfs) cannot pivot away from it. As switch_root
    // does: move DIR over / and chroot into it. The old root stays beneath, out of reach of a
    // process without capabilities.
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0)
      return fail_errno("jail: moving DIR over / (the root is rootfs)");
    if (::chroot(".") != 0) return fail_errno("jail: chroot");
  } else {
    return fail_errno("jail: pivot_root");
  }
  if (::chdir("/") != 0) return fail_errno("jail: chdir /");
  return {};
}

Result<void> JailRoot::mount_files() const {
  for (const JailFile& file : files_) {
    std::string inside = path_in_jail(directory_, file.path);
    TRY(mount_or_fail(file.path.c_str(), inside, nullptr, MS_BIND, nullptr,
                      fmt::format("binding {}", file.path)));
    // A disk or a serial port may be a device node: only those keep their device access.
    struct stat status {};
    if (::stat(inside.c_str(), &status) != 0) return fail_errno(fmt::format("jail: {}", inside));
    bool device = S_ISBLK(status.st_mode) || S_ISCHR(status.st_mode);
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC | (device ? 0 : MS_NODEV);
    if (file.access == JailFile::Access::kReadOnly) flags |= MS_RDONLY;
    TRY(mount_or_fail(nullptr, inside, nullptr, flags, nullptr,
                      fmt::format("restricting {}", file.path)));
  }
  return {};
}

// Device nodes of the jail's own, on a small tmpfs: DIR's filesystem may be mounted nodev, and
// the host's nodes must keep their owner.
Result<void> JailRoot::make_devices() const {
  std::string dev = path_in_jail(directory_, "/dev");
  TRY(mount_or_fail("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k",
                    "mounting /dev"));
  for (const std::string& device : devices_) {
    struct stat status {};
    if (::stat(device.c_str(), &status) != 0) return fail_errno(fmt::format("jail: {}", device));
    if (!S_ISCHR(status.st_mode)) return fail("jail: {} is not a character device", device);
    std::filesystem::path inside = path_in_jail(directory_, device);
    if (::mkdir(inside.parent_path().c_str(), 0755) != 0 && errno != EEXIST)
      return fail_errno(fmt::format("jail: making {}", inside.parent_path().string()));
    if (::mknod(inside.c_str(), S_IFCHR | 0600, status.st_rdev) != 0)
      return fail_errno(fmt::format("jail: mknod {}", inside.string()));
    if (::chown(inside.c_str(), owner_.uid, owner_.gid) != 0)
      return fail_errno(fmt::format("jail: chown {}", inside.string()));
  }
  return mount_or_fail(nullptr, dev, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                       nullptr, "making /dev read-only");
}

}  // namespace wisp
