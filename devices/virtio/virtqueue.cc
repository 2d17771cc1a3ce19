#include "devices/virtio/virtqueue.h"

#include <atomic>
#include <bit>
#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace wisp::virtio {
namespace {

static_assert(std::endian::native == std::endian::little, "virtio 1.x rings are little-endian");

// §2.7.5 The Virtqueue Descriptor Table.
struct Descriptor {
  uint64_t address;
  uint32_t length;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

// Offsets inside the available ring (§2.7.6) and the used ring (§2.7.8).
constexpr size_t kRingFlagsOffset = 0;
constexpr size_t kRingIndexOffset = 2;
constexpr size_t kRingEntriesOffset = 4;
constexpr size_t kUsedElementBytes = 8;  // struct virtq_used_elem { le32 id; le32 len; }

uint64_t available_ring_bytes(uint16_t size) {
  return kRingEntriesOffset + 2ull * size + 2;  // ... ring[size], used_event
}
uint64_t used_ring_bytes(uint16_t size) {
  return kRingEntriesOffset + kUsedElementBytes * size + 2;  // ... ring[size], avail_event
}

// The rings' 16-bit fields are shared with the driver's CPUs: read and written whole, with the
// ordering the spec's memory barriers ask for (§2.7.13, §2.7.7).
uint16_t load_u16(std::span<uint8_t> area, size_t offset, std::memory_order order) {
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(area.data() + offset)).load(order);
}
void store_u16(std::span<uint8_t> area, size_t offset, uint16_t value, std::memory_order order) {
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(area.data() + offset)).store(value, order);
}

Result<std::span<uint8_t>> aligned_area(const GuestMemory& memory, std::string_view what,
                                        uint64_t address, uint64_t length, uint64_t alignment) {
  if (address % alignment != 0)
    return fail("the {} at {:#x} is not {}-byte aligned", what, address, alignment);
  return TRY_CONTEXT(memory.slice(address, length), fmt::format("the {}", what));
}

}  // namespace

void DescriptorChain::clear(uint16_t head) {
  head_ = head;
  buffers_.clear();
  readable_bytes_ = 0;
  writable_bytes_ = 0;
  saw_writable_ = false;
}

void DescriptorChain::add(const GuestBuffer& buffer) {
  buffers_.push_back(buffer);
  (buffer.device_writable ? writable_bytes_ : readable_bytes_) += buffer.length;
}

VirtQueue::VirtQueue(const GuestMemory& memory, const QueueLayout& layout, Features features)
    : memory_(&memory), layout_(layout), size_(layout.size), features_(features) {}

void VirtQueue::resume_from_used_ring() {
  next_used_ = load_u16(used_, kRingIndexOffset, std::memory_order_acquire);
  next_available_ = next_used_;
  used_at_last_interrupt_check_ = next_used_;
}

Result<VirtQueue> VirtQueue::create(const GuestMemory& memory, const QueueLayout& layout,
                                    Features features) {
  if (layout.size == 0 || layout.size > kMaxQueueSize || !std::has_single_bit(layout.size))
    return fail("queue size {} is not a power of two from 1 to {}", layout.size, kMaxQueueSize);
  VirtQueue queue(memory, layout, features);
  queue.descriptors_ =
      TRY(aligned_area(memory, "descriptor table", layout.descriptor_table,
                       sizeof(Descriptor) * uint64_t{layout.size}, kDescriptorTableAlignment));
  queue.available_ = TRY(aligned_area(memory, "available ring", layout.available_ring,
                                      available_ring_bytes(layout.size), kAvailableRingAlignment));
  queue.used_ = TRY(aligned_area(memory, "used ring", layout.used_ring,
                                 used_ring_bytes(layout.size), kUsedRingAlignment));
  return queue;  // both indexes start at zero (§2.7.6, §2.7.8)
}

uint16_t VirtQueue::read_available_index() const {
  // Acquire: the ring entries and descriptors the driver wrote before idx are visible after it.
  return load_u16(available_, kRingIndexOffset, std::memory_order_acquire);
}

Result<bool> VirtQueue::pop(DescriptorChain& chain) {
  uint16_t available_index = read_available_index();
  uint16_t pending = static_cast<uint16_t>(available_index - next_available_);
  if (pending == 0) return false;
  if (pending > size_)
    return fail("the driver made {} chains available in a queue of {}", pending, size_);
  size_t slot = next_available_ % size_;
  uint16_t head = load_u16(available_, kRingEntriesOffset + 2 * slot, std::memory_order_relaxed);
  if (head >= size_) return fail("available ring entry {} names descriptor {}", slot, head);
  chain.clear(head);
  TRY(walk_descriptors(0, size_, head, false, chain));
  ++next_available_;
  return true;
}

