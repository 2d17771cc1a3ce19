// What a 64-bit entry needs before the first instruction: an identity-mapped page table and a
// GDT with the flat segments the Linux boot protocol names (__BOOT_CS 0x10, __BOOT_DS 0x18).
#pragma once

#include <array>
#include <cstdint>

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp::long_mode {

inline constexpr uint16_t kCodeSelector = 0x10;
inline constexpr uint16_t kDataSelector = 0x18;
inline constexpr uint16_t kTssSelector = 0x20;
inline constexpr uint16_t kCode32Selector = 0x28;  // for 32-bit protected-mode entries

// GDT descriptors (Intel SDM vol. 3, 3.4.5): flat 64-bit code, flat data, and a busy 64-bit TSS
// that only satisfies VM entry's check that TR is valid.
inline constexpr std::array<uint64_t, 6> kGdt = {
    0,                      // null
    0,                      // unused (0x08)
    0x00af9b000000ffffull,  // 0x10: code, present, DPL 0, execute/read, L=1, G=1
    0x00cf93000000ffffull,  // 0x18: data, present, DPL 0, read/write, D/B=1, G=1
    0x00808b0000000fffull,  // 0x20: 64-bit TSS (busy), present
    0x00cf9b000000ffffull,  // 0x28: 32-bit code, present, DPL 0, execute/read, D=1, G=1
};

// Writes the GDT at layout::kGdtAddress and identity page tables covering
// layout::kIdentityMappedBytes with 2 MiB pages at layout::kPml4Address.
Result<void> write_boot_tables(const GuestMemory& memory);
// Writes only the GDT (for entries in protected mode, which run without paging).
Result<void> write_gdt(const GuestMemory& memory);

// The fields of a GDT descriptor, decoded for loading into a segment register.
struct Segment {
  uint64_t base;
  uint32_t limit;  // in bytes, after granularity scaling
  uint8_t type;
  bool present, code_or_data, long_mode, default_big, granularity;
  uint8_t dpl;
};
Segment decode_descriptor(uint64_t descriptor);

}  // namespace wisp::long_mode
