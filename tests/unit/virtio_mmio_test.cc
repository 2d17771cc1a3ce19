// The virtio-mmio register file (virtio 1.x §4.2.2) and the transport-independent device core
// behind it (§2.1 status, §2.2 features, §3.1 initialisation, §2.7 queue configuration), driven
// as a guest driver would drive them, with a minimal device type.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using namespace wisp;
using namespace wisp::virtio;
using wisp::test::FakeQueue;
using wisp::test::make_guest_memory;
using wisp::test::MmioHarness;
using wisp::test::writable;

namespace {

constexpr uint32_t kTestDeviceId = 42;
constexpr uint16_t kTestQueueMax = 64;
constexpr uint32_t kTestFeatureA = 0;   // device-type feature bits the test device offers
constexpr uint32_t kTestFeatureB = 35;  // one in the high word
constexpr uint32_t kNotOffered = 3;

// A device type that returns every chain it is given untouched, and records what the core asks
// of it.
class TestDevice final : public VirtioDevice {
 public:
  TestDevice(const GuestMemory& memory, IrqLine& irq, DeviceWorker& worker)
      : VirtioDevice(memory,
                     Identity{kTestDeviceId,
                              feature_bit(kTestFeatureA) | feature_bit(kTestFeatureB),
                              2,
                              kTestQueueMax,
                              {1, 2, 3, 4, 5, 6, 7, 8}},
                     irq, worker) {}

  std::string_view name() const override { return "test0"; }
  bool has(uint32_t feature) const { return negotiated(feature); }

  int activations = 0;
  int resets = 0;
  std::vector<uint16_t> processed;
  std::vector<std::optional<VirtQueue>> queues;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> config_writes;

 protected:
  void activate(std::vector<std::optional<VirtQueue>> given) override {
    ++activations;
    queues = std::move(given);
  }
  void reset() override {
    ++resets;
    queues.clear();
  }
  void process_queue(uint16_t queue) override {
    processed.push_back(queue);
    if (queue >= queues.size() || !queues[queue]) return;
    VirtQueue& ring = *queues[queue];
    DescriptorChain chain;
    while (true) {
      auto popped = ring.pop(chain);
      if (!popped) return fail_device(popped.error().message());
      if (!*popped) break;
      REQUIRE(ring.push_used(chain.head(), 0));
    }
    interrupt_if_needed(ring);
  }
  void write_config_bytes(uint64_t offset, std::span<const uint8_t> data) override {
    config_writes.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
  }
};

constexpr uint64_t kQueue0 = 0x1000;
constexpr uint64_t kQueue1 = 0x3000;
constexpr uint64_t kBuffer = 0x8000;
constexpr uint64_t kVersion1 = feature_bit(kFeatureVersion1);

struct Machine {
  Machine() : harness(memory) {}

  // Initialises the device with queue 0 (and queue 1 if `both`) of 16 entries.
  void start(uint64_t features = kVersion1, bool both = true) {
    std::vector<QueueLayout> layouts{queue0.layout()};
    if (both) layouts.push_back(queue1.layout());
    REQUIRE(driver.initialize(features, layouts));
  }

  GuestMemory memory = make_guest_memory({{0, 0x100000}});
  FakeQueue queue0{memory, kQueue0, 16};
  FakeQueue queue1{memory, kQueue1, 16};
  MmioHarness<TestDevice> harness;
  TestDevice& device = harness.device;
  test::MmioDriver& driver = harness.driver;
};

uint64_t read_width(MmioTransport& transport, uint64_t offset, size_t width) {
  uint8_t bytes[8] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
  transport.read(offset, std::span(bytes, width));
  return load_le(std::span<const uint8_t>(bytes, width));
}

void write_width(MmioTransport& transport, uint64_t offset, size_t width, uint64_t value) {
  uint8_t bytes[8];
  store_le(std::span(bytes, width), value);
  transport.write(offset, std::span<const uint8_t>(bytes, width));
}

}  // namespace

