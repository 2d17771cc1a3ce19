#include "vmm/privileges.h"

#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace wisp {

Result<void> drop_privileges(JailOwner owner) {
  // The bounding set first, while CAP_SETPCAP is still held: nothing executed later gets any back.
  for (cap_value_t capability = 0; capability < static_cast<cap_value_t>(cap_max_bits());
       ++capability) {
    if (cap_drop_bound(capability) != 0)
      return fail_errno(
          fmt::format("jail: dropping capability {} from the bounding set", capability));
  }
  if (cap_reset_ambient() != 0) return fail_errno("jail: clearing the ambient capabilities");
  if (::setgroups(0, nullptr) != 0) return fail_errno("jail: setgroups");
  if (::setresgid(owner.gid, owner.gid, owner.gid) != 0)
    return fail_errno(fmt::format("jail: setresgid {}", owner.gid));
  if (::setresuid(owner.uid, owner.uid, owner.uid) != 0)
    return fail_errno(fmt::format("jail: setresuid {}", owner.uid));
  // A uid other than 0 has lost its capabilities with setresuid; root keeps them until here.
  cap_t none = cap_init();
  if (none == nullptr) return fail_errno("jail: cap_init");
  int cleared = cap_set_proc(none);
  cap_free(none);
  if (cleared != 0) return fail_errno("jail: clearing the capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno("jail: no_new_privs");
  return {};
}

}  // namespace wisp
