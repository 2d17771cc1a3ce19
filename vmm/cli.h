// The command line: `wisp run ...` (its options, or a JSON file with --config, config_file.h),
// Firecracker's `wisp --no-api --config-file FILE` (firecracker_config.h), `wisp --help`,
// `wisp --version`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vmm/base/log.h"
#include "vmm/config.h"
#include "vmm/jail.h"

namespace wisp {

struct Command {
  VmConfig config;
  JailConfig jail;  // --jail DIR and its options; no directory: not jailed
  log::Level log_level = log::Level::kWarn;
  bool boot_timing = false;
  // Where the log goes instead of stderr (Firecracker's logger log_path); "": stderr.
  std::string log_path;
  // Settings of a configuration file that need nothing of Wisp, to log at debug level once the
  // log level is set.
  std::vector<std::string> ignored_settings;

  // Started as Firecracker is with its API: `wisp --api-sock PATH [--id ID] [--config-file F]`.
  // The VM is then configured through the socket (api/api_server.h), or from F at once.
  std::string api_socket;
  std::string instance_id = "anonymous-instance";  // Firecracker's default --id
  std::string firecracker_config_file;

  bool jailed() const { return !jail.directory.empty(); }
  bool serves_api() const { return !api_socket.empty(); }
};

// Parses argv. On --help/--version or a usage error, prints what CLI11 prints and returns the
// exit status in `early_exit`.
std::optional<Command> parse_command_line(int argc, char** argv, int& early_exit);

}  // namespace wisp
