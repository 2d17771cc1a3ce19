// wisp: parse the command line, build the VM, run it, and exit with a status that says how the
// guest ended (see exit_status.h).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include "vmm/api/ctl.h"
#include "vmm/api/serve_api.h"
#include "vmm/base/log.h"
#include "vmm/cli.h"
#include "vmm/exit_status.h"
#include "vmm/host_decompression.h"
#include "vmm/host_root.h"
#include "vmm/teardown_handoff.h"
#include "vmm/vm.h"

namespace {

// Threads (one per vCPU) get 1 MiB stacks rather than glibc's 8 MiB: they need far less, and on
// a host whose transparent huge pages are "always", a stack that spans an aligned 2 MiB range
// is backed by a huge page the first time it is touched, which doubles the VMM's own memory.
void use_small_thread_stacks() {
  constexpr size_t kThreadStackBytes = 1 << 20;
  pthread_attr_t attributes;
  if (pthread_attr_init(&attributes) != 0) return;
  if (pthread_attr_setstacksize(&attributes, kThreadStackBytes) == 0)
    pthread_setattr_default_np(&attributes);
  pthread_attr_destroy(&attributes);
}

// Builds and runs the VM, again after a guest reboot when asked to. --timeout is one deadline
// for all of it: a guest that reboots in a loop still times out. `vmlinux` is a bzImage's kernel
// decompressed on the host, if it was.
int run_vm(const wisp::VmConfig& config, std::optional<wisp::ImageFile> vmlinux,
           wisp::BootTiming* timing) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (config.timeout_seconds > 0)
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.timeout_seconds);
  // One socket for the whole run: a restarted guest keeps the debugger's address.
  std::unique_ptr<wisp::gdb::Listener> gdb;
  if (config.gdb) {
    auto listener = wisp::gdb::Listener::open(*config.gdb);
    if (!listener) {
      wisp::log::error("{}", listener.error().message());
      return wisp::kExitError;
    }
    gdb = std::move(*listener);
  }
  // The virtio-fs back ends, also for the whole run: --share's virtiofsd is started once.
  std::unique_ptr<wisp::FileShares> shares;
  if (!config.filesystems.empty()) {
    auto started = wisp::FileShares::start(config);
    if (!started) {
      wisp::log::error("{}", started.error().message());
      return wisp::kExitError;
    }
    shares = std::move(*started);
  }
  while (true) {
    auto vm =
        wisp::Vm::create(config, timing, vmlinux ? &*vmlinux : nullptr, gdb.get(), shares.get());
    // Kept for a restart only: decompressed into memory, it would hold tens of MiB.
    if (config.on_reboot != wisp::RebootAction::kRestart) vmlinux.reset();
    if (!vm) {
      wisp::log::error("{}", vm.error().message());
      return vm.error().is_usage() ? wisp::kExitUsage : wisp::kExitError;
    }
    if (timing) timing->mark(wisp::BootTiming::Phase::kBuilt);
    auto reason = (*vm)->run(deadline);
    bool restarting = reason && reason->kind == wisp::StopKind::kReset &&
                      config.on_reboot == wisp::RebootAction::kRestart;
    if (!restarting) wisp::hand_off_kvm_teardown((*vm)->kvm_fds());
    vm->reset();  // tears the VM down, or only lets go of it when handed off
    if (timing) timing->mark(wisp::BootTiming::Phase::kTornDown);
    if (!reason) {
      wisp::log::error("{}", reason.error().message());
      return wisp::kExitError;
    }
    if (restarting) continue;
    if (!reason->detail.empty()) wisp::log::error("{}", reason->detail);
    return wisp::exit_status(*reason);
  }
}

}  // namespace

int main(int argc, char** argv) {
  wisp::BootTiming timing;
  ::signal(SIGPIPE, SIG_IGN);  // a closed console output must not kill the VMM
  // A run in the background must not stop when it writes to the terminal (SIGTTOU, with
  // `stty tostop`) or reads it (SIGTTIN: the read fails instead, and the console input ends).
  ::signal(SIGTTOU, SIG_IGN);
  ::signal(SIGTTIN, SIG_IGN);
  use_small_thread_stacks();
  if (argc > 1 && std::string_view(argv[1]) == "ctl") return wisp::api::run_ctl(argc - 1, argv + 1);
  int early_exit = 0;
  std::optional<wisp::Command> command = wisp::parse_command_line(argc, argv, early_exit);
  if (!command) return early_exit;
  if (!command->log_path.empty()) {
    if (auto sent = wisp::log::send_to(command->log_path); !sent) {
      wisp::log::error("{}", sent.error().message());
      return wisp::kExitUsage;
    }
  }
  wisp::log::set_level(command->log_level);
  for (const std::string& setting : command->ignored_settings) wisp::log::debug("{}", setting);
  if (command->serves_api()) return wisp::api::serve_api(*command);

  // Before validation: it adds the file systems and kernel command-line words it needs.
  std::optional<wisp::HostRootRun> host_root;
  if (command->config.host_root) {
    auto prepared = wisp::HostRootRun::prepare(command->config, command->config.exec_command);
    if (!prepared) {
      wisp::log::error("{}", prepared.error().message());
      return prepared.error().is_usage() ? wisp::kExitUsage : wisp::kExitError;
    }
    host_root.emplace(std::move(*prepared));
  }

  auto valid = wisp::validate(command->config);
  if (valid && command->jailed()) valid = wisp::validate_jail(command->jail);
  if (valid && command->jailed() && !command->config.filesystems.empty())
    valid = wisp::fail("--fs and --share do not work with --jail yet");
  // The socket and its `_PORT` siblings would have to be made inside the jail's root.
  if (valid && command->jailed() && command->config.vsock)
    valid = wisp::fail("--vsock does not work with --jail yet");
  if (!valid) {
    wisp::log::error("{}", valid.error().message());
    return wisp::kExitUsage;
  }
  // Only for a warning: a host without /proc/meminfo (a jail without /proc) still runs guests.
  if (auto host_memory = wisp::host_memory_bytes(); !host_memory) {
    wisp::log::debug("no warning about the guest's memory size: {}", host_memory.error().message());
  } else if (auto warning = wisp::memory_warning(command->config, *host_memory)) {
    wisp::log::warn("{}", *warning);
  }
  timing.mark(wisp::BootTiming::Phase::kParsed);
  // Before the jail (whose root has no kernel cache) and before any system call filter: a
  // bzImage's kernel is decompressed once for the whole run.
  std::optional<wisp::ImageFile> vmlinux = wisp::prepare_decompressed_kernel(command->config);
  auto run = [&](const wisp::VmConfig& config) {
    int status = run_vm(config, std::move(vmlinux), command->boot_timing ? &timing : nullptr);
    // A guest that powered off after its --host-root command: the command's status.
    if (host_root && status == 0) status = host_root->guest_status().value_or(status);
    if (command->boot_timing)
      wisp::log::write(wisp::log::Level::kInfo, "boot timing: " + timing.report());
    return status;
  };
  if (command->jailed()) return wisp::run_in_jail(command->jail, command->config, run);
  return run(command->config);
}
