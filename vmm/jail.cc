#include "vmm/jail.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "vmm/base/fd.h"
#include "vmm/base/log.h"
#include "vmm/exit_status.h"
#include "vmm/jail_root.h"
#include "vmm/privileges.h"
#include "vmm/teardown_handoff.h"

namespace wisp {
namespace {

// What the supervisor passes on to the VMM rather than acting on itself.
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

void make_paths_absolute(VmConfig& config) {
  config.kernel_path = absolute(config.kernel_path);
  for (std::string& initrd : config.initrd_paths) initrd = absolute(initrd);
  for (DiskConfig& disk : config.disks) disk.path = absolute(disk.path);
  for (SerialConfig* serial : {&config.serial, config.serial2 ? &*config.serial2 : nullptr}) {
    if (serial && !serial->path.empty()) serial->path = absolute(serial->path);
  }
}

// A serial log that does not exist yet is made here, for the jailed uid to write.
Result<void> make_serial_files(const VmConfig& config, JailOwner owner) {
  for (const SerialConfig* serial : {&config.serial, config.serial2 ? &*config.serial2 : nullptr}) {
    if (!serial || serial->path.empty() || ::access(serial->path.c_str(), F_OK) == 0) continue;
    Fd file(::open(serial->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!file.valid()) return fail_errno(fmt::format("jail: making {}", serial->path));
    if (::fchown(file.get(), owner.uid, owner.gid) != 0)
      return fail_errno(fmt::format("jail: chown {}", serial->path));
  }
  return {};
}

std::vector<JailFile> files_for(const VmConfig& config) {
  using Access = JailFile::Access;
  std::vector<JailFile> files = {{config.kernel_path, Access::kReadOnly}};
  for (const std::string& initrd : config.initrd_paths)
    files.push_back({initrd, Access::kReadOnly});
  for (const DiskConfig& disk : config.disks) {
    bool read_only = disk.access == DiskAccess::kReadOnly;
    files.push_back({disk.path, read_only ? Access::kReadOnly : Access::kWritable});
  }
  for (const SerialConfig* serial : {&config.serial, config.serial2 ? &*config.serial2 : nullptr}) {
    if (serial && !serial->path.empty()) files.push_back({serial->path, Access::kWritable});
  }
  return files;
}

// A TAP opened by name lives in the host's network namespace; one handed over (fd=) does not
// care, and without NICs the VMM needs no network at all.
bool uses_named_tap(const VmConfig& config) {
  for (const NetConfig& nic : config.nics)
    if (!nic.tap.empty()) return true;
  return false;
}

std::vector<std::string> devices_for(const VmConfig& config) {
  std::vector<std::string> devices = {"/dev/kvm"};
  if (uses_named_tap(config)) devices.push_back("/dev/net/tun");
  return devices;
}

JailOwner owner_of(const JailConfig& jail) {
  uid_t uid = jail.uid.value_or(0);
  return JailOwner{uid, jail.gid.value_or(static_cast<gid_t>(uid))};
}

// In the child, which is PID 1 of its own PID namespace: the rest of the namespaces, the root,
// the cgroup and the credentials.
Result<void> enter_jail(const JailRoot& root, const JailCgroup* cgroup, JailOwner owner,
                        bool host_network) {
  if (cgroup) TRY(cgroup->join());
  int namespaces = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  if (!host_network) namespaces |= CLONE_NEWNET;
  if (::unshare(namespaces) != 0) return fail_errno("jail: unshare");
  const char hostname[] = "wisp";
  if (::sethostname(hostname, sizeof(hostname) - 1) != 0) return fail_errno("jail: sethostname");
  TRY(root.enter());
  TRY(drop_privileges(owner));
#if defined(__SANITIZE_ADDRESS__)
  // LeakSanitizer stops the threads with ptrace at exit, which a process made non-dumpable by
  // its uid change refuses. Only sanitizer builds keep the jailed VMM dumpable.
  if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return fail_errno("jail: PR_SET_DUMPABLE");
#endif
  // The VMM does not outlive its supervisor. Set after the credential change, which clears it.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail_errno("jail: PDEATHSIG");
  return {};
}

sigset_t forwarded_and_child_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : kForwardedSignals) sigaddset(&signals, signal);
  sigaddset(&signals, SIGCHLD);
  return signals;
}

// Waits for the VMM, passing stop signals on, and returns its exit status.
int supervise(pid_t vmm, const sigset_t& signals) {
  while (true) {
    int signal = ::sigwaitinfo(&signals, nullptr);
    if (signal < 0) continue;  // EINTR
    if (signal != SIGCHLD) {
      ::kill(vmm, signal);
      continue;
    }
    int status = 0;
    pid_t done = ::waitpid(vmm, &status, WNOHANG);
    if (done != vmm) continue;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    log::error("the jailed VMM was killed by signal {} ({})", WTERMSIG(status),
               ::strsignal(WTERMSIG(status)));
    return kExitError;
  }
}

}  // namespace