TEST_CASE("virtio-mmio: identification registers", "[virtio]") {
  Machine m;
  CHECK(m.driver.read32(mmio::kMagicValue) == 0x74726976);  // "virt"
  CHECK(m.driver.read32(mmio::kVersion) == 2);
  CHECK(m.driver.read32(mmio::kDeviceId) == kTestDeviceId);
  CHECK(m.driver.read32(mmio::kVendorId) == mmio::kVendor);
  CHECK(m.driver.read32(mmio::kConfigGeneration) == 0);
  CHECK(m.driver.read32(mmio::kStatus) == 0);
  CHECK(m.driver.read32(mmio::kInterruptStatus) == 0);
  // Write-only and reserved registers read as zero.
  CHECK(m.driver.read32(mmio::kQueueNotify) == 0);
  CHECK(m.driver.read32(mmio::kInterruptAck) == 0);
  CHECK(m.driver.read32(mmio::kDriverFeatures) == 0);
  CHECK(m.driver.read32(0x018) == 0);
  CHECK(m.driver.read32(0x0c0) == 0);
  CHECK(m.driver.read32(0x0f8) == 0);
}

TEST_CASE("virtio-mmio: device feature words through DeviceFeaturesSel", "[virtio]") {
  Machine m;
  m.driver.write32(mmio::kDeviceFeaturesSel, 0);
  CHECK(m.driver.read32(mmio::kDeviceFeatures) ==
        ((1u << kTestFeatureA) | (1u << kFeatureRingIndirectDesc) | (1u << kFeatureRingEventIdx)));
  m.driver.write32(mmio::kDeviceFeaturesSel, 1);
  CHECK(m.driver.read32(mmio::kDeviceFeatures) ==
        ((1u << (kFeatureVersion1 - 32)) | (1u << (kTestFeatureB - 32))));
  for (uint32_t select : {2u, 3u, 0x80000000u, 0xffffffffu}) {
    m.driver.write32(mmio::kDeviceFeaturesSel, select);
    CHECK(m.driver.read32(mmio::kDeviceFeatures) == 0);
  }
  CHECK(m.driver.device_features() == m.device.device_features());
}

TEST_CASE("virtio-mmio: QueueNumMax, and 0 for a queue the device lacks", "[virtio]") {
  Machine m;
  for (uint32_t queue : {0u, 1u}) {
    m.driver.write32(mmio::kQueueSel, queue);
    CHECK(m.driver.read32(mmio::kQueueNumMax) == kTestQueueMax);
    CHECK(m.driver.read32(mmio::kQueueReady) == 0);
  }
  // 0x10000 must not alias queue 0 through a 16-bit truncation.
  for (uint32_t queue : {2u, 3u, 0xffffu, 0x10000u, 0x10001u, 0xffffffffu}) {
    INFO("queue " << queue);
    m.driver.write32(mmio::kQueueSel, queue);
    CHECK(m.driver.read32(mmio::kQueueNumMax) == 0);
    CHECK(m.driver.read32(mmio::kQueueReady) == 0);
    // Setting up a queue the device lacks changes nothing.
    m.driver.write32(mmio::kQueueNum, 16);
    m.driver.write_address(mmio::kQueueDescLow, 0x1000);
    m.driver.write32(mmio::kQueueReady, 1);
    CHECK(m.driver.read32(mmio::kQueueReady) == 0);
    CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0);
  }
  m.driver.write32(mmio::kQueueSel, 0);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0);
  CHECK(m.driver.read32(mmio::kQueueReady) == 0);
}

TEST_CASE("virtio-mmio: shared memory registers read as -1", "[virtio]") {
  Machine m;
  for (uint64_t offset :
       {mmio::kShmLenLow, mmio::kShmLenHigh, mmio::kShmBaseLow, mmio::kShmBaseHigh}) {
    CHECK(m.driver.read32(offset) == 0xffffffff);
  }
  m.driver.write32(mmio::kShmSel, 5);  // nothing to select: still absent
  CHECK(m.driver.read32(mmio::kShmLenLow) == 0xffffffff);
}

