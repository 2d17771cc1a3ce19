// The split virtqueue (virtio 1.x §2.7) against a fake driver's rings: well-formed chains, every
// malformed one a hostile driver can build, the used ring, and notification suppression with and
// without VIRTIO_F_EVENT_IDX, including the wrap-around of the 16-bit indexes.
#include <catch2/catch.hpp>

#include <string>

#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using namespace wisp;
using namespace wisp::virtio;
using Catch::Matchers::Contains;
using wisp::test::FakeBuffer;
using wisp::test::FakeQueue;
using wisp::test::make_guest_memory;
using wisp::test::readable;
using wisp::test::writable;

namespace {

// Guest RAM with a hole, as below and above the 32-bit MMIO hole: [0, 1 MiB) and [2 MiB, 3 MiB).
constexpr uint64_t kLowRamEnd = 0x100000;
constexpr uint64_t kHighRam = 0x200000;
constexpr uint64_t kHighRamEnd = 0x300000;
constexpr uint64_t kQueueBase = 0x1000;
constexpr uint64_t kBuffers = 0x10000;  // buffers from here on
constexpr uint64_t kTables = 0x80000;   // indirect tables from here on
constexpr uint16_t kSize = 16;

constexpr VirtQueue::Features kPlain{false, false};
constexpr VirtQueue::Features kIndirect{true, false};
constexpr VirtQueue::Features kEventIndex{false, true};

struct Rings {
  explicit Rings(uint16_t size = kSize) : driver(memory, kQueueBase, size) {}

  VirtQueue queue(VirtQueue::Features features = kPlain) {
    auto created = VirtQueue::create(memory, driver.layout(), features);
    REQUIRE(created);
    return std::move(*created);
  }

  GuestMemory memory = make_guest_memory({{0, kLowRamEnd}, {kHighRam, kHighRamEnd - kHighRam}});
  FakeQueue driver;
  DescriptorChain chain;
};

// Pops and expects a chain.
void pop_one(VirtQueue& queue, DescriptorChain& chain) {
  auto popped = queue.pop(chain);
  REQUIRE(popped);
  REQUIRE(*popped);
}

// Pops and expects an error; returns its message.
std::string pop_error(VirtQueue& queue, DescriptorChain& chain) {
  auto popped = queue.pop(chain);
  REQUIRE_FALSE(popped);
  return popped.error().message();
}

bool same_buffer(const GuestBuffer& buffer, const FakeBuffer& expected) {
  return buffer.address == expected.address && buffer.length == expected.length &&
         buffer.device_writable == expected.writable;
}

// The chain popped must be exactly `expected`.
void check_buffers(const DescriptorChain& chain, std::initializer_list<FakeBuffer> expected) {
  REQUIRE(chain.buffers().size() == expected.size());
  size_t i = 0;
  for (const FakeBuffer& buffer : expected) {
    INFO("buffer " << i);
    CHECK(same_buffer(chain.buffers()[i++], buffer));
  }
}

}  // namespace

