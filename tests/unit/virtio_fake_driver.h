// A fake virtio guest driver for unit tests: it builds split virtqueues in a GuestMemory as a
// real driver would (virtio 1.x §2.7), and drives a VirtioDevice through the virtio-mmio register
// file (§4.2.2, §3.1.1), so that the device code is tested without a guest or KVM.
//
// FakeQueue is the ring side: descriptor table, available ring (with used_event) and used ring
// (with avail_event), each at its minimum alignment. It writes well-formed chains through
// add_chain/add_indirect_chain and anything at all through the raw setters.
//
// MmioDriver is the register side: reads and writes 32-bit registers of an MmioTransport and
// knows the initialisation sequence of §3.1.1.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/irq_line.h"

namespace wisp::test {

// One buffer of a chain the fake driver builds.
struct FakeBuffer {
  uint64_t address;
  uint32_t length;
  bool writable = false;  // VIRTQ_DESC_F_WRITE: the device writes it
};

inline FakeBuffer readable(uint64_t address, uint32_t length) {
  return {address, length, false};
}
inline FakeBuffer writable(uint64_t address, uint32_t length) {
  return {address, length, true};
}

struct UsedElement {
  uint32_t id;
  uint32_t length;
};

inline constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

// A split virtqueue as the driver lays it out: the descriptor table at `base` (which must be
// 16-byte aligned), the available ring right after it, the used ring at the next 4-byte boundary.
class FakeQueue {
 public:
  static constexpr uint64_t kDescriptorBytes = 16;

  static uint64_t descriptor_table_bytes(uint16_t size) { return kDescriptorBytes * size; }
  static uint64_t available_ring_bytes(uint16_t size) { return 4 + 2ull * size + 2; }
  static uint64_t used_ring_bytes(uint16_t size) { return 4 + 8ull * size + 2; }
  // The bytes the three parts take from `base` on.
  static uint64_t footprint(uint16_t size) {
    return align_up(descriptor_table_bytes(size) + available_ring_bytes(size), 4) +
           used_ring_bytes(size);
  }

  FakeQueue(const GuestMemory& memory, uint64_t base, uint16_t size)
      : memory_(&memory), size_(size) {
    layout_.size = size;
    layout_.descriptor_table = base;
    layout_.available_ring = base + descriptor_table_bytes(size);
    layout_.used_ring = align_up(layout_.available_ring + available_ring_bytes(size), 4);
    // A driver zeroes its rings before it hands them over.
    REQUIRE(memory.fill(base, footprint(size), 0));
  }

  const virtio::QueueLayout& layout() const { return layout_; }
  uint16_t size() const { return size_; }

  // ---- Descriptors ----
  // Writes descriptor `index` of the queue's table as it is, however malformed.
  void set_descriptor(uint16_t index, uint64_t address, uint32_t length, uint16_t flags,
                      uint16_t next) const {
    write_descriptor(layout_.descriptor_table + kDescriptorBytes * index, address, length, flags,
                     next);
  }
  // Writes entry `index` of an indirect table at `table`.
  void set_indirect_descriptor(uint64_t table, uint16_t index, uint64_t address, uint32_t length,
                               uint16_t flags, uint16_t next) const {
    write_descriptor(table + kDescriptorBytes * index, address, length, flags, next);
  }

  // The next descriptor index to use: descriptors are handed out in turn, wrapping around, as
  // long as no more than the queue's size are outstanding.
  uint16_t allocate_descriptor() { return static_cast<uint16_t>(next_descriptor_++ % size_); }

  // Writes a chain of direct descriptors (linked with NEXT) and returns its head. Does not make
  // it available.
  uint16_t add_chain(std::span<const FakeBuffer> buffers) {
    REQUIRE(!buffers.empty());
    std::vector<uint16_t> indexes;
    for (size_t i = 0; i < buffers.size(); ++i) indexes.push_back(allocate_descriptor());
    for (size_t i = 0; i < buffers.size(); ++i) {
      bool last = i + 1 == buffers.size();
      uint16_t flags = static_cast<uint16_t>((buffers[i].writable ? virtio::kDescFlagWrite : 0) |
                                             (last ? 0 : virtio::kDescFlagNext));
      set_descriptor(indexes[i], buffers[i].address, buffers[i].length, flags,
                     last ? 0 : indexes[i + 1]);
    }
    return indexes.front();
  }
  uint16_t add_chain(std::initializer_list<FakeBuffer> buffers) {
    return add_chain(std::span<const FakeBuffer>(buffers.begin(), buffers.size()));
  }