// Walks one chain through a table: the queue's own (indirect_table false, `table` unused) or an
// indirect table at `table`. Each chain may hold at most as many descriptors as its table, so a
// loop ends as an error.
Result<void> VirtQueue::walk_descriptors(uint64_t table, uint32_t table_size, uint16_t first,
                                         bool indirect_table, DescriptorChain& chain) {
  uint32_t index = first;
  for (uint32_t count = 1;; ++count) {
    if (index >= table_size)
      return fail("descriptor {} is outside its table of {}", index, table_size);
    if (count > table_size)
      return fail("a descriptor chain loops or is longer than its table of {}", table_size);
    Descriptor descriptor;
    if (indirect_table) {
      descriptor = TRY(memory_->read_obj<Descriptor>(table + uint64_t{index} * sizeof(Descriptor)));
    } else {
      std::memcpy(&descriptor, descriptors_.data() + size_t{index} * sizeof(Descriptor),
                  sizeof(Descriptor));
    }
    if (descriptor.flags & kDescFlagIndirect) {
      // §2.7.5.3.1: no indirect descriptor inside an indirect table, none with NEXT, and a table
      // of whole descriptors no longer than the queue.
      if (indirect_table) return fail("an indirect table holds an indirect descriptor");
      if (!features_.indirect_descriptors)
        return fail("an indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated");
      if (descriptor.flags & kDescFlagNext)
        return fail("an indirect descriptor also has VIRTQ_DESC_F_NEXT");
      uint32_t entries = descriptor.length / sizeof(Descriptor);
      if (descriptor.length % sizeof(Descriptor) != 0 || entries == 0 || entries > size_)
        return fail("an indirect table of {} bytes (whole descriptors, at most {})",
                    descriptor.length, size_);
      TRY_CONTEXT(memory_->slice(descriptor.address, descriptor.length), "an indirect table");
      return walk_descriptors(descriptor.address, entries, 0, true, chain);
    }
    TRY(add_buffer(descriptor.address, descriptor.length, descriptor.flags, chain));
    if (!(descriptor.flags & kDescFlagNext)) return {};
    index = descriptor.next;
  }
}

Result<void> VirtQueue::add_buffer(uint64_t address, uint32_t length, uint16_t flags,
                                   DescriptorChain& chain) {
  bool writable = flags & kDescFlagWrite;
  // §2.7.4.2: device-writable buffers come after every device-readable one.
  if (!writable && chain.saw_writable_)
    return fail("a device-readable buffer follows a device-writable one");
  chain.saw_writable_ |= writable;
  if (length == 0) return {};
  TRY_CONTEXT(memory_->slice(address, length), "a descriptor's buffer");
  chain.add(GuestBuffer{address, length, writable});
  return {};
}

Result<void> VirtQueue::push_used(uint16_t head, uint32_t written_bytes) {
  TRY(add_used(head, written_bytes));
  publish_used();
  return {};
}

Result<void> VirtQueue::add_used(uint16_t head, uint32_t written_bytes) {
  if (head >= size_) return fail("returning descriptor {} to a queue of {}", head, size_);
  size_t element = kRingEntriesOffset + kUsedElementBytes * (next_used_ % size_);
  uint32_t fields[2] = {head, written_bytes};
  std::memcpy(used_.data() + element, fields, sizeof(fields));
  ++next_used_;
  return {};
}

void VirtQueue::publish_used() {
  // Release: the elements (and the data written into the buffers) before the index (§2.7.13).
  store_u16(used_, kRingIndexOffset, next_used_, std::memory_order_release);
}

bool VirtQueue::needs_interrupt() {
  // The used index must be visible before the driver's suppression fields are read, or a driver
  // that re-enabled interrupts meanwhile could be left waiting (§2.7.7.2).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t previous = used_at_last_interrupt_check_;
  used_at_last_interrupt_check_ = next_used_;
  if (previous == next_used_) return false;
  if (features_.event_index) {
    uint16_t used_event =
        load_u16(available_, kRingEntriesOffset + 2 * size_t{size_}, std::memory_order_relaxed);
    // Interrupt when used_event lies in (previous, next_used_], modulo 2^16 (§2.7.10).
    return static_cast<uint16_t>(next_used_ - used_event - 1) <
           static_cast<uint16_t>(next_used_ - previous);
  }
  return !(load_u16(available_, kRingFlagsOffset, std::memory_order_relaxed) &
           kAvailFlagNoInterrupt);
}

bool VirtQueue::enable_notification_and_check() {
  if (features_.event_index) {
    store_u16(used_, kRingEntriesOffset + kUsedElementBytes * size_, next_available_,
              std::memory_order_relaxed);
  }
  // avail_event must be visible before the available index is read again (§2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return read_available_index() != next_available_;
}

}  // namespace wisp::virtio
