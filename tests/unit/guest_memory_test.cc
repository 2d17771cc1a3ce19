#include <catch2/catch.hpp>

#include "tests/unit/test_memory.h"

using wisp::test::make_guest_memory;

TEST_CASE("guest memory translates only ranges inside one region") {
  auto memory = make_guest_memory({{0, 0x10000}, {0x100000, 0x1000}});
  CHECK(memory.total_bytes() == 0x11000);
  CHECK(memory.slice(0, 0x10000));
  CHECK(memory.slice(0xfff0, 0x10));
  CHECK_FALSE(memory.slice(0xfff0, 0x11));  // runs off the end
  CHECK_FALSE(memory.slice(0x10000, 1));    // the gap
  CHECK(memory.slice(0x100fff, 1));
  CHECK_FALSE(memory.slice(0x100fff, 2));
  CHECK_FALSE(memory.slice(0x100000, ~0ull));  // absurd length
  CHECK_FALSE(memory.slice(~0ull - 1, 4));     // wraps around
}

TEST_CASE("guest memory round-trips objects and refuses overlapping regions") {
  auto memory = make_guest_memory({{0x1000, 0x2000}});
  REQUIRE(memory.write_obj<uint64_t>(0x1800, 0x1122334455667788));
  auto value = memory.read_obj<uint64_t>(0x1800);
  REQUIRE(value);
  CHECK(*value == 0x1122334455667788);
  CHECK_FALSE(memory.read_obj<uint64_t>(0x2ffc));

  auto overlapping = wisp::Mapping::anonymous(0x1000);
  REQUIRE(overlapping);
  CHECK_FALSE(memory.add_region(0x2800, std::move(*overlapping)));
}