  // Writes an indirect table at `table` (16-byte aligned) holding `buffers`, and one descriptor
  // in the queue's table pointing at it; returns that descriptor's index (the head).
  uint16_t add_indirect_chain(uint64_t table, std::span<const FakeBuffer> buffers) {
    REQUIRE(!buffers.empty());
    for (size_t i = 0; i < buffers.size(); ++i) {
      bool last = i + 1 == buffers.size();
      uint16_t flags = static_cast<uint16_t>((buffers[i].writable ? virtio::kDescFlagWrite : 0) |
                                             (last ? 0 : virtio::kDescFlagNext));
      set_indirect_descriptor(table, static_cast<uint16_t>(i), buffers[i].address,
                              buffers[i].length, flags, static_cast<uint16_t>(last ? 0 : i + 1));
    }
    uint16_t head = allocate_descriptor();
    set_descriptor(head, table, static_cast<uint32_t>(kDescriptorBytes * buffers.size()),
                   virtio::kDescFlagIndirect, 0);
    return head;
  }
  uint16_t add_indirect_chain(uint64_t table, std::initializer_list<FakeBuffer> buffers) {
    return add_indirect_chain(table, std::span<const FakeBuffer>(buffers.begin(), buffers.size()));
  }

  // ---- The available ring ----
  // Puts `head` in the next ring slot and publishes it (idx + 1), as virtqueue_add does.
  void make_available(uint16_t head) {
    put_available(head);
    publish();
  }
  // Puts `head` in the next ring slot without moving idx; publish() exposes what was put.
  void put_available(uint16_t head) {
    write_u16(layout_.available_ring + 4 + 2ull * (available_index_ % size_), head);
    ++available_index_;
  }
  void publish() const { set_available_index(available_index_); }
  // Writes the available ring's idx as it is (the driver's own count is left alone).
  void set_available_index(uint16_t index) const { write_u16(layout_.available_ring + 2, index); }
  uint16_t available_index() const { return available_index_; }
  void set_available_flags(uint16_t flags) const { write_u16(layout_.available_ring, flags); }
  // used_event (§2.7.10): with EVENT_IDX, interrupt me once the used idx passes this.
  void set_used_event(uint16_t value) const {
    write_u16(layout_.available_ring + 4 + 2ull * size_, value);
  }

  // ---- The used ring ----
  uint16_t used_index() const { return read_u16(layout_.used_ring + 2); }
  uint16_t used_flags() const { return read_u16(layout_.used_ring); }
  // avail_event (§2.7.10): the device wants a notification once idx passes this.
  uint16_t avail_event() const { return read_u16(layout_.used_ring + 4 + 8ull * size_); }
  // The used element in ring position `position` (taken modulo the size).
  UsedElement used_element(uint16_t position) const {
    auto element =
        memory_->read_obj<UsedElement>(layout_.used_ring + 4 + 8ull * (position % size_));
    REQUIRE(element);
    return *element;
  }
  // Used elements the driver has not consumed yet.
  uint16_t used_pending() const { return static_cast<uint16_t>(used_index() - last_used_); }
  // The next used element the driver has not consumed; REQUIREs that there is one.
  UsedElement take_used() {
    REQUIRE(used_pending() > 0);
    return used_element(last_used_++);
  }

 private:
  void write_descriptor(uint64_t at, uint64_t address, uint32_t length, uint16_t flags,
                        uint16_t next) const {
    uint8_t bytes[kDescriptorBytes];
    std::memcpy(bytes, &address, 8);
    std::memcpy(bytes + 8, &length, 4);
    std::memcpy(bytes + 12, &flags, 2);
    std::memcpy(bytes + 14, &next, 2);
    REQUIRE(memory_->write(at, bytes));
  }
  void write_u16(uint64_t address, uint16_t value) const {
    REQUIRE(memory_->write_obj(address, value));
  }
  uint16_t read_u16(uint64_t address) const {
    auto value = memory_->read_obj<uint16_t>(address);
    REQUIRE(value);
    return *value;
  }

  const GuestMemory* memory_;
  uint16_t size_;
  virtio::QueueLayout layout_;
  uint32_t next_descriptor_ = 0;
  uint16_t available_index_ = 0;
  uint16_t last_used_ = 0;
};

// An interrupt line that counts edges and remembers its level.
class RecordingIrq final : public IrqLine {
 public:
  void set_level(bool high) override {
    if (high && !high_) ++raised;
    high_ = high;
  }
  int raised = 0;

 private:
  bool high_ = false;
};

// The driver's side of a virtio-mmio window (§4.2.2), through 32-bit register accesses.
class MmioDriver {
 public:
  explicit MmioDriver(virtio::MmioTransport& transport) : transport_(transport) {}

  uint32_t read32(uint64_t offset) {
    uint8_t bytes[4];
    transport_.read(offset, bytes);
    return static_cast<uint32_t>(load_le(bytes));
  }
  void write32(uint64_t offset, uint32_t value) {
    uint8_t bytes[4];
    store_le(bytes, value);
    transport_.write(offset, bytes);
  }

