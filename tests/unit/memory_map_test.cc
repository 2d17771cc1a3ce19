#include <catch2/catch.hpp>

#include "firmware/layout.h"
#include "firmware/memory_map.h"

using namespace wisp;

TEST_CASE("RAM below the MMIO hole stays in one range") {
  auto ranges = ram_ranges(512ull << 20);
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].start == 0);
  CHECK(ranges[0].size == 512ull << 20);
}

TEST_CASE("RAM past the MMIO hole continues at 4 GiB") {
  auto ranges = ram_ranges(6ull << 30);
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0].end() == layout::kMmioHoleStart);
  CHECK(ranges[1].start == 4ull << 30);
  CHECK(ranges[0].size + ranges[1].size == 6ull << 30);
}

TEST_CASE("the e820 map reserves the legacy area and lists all RAM") {
  auto map = e820_map(6ull << 30);
  REQUIRE(map.size() == 4);
  CHECK(map[0].address == 0);
  CHECK(map[0].type == E820Type::kRam);
  CHECK(map[1].type == E820Type::kReserved);
  CHECK(map[1].address <= layout::kAcpiTablesAddress);
  CHECK(map[1].address + map[1].size >= layout::kAcpiTablesAddress + layout::kAcpiTablesMaxBytes);
  CHECK(map[2].address == layout::kHighMemoryStart);
  CHECK(map[2].address + map[2].size == layout::kMmioHoleStart);
  CHECK(map[3].address == 4ull << 30);
  uint64_t ram = 0;
  for (const auto& entry : map)
    if (entry.type == E820Type::kRam) ram += entry.size;
  CHECK(ram == (6ull << 30) - (layout::kHighMemoryStart - layout::kEbdaStart));
  // Sorted and not overlapping.
  for (size_t i = 1; i < map.size(); ++i)
    CHECK(map[i - 1].address + map[i - 1].size <= map[i].address);
}
