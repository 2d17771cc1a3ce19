// The command line: `wisp run ...`, `wisp --help`, `wisp --version`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vmm/base/log.h"
#include "vmm/config.h"

namespace wisp {

struct Command {
  VmConfig config;
  log::Level log_level = log::Level::kWarn;
  bool boot_timing = false;
};

// Parses argv. On --help/--version or a usage error, prints what CLI11 prints and returns the
// exit status in `early_exit`.
std::optional<Command> parse_command_line(int argc, char** argv, int& early_exit);

}  // namespace wisp
