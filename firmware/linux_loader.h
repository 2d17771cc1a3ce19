// Puts a Linux bzImage, its initrd and command line into guest memory with everything the 64-bit
// boot protocol expects around them (boot_params, page tables, GDT, ACPI tables).
#pragma once

#include <cstdint>
#include <string>

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

struct LinuxBootConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: no initrd
  std::string cmdline;
  uint64_t memory_size = 0;
  uint32_t cpu_count = 1;
};

// Where the boot CPU starts: %rip and %rsi (the zero page).
struct LinuxEntry {
  uint64_t entry;
  uint64_t boot_params;
};

Result<LinuxEntry> load_linux(const GuestMemory& memory, const LinuxBootConfig& config);

}  // namespace wisp