TEST_CASE("virtio-mmio: register accesses that are not 32-bit and aligned are ignored",
          "[virtio]") {
  Machine m;
  MmioTransport& transport = m.harness.transport;
  // Reads: all zero, whatever the register.
  for (size_t width : {1, 2, 8}) {
    INFO("width " << width);
    CHECK(read_width(transport, mmio::kMagicValue, width) == 0);
    CHECK(read_width(transport, mmio::kVersion, width) == 0);
  }
  CHECK(read_width(transport, mmio::kMagicValue + 2, 4) == 0);  // misaligned
  CHECK(read_width(transport, mmio::kMagicValue + 1, 1) == 0);

  // Writes: no effect.
  write_width(transport, mmio::kStatus, 1, kStatusAcknowledge);
  write_width(transport, mmio::kStatus, 2, kStatusAcknowledge);
  write_width(transport, mmio::kStatus, 8, kStatusAcknowledge);
  write_width(transport, mmio::kStatus + 1, 4, kStatusAcknowledge);
  CHECK(m.driver.status() == 0);
  write_width(transport, mmio::kQueueSel, 2, 5);
  CHECK(m.driver.read32(mmio::kQueueNumMax) == kTestQueueMax);  // still queue 0
  write_width(transport, mmio::kDeviceFeaturesSel, 1, 1);
  CHECK(m.driver.read32(mmio::kDeviceFeatures) ==
        static_cast<uint32_t>(m.device.device_features()));

  // A 1-byte notify does not reach the device either.
  m.start();
  write_width(transport, mmio::kQueueNotify, 1, 0);
  write_width(transport, mmio::kQueueNotify, 2, 0);
  CHECK(m.device.processed.empty());
}

TEST_CASE("virtio-mmio: the configuration space at 0x100, at any width", "[virtio]") {
  Machine m;
  MmioTransport& transport = m.harness.transport;
  CHECK(read_width(transport, mmio::kConfig, 1) == 1);
  CHECK(read_width(transport, mmio::kConfig + 1, 2) == 0x0302);
  CHECK(read_width(transport, mmio::kConfig + 3, 4) == 0x07060504);
  CHECK(read_width(transport, mmio::kConfig, 8) == 0x0807060504030201);
  CHECK(m.driver.read_config<uint32_t>(4) == 0x08070605);
  // Past its end: zeroes, however far.
  CHECK(read_width(transport, mmio::kConfig + 6, 4) == 0x0807);
  CHECK(read_width(transport, mmio::kConfig + 8, 8) == 0);
  CHECK(read_width(transport, 0xff8, 8) == 0);
  CHECK(read_width(transport, ~0ull - 3, 4) == 0);

  // Writes reach the device type at the configuration space's offsets.
  write_width(transport, mmio::kConfig + 2, 2, 0xbeef);
  REQUIRE(m.device.config_writes.size() == 1);
  CHECK(m.device.config_writes[0].first == 2);
  CHECK(m.device.config_writes[0].second == std::vector<uint8_t>{0xef, 0xbe});
}

