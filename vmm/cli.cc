#include "vmm/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <functional>

#include "vmm/config_file.h"
#include "vmm/exit_status.h"
#include "vmm/firecracker_config.h"

namespace wisp {
namespace {

// An option whose text goes through one of our parse functions; a parse error is a usage error.
template <typename T, typename Parse>
CLI::Option* add_parsed_option(CLI::App* app, const std::string& name, T& target, Parse parse,
                               const std::string& help) {
  return app->add_option_function<std::string>(
      name,
      [&target, parse, name](const std::string& text) {
        auto result = parse(text);
        if (!result) throw CLI::ValidationError(name, result.error().message());
        target = *result;
      },
      help);
}

// A repeatable option (--disk A --disk B): `clear` first drops what a --config file gave, then
// `add` takes each value in turn; an error is a usage error naming the option.
CLI::Option* add_repeatable_option(CLI::App* app, const std::string& name,
                                   std::function<void()> clear,
                                   std::function<Result<void>(const std::string&)> add,
                                   const std::string& help) {
  return app
      ->add_option_function<std::vector<std::string>>(
          name,
          [name, clear, add](const std::vector<std::string>& texts) {
            clear();
            for (const std::string& text : texts)
              if (auto added = add(text); !added)
                throw CLI::ValidationError(name, added.error().message());
          },
          help)
      ->type_size(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_jail_options(CLI::App* run, Command& command) {
  JailConfig& jail = command.jail;
  run->add_option(
         "--jail", jail.directory,
         "Run the VMM jailed in DIR: its own mount, PID, IPC, UTS, cgroup and (without a named "
         "TAP) network namespaces, only the VM's files, no capabilities (needs root)")
      ->check(CLI::ExistingDirectory)
      ->type_name("DIR");
  auto parse_uid = [](std::string_view text) { return parse_id(text, "--uid"); };
  auto parse_gid = [](std::string_view text) { return parse_id(text, "--gid"); };
  add_parsed_option(run, "--uid", jail.uid, parse_uid,
                    "The jailed VMM's uid (default 0; needs --jail)");
  add_parsed_option(run, "--gid", jail.gid, parse_gid,
                    "The jailed VMM's gid (default: the uid; needs --jail)");
  add_parsed_option(run, "--cgroup", jail.cgroup, parse_cgroup_limits,
                    "The jail's cgroup limits: memory=SIZE,cpu=CPUS,pids=N[,parent=PATH] (v2, or "
                    "v1 where the host has the controller only there; needs --jail)");
}

// What an option needs beside it, checked once the command line and a --config file are merged
// (either may give either).
Result<void> check_needs(const Command& command) {
  const VmConfig& config = command.config;
  if (!command.jailed()) {
    if (command.jail.uid) return fail_usage("--uid requires --jail");
    if (command.jail.gid) return fail_usage("--gid requires --jail");
    if (command.jail.cgroup) return fail_usage("--cgroup requires --jail");
  }
  if (!config.exec_command.empty() && !config.host_root)
    return fail_usage("--exec requires --host-root");
  if (config.gdb_wait && !config.gdb) return fail_usage("--gdb-wait requires --gdb");
  if (config.kernel_path.empty())
    return fail_usage("--kernel is required (on the command line, or \"kernel\" in --config)");
  return {};
}

// Firecracker's command line, for `wisp --no-api --config-file FILE`: the options Firecracker's
// first argument can be.
constexpr std::string_view kFirecrackerOptions[] = {
    "--no-api", "--config-file", "--api-sock", "--id", "--no-seccomp", "--level", "--log-path"};

bool is_firecracker_option(std::string_view argument) {
  std::string_view name = argument.substr(0, argument.find('='));
  return std::find(std::begin(kFirecrackerOptions), std::end(kFirecrackerOptions), name) !=
         std::end(kFirecrackerOptions);
}

// As Firecracker checks its --id: 1 to 64 letters, digits and hyphens.
std::string check_instance_id(const std::string& id) {
  bool valid = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return c == '-' || std::isalnum(static_cast<unsigned char>(c));
  });
  return valid ? std::string() : "an ID has 1 to 64 letters, digits and hyphens";
}

std::optional<Command> parse_firecracker_command_line(int argc, char** argv, int& early_exit) {
  Command command;
  CLI::App app(
      "Wisp started as Firecracker is: `wisp --no-api --config-file FILE` boots what `firecracker "
      "--no-api --config-file FILE` boots (Firecracker's configuration file), and `wisp "
      "--api-sock PATH` serves Firecracker's REST API on PATH (see README.md)",
      "wisp");
  app.footer(exit_status_help());
  std::string config_file;
  bool no_api = false, no_seccomp = false;
  CLI::Option* file =
      app.add_option("--config-file", config_file,
                     "Firecracker's JSON configuration: boot-source, machine-config, drives, "
                     "network-interfaces, vsock, logger (with the API socket: the VM starts at "
                     "once, and the API serves it)")
          ->type_name("FILE");
  app.add_flag("--no-api", no_api, "Start without the API socket (needs --config-file)")
      ->needs(file);
  app.add_option("--api-sock", command.api_socket,
                 "The API socket: Firecracker's REST API (see README.md), served on this path")
      ->type_name("PATH")
      ->excludes("--no-api");
  app.add_option("--id", command.instance_id, "The microVM's ID, which GET / answers")
      ->check(CLI::Validator(check_instance_id, "ID"));
  app.add_flag("--no-seccomp", no_seccomp, "No system call filters (as --seccomp off)");
  add_parsed_option(&app, "--level", command.log_level, parse_firecracker_log_level,
                    "Log level: Error, Warning, Info, Debug, Trace or Off (errors are still "
                    "reported); the file's logger overrides it")
      ->type_name("LEVEL");
  app.add_option("--log-path", command.log_path,
                 "Write the log to this file or FIFO instead of stderr; the file's logger "
                 "overrides it")
      ->type_name("PATH");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    early_exit = status == 0 ? 0 : kExitUsage;
    return std::nullopt;
  }
  early_exit = kExitUsage;
  if (!no_api) {
    // The API reads the file itself: its sections become what GET /vm/config shows.
    if (command.api_socket.empty()) command.api_socket = kFirecrackerDefaultApiSocket;
    command.firecracker_config_file = config_file;
  } else if (auto applied = apply_firecracker_config_file(config_file, command); !applied) {
    log::error("{}", applied.error().message());
    return std::nullopt;
  }
  if (no_seccomp) command.config.seccomp = SeccompMode::kOff;
  early_exit = 0;
  return command;
}

}  // namespace

