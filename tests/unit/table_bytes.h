// Readers for firmware tables in unit tests: little-endian fields, text and checksums at byte
// offsets (each checked to lie inside the table), and the platform devices tests describe.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string>

#include "firmware/layout.h"
#include "firmware/platform.h"

namespace wisp::test {

inline uint64_t read_le(std::span<const uint8_t> bytes, size_t offset, size_t size) {
  REQUIRE(offset + size <= bytes.size());
  uint64_t value = 0;
  for (size_t i = 0; i < size; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
  return value;
}
inline uint8_t u8(std::span<const uint8_t> b, size_t offset) {
  return static_cast<uint8_t>(read_le(b, offset, 1));
}
inline uint16_t u16(std::span<const uint8_t> b, size_t offset) {
  return static_cast<uint16_t>(read_le(b, offset, 2));
}
inline uint32_t u32(std::span<const uint8_t> b, size_t offset) {
  return static_cast<uint32_t>(read_le(b, offset, 4));
}
inline uint64_t u64(std::span<const uint8_t> b, size_t offset) {
  return read_le(b, offset, 8);
}

inline std::string text(std::span<const uint8_t> b, size_t offset, size_t size) {
  REQUIRE(offset + size <= b.size());
  return std::string(b.begin() + offset, b.begin() + offset + size);
}

inline unsigned sum_mod_256(std::span<const uint8_t> bytes) {
  unsigned sum = 0;
  for (uint8_t byte : bytes) sum += byte;
  return sum % 256;
}

inline PlatformDevice com1() {
  return {PlatformDeviceKind::kSerial8250, layout::kCom1Port, layout::kUartPortCount,
          layout::kCom1Irq};
}

// The index-th virtio-mmio window of the layout, on interrupt line `gsi`.
inline PlatformDevice virtio_window(size_t index, uint32_t gsi) {
  return {PlatformDeviceKind::kVirtioMmio,
          layout::kVirtioMmioStart + index * layout::kVirtioMmioWindowBytes,
          static_cast<uint32_t>(layout::kVirtioMmioWindowBytes), gsi};
}

}  // namespace wisp::test