TEST_CASE("virtio-mmio: feature negotiation", "[virtio]") {
  Machine m;
  using test::MmioDriver;
  MmioDriver& driver = m.driver;

  SECTION("the offered features with VERSION_1 are accepted") {
    CHECK(driver.negotiate(~0ull));
    CHECK(driver.negotiated() == m.device.device_features());
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk));
    CHECK(m.device.has(kTestFeatureA));
    CHECK(m.device.has(kTestFeatureB));
    CHECK(m.device.has(kFeatureRingEventIdx));
  }
  SECTION("VERSION_1 alone is enough") {
    CHECK(driver.negotiate(kVersion1));
    CHECK_FALSE(m.device.has(kFeatureRingIndirectDesc));
  }
  SECTION("a feature the device did not offer is refused") {
    driver.reset();
    driver.add_status(kStatusAcknowledge | kStatusDriver);
    driver.write_driver_features(kVersion1 | feature_bit(kNotOffered));
    driver.add_status(kStatusFeaturesOk);
    CHECK_FALSE(driver.status() & kStatusFeaturesOk);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
    // Nor can the driver go on to DRIVER_OK.
    driver.add_status(kStatusFeaturesOk | kStatusDriverOk);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
    CHECK(m.device.activations == 0);
  }
  SECTION("an unoffered bit in the high word is refused too") {
    driver.reset();
    driver.add_status(kStatusAcknowledge | kStatusDriver);
    driver.write_driver_features(kVersion1 | feature_bit(63));
    driver.add_status(kStatusFeaturesOk);
    CHECK_FALSE(driver.status() & kStatusFeaturesOk);
  }
  SECTION("a driver without VERSION_1 (a legacy driver) is refused") {
    CHECK_FALSE(driver.negotiate(m.device.device_features() & ~kVersion1));
    CHECK_FALSE(driver.negotiate(0));
  }
  SECTION("DriverFeaturesSel beyond 1 selects nothing") {
    driver.reset();
    driver.add_status(kStatusAcknowledge | kStatusDriver);
    driver.write_driver_features(kVersion1);
    driver.write32(mmio::kDriverFeaturesSel, 2);
    driver.write32(mmio::kDriverFeatures, 0xffffffff);
    driver.add_status(kStatusFeaturesOk);
    CHECK(driver.status() & kStatusFeaturesOk);
  }
  SECTION("driver features are frozen once FEATURES_OK is set") {
    REQUIRE(driver.negotiate(kVersion1));
    driver.write_driver_features(m.device.device_features());
    driver.write32(mmio::kDriverFeaturesSel, 0);
    driver.write32(mmio::kDriverFeatures, 0);
    CHECK_FALSE(m.device.has(kFeatureRingIndirectDesc));
    CHECK_FALSE(m.device.has(kTestFeatureA));
    CHECK(m.device.has(kFeatureVersion1));
  }
}

TEST_CASE("virtio-mmio: status rules", "[virtio]") {
  Machine m;
  test::MmioDriver& driver = m.driver;
  driver.reset();

  SECTION("bits are added in order; clearing one is ignored") {
    driver.add_status(kStatusAcknowledge);
    driver.add_status(kStatusDriver);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
    driver.set_status(kStatusAcknowledge);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
    driver.set_status(kStatusDriver | kStatusFeaturesOk);  // clears ACKNOWLEDGE, adds one
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
  }
  SECTION("DRIVER_OK without FEATURES_OK is ignored") {
    driver.add_status(kStatusAcknowledge | kStatusDriver);
    driver.write_driver_features(kVersion1);
    driver.add_status(kStatusDriverOk);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusDriver));
    CHECK(m.device.activations == 0);
    // FEATURES_OK and DRIVER_OK in one write is fine.
    driver.add_status(kStatusFeaturesOk | kStatusDriverOk);
    CHECK(driver.status() ==
          (kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk));
    CHECK(m.device.activations == 1);
  }
  SECTION("the driver cannot set DEVICE_NEEDS_RESET") {
    driver.set_status(kStatusAcknowledge | kStatusDeviceNeedsReset);
    CHECK(driver.status() == kStatusAcknowledge);
  }
  SECTION("FAILED is recorded") {
    driver.add_status(kStatusAcknowledge);
    driver.add_status(kStatusFailed);
    CHECK(driver.status() == (kStatusAcknowledge | kStatusFailed));
  }
}

TEST_CASE("virtio-mmio: DRIVER_OK hands the ready queues to the device", "[virtio]") {
  Machine m;
  m.start(kVersion1, /*both=*/false);
  CHECK(m.device.activations == 1);
  REQUIRE(m.device.queues.size() == 2);
  REQUIRE(m.device.queues[0]);
  CHECK(m.device.queues[0]->size() == 16);
  CHECK_FALSE(m.device.queues[1]);

  // The queue registers read back.
  m.driver.select_queue(0);
  CHECK(m.driver.read32(mmio::kQueueReady) == 1);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == m.queue0.layout().descriptor_table);
  CHECK(m.driver.read_address(mmio::kQueueDriverLow) == m.queue0.layout().available_ring);
  CHECK(m.driver.read_address(mmio::kQueueDeviceLow) == m.queue0.layout().used_ring);
  m.driver.select_queue(1);
  CHECK(m.driver.read32(mmio::kQueueReady) == 0);
}

