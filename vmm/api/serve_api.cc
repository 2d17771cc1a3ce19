#include "vmm/api/serve_api.h"

#include "vmm/api/api_server.h"
#include "vmm/api/firecracker_api.h"
#include "vmm/config_json.h"
#include "vmm/exit_status.h"
#include "vmm/host_decompression.h"
#include "vmm/teardown_handoff.h"
#include "vmm/vm.h"

namespace wisp::api {
namespace {

// What InstanceStart builds and the run serves: the VM and what it must outlive.
struct StartedVm {
  std::optional<ImageFile> vmlinux;
  std::unique_ptr<gdb::Listener> gdb;
  std::unique_ptr<Vm> vm;
};

Result<VmControl*> build_vm(const Command& command, StartedVm& started) {
  const VmConfig& config = command.config;
  if (config.gdb) started.gdb = TRY(gdb::Listener::open(*config.gdb));
  started.vmlinux = prepare_decompressed_kernel(config);
  started.vm = TRY(Vm::create(config, nullptr, started.vmlinux ? &*started.vmlinux : nullptr,
                              started.gdb.get()));
  return started.vm.get();
}

Result<void> apply_logger(const Command& logger) {
  if (!logger.log_path.empty()) TRY(log::send_to(logger.log_path));
  log::set_level(logger.log_level);
  return {};
}

// Stop signals before InstanceStart end the wait; blocked here, they stay blocked for the VM's
// run, which takes them through its own signalfd.
Result<Fd> watch_stop_signals(EventLoop& loop, bool& stopped) {
  Fd signals = TRY(take_stop_signals());
  TRY(loop.watch(signals.get(), [&loop, &stopped] {
    stopped = true;
    loop.quit();
  }));
  return signals;
}

Result<void> configure_from_file(FirecrackerApi& api, const std::string& path) {
  std::string text = TRY(config_json::read_text(path));
  auto document = config_json::parse(text);
  if (!document) return std::unexpected(document.error().context(path));
  TRY_CONTEXT(api.configure(*document), path);
  TRY_CONTEXT(api.start(), path);
  return {};
}

int run_started_vm(StartedVm& started, ApiServer& server, FirecrackerApi& api) {
  Vm& vm = *started.vm;
  if (auto attached = server.attach(vm.event_loop()); !attached) {
    log::error("{}", attached.error().message());
    return kExitError;
  }
  Result<StopReason> reason = vm.run(std::nullopt);
  server.detach();
  api.vm_gone();
  hand_off_kvm_teardown(vm.kvm_fds());
  started.vm.reset();
  if (!reason) {
    log::error("{}", reason.error().message());
    return kExitError;
  }
  if (!reason->detail.empty()) log::error("{}", reason->detail);
  return exit_status(*reason);
}

}  // namespace

int serve_api(const Command& command) {
  auto fail_with = [](const Error& error) {
    log::error("{}", error.message());
    return error.is_usage() ? kExitUsage : kExitError;
  };
  auto loop = EventLoop::create();
  if (!loop) return fail_with(loop.error());
  StartedVm started;
  std::unique_ptr<ApiServer> server;
  FirecrackerApi api(
      command.instance_id,
      [&](const Command& configured) -> Result<VmControl*> {
        // What Firecracker's command line says of the VMM itself still holds (--no-seccomp).
        Command adjusted = configured;
        adjusted.config.seccomp = command.config.seccomp;
        VmControl* control = TRY(build_vm(adjusted, started));
        // The requests behind InstanceStart wait for the VM's loop; this one ends.
        server->hold();
        loop->quit();
        return control;
      },
      apply_logger);
  auto opened = ApiServer::open(command.api_socket, api);
  if (!opened) return fail_with(opened.error());
  server = std::move(*opened);

  bool stopped = false;
  auto signals = watch_stop_signals(*loop, stopped);
  if (!signals) return fail_with(signals.error());
  if (!command.firecracker_config_file.empty()) {
    if (auto configured = configure_from_file(api, command.firecracker_config_file); !configured)
      return fail_with(configured.error());
  } else {
    if (auto attached = server->attach(*loop); !attached) return fail_with(attached.error());
    log::info("API socket {} ready", command.api_socket);
    if (auto served = loop->run(); !served) return fail_with(served.error());
  }
  if (!started.vm) return stopped ? kExitUserQuit : kExitError;
  return run_started_vm(started, *server, api);
}

}  // namespace wisp::api