std::optional<Command> parse_command_line(int argc, char** argv, int& early_exit) {
  if (argc > 1 && is_firecracker_option(argv[1]))
    return parse_firecracker_command_line(argc, argv, early_exit);
  Command command;
  VmConfig& config = command.config;
  CLI::App app("Wisp: a small, fast KVM virtual machine monitor", "wisp");
  app.set_version_flag("--version", fmt::format("wisp {}", WISP_VERSION));
  app.require_subcommand(1);
  app.footer(
      exit_status_help() +
      "\nStarted as Firecracker is, `wisp --no-api --config-file FILE` boots what Firecracker "
      "boots from its configuration file, and `wisp --api-sock PATH` serves Firecracker's REST "
      "API (`wisp --no-api --help` lists its options). `wisp ctl --api-sock PATH info|pause|...` "
      "talks to it (`wisp ctl --help`).");

  CLI::App* run = app.add_subcommand(
      "run", "Boot a kernel (Linux bzImage, PVH ELF, Multiboot, ELF or raw) on the serial console");
  run->footer(exit_status_help());
  // Defined first: CLI11 runs the options' callbacks in the order they are defined
  // (App::_process_callbacks), once the whole command line is parsed, so the file's values are
  // in place before the options given beside it replace them.
  std::optional<Error> config_error;
  run->add_option_function<std::string>(
         "--config",
         [&](const std::string& path) {
           auto given = [run](std::string_view option) {
             return run->count(std::string(option)) > 0;
           };
           if (auto applied = apply_config_file(path, command, given); !applied)
             config_error = applied.error();
         },
         "A JSON file of these options: {\"kernel\": \"bzImage\", \"cpus\": 2, \"disks\": "
         "[{\"path\": \"root.img\"}], ...}; options given beside it replace its values (see "
         "README.md)")
      ->type_name("FILE");
  run->add_option("--kernel", config.kernel_path,
                  "Kernel image: a Linux bzImage, a PVH ELF (vmlinux), a Multiboot kernel, an ELF "
                  "or a raw image (the format is recognized; see --kernel-format); required, here "
                  "or in --config");
  add_parsed_option(
      run, "--initrd", config.initrd_paths,
      [](std::string_view text) -> Result<std::vector<std::string>> { return split_list(text); },
      "Initial ramdisk; for Multiboot and PVH kernels a comma-separated list of modules");
  run->add_option("--cmdline", config.cmdline, "Kernel command line")->capture_default_str();
  run->add_option("--cpus", config.cpus, "Number of vCPUs")->capture_default_str();
  run->add_option_function<std::string>(
      "--memory",
      [&config](const std::string& text) {
        auto memory = parse_memory(text);
        if (!memory) throw CLI::ValidationError("--memory", memory.error().message());
        config.memory_bytes = memory->bytes;
        config.shared_memory = memory->shared;
      },
      "Guest memory: SIZE[,shared=on|off], e.g. 512M or 2G (default 512M); shared=on maps it "
      "from a memfd that a vhost-user back end can map too (the default with --fs or --share)");
  add_parsed_option(
      run, "--serial", config.serial, [](std::string_view text) { return parse_serial(text); },
      "Serial console (COM1): stdio (default), file=PATH, tee=PATH (both) or none");
  add_parsed_option(
      run, "--serial2", config.serial2,
      [](std::string_view text) { return parse_serial(text, "--serial2"); },
      "A second serial port (COM2, ttyS1): file=PATH, stdio (when COM1 does not use it), "
      "tee=PATH or none; absent by default");
  add_parsed_option(run, "--kernel-format", config.kernel_format, parse_kernel_format,
                    "auto (default: from the file), bzimage, pvh, multiboot, elf or raw");
  add_parsed_option(run, "--load-address", config.raw.load_address, parse_address,
                    "Where a raw kernel is loaded (with --kernel-format raw)");
  add_parsed_option(run, "--entry", config.raw.entry, parse_address,
                    "A raw kernel's entry point (with --kernel-format raw)");
  add_parsed_option(run, "--entry-mode", config.raw.entry_mode, parse_entry_mode,
                    "real, protected or long: how a raw kernel is entered");
  run->add_option(
         "--timeout", config.timeout_seconds,
         "Stop the guest after this many seconds, reboots included (exit status 8); 0: never")
      ->capture_default_str();
  add_parsed_option(run, "--on-reboot", config.on_reboot, parse_reboot_action,
                    "What a guest reboot does: exit (default) or restart");
  add_parsed_option(run, "--on-panic", config.on_panic, parse_panic_action,
                    "What a guest's panic (reported through pvpanic) does: exit (default, status "
                    "14) or continue (logged)");
  add_repeatable_option(
      run, "--disk", [&config] { config.disks.clear(); },
      [&config](const std::string& text) -> Result<void> {
        config.disks.push_back(TRY(parse_disk(text)));
        return {};
      },
      "A virtio-blk disk (repeatable): path=IMAGE[,readonly=on][,serial=ID]"
      "[,cache=writeback|none][,discard=on|off][,queues=N][,aio=io_uring|sync]");
  add_repeatable_option(
      run, "--net",
      [&config] {
        config.nics.clear();
        config.no_network = false;
      },
      [&config](const std::string& text) -> Result<void> {
        std::optional<NetConfig> nic = TRY(parse_net(text));
        if (nic) {
          config.nics.push_back(std::move(*nic));
        } else {
          config.no_network = true;
        }
        return {};
      },
      "A virtio-net NIC (repeatable): tap=NAME[,mac=MAC][,queues=N] (the TAP is created if "
      "missing and Wisp may), fd=N[,mac=MAC] (an open TAP descriptor), or none");
  auto is_share = [](const FsConfig& fs) { return !fs.directory.empty(); };
  add_repeatable_option(
      run, "--fs",
      [&config, is_share] {
        std::erase_if(config.filesystems, [&](const FsConfig& fs) { return !is_share(fs); });
      },
      [&config](const std::string& text) -> Result<void> {
        config.filesystems.push_back(TRY(parse_fs(text)));
        return {};
      },
      "A virtio-fs file system (repeatable) served by a running vhost-user back end "
      "(virtiofsd): tag=TAG,socket=PATH; the guest mounts it with mount -t virtiofs TAG DIR");
  add_repeatable_option(
      run, "--share", [&config, is_share] { std::erase_if(config.filesystems, is_share); },
      [&config, is_share](const std::string& text) -> Result<void> {
        auto shares = std::count_if(config.filesystems.begin(), config.filesystems.end(), is_share);
        config.filesystems.push_back(TRY(parse_share(text, static_cast<size_t>(shares))));
        return {};
      },
      "Share a host directory with the guest through virtio-fs (repeatable): "
      "DIR[,tag=TAG][,readonly=on]; Wisp runs virtiofsd for it (tag: share, share1, ...)");
  add_parsed_option(run, "--vsock", config.vsock, parse_vsock,
                    "A virtio-vsock device, host side as Firecracker's: cid=N,uds=PATH (the "
                    "guest's CID, 3 or more; host programs connect to PATH and write \"CONNECT "
                    "PORT\\n\", guest connections to port P go to PATH_P)")
      ->type_name("cid=N,uds=PATH");
  run->add_flag(
      "--host-root", config.host_root,
      "Boot with the host's root file system as the guest's (read-only through virtio-fs, with a "
      "writable layer that the guest's power-off discards) and a shell in the current directory; "
      "a kernel with virtio-fs as a module needs --initrd (tools/guest/build-initramfs.sh)");
  run->add_option("--exec", config.exec_command,
                  "With --host-root: run this shell command instead of a shell; Wisp exits with "
                  "its status")
      ->check(CLI::Validator(
          [](const std::string& text) {
            return text.empty() ? std::string("the command is empty") : std::string();
          },
          "CMD"));
  add_parsed_option(run, "--seccomp", config.seccomp, parse_seccomp_mode,
                    "System call filters per thread: on (default; a forbidden call ends Wisp with "
                    "status 10), log (the kernel logs it) or off");
  add_jail_options(run, command);
  add_parsed_option(
      run, "--gdb", config.gdb, gdb::parse_address,
      "Serve gdb's remote protocol at tcp:[HOST:]PORT (127.0.0.1 unless HOST; 0: any free port, "
      "printed) or unix:PATH; each vCPU is a thread");
  run->add_flag("--gdb-wait", config.gdb_wait,
                "With --gdb: the guest waits for the debugger before its first instruction");
  run->add_flag_function(
      "--no-decompress-cache", [&config](int64_t) { config.decompress_kernel = false; },
      "Let a bzImage decompress its kernel in the guest, as it does on hardware, instead of "
      "booting the vmlinux that Wisp decompresses once and caches under "
      "${WISP_CACHE:-${XDG_CACHE_HOME:-~/.cache}/wisp}/vmlinux");
  run->add_flag("--boot-timing", command.boot_timing,
                "Print how long each phase took (parse, build, first KVM_RUN, run, teardown)");
  run->add_flag_function(
      "-v,--verbose",
      [&](int64_t count) {
        command.log_level = count > 1 ? log::Level::kDebug : log::Level::kInfo;
      },
      "Log more (unhandled device accesses; twice for debug output)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    early_exit = status == 0 ? 0 : kExitUsage;
    return std::nullopt;
  }
  Result<void> checked = check_needs(command);
  if (config_error) checked = std::unexpected(*config_error);
  if (!checked) {
    log::error("{}", checked.error().message());
    early_exit = kExitUsage;
    return std::nullopt;
  }
  return command;
}

}  // namespace wisp
