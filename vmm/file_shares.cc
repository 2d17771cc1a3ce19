#include "vmm/file_shares.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "vmm/base/log.h"
#include "vmm/base/temporary_directory.h"
#include "vmm/exit_status.h"

namespace wisp {
namespace {

// How long a back end may take to listen: one Wisp started, and one given with --fs (which
// should be running already; a little patience covers a script that starts both at once).
constexpr std::chrono::milliseconds kStartPatience{10000};
constexpr std::chrono::milliseconds kRunningPatience{1000};
constexpr std::chrono::milliseconds kExitPatience{2000};

// In the child, before exec: everything here must be async-signal-safe. Returns only on failure.
// `view`: for a read-only share, the empty directory where the share is seen read-only.
[[noreturn]] void exec_virtiofsd(const FsConfig& share, const char* view,
                                 const std::vector<char*>& argv, int null_input, int log_output) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // dies with Wisp
  ::dup2(null_input, STDIN_FILENO);
  if (log_output >= 0) ::dup2(log_output, STDERR_FILENO);
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  if (view) {
    // Its own mount namespace, where the directory and everything mounted below it is seen
    // read-only at `view`: QEMU's virtiofsd has no read-only mode of its own. A view, not the
    // directory itself: virtiofsd writes its pid file under /run even when it shares /.
    mount_attr read_only{};
    read_only.attr_set = MOUNT_ATTR_RDONLY;
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount(share.directory.c_str(), view, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount_setattr(AT_FDCWD, view, AT_RECURSIVE, &read_only, sizeof(read_only)) != 0) {
      static constexpr char kMessage[] = "wisp: cannot make a read-only view for virtiofsd\n";
      [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
      ::_exit(kExitError);
    }
  }
  ::execv(argv[0], argv.data());
  static constexpr char kMessage[] = "wisp: cannot run virtiofsd\n";
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  ::_exit(kExitError);
}

// The last line virtiofsd wrote to its log, to say why it ended.
std::string last_line_of(const std::string& path) {
  std::ifstream log(path);
  std::string line, last;
  while (std::getline(log, line))
    if (!line.empty()) last = line;
  return last;
}

// Whether this host runs from its initramfs (rootfs), which cannot be pivoted away from: the top
// mount at / in /proc/self/mounts.
bool root_is_rootfs() {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, mount_point, type, rest, top_type;
  while (mounts >> device >> mount_point >> type && std::getline(mounts, rest))
    if (mount_point == "/") top_type = type;
  return top_type == "rootfs";
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("ended ({:#x})", status);
}

}  // namespace

std::string virtiofsd_path() {
  const char* chosen = ::getenv("WISP_VIRTIOFSD");
  return chosen && *chosen ? chosen : "/usr/lib/qemu/virtiofsd";
}

Result<std::unique_ptr<FileShares>> FileShares::start(const VmConfig& config) {
  std::unique_ptr<FileShares> shares(new FileShares());
  for (const FsConfig& fs : config.filesystems) {
    if (fs.directory.empty()) {
      shares->backends_.push_back(
          TRY_CONTEXT(vhost_user::Frontend::connect(fs.socket, kRunningPatience),
                      fmt::format("--fs tag={}", fs.tag)));
      continue;
    }
    Daemon daemon =
        TRY_CONTEXT(shares->start_virtiofsd(fs), fmt::format("--share {}", fs.directory));
    shares->daemons_.push_back(daemon);
    shares->backends_.push_back(
        TRY_CONTEXT(connect_to(daemon), fmt::format("--share {}", fs.directory)));
  }
  return shares;
}

Result<std::unique_ptr<vhost_user::Frontend>> FileShares::connect_to(const Daemon& daemon) {
  // Gives up early if the daemon ends before its socket answers (a directory it refuses).
  auto still_starting = [pid = daemon.pid, log = daemon.log_path]() -> Result<void> {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return {};
    std::string why = log.empty() ? "" : last_line_of(log);
    return fail("virtiofsd {}{}{}", describe_wait_status(status), why.empty() ? "" : ": ", why);
  };
  auto backend = vhost_user::Frontend::connect(daemon.socket_path, kStartPatience, still_starting);
  if (backend) return backend;
  // What virtiofsd said, if it went away mid-handshake (a refused sandbox, say).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string said = daemon.log_path.empty() ? "" : last_line_of(daemon.log_path);
  std::string message = backend.error().message();
  if (!said.empty() && message.find(said) == std::string::npos)
    message += fmt::format(" (virtiofsd: {})", said);
  return fail("{}", message);
}

Result<FileShares::Daemon> FileShares::start_virtiofsd(const FsConfig& share) {
  Daemon daemon;
  daemon.socket_directory = TRY(make_temporary_directory("wisp-virtiofsd"));
  daemon.socket_path = daemon.socket_directory + "/socket";
  std::string program = virtiofsd_path();
  if (::access(program.c_str(), X_OK) != 0) {
    ::rmdir(daemon.socket_directory.c_str());
    return fail_errno(
        fmt::format("virtiofsd {} (install qemu-system-common, or set "
                    "WISP_VIRTIOFSD)",
                    program));
  }
  if (share.read_only) {
    daemon.view_directory = daemon.socket_directory + "/view";
    if (::mkdir(daemon.view_directory.c_str(), 0700) != 0) {
      int error = errno;
      ::rmdir(daemon.socket_directory.c_str());
      return fail_errno(fmt::format("mkdir {}", daemon.view_directory), error);
    }
  }
  std::string source = share.read_only ? daemon.view_directory : share.directory;
  std::vector<std::string> arguments = {
      program, "--socket-path=" + daemon.socket_path, "-o", "source=" + source, "-o", "cache=auto",
      // Its default sandbox pivot_roots into the directory, which a host running from rootfs
      // (the nested test host) cannot do; chroot is the sandbox virtiofsd offers for that.
      "-o", root_is_rootfs() ? "sandbox=chroot" : "sandbox=namespace", "-o",
      log::enabled(log::Level::kDebug) ? "log_level=info" : "log_level=warn"};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  // Its messages go to a log beside the socket (quoted if it fails to start), or, with -vv, to
  // Wisp's standard error: a healthy virtiofsd still complains when its front end hangs up.
  Fd log_output;
  if (!log::enabled(log::Level::kDebug)) {
    daemon.log_path = daemon.socket_directory + "/virtiofsd.log";
    log_output.reset(::open(daemon.log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  }
  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_input.valid()) return fail_errno("/dev/null");
  pid_t pid = ::fork();
  if (pid == 0)
    exec_virtiofsd(share, share.read_only ? daemon.view_directory.c_str() : nullptr, argv,
                   null_input.get(), log_output.get());
  int fork_error = errno;
  if (pid < 0) {
    remove_files(daemon);
    return fail_errno("fork for virtiofsd", fork_error);
  }
  daemon.pid = pid;
  log::debug("virtiofsd (pid {}) serves {}{} at {}", pid, share.directory,
             share.read_only ? " read-only" : "", daemon.socket_path);
  return daemon;
}

FileShares::~FileShares() {
  backends_.clear();  // a back end whose front end hangs up ends
  for (Daemon& daemon : daemons_) stop(daemon);
}

void FileShares::stop(Daemon& daemon) {
  auto deadline = std::chrono::steady_clock::now() + kExitPatience;
  int status = 0;
  bool killed = false;
  while (::waitpid(daemon.pid, &status, WNOHANG) == 0) {
    if (!killed && std::chrono::steady_clock::now() >= deadline) {
      log::warn("virtiofsd (pid {}) did not end by itself; killing it", daemon.pid);
      ::kill(daemon.pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  remove_files(daemon);
}

void FileShares::remove_files(const Daemon& daemon) {
  ::unlink(daemon.socket_path.c_str());
  if (!daemon.log_path.empty()) ::unlink(daemon.log_path.c_str());
  if (!daemon.view_directory.empty()) ::rmdir(daemon.view_directory.c_str());
  ::rmdir(daemon.socket_directory.c_str());
}

}  // namespace wisp