  uint64_t device_features() {
    write32(virtio::mmio::kDeviceFeaturesSel, 0);
    uint64_t low = read32(virtio::mmio::kDeviceFeatures);
    write32(virtio::mmio::kDeviceFeaturesSel, 1);
    uint64_t high = read32(virtio::mmio::kDeviceFeatures);
    return low | (high << 32);
  }
  void write_driver_features(uint64_t features) {
    write32(virtio::mmio::kDriverFeaturesSel, 0);
    write32(virtio::mmio::kDriverFeatures, static_cast<uint32_t>(features));
    write32(virtio::mmio::kDriverFeaturesSel, 1);
    write32(virtio::mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
  }
  uint32_t status() { return read32(virtio::mmio::kStatus); }
  void set_status(uint32_t status) { write32(virtio::mmio::kStatus, status); }
  void add_status(uint32_t bits) { set_status(status() | bits); }
  void reset() { set_status(0); }

  // §3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, the features (those of `wanted` the device
  // offers), FEATURES_OK read back. Returns whether the device accepted the features.
  bool negotiate(uint64_t wanted) {
    REQUIRE(read32(virtio::mmio::kMagicValue) == virtio::mmio::kMagic);
    REQUIRE(read32(virtio::mmio::kVersion) == 2);
    REQUIRE(read32(virtio::mmio::kDeviceId) != 0);
    reset();
    REQUIRE(status() == 0);
    add_status(virtio::kStatusAcknowledge);
    add_status(virtio::kStatusDriver);
    negotiated_ = wanted & device_features();
    write_driver_features(negotiated_);
    add_status(virtio::kStatusFeaturesOk);
    return status() & virtio::kStatusFeaturesOk;
  }
  uint64_t negotiated() const { return negotiated_; }

  // §4.2.3.2: selects `queue`, checks it is not ready and that its size fits, writes its size
  // and addresses, and makes it ready.
  void setup_queue(uint16_t queue, const virtio::QueueLayout& layout) {
    select_queue(queue);
    REQUIRE(read32(virtio::mmio::kQueueReady) == 0);
    uint32_t max = read32(virtio::mmio::kQueueNumMax);
    REQUIRE(max != 0);
    REQUIRE(layout.size <= max);
    write_queue(layout);
    write32(virtio::mmio::kQueueReady, 1);
  }
  // The writes of setup_queue without any check, for malformed set-ups.
  void write_queue(const virtio::QueueLayout& layout) {
    write32(virtio::mmio::kQueueNum, layout.size);
    write_address(virtio::mmio::kQueueDescLow, layout.descriptor_table);
    write_address(virtio::mmio::kQueueDriverLow, layout.available_ring);
    write_address(virtio::mmio::kQueueDeviceLow, layout.used_ring);
  }
  void select_queue(uint16_t queue) { write32(virtio::mmio::kQueueSel, queue); }
  void write_address(uint64_t low_register, uint64_t address) {
    write32(low_register, static_cast<uint32_t>(address));
    write32(low_register + 4, static_cast<uint32_t>(address >> 32));
  }
  uint64_t read_address(uint64_t low_register) {
    return read32(low_register) | (uint64_t{read32(low_register + 4)} << 32);
  }

  void driver_ok() { add_status(virtio::kStatusDriverOk); }

  // The whole of §3.1.1 for a device with the queues `layouts` (queue i gets layouts[i]).
  // Returns whether the device runs (DRIVER_OK set and no DEVICE_NEEDS_RESET).
  bool initialize(uint64_t wanted, std::span<const virtio::QueueLayout> layouts) {
    if (!negotiate(wanted)) return false;
    for (size_t i = 0; i < layouts.size(); ++i) setup_queue(static_cast<uint16_t>(i), layouts[i]);
    driver_ok();
    uint32_t now = status();
    return (now & virtio::kStatusDriverOk) && !(now & virtio::kStatusDeviceNeedsReset);
  }

  void notify(uint16_t queue) { write32(virtio::mmio::kQueueNotify, queue); }
  uint32_t interrupt_status() { return read32(virtio::mmio::kInterruptStatus); }
  void acknowledge_interrupt(uint32_t bits) { write32(virtio::mmio::kInterruptAck, bits); }
  bool needs_reset() { return status() & virtio::kStatusDeviceNeedsReset; }

  // The configuration space at 0x100, read at any width.
  template <typename T>
  T read_config(uint64_t offset) {
    uint8_t bytes[sizeof(T)];
    transport_.read(virtio::mmio::kConfig + offset, bytes);
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

 private:
  virtio::MmioTransport& transport_;
  uint64_t negotiated_ = 0;
};

// A device behind its transport, with the notify callback wired as the device manager wires an
// ioeventfd: QueueNotify → the device's worker → notify_queue.
template <typename Device>
struct MmioHarness {
  template <typename... Args>
  explicit MmioHarness(Args&&... args)
      : device(std::forward<Args>(args)..., irq, worker),
        transport(device,
                  [this](uint16_t queue) {
                    worker.run_and_wait([this, queue] { device.notify_queue(queue); });
                  }),
        driver(transport) {}

  RecordingIrq irq;
  InlineWorker worker;
  Device device;
  virtio::MmioTransport transport;
  MmioDriver driver;
};

}  // namespace wisp::test
