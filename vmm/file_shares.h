// The back ends of the virtio-fs devices, for a whole run (a restarted guest keeps them): a
// vhost-user connection per --fs or --share, and for each --share the virtiofsd that Wisp
// started for it, stopped again when the run ends.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "devices/vhost_user/frontend.h"
#include "vmm/base/result.h"
#include "vmm/config.h"

namespace wisp {

// The virtiofsd that --share runs: $WISP_VIRTIOFSD, else QEMU's (Debian: qemu-system-common).
std::string virtiofsd_path();

class FileShares {
 public:
  // Starts a virtiofsd for each --share and connects to every back end, in the order of
  // `config.filesystems`.
  static Result<std::unique_ptr<FileShares>> start(const VmConfig& config);
  // Closes the connections (virtiofsd then exits), reaps the daemons Wisp started and removes
  // their sockets.
  ~FileShares();
  FileShares(const FileShares&) = delete;
  FileShares& operator=(const FileShares&) = delete;

  // The back end of `config.filesystems[index]`.
  vhost_user::Frontend& backend(size_t index) const { return *backends_.at(index); }

 private:
  // A virtiofsd Wisp started, and the directory holding its socket.
  struct Daemon {
    pid_t pid = -1;
    std::string socket_directory;
    std::string socket_path;
    std::string log_path;        // its standard error, unless Wisp's own is used (-vv)
    std::string view_directory;  // where a read-only share is seen, in its mount namespace
  };

  FileShares() = default;
  Result<Daemon> start_virtiofsd(const FsConfig& share);
  // Waits for the daemon's socket; an error quotes what the daemon said if it ended.
  static Result<std::unique_ptr<vhost_user::Frontend>> connect_to(const Daemon& daemon);
  void stop(Daemon& daemon);
  // Its socket, log and directories.
  static void remove_files(const Daemon& daemon);

  std::vector<std::unique_ptr<vhost_user::Frontend>> backends_;
  std::vector<Daemon> daemons_;
};

}  // namespace wisp
