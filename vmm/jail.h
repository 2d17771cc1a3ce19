// `wisp run --jail DIR`: the VMM runs in namespaces of its own (mount, PID, IPC, UTS, cgroup, and
// network unless a TAP is named), inside DIR with only the files the VM needs, in a cgroup with
// the limits asked for, without capabilities and as --uid/--gid. The process started stays
// outside as the jail's supervisor: it forwards stop signals, returns the VMM's exit status and
// removes what the jail made.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "vmm/base/result.h"
#include "vmm/cgroup.h"
#include "vmm/config.h"

namespace wisp {

struct JailConfig {
  std::string directory;
  std::optional<uid_t> uid;  // default: stay uid 0, without capabilities
  std::optional<gid_t> gid;  // default: the uid's number
  std::optional<CgroupLimits> cgroup;
};

// A uid or gid: a number (names would need NSS, which a static binary cannot load).
Result<uint32_t> parse_id(std::string_view text, std::string_view option);

// DIR exists, is a directory other than /, belongs to this user, is writable by nobody else, and
// the jailed uid can enter it.
Result<void> validate_jail(const JailConfig& jail);

// Runs `run_vmm` jailed, in a child process, and returns its exit status (or 10 when the jail
// cannot be made). The paths in `config` are made absolute first.
int run_in_jail(const JailConfig& jail, VmConfig config,
                const std::function<int(const VmConfig&)>& run_vmm);

}  // namespace wisp
