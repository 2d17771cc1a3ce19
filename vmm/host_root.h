// `wisp run --kernel bzImage --host-root [--exec CMD]`: the guest boots with the host's own
// root file system as its root, read-only through virtio-fs, with a writable layer of its own,
// and runs a shell (or CMD) in the directory Wisp was started in, as virtme-ng does for kernel
// developers. A run directory (under $TMPDIR) carries the guest's init, the directory and the
// command in, and the command's exit status out.
#pragma once

#include <optional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/config.h"

namespace wisp {

inline constexpr char kHostRootTag[] = "wisp-root";
inline constexpr char kHostRunTag[] = "wisp-run";

class HostRootRun {
 public:
  // Makes the run directory and adds to `config` the two file systems and the kernel
  // command-line words that boot from the host's root (with Wisp's default initramfs, or a
  // kernel with virtio-fs built in).
  static Result<HostRootRun> prepare(VmConfig& config, const std::string& command);
  HostRootRun(HostRootRun&& other) noexcept : directory_(std::move(other.directory_)) {
    other.directory_.clear();
  }
  HostRootRun(const HostRootRun&) = delete;
  HostRootRun& operator=(const HostRootRun&) = delete;
  // Removes the run directory.
  ~HostRootRun();

  // The exit status the guest's command (or shell) reported, if it did.
  std::optional<int> guest_status() const;

 private:
  explicit HostRootRun(std::string directory) : directory_(std::move(directory)) {}
  std::string directory_;
};

}  // namespace wisp