TEST_CASE("virtio-mmio: 64-bit queue addresses", "[virtio]") {
  Machine m;
  m.driver.select_queue(1);
  m.driver.write_address(mmio::kQueueDescLow, 0x123456789abcdef0);
  m.driver.write_address(mmio::kQueueDriverLow, 0x0fedcba987654322);
  m.driver.write_address(mmio::kQueueDeviceLow, 0x1111222233334444);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0x123456789abcdef0);
  CHECK(m.driver.read_address(mmio::kQueueDriverLow) == 0x0fedcba987654322);
  CHECK(m.driver.read_address(mmio::kQueueDeviceLow) == 0x1111222233334444);
  // Each half replaces only its own bits.
  m.driver.write32(mmio::kQueueDescHigh, 0);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0x9abcdef0);
  m.driver.select_queue(0);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0);
}

TEST_CASE("virtio-mmio: notifications, used-buffer interrupts and InterruptACK", "[virtio]") {
  Machine m;

  SECTION("a notify before DRIVER_OK is ignored") {
    REQUIRE(m.driver.negotiate(kVersion1));
    m.driver.setup_queue(0, m.queue0.layout());
    m.queue0.make_available(m.queue0.add_chain({writable(kBuffer, 16)}));
    m.driver.notify(0);
    CHECK(m.device.processed.empty());
    CHECK(m.queue0.used_index() == 0);
    CHECK(m.harness.irq.raised == 0);
  }
  SECTION("a notify for a queue the device lacks never reaches it") {
    m.start();
    m.driver.notify(2);
    m.driver.notify(0xffff);
    m.driver.write32(mmio::kQueueNotify, 0x10000);  // not queue 0
    CHECK(m.device.processed.empty());
  }
  SECTION("a notify serves the queue; the interrupt is acknowledged bit by bit") {
    m.start();
    m.queue1.make_available(m.queue1.add_chain({writable(kBuffer, 16)}));
    m.driver.notify(1);
    CHECK(m.device.processed == std::vector<uint16_t>{1});
    CHECK(m.queue1.used_index() == 1);
    CHECK(m.harness.irq.raised == 1);
    CHECK(m.driver.interrupt_status() == kInterruptUsedBuffer);

    // A live queue change adds the configuration-change bit.
    m.driver.select_queue(1);
    m.driver.write32(mmio::kQueueNum, 8);
    CHECK(m.driver.interrupt_status() == (kInterruptUsedBuffer | kInterruptConfigChange));
    CHECK(m.harness.irq.raised == 2);

    m.driver.acknowledge_interrupt(kInterruptUsedBuffer);
    CHECK(m.driver.interrupt_status() == kInterruptConfigChange);
    m.driver.acknowledge_interrupt(0);
    CHECK(m.driver.interrupt_status() == kInterruptConfigChange);
    m.driver.acknowledge_interrupt(~0u);
    CHECK(m.driver.interrupt_status() == 0);
    CHECK(m.harness.irq.raised == 2);  // acknowledging raises nothing
  }
  SECTION("a device that needs a reset ignores notifications") {
    m.start();
    m.driver.select_queue(0);
    m.driver.write_address(mmio::kQueueDescLow, 0x5000);
    REQUIRE(m.driver.needs_reset());
    m.queue0.make_available(m.queue0.add_chain({writable(kBuffer, 16)}));
    m.driver.notify(0);
    CHECK(m.device.processed.empty());
  }
  SECTION("a malformed ring puts the device in DEVICE_NEEDS_RESET") {
    m.start();
    m.queue0.make_available(99);
    m.driver.notify(0);
    CHECK(m.driver.needs_reset());
    CHECK(m.driver.interrupt_status() == kInterruptConfigChange);
    CHECK(m.harness.irq.raised == 1);
    // Once only.
    m.driver.notify(0);
    CHECK(m.harness.irq.raised == 1);
  }
}

