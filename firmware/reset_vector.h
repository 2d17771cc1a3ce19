// The real-mode reset vector (0xf000:0xfff0). Linux reboots some machines by jumping there, as a
// CPU reset would (machine_real_restart, the default on hardware-reduced ACPI without EFI); on a
// PC the BIOS then resets the board. Wisp's stub asks the i8042 to pulse the reset line instead.
#pragma once

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

Result<void> write_reset_vector(const GuestMemory& memory);

}  // namespace wisp
