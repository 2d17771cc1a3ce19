#include <catch2/catch.hpp>

#include "vmm/base/bus.h"

namespace {

// Records the last access it saw.
class RecordingDevice final : public wisp::BusDevice {
 public:
  void read(uint64_t offset, std::span<uint8_t> data) override {
    last_offset = offset;
    wisp::store_le(data, 0xabcd);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_value = wisp::load_le(data);
  }
  uint64_t last_offset = ~0ull;
  uint64_t last_value = 0;
};

}  // namespace

TEST_CASE("the bus rejects empty, wrapping and overlapping ranges") {
  wisp::Bus bus;
  auto device = std::make_shared<RecordingDevice>();
  REQUIRE(bus.add(0x100, 0x10, device, "a"));
  CHECK_FALSE(bus.add(0x200, 0, device, "empty"));
  CHECK_FALSE(bus.add(~0ull - 4, 0x10, device, "wraps"));
  CHECK_FALSE(bus.add(0x10f, 1, device, "overlaps the end"));
  CHECK_FALSE(bus.add(0xf8, 0x10, device, "overlaps the start"));
  CHECK_FALSE(bus.add(0x80, 0x100, device, "covers"));
  CHECK(bus.add(0x110, 0x10, device, "adjacent"));
  CHECK(bus.add(0xf0, 0x10, device, "adjacent below"));
}

TEST_CASE("the bus hands devices offsets, and only whole accesses inside a range") {
  wisp::Bus bus;
  auto low = std::make_shared<RecordingDevice>();
  auto high = std::make_shared<RecordingDevice>();
  REQUIRE(bus.add(0x3f8, 8, low, "uart"));
  REQUIRE(bus.add(0xd0000000, 0x1000, high, "mmio"));

  uint8_t byte = 0x5a;
  CHECK(bus.write(0x3fb, std::span(&byte, 1)));
  CHECK(low->last_offset == 3);
  CHECK(low->last_value == 0x5a);

  uint8_t word[4] = {};
  CHECK(bus.read(0xd0000ffc, word));
  CHECK(high->last_offset == 0xffc);
  CHECK(word[0] == 0xcd);
  CHECK(word[1] == 0xab);

  CHECK_FALSE(bus.read(0xd0000ffe, word));  // straddles the end
  CHECK_FALSE(bus.read(0x3f7, std::span(word, 1)));
  CHECK_FALSE(bus.read(0x400, std::span(word, 1)));
  CHECK_FALSE(bus.find(0, 1));
}
