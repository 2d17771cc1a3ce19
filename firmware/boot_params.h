// The zero page (struct boot_params) handed to a 64-bit Linux entry point in %rsi.
#pragma once

#include <cstdint>
#include <string_view>

#include "firmware/boot_common.h"
#include "firmware/bzimage.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

struct BootParamsInput {
  const BzImage* image;  // the kernel's setup header, or null for kernels that have none
  uint64_t memory_size;
  uint64_t cmdline_address;
  uint64_t initrd_address = 0;
  uint64_t initrd_size = 0;
  uint64_t rsdp_address = 0;
};

// Writes boot_params at `address`: the kernel's own setup header, the e820 map, the command
// line and initrd pointers, and where the ACPI RSDP is.
Result<void> write_boot_params(const GuestMemory& memory, uint64_t address,
                               const BootParamsInput& input);

// Writes the NUL-terminated command line, refusing one longer than the kernel accepts.
Result<void> write_cmdline(const GuestMemory& memory, uint64_t address, std::string_view cmdline,
                           uint64_t max_length);

// Writes the command line (checked against the kernel's limit, if it has a setup header) and
// boot_params at layout::kZeroPageAddress, claiming both ranges; returns the zero page address.
Result<uint64_t> write_zero_page(const GuestMemory& memory, BootPlan& plan,
                                 const BootParamsInput& input, std::string_view cmdline);

}  // namespace wisp
