// Giving up root for good before the guest runs: every capability (effective, permitted,
// inheritable, ambient and the bounding set), the supplementary groups, then uid and gid.
#pragma once

#include "vmm/base/result.h"
#include "vmm/jail_root.h"

namespace wisp {

// Call while the process has one thread: capabilities belong to threads.
Result<void> drop_privileges(JailOwner owner);

}  // namespace wisp