Result<uint32_t> parse_id(std::string_view text, std::string_view option) {
  uint32_t id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      id == static_cast<uint32_t>(-1))
    return fail("{} '{}' is not a numeric id", option, text);
  return id;
}

Result<void> validate_jail(const JailConfig& jail) {
  struct stat status {};
  if (::stat(jail.directory.c_str(), &status) != 0)
    return fail_errno(fmt::format("--jail {}", jail.directory));
  if (!S_ISDIR(status.st_mode)) return fail("--jail {}: not a directory", jail.directory);
  if (std::filesystem::absolute(jail.directory).lexically_normal() == "/")
    return fail("--jail /: the jail must be a directory of its own");
  // Wisp makes directories and files below DIR as root: nobody else may have planted symbolic
  // links there that would send them elsewhere on the host.
  if (status.st_uid != ::geteuid() || (status.st_mode & (S_IWGRP | S_IWOTH)))
    return fail(
        "--jail {}: must belong to uid {} and be writable by nobody else (it is {}'s, "
        "mode {:04o})",
        jail.directory, ::geteuid(), status.st_uid, status.st_mode & 07777);
  // DIR becomes the root: the jailed uid must be able to search it.
  JailOwner owner = owner_of(jail);
  mode_t search = owner.uid == 0               ? S_IXUSR | S_IXGRP | S_IXOTH
                  : status.st_uid == owner.uid ? S_IXUSR
                  : status.st_gid == owner.gid ? S_IXGRP
                                               : S_IXOTH;
  if ((status.st_mode & search) == 0)
    return fail(
        "--jail {}: uid {} cannot enter it (mode {:04o}, owner {}:{}); make it "
        "searchable (chmod o+x) or the uid's",
        jail.directory, owner.uid, status.st_mode & 07777, status.st_uid, status.st_gid);
  return {};
}

int run_in_jail(const JailConfig& jail, VmConfig config,
                const std::function<int(const VmConfig&)>& run_vmm) {
  make_paths_absolute(config);
  JailOwner owner = owner_of(jail);
  std::optional<JailCgroup> cgroup;
  std::optional<JailRoot> root;
  Fd own_pid_namespace;
  auto prepared = [&]() -> Result<void> {
    TRY(make_serial_files(config, owner));
    if (jail.cgroup)
      cgroup.emplace(TRY(JailCgroup::create(*jail.cgroup, fmt::format("wisp-{}", ::getpid()))));
    root.emplace(TRY(JailRoot::prepare(absolute(jail.directory), files_for(config),
                                       devices_for(config), owner)));
    // The next child (the VMM) is PID 1 of a new namespace; this process stays in its own.
    own_pid_namespace.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_pid_namespace.valid()) return fail_errno("jail: /proc/self/ns/pid");
    if (::unshare(CLONE_NEWPID) != 0) return fail_errno("jail: unshare(CLONE_NEWPID)");
    return {};
  }();
  if (!prepared) {
    log::error("{}", prepared.error().message());
    return kExitError;
  }

  // The VMM sends its KVM descriptors back at exit, for the teardown to happen out here.
  int teardown[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, teardown) != 0) {
    log::error("jail: socketpair: {}", std::strerror(errno));
    return kExitError;
  }
  Fd supervisor_end(teardown[0]), vmm_end(teardown[1]);
  sigset_t signals = forwarded_and_child_signals();
  sigset_t previous;
  ::sigprocmask(SIG_BLOCK, &signals, &previous);
  pid_t vmm = ::fork();
  if (vmm < 0) {
    log::error("jail: fork: {}", std::strerror(errno));
    return kExitError;
  }
  if (vmm == 0) {
    // The child leaves with exit(), never by returning: the supervisor's objects are not its
    // to destroy.
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    send_kvm_teardown_to(vmm_end.get());
    auto entered = enter_jail(*root, cgroup ? &*cgroup : nullptr, owner, uses_named_tap(config));
    if (!entered) {
      log::error("{}", entered.error().message());
      std::exit(kExitError);
    }
    std::exit(run_vmm(config));
  }
  // Children made later (a sanitizer's helper at exit) go in this process's namespace, not in
  // the VMM's, where none can be made once the VMM, its PID 1, has exited.
  if (::setns(own_pid_namespace.get(), CLONE_NEWPID) != 0)
    log::warn("jail: setns back to this process's PID namespace: {}", std::strerror(errno));
  vmm_end.reset();
  int status = supervise(vmm, signals);
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  // KVM counts a VM's worker thread in the cgroup of the process that made the VM: with a
  // cgroup of the jail's, the VM must be gone before the cgroup can be removed.
  kvm_teardown_received(supervisor_end.get(), cgroup ? Teardown::kNow : Teardown::kHandOff);
  return status;
}

}  // namespace wisp
