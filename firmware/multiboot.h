// Multiboot 1 (the Multiboot Specification, version 0.6.96): finding and checking the header an
// OS image carries in its first 8 KiB.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "vmm/base/result.h"

namespace wisp {

inline constexpr uint64_t kMultibootSearchBytes = 8192;
inline constexpr uint32_t kMultibootHeaderMagic = 0x1badb002;
inline constexpr uint32_t kMultibootBootloaderMagic = 0x2badb002;  // in %eax at entry

// Header flags (spec 3.1.2).
inline constexpr uint32_t kMultibootPageAlignModules = 1u << 0;
inline constexpr uint32_t kMultibootWantsMemoryInfo = 1u << 1;
inline constexpr uint32_t kMultibootWantsVideoMode = 1u << 2;
inline constexpr uint32_t kMultibootAddressFields = 1u << 16;  // the a.out kludge

struct MultibootHeader {
  uint32_t magic;
  uint32_t flags;
  uint32_t checksum;
  // Valid when kMultibootAddressFields is set:
  uint32_t header_addr;
  uint32_t load_addr;
  uint32_t load_end_addr;
  uint32_t bss_end_addr;
  uint32_t entry_addr;
};
static_assert(sizeof(MultibootHeader) == 32);

// The offset of a header (magic, flags and a checksum that sums to zero) at a 4-byte boundary
// in `head`, if there is one.
std::optional<uint64_t> find_multiboot_header(std::span<const uint8_t> head);

}  // namespace wisp
