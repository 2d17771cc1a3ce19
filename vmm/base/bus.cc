#include "vmm/base/bus.h"

#include <algorithm>

namespace wisp {

Result<void> Bus::add(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device,
                      std::string name) {
  if (length == 0) return fail("bus range for {} is empty", name);
  if (base + length < base) return fail("bus range for {} at {:#x} wraps around", name, base);
  for (const Range& range : ranges_) {
    if (base < range.base + range.length && range.base < base + length)
      return fail("bus range {:#x}+{:#x} for {} overlaps {} at {:#x}+{:#x}", base, length, name,
                  range.name, range.base, range.length);
  }
  auto position = std::upper_bound(ranges_.begin(), ranges_.end(), base,
                                   [](uint64_t b, const Range& range) { return b < range.base; });
  ranges_.insert(position, Range{base, length, std::move(device), std::move(name)});
  return {};
}

std::optional<Bus::Target> Bus::find(uint64_t address, uint64_t size) const {
  auto after = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                                [](uint64_t a, const Range& range) { return a < range.base; });
  if (after == ranges_.begin()) return std::nullopt;
  const Range& range = *std::prev(after);
  uint64_t offset = address - range.base;
  if (offset >= range.length || size > range.length - offset) return std::nullopt;
  return Target{range.device.get(), offset};
}

bool Bus::read(uint64_t address, std::span<uint8_t> data) const {
  std::optional<Target> target = find(address, data.size());
  if (!target) return false;
  target->device->read(target->offset, data);
  return true;
}

bool Bus::write(uint64_t address, std::span<const uint8_t> data) const {
  std::optional<Target> target = find(address, data.size());
  if (!target) return false;
  target->device->write(target->offset, data);
  return true;
}

}  // namespace wisp