TEST_CASE("virtio-mmio: changing a live queue puts the device in DEVICE_NEEDS_RESET", "[virtio]") {
  Machine m;
  m.start();
  m.driver.select_queue(0);
  uint64_t before = m.driver.read_address(mmio::kQueueDescLow);

  SECTION("its descriptor table address") {
    m.driver.write32(mmio::kQueueDescLow, 0x9000);
  }
  SECTION("the high half of an address") {
    m.driver.write32(mmio::kQueueDriverHigh, 1);
  }
  SECTION("its used ring address") {
    m.driver.write32(mmio::kQueueDeviceLow, 0x9000);
  }
  SECTION("its size") {
    m.driver.write32(mmio::kQueueNum, 32);
  }
  SECTION("its readiness") {
    m.driver.write32(mmio::kQueueReady, 0);
  }
  CHECK(m.driver.needs_reset());
  CHECK(m.driver.status() & kStatusDriverOk);
  CHECK(m.driver.interrupt_status() & kInterruptConfigChange);
  CHECK(m.harness.irq.raised == 1);
  // The change itself was refused.
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == before);
  CHECK(m.driver.read32(mmio::kQueueReady) == 1);
}

TEST_CASE("virtio-mmio: enabling a queue after DRIVER_OK puts the device in DEVICE_NEEDS_RESET",
          "[virtio]") {
  Machine m;
  m.start(kVersion1, /*both=*/false);
  m.driver.select_queue(1);
  m.driver.write_queue(m.queue1.layout());  // the queue is not live: accepted
  CHECK_FALSE(m.driver.needs_reset());
  m.driver.write32(mmio::kQueueReady, 1);
  CHECK(m.driver.needs_reset());
  CHECK(m.driver.read32(mmio::kQueueReady) == 0);
  CHECK(m.device.activations == 1);
}

TEST_CASE("virtio-mmio: changing a ready queue before DRIVER_OK is ignored", "[virtio]") {
  Machine m;
  REQUIRE(m.driver.negotiate(kVersion1));
  m.driver.setup_queue(0, m.queue0.layout());
  m.driver.write32(mmio::kQueueDescLow, 0x9000);
  m.driver.write32(mmio::kQueueNum, 3);
  CHECK(m.driver.read_address(mmio::kQueueDescLow) == m.queue0.layout().descriptor_table);
  CHECK_FALSE(m.driver.needs_reset());
  CHECK(m.driver.interrupt_status() == 0);
  m.driver.driver_ok();
  CHECK_FALSE(m.driver.needs_reset());
  REQUIRE(m.device.queues.size() == 2);
  REQUIRE(m.device.queues[0]);
  CHECK(m.device.queues[0]->size() == 16);
}

TEST_CASE("virtio-mmio: a queue disabled before DRIVER_OK may be changed", "[virtio]") {
  Machine m;
  REQUIRE(m.driver.negotiate(kVersion1));
  m.driver.setup_queue(0, m.queue0.layout());
  m.driver.write32(mmio::kQueueReady, 0);
  CHECK(m.driver.read32(mmio::kQueueReady) == 0);
  FakeQueue other(m.memory, 0x20000, 8);
  m.driver.setup_queue(0, other.layout());
  m.driver.driver_ok();
  CHECK_FALSE(m.driver.needs_reset());
  REQUIRE(m.device.queues[0]);
  CHECK(m.device.queues[0]->size() == 8);
}

TEST_CASE("virtio-mmio: a bad queue configuration is found at DRIVER_OK", "[virtio]") {
  Machine m;
  REQUIRE(m.driver.negotiate(kVersion1));
  QueueLayout layout = m.queue0.layout();
  SECTION("a size above QueueNumMax") {
    layout.size = 2 * kTestQueueMax;
  }
  SECTION("a size that is not a power of two") {
    layout.size = 12;
  }
  SECTION("a size of 0 (QueueNum never written)") {
    layout.size = 0;
  }
  SECTION("a misaligned descriptor table") {
    layout.descriptor_table += 8;
  }
  SECTION("a used ring outside guest RAM") {
    layout.used_ring = 0x40000000;
  }
  m.driver.select_queue(0);
  m.driver.write_queue(layout);
  m.driver.write32(mmio::kQueueReady, 1);
  CHECK(m.driver.read32(mmio::kQueueReady) == 1);
  m.driver.driver_ok();
  CHECK(m.driver.needs_reset());
  CHECK(m.driver.status() & kStatusDriverOk);
  CHECK(m.driver.interrupt_status() == kInterruptConfigChange);
  CHECK(m.harness.irq.raised == 1);
  CHECK(m.device.activations == 0);
  m.driver.notify(0);
  CHECK(m.device.processed.empty());

  // A reset recovers the device.
  m.driver.reset();
  CHECK(m.driver.status() == 0);
  CHECK(m.device.resets == 0);  // it never ran
  m.start();
  CHECK(m.device.activations == 1);
}

