// A split virtqueue (virtio 1.x §2.7) served by a device: it pops the descriptor chains the driver
// made available and returns them through the used ring. Everything in the rings is written by a
// driver that may be hostile: each index, address, length and flag is checked before use, chains
// are bounded, and every guest buffer is checked against guest RAM. A broken ring is an error
// (the device then sets DEVICE_NEEDS_RESET), never a crash.
//
// One thread serves a queue: VirtQueue is not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp::virtio {

// Where the driver put the queue's three parts, and its size (§2.7, §4.2.2 QueueDesc/Driver/
// Device and QueueNum).
struct QueueLayout {
  uint16_t size = 0;
  uint64_t descriptor_table = 0;
  uint64_t available_ring = 0;  // the "driver area"
  uint64_t used_ring = 0;       // the "device area"
};

// One guest buffer of a chain, checked to lie inside guest RAM.
struct GuestBuffer {
  uint64_t address;
  uint32_t length;
  bool device_writable;
};

// The buffers of one descriptor chain, in order: device-readable ones first (§2.7.4.2).
// Reused from one pop to the next so that serving a queue does not allocate per request.
class DescriptorChain {
 public:
  uint16_t head() const { return head_; }
  std::span<const GuestBuffer> buffers() const { return buffers_; }
  uint64_t readable_bytes() const { return readable_bytes_; }
  uint64_t writable_bytes() const { return writable_bytes_; }

 private:
  friend class VirtQueue;
  void clear(uint16_t head);
  void add(const GuestBuffer& buffer);

  uint16_t head_ = 0;
  std::vector<GuestBuffer> buffers_;
  uint64_t readable_bytes_ = 0;
  uint64_t writable_bytes_ = 0;
  bool saw_writable_ = false;  // a device-writable descriptor, even an empty one
};

class VirtQueue {
 public:
  struct Features {
    bool indirect_descriptors;  // VIRTIO_F_INDIRECT_DESC negotiated
    bool event_index;           // VIRTIO_F_EVENT_IDX negotiated
  };

  // Checks the layout: a power-of-two size up to 32768, each part aligned (§2.7.2) and inside
  // guest RAM.
  static Result<VirtQueue> create(const GuestMemory& memory, const QueueLayout& layout,
                                  Features features);

  uint16_t size() const { return size_; }
  // Where the driver put the rings (for a device whose rings another process serves).
  const QueueLayout& layout() const { return layout_; }

  // Takes over a queue that someone else served until now (a vhost-user back end that died):
  // everything the used ring does not yet hold counts as not popped.
  void resume_from_used_ring();

  // Fills `chain` with the next available chain: true if there was one, false if the ring is
  // empty, an error if the ring or the chain is malformed.
  Result<bool> pop(DescriptorChain& chain);

  // Returns a chain to the driver with the number of bytes the device wrote into it.
  Result<void> push_used(uint16_t head, uint32_t written_bytes);
  // The same in two steps, for chains the driver must see together (the buffers of one merged
  // frame, §5.1.6.4): add_used writes used elements, publish_used makes those added visible.
  Result<void> add_used(uint16_t head, uint32_t written_bytes);
  void publish_used();

  // Whether the driver wants an interrupt for what was pushed since the last call (§2.7.7.2:
  // VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX).
  bool needs_interrupt();

  // With VIRTIO_F_EVENT_IDX, tells the driver to notify once it makes anything past what was
  // popped available (avail_event, §2.7.10); then says whether more arrived meanwhile, so that
  // the caller pops again instead of waiting for a notification that will not come.
  bool enable_notification_and_check();

 private:
  VirtQueue(const GuestMemory& memory, const QueueLayout& layout, Features features);

  uint16_t read_available_index() const;
  Result<void> walk_descriptors(uint64_t table, uint32_t table_size, uint16_t first,
                                bool indirect_table, DescriptorChain& chain);
  Result<void> add_buffer(uint64_t address, uint32_t length, uint16_t flags,
                          DescriptorChain& chain);

  const GuestMemory* memory_;
  QueueLayout layout_;
  uint16_t size_;
  Features features_;
  std::span<uint8_t> descriptors_;  // size_ * 16 bytes
  std::span<uint8_t> available_;    // flags, idx, ring[size_], used_event
  std::span<uint8_t> used_;         // flags, idx, ring[size_] of {id, len}, avail_event
  uint16_t next_available_ = 0;     // the driver's ring entries before this one were popped
  uint16_t next_used_ = 0;          // the used ring's idx as the device last wrote it
  uint16_t used_at_last_interrupt_check_ = 0;
};

}  // namespace wisp::virtio
