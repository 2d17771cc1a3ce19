// Where guest RAM lives for a given memory size, and the e820 map the guest is told about.
#pragma once

#include <cstdint>
#include <vector>

namespace wisp {

struct RamRange {
  uint64_t start;
  uint64_t size;
  uint64_t end() const { return start + size; }
};

// RAM from 0 up to the 32-bit MMIO hole, the rest from 4 GiB on.
std::vector<RamRange> ram_ranges(uint64_t memory_size);

enum class E820Type : uint32_t { kRam = 1, kReserved = 2 };

struct E820Entry {
  uint64_t address;
  uint64_t size;
  E820Type type;
};

// The map handed to the kernel: low RAM, the reserved legacy BIOS area (where the ACPI tables
// are), and the RAM ranges above 1 MiB.
std::vector<E820Entry> e820_map(uint64_t memory_size);

}  // namespace wisp
