// The I/O bus: maps port or MMIO ranges to devices. Devices see only offsets into their own range.
// The bus is filled while the VM is built and is read-only once vCPUs run, so lookups need no lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace wisp {

// What every emulated device implements. `data` is the access: 1, 2, 4 or 8 bytes, little-endian.
class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus {
 public:
  // Rejects an empty range, one that wraps around, and one that overlaps a registered range.
  Result<void> add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device,
                   std::string name);

  struct Target {
    BusDevice* device;
    uint64_t offset;
  };
  // The device whose range holds all of [address, address + size), if any.
  std::optional<Target> find(uint64_t address, uint64_t size) const;

  // Dispatch helpers: false when no device answers (the caller decides what the guest sees).
  bool read(uint64_t address, std::span<uint8_t> data) const;
  bool write(uint64_t address, std::span<const uint8_t> data) const;

 private:
  struct Range {
    uint64_t base;
    uint64_t length;
    std::shared_ptr<BusDevice> device;
    std::string name;
  };
  std::vector<Range> ranges_;  // sorted by base, never overlapping
};

// Little-endian helpers for device register code.
inline uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t value = 0;
  for (size_t i = 0; i < data.size() && i < 8; ++i) value |= uint64_t{data[i]} << (8 * i);
  return value;
}
inline void store_le(std::span<uint8_t> data, uint64_t value) {
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = i < 8 ? static_cast<uint8_t>(value >> (8 * i)) : 0;
}

}  // namespace wisp