TEST_CASE("virtqueue: a direct chain pops with its buffers in order", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  CHECK(queue.size() == kSize);
  uint16_t head = rings.driver.add_chain(
      {readable(kBuffers, 16), readable(kBuffers + 0x100, 512), writable(kBuffers + 0x400, 1)});
  rings.driver.make_available(head);

  pop_one(queue, rings.chain);
  CHECK(rings.chain.head() == head);
  check_buffers(rings.chain, {readable(kBuffers, 16), readable(kBuffers + 0x100, 512),
                              writable(kBuffers + 0x400, 1)});
  CHECK(rings.chain.readable_bytes() == 528);
  CHECK(rings.chain.writable_bytes() == 1);

  auto again = queue.pop(rings.chain);
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("virtqueue: an empty ring pops nothing", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  for (int i = 0; i < 3; ++i) {
    auto popped = queue.pop(rings.chain);
    REQUIRE(popped);
    CHECK_FALSE(*popped);
  }
}

TEST_CASE("virtqueue: chains pop in ring order and the chain object is reused",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  uint16_t first = rings.driver.add_chain({readable(kBuffers, 8), writable(kBuffers + 8, 8)});
  uint16_t second = rings.driver.add_chain({writable(kBuffers + 0x100, 4)});
  // Both published with one idx write, second before first.
  rings.driver.put_available(second);
  rings.driver.put_available(first);
  rings.driver.publish();

  pop_one(queue, rings.chain);
  CHECK(rings.chain.head() == second);
  check_buffers(rings.chain, {writable(kBuffers + 0x100, 4)});
  CHECK(rings.chain.readable_bytes() == 0);
  CHECK(rings.chain.writable_bytes() == 4);

  pop_one(queue, rings.chain);
  CHECK(rings.chain.head() == first);
  check_buffers(rings.chain, {readable(kBuffers, 8), writable(kBuffers + 8, 8)});
  CHECK(rings.chain.readable_bytes() == 8);
  CHECK(rings.chain.writable_bytes() == 8);
}

TEST_CASE("virtqueue: zero-length descriptors are dropped from a chain", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  uint16_t head = rings.driver.add_chain(
      {readable(kBuffers, 0), readable(kBuffers + 0x10, 16), writable(kBuffers + 0x20, 0)});
  rings.driver.make_available(head);
  pop_one(queue, rings.chain);
  check_buffers(rings.chain, {readable(kBuffers + 0x10, 16)});
  CHECK(rings.chain.writable_bytes() == 0);
}

TEST_CASE("virtqueue: a buffer may lie in RAM above the hole", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  uint16_t head =
      rings.driver.add_chain({readable(kHighRam, 16), writable(kHighRamEnd - 0x1000, 0x1000)});
  rings.driver.make_available(head);
  pop_one(queue, rings.chain);
  check_buffers(rings.chain, {readable(kHighRam, 16), writable(kHighRamEnd - 0x1000, 0x1000)});
}

TEST_CASE("virtqueue: indirect tables when VIRTIO_F_INDIRECT_DESC is negotiated",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue(kIndirect);

  SECTION("a chain entirely in an indirect table") {
    uint16_t head = rings.driver.add_indirect_chain(
        kTables,
        {readable(kBuffers, 16), readable(kBuffers + 0x200, 4096), writable(kBuffers + 0x2000, 1)});
    rings.driver.make_available(head);
    pop_one(queue, rings.chain);
    CHECK(rings.chain.head() == head);
    check_buffers(rings.chain, {readable(kBuffers, 16), readable(kBuffers + 0x200, 4096),
                                writable(kBuffers + 0x2000, 1)});
    CHECK(rings.chain.readable_bytes() == 4112);
    CHECK(rings.chain.writable_bytes() == 1);
  }

  SECTION("direct descriptors followed by an indirect one (§2.7.5.3.2)") {
    rings.driver.set_indirect_descriptor(kTables, 0, kBuffers + 0x100, 32, kDescFlagNext, 1);
    rings.driver.set_indirect_descriptor(kTables, 1, kBuffers + 0x200, 1, kDescFlagWrite, 0);
    rings.driver.set_indirect_descriptor(kTables, 2, 0xdead0000, 1, 0, 0);  // not linked in
    rings.driver.set_descriptor(3, kBuffers, 16, kDescFlagNext, 7);
    rings.driver.set_descriptor(7, kTables, 3 * 16, kDescFlagIndirect, 0);
    rings.driver.make_available(3);
    pop_one(queue, rings.chain);
    CHECK(rings.chain.head() == 3);
    check_buffers(rings.chain, {readable(kBuffers, 16), readable(kBuffers + 0x100, 32),
                                writable(kBuffers + 0x200, 1)});
  }

  SECTION("the write flag of the descriptor naming the table is ignored (§2.7.5.3.2)") {
    rings.driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, 0, 0);
    rings.driver.set_descriptor(0, kTables, 16, kDescFlagIndirect | kDescFlagWrite, 0);
    rings.driver.make_available(0);
    pop_one(queue, rings.chain);
    check_buffers(rings.chain, {readable(kBuffers, 16)});
  }

  SECTION("a table as long as the queue is accepted") {
    for (uint16_t i = 0; i < kSize; ++i) {
      bool last = i + 1 == kSize;
      rings.driver.set_indirect_descriptor(kTables, i, kBuffers + 0x10u * i, 16,
                                           last ? kDescFlagWrite : kDescFlagNext,
                                           static_cast<uint16_t>(last ? 0 : i + 1));
    }
    rings.driver.set_descriptor(0, kTables, 16 * kSize, kDescFlagIndirect, 0);
    rings.driver.make_available(0);
    pop_one(queue, rings.chain);
    CHECK(rings.chain.buffers().size() == kSize);
    CHECK(rings.chain.readable_bytes() == 16u * (kSize - 1));
    CHECK(rings.chain.writable_bytes() == 16);
  }
}

