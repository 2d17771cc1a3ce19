// `wisp run --config FILE`: a JSON object that says what the command line can. Each key is a
// `wisp run` option without its dashes, a repeatable option's key its plural (disks, nets,
// filesystems for --fs, shares), and each value what the option takes: a string as on the command
// line, a number, true or false for a flag, or an object whose keys are the option's KEY=VALUE
// fields:
//
//   {"kernel": "bzImage", "cpus": 2, "memory": "1G",
//    "disks": [{"path": "root.img", "readonly": true}], "nets": [{"tap": "tap0"}]}
//
// Options given on the command line beside --config replace the file's values (a repeatable
// option's list replaces the file's list).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/cli.h"

namespace wisp {

// Whether the command line gives an option ("--disk"). The file's value for it is replaced, so
// it is not checked against the host (a kernel that is not there, say).
using GivenOnCommandLine = std::function<bool(std::string_view option)>;

// Reads the file at `path` into `command`. Errors start with the path and name the JSON path of
// the bad value: "vm.json: disks[1].path: root.img: No such file or directory".
Result<void> apply_config_file(const std::string& path, Command& command,
                               const GivenOnCommandLine& given);

// The same from the file's text; `name` starts the errors.
Result<void> apply_config_text(std::string_view text, std::string_view name, Command& command,
                               const GivenOnCommandLine& given);

}  // namespace wisp
