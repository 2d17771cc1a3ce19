// The harness the virtio fuzz targets share: the guest memory a hostile driver works in, that
// driver's register access through virtio-mmio, and the seed programs' image and file writing.
// Each target (one .cc, its own executable) keeps its input format, its fake back end and its
// checks; what is here is the same for every virtio device.
#pragma once

#include <errno.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/irq_line.h"

namespace wisp::fuzz {

// A finding: a message naming the target (its program name), then a trap for libFuzzer to catch.
[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
  __builtin_trap();
}

// Little-endian fields of an input.
inline uint16_t le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// ---- Guest memory ----
// Two regions with a hole between them, like RAM below and above the MMIO hole, so that chains
// crossing or pointing into the hole are tried: region A from 0 (its size each target's own,
// at most kRegionB), region B above the hole. An input's image fills A from its start, then B.
inline constexpr uint64_t kRegionA = 0;
inline constexpr uint64_t kRegionB = 0x8000;
inline constexpr uint64_t kRegionBSize = 0x1000;

inline GuestMemory make_memory(std::span<const uint8_t> image, uint64_t region_a_size) {
  GuestMemory memory;
  const std::pair<uint64_t, uint64_t> regions[] = {{kRegionA, region_a_size},
                                                   {kRegionB, kRegionBSize}};
  for (auto [address, bytes] : regions) {
    auto mapping = Mapping::anonymous(bytes);
    if (!mapping || !memory.add_region(address, std::move(*mapping))) finding("guest memory");
  }
  size_t to_a = std::min<size_t>(image.size(), region_a_size);
  if (!memory.write(kRegionA, image.first(to_a))) finding("image");
  size_t to_b = std::min<size_t>(image.size() - to_a, kRegionBSize);
  if (!memory.write(kRegionB, image.subspan(to_a, to_b))) finding("image");
  return memory;
}

// Whether host bytes [base, base + length) lie inside one region of guest memory: where a fake
// back end checks the iovecs a device hands it.
inline bool inside_guest(const GuestMemory& memory, const void* base, size_t length) {
  auto address = reinterpret_cast<uintptr_t>(base);
  for (const MemoryRegion& region : memory.regions()) {
    auto start = reinterpret_cast<uintptr_t>(region.mapping.data());
    if (address >= start && address <= start + region.size() &&
        length <= start + region.size() - address)
      return true;
  }
  return false;
}

// A queue of `size` as a driver lays it out from `base`: descriptor table, available ring, then
// the used ring at its 4-byte alignment (virtio 1.x §2.6).
inline virtio::QueueLayout ring_layout(uint64_t base, uint16_t size) {
  virtio::QueueLayout layout;
  layout.size = size;
  layout.descriptor_table = base;
  layout.available_ring = base + 16ull * size;
  layout.used_ring = (layout.available_ring + 4 + 2ull * size + 2 + 3) & ~3ull;
  return layout;
}

// ---- The driver's side ----
// Interrupts go nowhere: the driver polls.
class NullIrq final : public IrqLine {
 public:
  void set_level(bool) override {}
};

// The guest's register access to a device through its virtio-mmio transport, and the steps of
// initialisation (§3.1.1) every target's driver takes; what it accepts and which queues it sets
// up are the target's.
class MmioDriver {
 public:
  MmioDriver(virtio::VirtioDevice& device, virtio::MmioTransport::NotifyCallback notify)
      : transport_(device, std::move(notify)) {}

  uint32_t read(uint64_t offset) {
    uint8_t bytes[4];
    transport_.read(offset, bytes);
    return le32(bytes);
  }
  void write(uint64_t offset, uint32_t value) {
    uint8_t bytes[4] = {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8),
                        static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 24)};
    transport_.write(offset, bytes);
  }
  void write_address(uint64_t low, uint64_t address) {
    write(low, static_cast<uint32_t>(address));
    write(low + 4, static_cast<uint32_t>(address >> 32));
  }

  // Reset, ACKNOWLEDGE, DRIVER; returns the features the device offers.
  uint64_t start() {
    using namespace virtio;
    write(mmio::kStatus, 0);
    write(mmio::kStatus, kStatusAcknowledge);
    write(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
    write(mmio::kDeviceFeaturesSel, 0);
    uint64_t offered = read(mmio::kDeviceFeatures);
    write(mmio::kDeviceFeaturesSel, 1);
    offered |= uint64_t{read(mmio::kDeviceFeatures)} << 32;
    return offered;
  }
  // Writes the driver's features, then FEATURES_OK (which the device may refuse).
  void accept(uint64_t features) {
    using namespace virtio;
    write(mmio::kDriverFeaturesSel, 0);
    write(mmio::kDriverFeatures, static_cast<uint32_t>(features));
    write(mmio::kDriverFeaturesSel, 1);
    write(mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
    write(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  }
  void set_up_queue(uint16_t queue, const virtio::QueueLayout& layout) {
    using namespace virtio;
    write(mmio::kQueueSel, queue);
    write(mmio::kQueueNum, layout.size);
    write_address(mmio::kQueueDescLow, layout.descriptor_table);
    write_address(mmio::kQueueDriverLow, layout.available_ring);
    write_address(mmio::kQueueDeviceLow, layout.used_ring);
    write(mmio::kQueueReady, 1);
  }
  void driver_ok() {
    using namespace virtio;
    write(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
  }

  // A register access an input asks for: a write of `value`, or (top bit of `selector`) a read,
  // anywhere in the register file or the start of the configuration space.
  void register_access(uint8_t selector, uint32_t value) {
    uint64_t offset = uint64_t{selector & 0x7fu} % 72 * 4;
    if (selector & 0x80) {
      (void)read(offset);
    } else {
      write(offset, value);
    }
  }

 private:
  virtio::MmioTransport transport_;
};

// ---- Seeds ----
// The guest memory image of a seed, written at guest addresses of region A or B.
class SeedImage {
 public:
  explicit SeedImage(uint64_t region_a_size) : region_a_size_(region_a_size) {}

  void put(uint64_t address, const void* bytes, size_t length) {
    uint64_t offset = address >= kRegionB ? region_a_size_ + (address - kRegionB) : address;
    if (offset + length > image_.size()) image_.resize(offset + length, 0);
    std::memcpy(image_.data() + offset, bytes, length);
  }
  template <typename T>
  void put(uint64_t address, T value) {
    put(address, &value, sizeof(value));
  }
  // Descriptor `index` of the table (or indirect table) at `table`.
  void descriptor_at(uint64_t table, uint16_t index, uint64_t address, uint32_t length,
                     uint16_t flags, uint16_t next) {
    uint64_t at = table + 16ull * index;
    put(at, address);
    put(at + 8, length);
    put(at + 12, flags);
    put(at + 14, next);
  }

  // The image stops after the last byte written: the rest of guest memory is zero.
  std::span<const uint8_t> image() const { return image_; }

 private:
  uint64_t region_a_size_;
  std::vector<uint8_t> image_;
};

// Writes a seed file, its parts one after the other; exits on failure.
inline void write_seed(const std::string& path,
                       std::initializer_list<std::span<const uint8_t>> parts) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) {
    std::perror(path.c_str());
    std::exit(1);
  }
  for (std::span<const uint8_t> part : parts) std::fwrite(part.data(), 1, part.size(), file);
  std::fclose(file);
}

// The directory a seed program is given as its one argument; exits with usage otherwise.
inline std::string seed_directory(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    std::exit(2);
  }
  return argv[1];
}

}  // namespace wisp::fuzz