TEST_CASE("virtqueue: an indirect descriptor without VIRTIO_F_INDIRECT_DESC is an error",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue(kPlain);
  uint16_t head = rings.driver.add_indirect_chain(kTables, {readable(kBuffers, 16)});
  rings.driver.make_available(head);
  CHECK_THAT(pop_error(queue, rings.chain), Contains("VIRTIO_F_INDIRECT_DESC"));
}

TEST_CASE("virtqueue: malformed chains are errors, never a crash", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue(kIndirect);
  FakeQueue& driver = rings.driver;
  std::string expected;

  SECTION("a descriptor naming itself") {
    driver.set_descriptor(2, kBuffers, 16, kDescFlagNext, 2);
    driver.make_available(2);
    expected = "loops";
  }
  SECTION("a loop through several descriptors") {
    driver.set_descriptor(0, kBuffers, 16, kDescFlagNext, 5);
    driver.set_descriptor(5, kBuffers, 16, kDescFlagNext, 9);
    driver.set_descriptor(9, kBuffers, 16, kDescFlagNext, 0);
    driver.make_available(0);
    expected = "loops";
  }
  SECTION("a chain through every descriptor and back: longer than the queue") {
    for (uint16_t i = 0; i < kSize; ++i)
      driver.set_descriptor(i, kBuffers + 0x10u * i, 16, kDescFlagNext, (i + 1) % kSize);
    driver.make_available(0);
    expected = "longer than its table";
  }
  SECTION("a loop inside an indirect table") {
    driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, kDescFlagNext, 1);
    driver.set_indirect_descriptor(kTables, 1, kBuffers, 16, kDescFlagNext, 0);
    driver.set_descriptor(0, kTables, 2 * 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "loops";
  }
  SECTION("a head out of range") {
    driver.make_available(kSize);
    expected = "names descriptor 16";
  }
  SECTION("a head far out of range") {
    driver.make_available(0xffff);
    expected = "names descriptor 65535";
  }
  SECTION("a next index out of range") {
    driver.set_descriptor(0, kBuffers, 16, kDescFlagNext, kSize);
    driver.make_available(0);
    expected = "outside its table";
  }
  SECTION("a next index past the end of an indirect table") {
    driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, kDescFlagNext, 2);
    driver.set_indirect_descriptor(kTables, 1, kBuffers, 16, 0, 0);
    driver.set_descriptor(0, kTables, 2 * 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "outside its table of 2";
  }
  SECTION("an indirect descriptor inside an indirect table") {
    driver.set_indirect_descriptor(kTables + 0x100, 0, kBuffers, 16, 0, 0);
    driver.set_indirect_descriptor(kTables, 0, kTables + 0x100, 16, kDescFlagIndirect, 0);
    driver.set_descriptor(0, kTables, 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "indirect table holds an indirect descriptor";
  }
  SECTION("an indirect descriptor with NEXT") {
    driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, 0, 0);
    driver.set_descriptor(0, kTables, 16, kDescFlagIndirect | kDescFlagNext, 1);
    driver.set_descriptor(1, kBuffers, 16, 0, 0);
    driver.make_available(0);
    expected = "also has VIRTQ_DESC_F_NEXT";
  }
  SECTION("an indirect table whose length is not a multiple of 16") {
    driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, 0, 0);
    driver.set_descriptor(0, kTables, 24, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "an indirect table of 24 bytes";
  }
  SECTION("an empty indirect table") {
    driver.set_descriptor(0, kTables, 0, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "an indirect table of 0 bytes";
  }
  SECTION("an indirect table longer than the queue") {
    driver.set_descriptor(0, kTables, 16 * (kSize + 1), kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "an indirect table of 272 bytes";
  }
  SECTION("an indirect table of 4 GiB - 16") {
    driver.set_descriptor(0, kTables, 0xfffffff0u, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "an indirect table of";
  }
  SECTION("an indirect table outside guest RAM") {
    driver.set_descriptor(0, kHighRamEnd, 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "an indirect table";
  }
  SECTION("an indirect table in the hole between RAM regions") {
    driver.set_descriptor(0, kLowRamEnd + 0x1000, 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "not in guest memory";
  }
  SECTION("an indirect table running off the end of RAM") {
    driver.set_descriptor(0, kLowRamEnd - 16, 32, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "runs past the end";
  }
  SECTION("a buffer past the end of guest RAM") {
    driver.make_available(driver.add_chain({readable(kHighRamEnd, 1)}));
    expected = "not in guest memory";
  }
  SECTION("a buffer far beyond guest RAM") {
    driver.make_available(driver.add_chain({readable(0x4000000000, 16)}));
    expected = "not in guest memory";
  }
  SECTION("a buffer that starts in RAM and runs off its end") {
    driver.make_available(driver.add_chain({writable(kHighRamEnd - 8, 16)}));
    expected = "runs past the end";
  }
  SECTION("a buffer in the hole between RAM regions") {
    driver.make_available(driver.add_chain({readable(0x180000, 16)}));
    expected = "not in guest memory";
  }
  SECTION("a buffer spanning the hole") {
    driver.make_available(driver.add_chain({readable(kLowRamEnd - 0x10, kHighRam)}));
    expected = "runs past the end";
  }
  SECTION("a buffer whose end wraps around 2^64") {
    driver.make_available(driver.add_chain({readable(~0ull - 7, 16)}));
    expected = "not in guest memory";
  }
  SECTION("a buffer of 4 GiB - 1 in 3 MiB of RAM") {
    driver.make_available(driver.add_chain({readable(kBuffers, 0xffffffff)}));
    expected = "runs past the end";
  }
  SECTION("a device-readable buffer after a device-writable one") {
    driver.make_available(driver.add_chain(
        {readable(kBuffers, 16), writable(kBuffers + 16, 1), readable(kBuffers, 1)}));
    expected = "device-readable buffer follows a device-writable one";
  }
  SECTION("a device-readable buffer in an indirect table after a direct device-writable one") {
    driver.set_indirect_descriptor(kTables, 0, kBuffers, 16, 0, 0);
    driver.set_descriptor(0, kBuffers + 0x100, 1, kDescFlagWrite | kDescFlagNext, 1);
    driver.set_descriptor(1, kTables, 16, kDescFlagIndirect, 0);
    driver.make_available(0);
    expected = "device-readable buffer follows a device-writable one";
  }
  SECTION("the available index more than the queue size ahead") {
    driver.make_available(driver.add_chain({readable(kBuffers, 16)}));
    driver.set_available_index(kSize + 1);
    expected = "made 17 chains available in a queue of 16";
  }
  SECTION("the available index just behind the device's (65535 ahead)") {
    driver.set_available_index(0xffff);
    expected = "made 65535 chains available";
  }
  INFO(expected);
  CHECK_THAT(pop_error(queue, rings.chain), Contains(expected));
}

TEST_CASE("virtqueue: the available index exactly the queue size ahead is fine",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  for (uint16_t i = 0; i < kSize; ++i)
    rings.driver.make_available(rings.driver.add_chain({writable(kBuffers + 0x10u * i, 16)}));
  for (uint16_t i = 0; i < kSize; ++i) {
    pop_one(queue, rings.chain);
    CHECK(rings.chain.head() == i);
  }
  auto popped = queue.pop(rings.chain);
  REQUIRE(popped);
  CHECK_FALSE(*popped);
}

TEST_CASE("virtqueue: create checks the layout", "[virtio][virtqueue]") {
  GuestMemory memory = make_guest_memory({{0, kLowRamEnd}, {kHighRam, kHighRamEnd - kHighRam}});
  QueueLayout good{16, 0x1000, 0x2000, 0x3000};
  REQUIRE(VirtQueue::create(memory, good, kPlain));
  auto error_of = [&](QueueLayout layout) {
    auto created = VirtQueue::create(memory, layout, kPlain);
    REQUIRE_FALSE(created);
    return created.error().message();
  };

  SECTION("sizes") {
    for (uint16_t size : {0, 3, 6, 100, 255, 257, 32769, 49152, 65535}) {
      INFO("size " << size);
      QueueLayout layout = good;
      layout.size = size;
      CHECK_THAT(error_of(layout), Contains("not a power of two"));
    }
    for (uint16_t size : {1, 2, 4, 256, 1024}) {
      INFO("size " << size);
      QueueLayout layout = good;
      layout.size = size;
      layout.available_ring = 0x40000;
      layout.used_ring = 0x50000;
      CHECK(VirtQueue::create(memory, layout, kPlain));
    }
  }
  SECTION("the largest queue, 32768") {
    // 512 KiB of descriptors, 64 KiB of available ring, 256 KiB of used ring.
    QueueLayout layout{32768, 0, 0x80000, 0x90000 + 0x8};
    CHECK(VirtQueue::create(memory, layout, kPlain));
  }
  SECTION("alignment of each part (§2.7.2)") {
    for (uint64_t address : {0x1008, 0x1004, 0x1001}) {
      QueueLayout layout = good;
      layout.descriptor_table = address;
      CHECK_THAT(error_of(layout), Contains("descriptor table") && Contains("16-byte aligned"));
    }
    QueueLayout layout = good;
    layout.available_ring = 0x2001;
    CHECK_THAT(error_of(layout), Contains("available ring") && Contains("2-byte aligned"));
    layout.available_ring = 0x2002;  // 2-byte alignment is enough
    CHECK(VirtQueue::create(memory, layout, kPlain));
    layout = good;
    layout.used_ring = 0x3002;
    CHECK_THAT(error_of(layout), Contains("used ring") && Contains("4-byte aligned"));
    layout.used_ring = 0x3004;  // 4-byte alignment is enough
    CHECK(VirtQueue::create(memory, layout, kPlain));
  }
  SECTION("parts outside guest RAM, in the hole or across a region's end") {
    QueueLayout layout = good;
    layout.descriptor_table = 0x180000;  // the hole
    CHECK_THAT(error_of(layout), Contains("descriptor table"));
    layout.descriptor_table = kLowRamEnd - 0x80;  // 16 descriptors need 0x100
    CHECK_THAT(error_of(layout), Contains("descriptor table"));
    layout = good;
    layout.available_ring = kHighRamEnd - 4 - 2 * 16;  // 2 bytes short: no room for used_event
    CHECK_THAT(error_of(layout), Contains("available ring"));
    layout.available_ring = kHighRamEnd - 4 - 2 * 16 - 2;  // just fits
    CHECK(VirtQueue::create(memory, layout, kPlain));
    layout = good;
    layout.used_ring = kHighRamEnd - 4 - 8 * 16;  // 2 bytes short: no room for avail_event
    CHECK_THAT(error_of(layout), Contains("used ring"));
    layout.used_ring = 0xfffffffffffffff0;
    CHECK_THAT(error_of(layout), Contains("used ring"));
    layout.used_ring = kHighRamEnd - 4 - 8 * 16 - 4;  // fits
    CHECK(VirtQueue::create(memory, layout, kPlain));
  }
}

TEST_CASE("virtqueue: push_used writes the element and then the index", "[virtio][virtqueue]") {
  constexpr uint16_t kSmall = 4;
  Rings rings(kSmall);
  VirtQueue queue = rings.queue();
  // Six chains through a ring of four: the used ring's positions wrap around.
  for (uint32_t i = 0; i < 6; ++i) {
    uint16_t head = rings.driver.add_chain({writable(kBuffers, 64)});
    rings.driver.make_available(head);
    pop_one(queue, rings.chain);
    REQUIRE(rings.chain.head() == head);
    REQUIRE(queue.push_used(head, 10 + i));
    CHECK(rings.driver.used_index() == i + 1);
    auto element = rings.driver.take_used();
    CHECK(element.id == head);
    CHECK(element.length == 10 + i);
  }
  // Position 1 of the ring was written twice: by the second chain and the sixth.
  CHECK(rings.driver.used_element(1).length == 15);
  CHECK(rings.driver.used_flags() == 0);  // the device never suppresses notifications itself

  CHECK_FALSE(queue.push_used(kSmall, 0));
  CHECK_FALSE(queue.push_used(0xffff, 0));
  CHECK(rings.driver.used_index() == 6);  // a refused element is not published
}

TEST_CASE("virtqueue: push_used returns chains in the order the device finishes them",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue();
  uint16_t a = rings.driver.add_chain({writable(kBuffers, 1)});
  uint16_t b = rings.driver.add_chain({writable(kBuffers + 1, 1)});
  rings.driver.make_available(a);
  rings.driver.make_available(b);
  pop_one(queue, rings.chain);
  pop_one(queue, rings.chain);
  REQUIRE(queue.push_used(b, 1));
  REQUIRE(queue.push_used(a, 0));
  CHECK(rings.driver.used_index() == 2);
  CHECK(rings.driver.take_used().id == b);
  CHECK(rings.driver.take_used().id == a);
}

TEST_CASE("virtqueue: add_used writes elements that publish_used makes visible at once",
          "[virtio][virtqueue]") {
  constexpr uint16_t kSmall = 4;
  Rings rings(kSmall);
  VirtQueue queue = rings.queue(kEventIndex);
  uint16_t heads[3];
  for (uint16_t& head : heads) {
    head = rings.driver.add_chain({writable(kBuffers, 64)});
    rings.driver.make_available(head);
    pop_one(queue, rings.chain);
  }
  for (uint32_t i = 0; i < 3; ++i) REQUIRE(queue.add_used(heads[i], 64 - i));
  // Written, but not yet visible to the driver.
  CHECK(rings.driver.used_index() == 0);
  CHECK(rings.driver.used_element(2).id == heads[2]);
  CHECK_FALSE(queue.add_used(kSmall, 0));  // refused, and nothing counted
  queue.publish_used();
  CHECK(rings.driver.used_index() == 3);
  for (uint32_t i = 0; i < 3; ++i) {
    test::UsedElement used = rings.driver.take_used();
    CHECK(used.id == heads[i]);
    CHECK(used.length == 64 - i);
  }
  // One interrupt for the three (used_event 0 lies in (0, 3]).
  CHECK(queue.needs_interrupt());
  CHECK_FALSE(queue.needs_interrupt());
  queue.publish_used();  // nothing added: nothing changes
  CHECK(rings.driver.used_index() == 3);
}

namespace {

// The driver offers one chain, the device pops it and returns it.
void round_trip(Rings& rings, VirtQueue& queue) {
  uint16_t head = rings.driver.add_chain({writable(kBuffers, 16)});
  rings.driver.make_available(head);
  pop_one(queue, rings.chain);
  REQUIRE(rings.chain.head() == head);
  REQUIRE(queue.push_used(head, 16));
}

}  // namespace

TEST_CASE("virtqueue: needs_interrupt without EVENT_IDX follows VIRTQ_AVAIL_F_NO_INTERRUPT",
          "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue(kPlain);
  CHECK_FALSE(queue.needs_interrupt());  // nothing returned yet

  round_trip(rings, queue);
  CHECK(queue.needs_interrupt());
  CHECK_FALSE(queue.needs_interrupt());  // nothing returned since

  rings.driver.set_available_flags(kAvailFlagNoInterrupt);
  round_trip(rings, queue);
  CHECK_FALSE(queue.needs_interrupt());

  rings.driver.set_available_flags(0);
  round_trip(rings, queue);
  round_trip(rings, queue);
  CHECK(queue.needs_interrupt());

  // used_event means nothing without EVENT_IDX.
  rings.driver.set_used_event(1000);
  round_trip(rings, queue);
  CHECK(queue.needs_interrupt());
}

TEST_CASE("virtqueue: needs_interrupt with EVENT_IDX follows used_event", "[virtio][virtqueue]") {
  Rings rings;
  VirtQueue queue = rings.queue(kEventIndex);

  // used_event 0: interrupt once the used index moves past 0.
  round_trip(rings, queue);  // used idx 1
  CHECK(queue.needs_interrupt());

  // Interrupt once the used index passes 4, i.e. when the fifth element is returned.
  rings.driver.set_used_event(4);
  round_trip(rings, queue);  // 2
  CHECK_FALSE(queue.needs_interrupt());
  round_trip(rings, queue);  // 3
  round_trip(rings, queue);  // 4
  CHECK_FALSE(queue.needs_interrupt());
  round_trip(rings, queue);  // 5
  CHECK(queue.needs_interrupt());
  round_trip(rings, queue);  // 6: used_event is behind
  CHECK_FALSE(queue.needs_interrupt());

  // Several returned at once that cross used_event: one interrupt.
  rings.driver.set_used_event(7);
  round_trip(rings, queue);  // 7
  round_trip(rings, queue);  // 8
  round_trip(rings, queue);  // 9
  CHECK(queue.needs_interrupt());

  // VIRTQ_AVAIL_F_NO_INTERRUPT means nothing with EVENT_IDX: used_event alone decides.
  rings.driver.set_available_flags(kAvailFlagNoInterrupt);
  rings.driver.set_used_event(9);
  round_trip(rings, queue);  // 10
  CHECK(queue.needs_interrupt());
}

TEST_CASE("virtqueue: more than 65536 chains: the 16-bit indexes wrap around",
          "[virtio][virtqueue]") {
  constexpr uint16_t kSmall = 8;
  constexpr uint32_t kBatches = 25000;  // 75000 chains
  Rings rings(kSmall);
  VirtQueue queue = rings.queue(VirtQueue::Features{false, true});
  uint16_t used = 0;
  for (uint32_t batch = 0; batch < kBatches; ++batch) {
    // The driver wants one interrupt for the batch of three, after the third (as
    // virtqueue_enable_cb_delayed asks): used_event is two past the current used index.
    rings.driver.set_used_event(static_cast<uint16_t>(used + 2));
    for (int i = 0; i < 3; ++i) {
      round_trip(rings, queue);
      ++used;
      bool interrupt = queue.needs_interrupt();
      if (interrupt != (i == 2)) {
        INFO("batch " << batch << ", chain " << i << ", used index " << used);
        CHECK(interrupt == (i == 2));
      }
      REQUIRE(rings.driver.take_used().length == 16);
    }
    // The device offers to be notified of the next chain.
    REQUIRE_FALSE(queue.enable_notification_and_check());
    REQUIRE(rings.driver.avail_event() == used);
  }
  CHECK(used == static_cast<uint16_t>(3 * kBatches));
  CHECK(rings.driver.used_index() == used);
  CHECK(rings.driver.available_index() == used);

  // At the wrap itself: used_event 65535, the index going from 65535 to 0.
  Rings at_wrap(kSmall);
  VirtQueue wrapping = at_wrap.queue(VirtQueue::Features{false, true});
  for (uint32_t i = 0; i < 65535; ++i) round_trip(at_wrap, wrapping);
  CHECK(at_wrap.driver.used_index() == 65535);
  at_wrap.driver.set_used_event(65535);
  CHECK_FALSE(wrapping.needs_interrupt());  // the used index has not passed 65535 yet
  round_trip(at_wrap, wrapping);
  CHECK(at_wrap.driver.used_index() == 0);
  CHECK(wrapping.needs_interrupt());
}

TEST_CASE("virtqueue: enable_notification_and_check writes avail_event and sees late chains",
          "[virtio][virtqueue]") {
  SECTION("with EVENT_IDX") {
    Rings rings;
    VirtQueue queue = rings.queue(kEventIndex);
    rings.driver.make_available(rings.driver.add_chain({writable(kBuffers, 1)}));
    rings.driver.make_available(rings.driver.add_chain({writable(kBuffers, 1)}));
    pop_one(queue, rings.chain);
    // One chain left: the device would be told nothing new, so it must look again.
    CHECK(queue.enable_notification_and_check());
    CHECK(rings.driver.avail_event() == 1);
    pop_one(queue, rings.chain);
    CHECK_FALSE(queue.enable_notification_and_check());
    CHECK(rings.driver.avail_event() == 2);
    // A chain that arrives after the device re-armed is seen on the next check.
    rings.driver.make_available(rings.driver.add_chain({writable(kBuffers, 1)}));
    CHECK(queue.enable_notification_and_check());
    CHECK(rings.driver.avail_event() == 2);
    pop_one(queue, rings.chain);
    CHECK_FALSE(queue.enable_notification_and_check());
    CHECK(rings.driver.avail_event() == 3);
  }
  SECTION("without EVENT_IDX avail_event is left alone") {
    Rings rings;
    VirtQueue queue = rings.queue(kPlain);
    CHECK_FALSE(queue.enable_notification_and_check());
    rings.driver.make_available(rings.driver.add_chain({writable(kBuffers, 1)}));
    CHECK(queue.enable_notification_and_check());
    pop_one(queue, rings.chain);
    CHECK_FALSE(queue.enable_notification_and_check());
    CHECK(rings.driver.avail_event() == 0);
    CHECK(rings.driver.used_flags() == 0);
  }
}
