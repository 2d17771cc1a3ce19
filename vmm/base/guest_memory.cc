#include "vmm/base/guest_memory.h"

#include <algorithm>

namespace wisp {

Result<void> GuestMemory::add_region(uint64_t guest_address, Mapping mapping,
                                     uint64_t file_offset) {
  uint64_t size = mapping.size();
  if (size == 0) return fail("guest memory region at {:#x} is empty", guest_address);
  if (guest_address + size < guest_address)
    return fail("guest memory region at {:#x} wraps around", guest_address);
  for (const MemoryRegion& region : regions_) {
    if (guest_address < region.end() && region.guest_address < guest_address + size)
      return fail("guest memory region at {:#x} overlaps the one at {:#x}", guest_address,
                  region.guest_address);
  }
  regions_.push_back(MemoryRegion{guest_address, std::move(mapping), file_offset});
  std::sort(regions_.begin(), regions_.end(), [](const MemoryRegion& a, const MemoryRegion& b) {
    return a.guest_address < b.guest_address;
  });
  return {};
}

uint64_t GuestMemory::total_bytes() const {
  uint64_t total = 0;
  for (const MemoryRegion& region : regions_) total += region.size();
  return total;
}

Result<std::span<uint8_t>> GuestMemory::slice(uint64_t address, uint64_t length) const {
  for (const MemoryRegion& region : regions_) {
    if (address < region.guest_address || address >= region.end()) continue;
    uint64_t offset = address - region.guest_address;
    if (length > region.size() - offset)
      return fail("guest range {:#x}+{:#x} runs past the end of guest memory at {:#x}", address,
                  length, region.end());
    return std::span<uint8_t>(region.mapping.data() + offset, length);
  }
  return fail("guest address {:#x} is not in guest memory", address);
}

Result<void> GuestMemory::write(uint64_t address, std::span<const uint8_t> bytes) const {
  std::span<uint8_t> target = TRY(slice(address, bytes.size()));
  std::copy(bytes.begin(), bytes.end(), target.begin());
  return {};
}

Result<void> GuestMemory::read(uint64_t address, std::span<uint8_t> bytes) const {
  std::span<uint8_t> source = TRY(slice(address, bytes.size()));
  std::copy(source.begin(), source.end(), bytes.begin());
  return {};
}

Result<void> GuestMemory::fill(uint64_t address, uint64_t length, uint8_t value) const {
  std::span<uint8_t> target = TRY(slice(address, length));
  std::fill(target.begin(), target.end(), value);
  return {};
}

}  // namespace wisp