TEST_CASE("virtio-mmio: a QueueNum of exactly QueueNumMax is fine", "[virtio]") {
  GuestMemory memory = make_guest_memory({{0, 0x100000}});
  FakeQueue big(memory, 0x10000, kTestQueueMax);
  MmioHarness<TestDevice> harness(memory);
  QueueLayout layouts[] = {big.layout()};
  REQUIRE(harness.driver.initialize(kVersion1, layouts));
  REQUIRE(harness.device.queues[0]);
  CHECK(harness.device.queues[0]->size() == kTestQueueMax);
}

TEST_CASE("virtio-mmio: reset clears everything", "[virtio]") {
  // Status holds 8 bits: a write of 0x100 is a reset too, selectors and all.
  uint32_t reset_value = GENERATE(0u, 0x100u);
  Machine m;
  m.start(m.device.device_features());
  m.queue0.make_available(m.queue0.add_chain({writable(kBuffer, 16)}));
  m.driver.notify(0);
  m.driver.select_queue(0);
  m.driver.write32(mmio::kQueueNum, 8);  // DEVICE_NEEDS_RESET and a config interrupt
  REQUIRE(m.driver.interrupt_status() == (kInterruptUsedBuffer | kInterruptConfigChange));
  REQUIRE(m.driver.needs_reset());
  m.driver.write32(mmio::kDeviceFeaturesSel, 1);
  m.driver.write32(mmio::kDriverFeaturesSel, 1);
  m.driver.select_queue(1);

  m.driver.write32(mmio::kStatus, reset_value);
  CHECK(m.device.resets == 1);
  CHECK(m.device.queues.empty());
  CHECK(m.driver.status() == 0);
  CHECK(m.driver.interrupt_status() == 0);
  // The selectors are back at 0.
  CHECK(m.driver.read32(mmio::kDeviceFeatures) ==
        static_cast<uint32_t>(m.device.device_features()));
  CHECK(m.driver.read32(mmio::kQueueNumMax) == kTestQueueMax);
  m.driver.write32(mmio::kDriverFeatures, 1u << kFeatureRingIndirectDesc);  // word 0 now
  CHECK(m.device.has(kFeatureRingIndirectDesc));
  // Every queue is unready, with its addresses cleared.
  for (uint16_t queue : {0, 1}) {
    m.driver.select_queue(queue);
    CHECK(m.driver.read32(mmio::kQueueReady) == 0);
    CHECK(m.driver.read_address(mmio::kQueueDescLow) == 0);
    CHECK(m.driver.read_address(mmio::kQueueDriverLow) == 0);
    CHECK(m.driver.read_address(mmio::kQueueDeviceLow) == 0);
  }
  // The driver features are cleared: FEATURES_OK without writing them again is refused (no
  // VERSION_1), and the negotiated ones are gone.
  m.driver.add_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  CHECK_FALSE(m.driver.status() & kStatusFeaturesOk);
  CHECK_FALSE(m.device.has(kFeatureRingEventIdx));

  // And it starts again from scratch; a reset of a device that is not running calls no hook.
  m.driver.reset();
  CHECK(m.device.resets == 1);
  FakeQueue fresh(m.memory, 0x20000, 8);
  QueueLayout layouts[] = {fresh.layout()};
  REQUIRE(m.driver.initialize(kVersion1, layouts));
  CHECK(m.device.activations == 2);
  fresh.make_available(fresh.add_chain({writable(kBuffer, 16)}));
  m.driver.notify(0);
  CHECK(fresh.used_index() == 1);
}
