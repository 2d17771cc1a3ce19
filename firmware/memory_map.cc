#include "firmware/memory_map.h"

#include <algorithm>

#include "firmware/layout.h"

namespace wisp {

std::vector<RamRange> ram_ranges(uint64_t memory_size) {
  std::vector<RamRange> ranges;
  uint64_t below_hole = std::min(memory_size, layout::kMmioHoleStart);
  ranges.push_back({0, below_hole});
  if (memory_size > below_hole) ranges.push_back({layout::kMmioHoleEnd, memory_size - below_hole});
  return ranges;
}

std::vector<E820Entry> e820_map(uint64_t memory_size) {
  std::vector<E820Entry> map;
  map.push_back({0, layout::kEbdaStart, E820Type::kRam});
  map.push_back(
      {layout::kEbdaStart, layout::kHighMemoryStart - layout::kEbdaStart, E820Type::kReserved});
  for (const RamRange& range : ram_ranges(memory_size)) {
    uint64_t start = std::max(range.start, layout::kHighMemoryStart);
    if (range.end() > start) map.push_back({start, range.end() - start, E820Type::kRam});
  }
  return map;
}

}  // namespace wisp
