// virtio-net (virtio 1.x §5.1) driven through the virtio-mmio registers and a fake driver's rings,
// over a fake back end (tests/unit/fake_net_backend.h): the features offered and refused, the
// configuration space, the back end's receive offloads, transmit (well-formed and malformed
// frames), receive (with and without mergeable buffers, without buffers, frames that cannot be
// delivered), the control queue (MQ and GUEST_OFFLOADS), and reset. Last, the TAP back end where
// the host lets the test create one.
#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/net/net_backend.h"
#include "devices/net/tap.h"
#include "devices/virtio/net.h"
#include "devices/virtio/net_header.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/unit/fake_net_backend.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using namespace wisp;
using namespace wisp::virtio;
using Catch::Matchers::Contains;
using wisp::test::FakeBuffer;
using wisp::test::FakeNetBackend;
using wisp::test::FakeQueue;
using wisp::test::make_guest_memory;
using wisp::test::readable;
using wisp::test::UsedElement;
using wisp::test::writable;

namespace {

// Guest memory: [0, 1 MiB) and [2 MiB, 3 MiB), with a hole between.
constexpr uint64_t kLowRamEnd = 0x100000;
constexpr uint64_t kHighRam = 0x200000;
constexpr uint64_t kQueueBase = 0x1000;  // queue i at kQueueBase + i * kQueueStride
constexpr uint64_t kQueueStride = 0x2000;
constexpr uint64_t kTx = 0x10000;  // transmit headers and frames, kTxSlot apart
constexpr uint64_t kTxSlot = 0x800;
constexpr uint64_t kBigFrame = 0x20000;  // a frame of up to 64 KiB and its header
constexpr uint64_t kTables = 0x38000;    // indirect tables
constexpr uint64_t kRx = 0x40000;        // receive buffers
constexpr uint64_t kControl = 0x90000;   // control commands: class and command, data, ack
constexpr uint64_t kHole = kLowRamEnd;   // not guest memory
constexpr uint8_t kUntouched = 0xee;

constexpr uint8_t kControlOk = 0;
constexpr uint8_t kControlError = 1;
constexpr uint8_t kClassRx = 0;  // VIRTIO_NET_CTRL_RX: not served by Wisp
constexpr uint8_t kClassMq = 4;
constexpr uint8_t kClassGuestOffloads = 5;

constexpr uint64_t bit(uint32_t feature) {
  return feature_bit(feature);
}

constexpr uint64_t kGuestOffloadFeatures = bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) |
                                           bit(kNetFeatureGuestTso6) | bit(kNetFeatureGuestEcn) |
                                           bit(kNetFeatureGuestUfo) | bit(kNetFeatureGuestUso4) |
                                           bit(kNetFeatureGuestUso6);
constexpr uint64_t kHostOffloadFeatures = bit(kNetFeatureCsum) | bit(kNetFeatureHostTso4) |
                                          bit(kNetFeatureHostTso6) | bit(kNetFeatureHostEcn) |
                                          bit(kNetFeatureHostUfo) | bit(kNetFeatureHostUso);

const MacAddress kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

NetHeader make_header(uint8_t flags = 0, uint8_t gso_type = kNetGsoNone, uint16_t hdr_len = 0,
                      uint16_t gso_size = 0, uint16_t csum_start = 0, uint16_t csum_offset = 0,
                      uint16_t num_buffers = 0) {
  return NetHeader{flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers};
}

bool same_header(const NetHeader& a, const NetHeader& b) {
  return std::memcmp(&a, &b, sizeof(NetHeader)) == 0;
}

// Frame bytes that differ from one frame to the next and along each frame.
std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> bytes(length);
  for (size_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 13 + i / 251);
  return bytes;
}

struct WatchCall {
  uint16_t pair;
  bool watch;
  bool operator==(const WatchCall&) const = default;
};

// A virtio-net device behind its virtio-mmio transport, with its guest memory, the fake driver's
// queues and the back end (owned by the device) at hand.
class Net {
 public:
  explicit Net(FakeNetBackend::Config config = {}, uint16_t queue_size = NetDevice::kQueueSize)
      : backend_owner_(std::make_unique<FakeNetBackend>(config)),
        backend(*backend_owner_),
        device(memory, NetDeviceOptions{"net0", kMac, 1500}, std::move(backend_owner_), irq, worker,
               [this](uint16_t pair, bool watch) {
                 watch_calls.push_back({pair, watch});
               }),
        transport(device,
                  [this](uint16_t queue) {
                    worker.run_and_wait([this, queue] { device.notify_queue(queue); });
                  }),
        driver(transport),
        queue_size_(queue_size) {
    make_queues();
  }

  // Fresh rings for every queue, as a driver allocates them after a reset.
  void make_queues() {
    queues.clear();
    for (uint16_t i = 0; i < device.queue_count(); ++i)
      queues.push_back(
          std::make_unique<FakeQueue>(memory, kQueueBase + kQueueStride * i, queue_size_));
  }

  // Everything the device offers but EVENT_IDX (so that each return interrupts).
  uint64_t all_features() const { return device.device_features() & ~bit(kFeatureRingEventIdx); }
  // Negotiates `features` and starts the first `count` queues (all by default).
  void start(std::optional<uint64_t> features = std::nullopt, size_t count = SIZE_MAX) {
    std::vector<QueueLayout> layouts;
    for (size_t i = 0; i < queues.size() && i < count; ++i) layouts.push_back(queues[i]->layout());
    REQUIRE(driver.initialize(features.value_or(all_features()), layouts));
  }

  FakeQueue& queue(uint16_t index) { return *queues.at(index); }
  FakeQueue& rx(uint16_t pair = 0) { return queue(static_cast<uint16_t>(2 * pair)); }
  FakeQueue& tx(uint16_t pair = 0) { return queue(static_cast<uint16_t>(2 * pair + 1)); }
  uint16_t control_queue() const { return static_cast<uint16_t>(2 * backend.queue_pairs()); }

  // ---- Transmit ----
  // Writes `header` and `frame` to the next transmit slot and posts them as one chain of two
  // buffers on pair `pair`'s transmit queue; notifies it if `kick`. Returns the head.
  uint16_t transmit(const NetHeader& header, std::span<const uint8_t> frame, uint16_t pair = 0,
                    bool kick = true) {
    uint64_t at = kTx + kTxSlot * (next_tx_slot_++ % 16);
    REQUIRE(frame.size() + sizeof(header) <= kTxSlot);
    REQUIRE(memory.write_obj(at, header));
    REQUIRE(memory.write(at + sizeof(header), frame));
    if (frame.empty()) return post(tx(pair), {readable(at, sizeof(header))}, 2 * pair + 1, kick);
    return post(tx(pair),
                {readable(at, sizeof(header)),
                 readable(at + sizeof(header), static_cast<uint32_t>(frame.size()))},
                2 * pair + 1, kick);
  }
  uint16_t post(FakeQueue& queue, std::initializer_list<FakeBuffer> buffers, int queue_index,
                bool kick = true) {
    uint16_t head = queue.add_chain(buffers);
    queue.make_available(head);
    if (kick) driver.notify(static_cast<uint16_t>(queue_index));
    return head;
  }

  // ---- Receive ----
  // Posts a receive chain of one writable buffer of `length` bytes at `address`.
  uint16_t post_receive(uint64_t address, uint32_t length, uint16_t pair = 0, bool kick = true) {
    return post(rx(pair), {writable(address, length)}, 2 * pair, kick);
  }
  // The back end's descriptor for `pair` became readable.
  void receive_ready(uint16_t pair = 0) {
    worker.run_and_wait([this, pair] { device.receive_ready(pair); });
  }
  std::vector<uint8_t> bytes(uint64_t address, uint64_t length) const {
    std::vector<uint8_t> out(length);
    REQUIRE(memory.read(address, out));
    return out;
  }
  NetHeader header_at(uint64_t address) const {
    auto header = memory.read_obj<NetHeader>(address);
    REQUIRE(header);
    return *header;
  }
  std::optional<bool> watching(uint16_t pair = 0) const {
    std::optional<bool> last;
    for (const WatchCall& call : watch_calls)
      if (call.pair == pair) last = call.watch;
    return last;
  }

  // ---- Control ----
  // Sends one command (class, command, `data`) on the control queue and returns the ack the
  // device wrote; checks that the chain came back with one byte written.
  uint8_t control(uint8_t command_class, uint8_t command, std::span<const uint8_t> data,
                  std::optional<uint16_t> queue_index = std::nullopt) {
    uint16_t index = queue_index.value_or(control_queue());
    uint8_t head_bytes[2] = {command_class, command};
    REQUIRE(memory.write(kControl, head_bytes));
    REQUIRE(memory.write(kControl + 0x10, data));
    REQUIRE(memory.write_obj(kControl + 0x100, kUntouched));
    uint16_t head =
        data.empty()
            ? post(queue(index), {readable(kControl, 2), writable(kControl + 0x100, 1)}, index)
            : post(queue(index),
                   {readable(kControl, 2),
                    readable(kControl + 0x10, static_cast<uint32_t>(data.size())),
                    writable(kControl + 0x100, 1)},
                   index);
    UsedElement used = queue(index).take_used();
    CHECK(used.id == head);
    CHECK(used.length == 1);
    return bytes(kControl + 0x100, 1)[0];
  }
  uint8_t set_pairs(uint16_t pairs) {
    uint8_t data[2];
    std::memcpy(data, &pairs, sizeof(data));
    return control(kClassMq, 0, data);
  }
  uint8_t set_guest_offloads(uint64_t offloads) {
    uint8_t data[8];
    std::memcpy(data, &offloads, sizeof(data));
    return control(kClassGuestOffloads, 0, data);
  }

  GuestMemory memory = make_guest_memory({{0, kLowRamEnd}, {kHighRam, 0x100000}});
  std::vector<WatchCall> watch_calls;
  test::RecordingIrq irq;
  InlineWorker worker;

 private:
  std::unique_ptr<FakeNetBackend> backend_owner_;  // until the device takes it

 public:
  FakeNetBackend& backend;
  NetDevice device;
  MmioTransport transport;
  test::MmioDriver driver;
  std::vector<std::unique_ptr<FakeQueue>> queues;

 private:
  uint16_t queue_size_;
  uint32_t next_tx_slot_ = 0;
};

FakeNetBackend::Config pairs(uint16_t count) {
  FakeNetBackend::Config config;
  config.pairs = count;
  return config;
}

// The next used element of `queue`, which must be chain `head` with `length` bytes written.
void expect_used(FakeQueue& queue, uint16_t head, uint32_t length) {
  UsedElement used = queue.take_used();
  CHECK(used.id == head);
  CHECK(used.length == length);
}

}  // namespace

// ============================== Features and configuration ==============================

TEST_CASE("virtio-net: the features offered follow the back end", "[virtio-net]") {
  uint64_t always = bit(kFeatureVersion1) | bit(kNetFeatureMac) | bit(kNetFeatureStatus) |
                    bit(kNetFeatureMtu) | bit(kNetFeatureMrgRxbuf) | bit(kNetFeatureCtrlVq) |
                    bit(kNetFeatureCtrlGuestOffloads);

  SECTION("a back end without offloads: no CSUM, HOST_* or GUEST_*") {
    FakeNetBackend::Config config;
    config.accepts_offloads = false;
    config.supported_offloads = 0;
    Net net(config);
    uint64_t offered = net.device.device_features();
    CHECK((offered & always) == always);
    CHECK((offered & (kHostOffloadFeatures | kGuestOffloadFeatures)) == 0);
    CHECK_FALSE(offered & bit(kNetFeatureMq));
  }
  SECTION("a back end that takes offloads but has no receive offloads: CSUM and HOST_*") {
    FakeNetBackend::Config config;
    config.supported_offloads = 0;
    Net net(config);
    uint64_t offered = net.device.device_features();
    CHECK((offered & always) == always);
    CHECK((offered & kHostOffloadFeatures) == (kHostOffloadFeatures & ~bit(kNetFeatureHostUso)));
    CHECK((offered & kGuestOffloadFeatures) == 0);
  }
  SECTION("receive offloads without USO: the GUEST_* features they allow") {
    FakeNetBackend::Config config;
    config.supported_offloads = net_offload::kChecksum | net_offload::kTso4 | net_offload::kTso6 |
                                net_offload::kTsoEcn | net_offload::kUfo;
    Net net(config);
    uint64_t offered = net.device.device_features();
    CHECK((offered & kGuestOffloadFeatures) ==
          (bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestTso6) |
           bit(kNetFeatureGuestEcn) | bit(kNetFeatureGuestUfo)));
    CHECK_FALSE(offered & bit(kNetFeatureHostUso));
  }
  SECTION("every offload: USO both ways") {
    Net net;
    uint64_t offered = net.device.device_features();
    CHECK((offered & kGuestOffloadFeatures) == kGuestOffloadFeatures);
    CHECK((offered & kHostOffloadFeatures) == kHostOffloadFeatures);
  }
  SECTION("only the checksum offload: GUEST_CSUM alone") {
    FakeNetBackend::Config config;
    config.supported_offloads = net_offload::kChecksum;
    Net net(config);
    CHECK((net.device.device_features() & kGuestOffloadFeatures) == bit(kNetFeatureGuestCsum));
  }
  SECTION("several queue pairs: MQ and 2N + 1 queues") {
    Net net(pairs(4));
    CHECK(net.device.device_features() & bit(kNetFeatureMq));
    CHECK(net.device.queue_count() == 9);
    CHECK(net.device.queue_pairs() == 4);
    CHECK(net.device.device_id() == kDeviceIdNet);
  }
}

TEST_CASE("virtio-net: features without the ones they need are refused at FEATURES_OK",
          "[virtio-net]") {
  Net net(pairs(2));
  uint64_t base = bit(kFeatureVersion1) | bit(kNetFeatureMac);
  CHECK_FALSE(net.driver.negotiate(base | bit(kNetFeatureGuestTso4)));
  CHECK_FALSE(net.driver.status() & kStatusFeaturesOk);
  CHECK(net.driver.negotiate(base | bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestCsum)));

  CHECK_FALSE(net.driver.negotiate(base | bit(kNetFeatureHostTso6)));
  CHECK(net.driver.negotiate(base | bit(kNetFeatureHostTso6) | bit(kNetFeatureCsum)));
  CHECK_FALSE(net.driver.negotiate(base | bit(kNetFeatureMq)));
  CHECK(net.driver.negotiate(base | bit(kNetFeatureMq) | bit(kNetFeatureCtrlVq)));
  CHECK_FALSE(net.driver.negotiate(base | bit(kNetFeatureGuestEcn) | bit(kNetFeatureGuestCsum)));
  CHECK_FALSE(net.driver.negotiate(base | bit(kNetFeatureCtrlGuestOffloads)));
  // Everything offered is consistent.
  CHECK(net.driver.negotiate(net.device.device_features()));
  // A device refusing features cannot be started.
  CHECK_FALSE(net.driver.initialize(base | bit(kNetFeatureGuestUfo), {}));
  CHECK(net.backend.offload_calls.empty());
}

TEST_CASE("virtio-net: the configuration space", "[virtio-net]") {
  Net net(pairs(3));
  for (size_t i = 0; i < kMac.size(); ++i) CHECK(net.driver.read_config<uint8_t>(i) == kMac[i]);
  CHECK(net.driver.read_config<uint16_t>(6) == 1);  // VIRTIO_NET_S_LINK_UP
  CHECK(net.driver.read_config<uint16_t>(8) == 3);  // max_virtqueue_pairs
  CHECK(net.driver.read_config<uint16_t>(10) == 1500);
  CHECK(net.driver.read_config<uint32_t>(12) == 0);  // past its end
  // The driver cannot change it.
  uint8_t other[4] = {1, 2, 3, 4};
  net.transport.write(mmio::kConfig, other);
  CHECK(net.driver.read_config<uint8_t>(0) == kMac[0]);
}

TEST_CASE("virtio-net: the back end's receive offloads are what the guest accepted",
          "[virtio-net]") {
  Net net;
  CHECK(net.backend.offload_calls.empty());
  uint64_t base = net.all_features() & ~kGuestOffloadFeatures;

  SECTION("some GUEST_* features") {
    net.start(base | bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) |
              bit(kNetFeatureGuestUso6));
    CHECK(net.backend.offloads() ==
          (net_offload::kChecksum | net_offload::kTso4 | net_offload::kUso6));
  }
  SECTION("every GUEST_* feature") {
    net.start();
    CHECK(net.backend.offloads() == test::kAllReceiveOffloads);
  }
  SECTION("none") {
    net.start(base);
    REQUIRE(net.backend.offload_calls.size() == 1);
    CHECK(net.backend.offloads() == 0);
  }
  SECTION("a back end that refuses them: the device still runs") {
    net.backend.fail_offloads = true;
    net.start();
    CHECK_FALSE(net.driver.needs_reset());
  }
  // Reset takes them all back.
  net.backend.fail_offloads = false;
  size_t calls = net.backend.offload_calls.size();
  net.driver.reset();
  REQUIRE(net.backend.offload_calls.size() == calls + 1);
  CHECK(net.backend.offload_calls.back() == 0);
  CHECK(net.backend.offloads() == 0);
}

// ============================== Transmit ==============================

TEST_CASE("virtio-net: a frame split across descriptors, its header too, is sent intact",
          "[virtio-net]") {
  Net net;
  net.start();
  NetHeader header = make_header(kNetHeaderNeedsCsum, kNetGsoNone, 0, 0, 34, 16, 0x7777);
  std::vector<uint8_t> frame = pattern(300, 1);
  // The header in two pieces (5 and 7 bytes), the second sharing its descriptor with the
  // frame's first 20 bytes; the rest of the frame in two more buffers, one above the hole.
  uint64_t at = kTx;
  REQUIRE(net.memory.write_obj(at, header));
  REQUIRE(net.memory.write(at + sizeof(header), frame));
  REQUIRE(net.memory.write(kHighRam + 0x100, std::span(frame).subspan(200)));
  uint16_t head = net.post(net.tx(),
                           {readable(at, 5), readable(at + 5, 7 + 20), readable(at + 12 + 20, 180),
                            readable(kHighRam + 0x100, 100)},
                           1);
  expect_used(net.tx(), head, 0);
  CHECK(net.irq.raised == 1);
  CHECK(net.driver.interrupt_status() == kInterruptUsedBuffer);

  REQUIRE(net.backend.sent.size() == 1);
  const FakeNetBackend::SentFrame& sent = net.backend.sent[0];
  CHECK(sent.pair == 0);
  CHECK(sent.first_iov_bytes == sizeof(NetHeader));  // the checked copy of the header
  NetHeader expected = header;
  expected.num_buffers = 0;  // meaningless on transmit: not handed on
  CHECK(same_header(sent.header, expected));
  CHECK(sent.bytes == frame);
  CHECK(net.device.counters().transmitted == 1);
  CHECK(net.device.counters().transmit_dropped == 0);
}

TEST_CASE("virtio-net: frames sent in a batch, a GSO frame among them", "[virtio-net]") {
  Net net;
  net.start();
  // A TCPv4 GSO frame (with ECN), its checksum left to the host, from an indirect table.
  NetHeader gso = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16);
  std::vector<uint8_t> big = pattern(4000, 9);
  REQUIRE(net.memory.write_obj(kBigFrame, gso));
  REQUIRE(net.memory.write(kBigFrame + 12, big));
  uint16_t first =
      net.tx().add_indirect_chain(kTables, {readable(kBigFrame, 12), readable(kBigFrame + 12, 2000),
                                            readable(kBigFrame + 12 + 2000, 2000)});
  net.tx().make_available(first);
  std::vector<uint8_t> small = pattern(60, 2);
  uint16_t second = net.transmit(make_header(), small, 0, false);
  std::vector<uint8_t> udp = pattern(3000, 3);
  uint16_t third = net.transmit(make_header(kNetHeaderNeedsCsum, kNetGsoUdpL4, 42, 1400, 34, 6),
                                std::span(udp).first(2000), 0, false);
  net.driver.notify(1);

  CHECK(net.tx().used_pending() == 3);
  expect_used(net.tx(), first, 0);
  expect_used(net.tx(), second, 0);
  expect_used(net.tx(), third, 0);
  CHECK(net.irq.raised == 1);  // once for the batch
  REQUIRE(net.backend.sent.size() == 3);
  CHECK(same_header(net.backend.sent[0].header, gso));
  CHECK(net.backend.sent[0].bytes == big);
  CHECK(net.backend.sent[1].bytes == small);
  CHECK(net.backend.sent[2].header.gso_type == kNetGsoUdpL4);
  CHECK(net.device.counters().transmitted == 3);
}

TEST_CASE("virtio-net: malformed frames to send are dropped and counted", "[virtio-net]") {
  Net net;
  uint64_t features = net.all_features();
  const NetHeader plain = make_header();
  NetHeader header = plain;
  size_t frame_bytes = 60;
  std::optional<FakeBuffer> only;  // a chain of this one buffer instead of header + frame

  SECTION("a header shorter than 12 bytes") {
    only = readable(kTx, 11);
  }
  SECTION("no readable byte at all") {
    only = writable(kTx, 64);
  }
  SECTION("a frame shorter than an Ethernet header") {
    frame_bytes = 13;
  }
  SECTION("a frame longer than 64 KiB and its headers") {
    frame_bytes = kNetMaxFrameBytes + 1;
  }
  SECTION("NEEDS_CSUM without VIRTIO_NET_F_CSUM") {
    features &= ~kHostOffloadFeatures;
    header = make_header(kNetHeaderNeedsCsum, kNetGsoNone, 0, 0, 34, 16);
  }
  SECTION("a checksum whose place lies past the frame's end") {
    header = make_header(kNetHeaderNeedsCsum, kNetGsoNone, 0, 0, 50, 9);  // 50 + 9 + 2 > 60
  }
  SECTION("a GSO type whose feature was not negotiated") {
    features &= ~(bit(kNetFeatureHostTso4) | bit(kNetFeatureHostEcn));
    header = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 6, 34, 16);
  }
  SECTION("an unknown GSO type") {
    header = make_header(kNetHeaderNeedsCsum, 2, 54, 6, 34, 16);
  }
  SECTION("ECN without HOST_ECN") {
    features &= ~bit(kNetFeatureHostEcn);
    header = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4 | kNetGsoEcn, 54, 6, 34, 16);
  }
  SECTION("GSO without NEEDS_CSUM") {
    header = make_header(0, kNetGsoTcpV4, 54, 6, 34, 16);
  }
  SECTION("a GSO segment size of 0") {
    header = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV6, 54, 0, 34, 16);
  }
  SECTION("a GSO header length past the end") {
    header = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 61, 6, 34, 16);
  }
  net.start(features);

  uint16_t head;
  if (only) {
    head = net.post(net.tx(), {*only}, 1);
  } else if (frame_bytes > kTxSlot - sizeof(NetHeader)) {
    REQUIRE(net.memory.write_obj(kBigFrame, header));
    head = net.post(net.tx(),
                    {readable(kBigFrame, sizeof(NetHeader)),
                     readable(kBigFrame + sizeof(NetHeader), static_cast<uint32_t>(frame_bytes))},
                    1);
  } else {
    head = net.transmit(header, pattern(frame_bytes, 4));
  }
  expect_used(net.tx(), head, 0);
  CHECK(net.backend.sent.empty());
  CHECK(net.device.counters().transmit_dropped == 1);
  CHECK(net.device.counters().transmitted == 0);
  CHECK_FALSE(net.driver.needs_reset());

  // The device goes on: the next frame is sent.
  std::vector<uint8_t> frame = pattern(100, 5);
  uint16_t next = net.transmit(plain, frame);
  expect_used(net.tx(), next, 0);
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].bytes == frame);
  CHECK(net.device.counters().transmitted == 1);
}

TEST_CASE("virtio-net: frames at the length limits are sent", "[virtio-net]") {
  size_t length = GENERATE(size_t{kNetMinFrameBytes}, size_t{kNetMaxFrameBytes});
  Net net;
  net.start();
  NetHeader header = make_header(kNetHeaderNeedsCsum, kNetGsoNone, 0, 0, 0,
                                 static_cast<uint16_t>(length - 2));  // the last 2 bytes
  std::vector<uint8_t> frame = pattern(length, 6);
  REQUIRE(net.memory.write_obj(kBigFrame, header));
  REQUIRE(net.memory.write(kBigFrame + sizeof(header), frame));
  uint16_t head =
      net.post(net.tx(), {readable(kBigFrame, static_cast<uint32_t>(sizeof(header) + length))}, 1);
  expect_used(net.tx(), head, 0);
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].bytes == frame);
}

TEST_CASE("virtio-net: a transmit buffer outside guest memory needs a reset", "[virtio-net]") {
  Net net;
  net.start();
  REQUIRE(net.memory.write_obj(kTx, make_header()));
  net.post(net.tx(), {readable(kTx, 12), readable(kHole + 0x1000, 64)}, 1);
  // A ring error, not a malformed frame: DEVICE_NEEDS_RESET and a configuration interrupt, the
  // chain not returned.
  CHECK(net.driver.needs_reset());
  CHECK(net.driver.interrupt_status() & kInterruptConfigChange);
  CHECK(net.tx().used_index() == 0);
  CHECK(net.backend.sent.empty());
  CHECK(net.device.counters().transmit_dropped == 0);

  // Nothing more is served until the driver resets the device.
  std::vector<uint8_t> frame = pattern(64, 7);
  net.transmit(make_header(), frame);
  CHECK(net.backend.sent.empty());
  net.backend.push(make_header(), frame);
  net.post_receive(kRx, 2048);
  net.receive_ready();
  CHECK(net.rx().used_index() == 0);

  net.driver.reset();
  CHECK_FALSE(net.driver.needs_reset());
  net.make_queues();
  net.start();
  uint16_t head = net.transmit(make_header(), frame);
  expect_used(net.tx(), head, 0);
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].bytes == frame);
}

TEST_CASE("virtio-net: a frame the back end refuses is dropped", "[virtio-net]") {
  Net net;
  net.start();
  net.backend.send_error = ENOBUFS;
  uint16_t head = net.transmit(make_header(), pattern(64, 8));
  expect_used(net.tx(), head, 0);
  CHECK(net.device.counters().transmit_dropped == 1);
  net.backend.send_error = 0;
  head = net.transmit(make_header(), pattern(64, 8));
  expect_used(net.tx(), head, 0);
  CHECK(net.backend.sent.size() == 1);
  CHECK(net.device.counters().transmitted == 1);
}

TEST_CASE("virtio-net: a back end that is full gets a second chance", "[virtio-net]") {
  FakeNetBackend::Config config;
  config.with_eventfds = true;  // writable at once: no wait before the second try
  Net net(config);
  net.start();
  std::vector<uint8_t> frame = pattern(64, 9);
  net.backend.full_sends = 1;
  uint16_t head = net.transmit(make_header(), frame);
  expect_used(net.tx(), head, 0);
  CHECK(net.backend.send_calls == 2);
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].bytes == frame);
  CHECK(net.device.counters().transmitted == 1);

  // Full twice: dropped.
  net.backend.full_sends = 2;
  head = net.transmit(make_header(), frame);
  expect_used(net.tx(), head, 0);
  CHECK(net.backend.send_calls == 4);
  CHECK(net.backend.sent.size() == 1);
  CHECK(net.device.counters().transmit_dropped == 1);
}

TEST_CASE("virtio-net: a transmit chain with device-writable buffers sends its readable part",
          "[virtio-net]") {
  Net net;
  net.start();
  std::vector<uint8_t> frame = pattern(80, 10);
  REQUIRE(net.memory.write_obj(kTx, make_header()));
  REQUIRE(net.memory.write(kTx + 12, frame));
  uint16_t head = net.post(net.tx(), {readable(kTx, 92), writable(kTx + 0x400, 32)}, 1);
  expect_used(net.tx(), head, 0);  // nothing written
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].bytes == frame);
  CHECK(net.bytes(kTx + 0x400, 1)[0] == 0);
}

// ============================== Receive ==============================

TEST_CASE("virtio-net: a frame is received into one chain without MRG_RXBUF", "[virtio-net]") {
  Net net;
  net.start(net.all_features() & ~bit(kNetFeatureMrgRxbuf));
  CHECK(net.watch_calls == std::vector<WatchCall>{{0, true}});
  // A chain of two buffers, the header across both.
  uint16_t head = net.post(net.rx(), {writable(kRx, 8), writable(kRx + 0x100, 1600)}, 0);
  CHECK(net.rx().used_index() == 0);
  CHECK(net.backend.receive_calls >= 1);  // the device looked: nothing yet

  std::vector<uint8_t> frame = pattern(1000, 11);
  net.backend.push(make_header(0, kNetGsoNone, 0, 0, 0, 0, 0x1234), frame);
  net.receive_ready();
  expect_used(net.rx(), head, 12 + 1000);
  CHECK(net.irq.raised == 1);
  std::vector<uint8_t> header_bytes = net.bytes(kRx, 8);
  std::vector<uint8_t> rest = net.bytes(kRx + 0x100, 4 + 1000);
  header_bytes.insert(header_bytes.end(), rest.begin(), rest.begin() + 4);
  NetHeader header;
  std::memcpy(&header, header_bytes.data(), sizeof(header));
  CHECK(same_header(header, make_header(0, kNetGsoNone, 0, 0, 0, 0, 1)));
  CHECK(std::vector<uint8_t>(rest.begin() + 4, rest.end()) == frame);
  CHECK(net.device.counters().received == 1);
  CHECK(net.backend.waiting() == 0);
}

TEST_CASE("virtio-net: with MRG_RXBUF a frame spans chains, published together", "[virtio-net]") {
  Net net;
  net.start();
  REQUIRE(net.driver.negotiated() & bit(kNetFeatureMrgRxbuf));
  uint16_t heads[3];
  heads[0] = net.post_receive(kRx, 64);
  heads[1] = net.post_receive(kRx + 0x100, 64);
  std::vector<uint8_t> frame = pattern(150, 12);  // 162 bytes with the header: 64 + 64 + 34
  net.backend.push(make_header(), frame);
  net.receive_ready();
  // Two chains are not enough: none is returned, the frame waits for a third.
  CHECK(net.rx().used_index() == 0);
  CHECK(net.irq.raised == 0);
  CHECK(net.watching() == false);

  heads[2] = net.post_receive(kRx + 0x200, 64);
  CHECK(net.rx().used_index() == 3);  // all three at once
  CHECK(net.irq.raised == 1);
  expect_used(net.rx(), heads[0], 64);
  expect_used(net.rx(), heads[1], 64);
  expect_used(net.rx(), heads[2], 34);
  NetHeader header = net.header_at(kRx);
  CHECK(header.num_buffers == 3);
  CHECK(header.flags == 0);
  std::vector<uint8_t> got = net.bytes(kRx + 12, 52);
  std::vector<uint8_t> second = net.bytes(kRx + 0x100, 64);
  std::vector<uint8_t> third = net.bytes(kRx + 0x200, 34);
  got.insert(got.end(), second.begin(), second.end());
  got.insert(got.end(), third.begin(), third.end());
  CHECK(got == frame);
  CHECK(net.watching() == true);

  // The next frame fits the first chain it gets: num_buffers 1.
  uint16_t big = net.post_receive(kRx + 0x1000, 2048);
  std::vector<uint8_t> next = pattern(500, 13);
  net.backend.push(make_header(), next);
  net.receive_ready();
  expect_used(net.rx(), big, 512);
  CHECK(net.header_at(kRx + 0x1000).num_buffers == 1);
  CHECK(net.bytes(kRx + 0x1000 + 12, 500) == next);
}

TEST_CASE("virtio-net: with MRG_RXBUF, receive chains shorter than a header come back unused",
          "[virtio-net]") {
  Net net;
  net.start();
  uint16_t tiny = net.post_receive(kRx, 11);
  uint16_t good = net.post_receive(kRx + 0x100, 1024);
  std::vector<uint8_t> frame = pattern(100, 14);
  net.backend.push(make_header(), frame);
  net.receive_ready();
  expect_used(net.rx(), tiny, 0);
  expect_used(net.rx(), good, 112);
  CHECK(net.bytes(kRx + 0x100 + 12, 100) == frame);
}

TEST_CASE("virtio-net: without receive buffers frames wait and the watch stops", "[virtio-net]") {
  bool event_index = GENERATE(false, true);
  Net net;
  net.start(net.all_features() | (event_index ? bit(kFeatureRingEventIdx) : 0));
  CHECK(net.watching() == true);
  std::vector<uint8_t> first = pattern(200, 15), second = pattern(300, 16);
  net.backend.push(make_header(), first);
  net.backend.push(make_header(), second);
  net.receive_ready();
  // At most the first frame left the back end; nothing reached the guest, and the device stops
  // reading until buffers come.
  CHECK(net.backend.waiting() >= 1);
  CHECK(net.rx().used_index() == 0);
  CHECK(net.watching() == false);
  CHECK(net.device.counters().receive_dropped == 0);
  if (event_index) CHECK(net.rx().avail_event() == 0);  // notify me of the next buffer

  uint16_t a = net.post_receive(kRx, 1024, 0, false);
  uint16_t b = net.post_receive(kRx + 0x400, 1024, 0, false);
  net.driver.notify(0);
  CHECK(net.watching() == true);
  expect_used(net.rx(), a, 212);
  expect_used(net.rx(), b, 312);
  CHECK(net.bytes(kRx + 12, 200) == first);
  CHECK(net.bytes(kRx + 0x400 + 12, 300) == second);
  CHECK(net.backend.waiting() == 0);
  CHECK(net.device.counters().received == 2);

  // Out of buffers again.
  net.backend.push(make_header(), first);
  net.receive_ready();
  CHECK(net.watching() == false);
  if (event_index) CHECK(net.rx().avail_event() == 2);
  uint16_t c = net.post_receive(kRx + 0x800, 1024);
  expect_used(net.rx(), c, 212);
}

TEST_CASE("virtio-net: a burst of frames is received in batches, one interrupt each",
          "[virtio-net]") {
  Net net;
  net.start();
  for (uint16_t i = 0; i < NetDevice::kQueueSize; ++i)
    net.post_receive(kRx + 0x100 * i, 0x100, 0, false);
  net.driver.notify(0);
  constexpr int kFrames = NetDevice::kReceiveBudget + 72;
  for (int i = 0; i < kFrames; ++i)
    net.backend.push(make_header(), pattern(60, static_cast<uint8_t>(i)));
  net.receive_ready();
  // One budget's worth; the rest wait in the back end for the next wake-up.
  CHECK(net.rx().used_index() == NetDevice::kReceiveBudget);
  CHECK(net.backend.waiting() == 72);
  CHECK(net.irq.raised == 1);
  CHECK(net.watching() == true);
  net.receive_ready();
  CHECK(net.rx().used_index() == kFrames);
  CHECK(net.irq.raised == 2);
  for (int i = 0; i < kFrames; ++i) {
    UsedElement used = net.rx().take_used();
    CHECK(used.length == 72);
    CHECK(net.bytes(kRx + 0x100 * used.id + 12, 60) == pattern(60, static_cast<uint8_t>(i)));
  }
}

TEST_CASE("virtio-net: a frame too large for a chain is dropped and the chain reused",
          "[virtio-net]") {
  Net net;
  net.start(net.all_features() & ~bit(kNetFeatureMrgRxbuf));
  uint16_t head = net.post_receive(kRx, 64);
  net.backend.push(make_header(), pattern(53, 17));  // 65 bytes with its header
  std::vector<uint8_t> fits = pattern(52, 18);       // 64 bytes
  net.backend.push(make_header(), fits);
  net.receive_ready();
  expect_used(net.rx(), head, 64);
  CHECK(net.rx().used_pending() == 0);
  CHECK(net.bytes(kRx + 12, 52) == fits);
  CHECK(net.device.counters().receive_dropped == 1);
  CHECK(net.device.counters().received == 1);
}

TEST_CASE("virtio-net: with MRG_RXBUF a frame larger than the whole ring is dropped",
          "[virtio-net]") {
  Net net({}, 4);
  net.start();
  uint16_t heads[4];
  for (uint16_t i = 0; i < 4; ++i) heads[i] = net.post_receive(kRx + 0x100 * i, 64, 0, false);
  net.driver.notify(0);
  net.backend.push(make_header(), pattern(300, 19));  // 312 bytes > 4 * 64
  std::vector<uint8_t> small = pattern(100, 20);      // 112 bytes: two chains
  net.backend.push(make_header(), small);
  net.receive_ready();
  CHECK(net.device.counters().receive_dropped == 1);
  expect_used(net.rx(), heads[0], 64);
  expect_used(net.rx(), heads[1], 48);
  CHECK(net.header_at(kRx).num_buffers == 2);
  CHECK(net.rx().used_pending() == 0);
}

TEST_CASE("virtio-net: received headers carry only what the guest accepted", "[virtio-net]") {
  Net net;
  uint64_t without_guest_offloads = net.all_features() & ~kGuestOffloadFeatures;

  SECTION("DATA_VALID without GUEST_CSUM becomes flags 0") {
    net.start(without_guest_offloads);
    uint16_t head = net.post_receive(kRx, 1024);
    net.backend.push(make_header(kNetHeaderDataValid), pattern(64, 21));
    net.receive_ready();
    expect_used(net.rx(), head, 76);
    CHECK(net.header_at(kRx).flags == 0);
  }
  SECTION("DATA_VALID with GUEST_CSUM stays; unknown flags go") {
    net.start();
    uint16_t head = net.post_receive(kRx, 1024);
    net.backend.push(make_header(kNetHeaderDataValid | 0x4), pattern(64, 21));
    net.receive_ready();
    expect_used(net.rx(), head, 76);
    CHECK(net.header_at(kRx).flags == kNetHeaderDataValid);
  }
  SECTION("a partial checksum with GUEST_CSUM is handed on") {
    net.start();
    uint16_t head = net.post_receive(kRx, 2048);
    NetHeader gso = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16);
    std::vector<uint8_t> frame = pattern(1600, 22);
    net.backend.push(gso, frame);
    net.receive_ready();
    expect_used(net.rx(), head, 12 + 1600);
    gso.num_buffers = 1;
    CHECK(same_header(net.header_at(kRx), gso));
    CHECK(net.bytes(kRx + 12, 1600) == frame);
  }
  SECTION("a partial checksum without GUEST_CSUM is dropped") {
    net.start(without_guest_offloads);
    uint16_t head = net.post_receive(kRx, 1024);
    net.backend.push(make_header(kNetHeaderNeedsCsum, kNetGsoNone, 0, 0, 34, 16), pattern(64, 23));
    std::vector<uint8_t> next = pattern(64, 24);
    net.backend.push(make_header(), next);
    net.receive_ready();
    expect_used(net.rx(), head, 76);
    CHECK(net.bytes(kRx + 12, 64) == next);
    CHECK(net.device.counters().receive_dropped == 1);
  }
}

TEST_CASE("virtio-net: a received GSO frame of a type the guest did not accept is dropped",
          "[virtio-net]") {
  Net net;
  uint64_t features = net.all_features() & ~kGuestOffloadFeatures;
  features |= bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4);
  net.start(features);
  uint16_t head = net.post_receive(kRx, 4096);
  NetHeader tcp6 = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV6, 74, 1428, 54, 16);
  NetHeader ecn = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16);
  NetHeader udp = make_header(kNetHeaderNeedsCsum, kNetGsoUdp, 42, 1400, 34, 6);
  for (const NetHeader& header : {tcp6, ecn, udp}) net.backend.push(header, pattern(3000, 25));
  NetHeader tcp4 = make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16);
  std::vector<uint8_t> frame = pattern(3000, 26);
  net.backend.push(tcp4, frame);
  net.receive_ready();
  CHECK(net.device.counters().receive_dropped == 3);
  expect_used(net.rx(), head, 3012);  // the same chain took the TCPv4 frame
  CHECK(net.header_at(kRx).gso_type == kNetGsoTcpV4);
  CHECK(net.bytes(kRx + 12, 3000) == frame);
}

TEST_CASE("virtio-net: frames of a bad length from the back end are dropped", "[virtio-net]") {
  Net net;
  net.start();
  uint16_t head = net.post_receive(kRx, 4096);
  net.backend.push_raw(std::vector<uint8_t>(5));  // not even a header
  net.backend.push(make_header(), pattern(kNetMinFrameBytes - 1, 27));
  std::vector<uint8_t> too_long(sizeof(NetHeader) + kNetMaxFrameBytes + 1);
  net.backend.push_raw(too_long);
  std::vector<uint8_t> frame = pattern(kNetMinFrameBytes, 28);
  net.backend.push(make_header(), frame);
  net.receive_ready();
  CHECK(net.device.counters().receive_dropped == 3);
  expect_used(net.rx(), head, 12 + kNetMinFrameBytes);
  CHECK(net.bytes(kRx + 12, frame.size()) == frame);
}

TEST_CASE("virtio-net: a back end that fails to receive is no longer watched", "[virtio-net]") {
  Net net;
  net.start();
  uint16_t first = net.post_receive(kRx, 2048);
  net.backend.receive_error = EIO;
  net.receive_ready();
  CHECK(net.watching() == false);
  CHECK(net.rx().used_index() == 0);
  CHECK_FALSE(net.driver.needs_reset());
  // New buffers make it look again.
  net.backend.receive_error = 0;
  std::vector<uint8_t> frame = pattern(64, 29);
  net.backend.push(make_header(), frame);
  net.post_receive(kRx + 0x1000, 2048);
  CHECK(net.watching() == true);
  expect_used(net.rx(), first, 76);  // the first chain posted took it
  CHECK(net.rx().used_pending() == 0);
  CHECK(net.bytes(kRx + 12, 64) == frame);
}

TEST_CASE("virtio-net: a receive buffer outside guest memory needs a reset", "[virtio-net]") {
  Net net;
  net.start();
  net.backend.push(make_header(), pattern(64, 30));
  net.post(net.rx(), {writable(kHole, 2048)}, 0);
  net.receive_ready();
  CHECK(net.driver.needs_reset());
  CHECK(net.rx().used_index() == 0);
}

// ============================== Control queue ==============================

TEST_CASE("virtio-net: VQ_PAIRS_SET enables the pairs asked for", "[virtio-net]") {
  Net net(pairs(2));
  net.start();
  REQUIRE(net.driver.negotiated() & bit(kNetFeatureMq));
  // Only the first pair at first (§5.1.6.5.5).
  REQUIRE(net.backend.pair_calls.size() == 2);
  CHECK(net.backend.pair_calls[0].pair == 0);
  CHECK(net.backend.pair_calls[0].enabled);
  CHECK(net.backend.pair_calls[1].pair == 1);
  CHECK_FALSE(net.backend.pair_calls[1].enabled);
  CHECK(net.watch_calls == std::vector<WatchCall>{{0, true}});

  // Pair 1 is not served yet.
  std::vector<uint8_t> frame = pattern(64, 31);
  uint16_t waiting = net.transmit(make_header(), frame, 1);
  CHECK(net.tx(1).used_index() == 0);
  CHECK(net.backend.sent.empty());

  CHECK(net.set_pairs(0) == kControlError);
  CHECK(net.set_pairs(3) == kControlError);
  uint8_t one_byte[1] = {2};
  CHECK(net.control(kClassMq, 0, one_byte) == kControlError);
  CHECK(net.control(kClassMq, 1, std::vector<uint8_t>{2, 0}) == kControlError);  // no such command
  CHECK(net.backend.pair_calls.size() == 2);

  CHECK(net.set_pairs(2) == kControlOk);
  REQUIRE(net.backend.pair_calls.size() == 4);
  CHECK(net.backend.pair_calls[3].pair == 1);
  CHECK(net.backend.pair_calls[3].enabled);
  CHECK(net.watching(1) == true);

  net.driver.notify(3);
  expect_used(net.tx(1), waiting, 0);
  REQUIRE(net.backend.sent.size() == 1);
  CHECK(net.backend.sent[0].pair == 1);
  CHECK(net.backend.sent[0].bytes == frame);

  uint16_t head = net.post_receive(kRx, 1024, 1);
  net.backend.push(make_header(), frame, 1);
  net.receive_ready(1);
  expect_used(net.rx(1), head, 76);
  CHECK(net.rx(0).used_index() == 0);

  // Back to one pair.
  CHECK(net.set_pairs(1) == kControlOk);
  CHECK_FALSE(net.backend.pair_calls.back().enabled);
  CHECK(net.watching(1) == false);
  net.post_receive(kRx + 0x1000, 1024, 1);
  net.backend.push(make_header(), frame, 1);
  net.receive_ready(1);
  CHECK(net.rx(1).used_pending() == 0);
}

TEST_CASE("virtio-net: VQ_PAIRS_SET without MQ is an error", "[virtio-net]") {
  Net net(pairs(2));
  net.start(net.all_features() & ~bit(kNetFeatureMq), 3);
  // Without MQ there is one pair and the control queue is queue 2 (§5.1.2).
  CHECK(net.control(kClassMq, 0, std::vector<uint8_t>{1, 0}, 2) == kControlError);
}

TEST_CASE("virtio-net: without MQ the control queue is queue 2 whatever the pairs",
          "[virtio-net]") {
  Net net(pairs(4));
  net.start(net.all_features() & ~bit(kNetFeatureMq), 3);
  CHECK_FALSE(net.driver.needs_reset());
  uint64_t offloads = bit(kNetFeatureGuestCsum);
  uint8_t data[8];
  std::memcpy(data, &offloads, sizeof(data));
  CHECK(net.control(kClassGuestOffloads, 0, data, 2) == kControlOk);
  CHECK(net.backend.offloads() == net_offload::kChecksum);
  // The first pair works as usual.
  std::vector<uint8_t> frame = pattern(64, 32);
  uint16_t sent = net.transmit(make_header(), frame);
  expect_used(net.tx(), sent, 0);
  uint16_t head = net.post_receive(kRx, 1024);
  net.backend.push(make_header(), frame);
  net.receive_ready();
  expect_used(net.rx(), head, 76);
  CHECK(net.watch_calls == std::vector<WatchCall>{{0, true}});
}

TEST_CASE("virtio-net: GUEST_OFFLOADS_SET", "[virtio-net]") {
  Net net;
  uint64_t features = net.all_features() & ~kGuestOffloadFeatures;
  features |= bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestTso6);
  net.start(features);
  CHECK(net.backend.offloads() ==
        (net_offload::kChecksum | net_offload::kTso4 | net_offload::kTso6));

  // A subset: the back end follows, and TSO frames are no longer handed to the guest.
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestCsum)) == kControlOk);
  CHECK(net.backend.offloads() == net_offload::kChecksum);
  uint16_t head = net.post_receive(kRx, 4096);
  net.backend.push(make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16),
                   pattern(3000, 33));
  net.receive_ready();
  CHECK(net.device.counters().receive_dropped == 1);
  CHECK(net.rx().used_index() == 0);

  // A feature not negotiated, or one without what it needs: refused, the back end unchanged.
  size_t calls = net.backend.offload_calls.size();
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestUfo)) ==
        kControlError);
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestTso4)) == kControlError);
  CHECK(net.set_guest_offloads(bit(kNetFeatureMac)) == kControlError);
  CHECK(net.control(kClassGuestOffloads, 0, std::vector<uint8_t>{1, 0, 0, 0}) == kControlError);
  CHECK(net.backend.offload_calls.size() == calls);
  CHECK(net.backend.offloads() == net_offload::kChecksum);

  // A back end that refuses: an error, the guest's offloads unchanged.
  net.backend.fail_offloads = true;
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4)) ==
        kControlError);
  net.backend.fail_offloads = false;

  // All of them again: TSO frames flow.
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) |
                               bit(kNetFeatureGuestTso6)) == kControlOk);
  std::vector<uint8_t> frame = pattern(3000, 34);
  net.backend.push(make_header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16), frame);
  net.receive_ready();
  expect_used(net.rx(), head, 3012);
  CHECK(net.set_guest_offloads(0) == kControlOk);
  CHECK(net.backend.offloads() == 0);
}

TEST_CASE("virtio-net: GUEST_OFFLOADS_SET without CTRL_GUEST_OFFLOADS is an error",
          "[virtio-net]") {
  Net net;
  net.start(net.all_features() & ~bit(kNetFeatureCtrlGuestOffloads));
  size_t calls = net.backend.offload_calls.size();
  CHECK(net.set_guest_offloads(bit(kNetFeatureGuestCsum)) == kControlError);
  CHECK(net.backend.offload_calls.size() == calls);
}

TEST_CASE("virtio-net: unknown and malformed control commands are errors", "[virtio-net]") {
  Net net;
  net.start();
  uint8_t promisc[1] = {1};
  CHECK(net.control(kClassRx, 0, promisc) == kControlError);
  CHECK(net.control(99, 0, {}) == kControlError);

  // A command of one byte.
  REQUIRE(net.memory.write_obj(kControl, kClassMq));
  REQUIRE(net.memory.write_obj(kControl + 0x100, kUntouched));
  uint16_t head = net.post(net.queue(2), {readable(kControl, 1), writable(kControl + 0x100, 1)}, 2);
  expect_used(net.queue(2), head, 1);
  CHECK(net.bytes(kControl + 0x100, 1)[0] == kControlError);

  // A command longer than any Wisp serves.
  std::vector<uint8_t> long_command(200, 0);
  long_command[0] = kClassGuestOffloads;
  REQUIRE(net.memory.write(kControl, long_command));
  REQUIRE(net.memory.write_obj(kControl + 0x100, kUntouched));
  head = net.post(net.queue(2), {readable(kControl, 200), writable(kControl + 0x100, 1)}, 2);
  expect_used(net.queue(2), head, 1);
  CHECK(net.bytes(kControl + 0x100, 1)[0] == kControlError);

  // A command split across many small buffers is read whole.
  uint64_t offloads = bit(kNetFeatureGuestCsum);
  uint8_t command[10] = {kClassGuestOffloads, 0};
  std::memcpy(command + 2, &offloads, 8);
  REQUIRE(net.memory.write(kControl, command));
  REQUIRE(net.memory.write_obj(kControl + 0x100, kUntouched));
  head = net.post(net.queue(2),
                  {readable(kControl, 1), readable(kControl + 1, 4), readable(kControl + 5, 5),
                   writable(kControl + 0x100, 1)},
                  2);
  expect_used(net.queue(2), head, 1);
  CHECK(net.bytes(kControl + 0x100, 1)[0] == kControlOk);

  // No room for the ack: returned with nothing written.
  head = net.post(net.queue(2), {readable(kControl, 10)}, 2);
  expect_used(net.queue(2), head, 0);
  CHECK_FALSE(net.driver.needs_reset());

  // Still served.
  CHECK(net.set_guest_offloads(0) == kControlOk);
}

// ============================== Reset ==============================

TEST_CASE("virtio-net: reset stops everything and a new start works again", "[virtio-net]") {
  Net net(pairs(2));
  net.start();
  CHECK(net.set_pairs(2) == kControlOk);
  std::vector<uint8_t> frame = pattern(64, 35);
  net.transmit(make_header(), frame);
  // A frame read but not delivered, for want of buffers.
  net.backend.push(make_header(), pattern(64, 36));
  net.backend.push(make_header(), frame);
  net.receive_ready();
  CHECK(net.watching() == false);
  net.post_receive(kRx, 1024, 1);  // pair 1 watches again
  CHECK(net.watching(1) == true);

  net.driver.reset();
  CHECK(net.driver.status() == 0);
  CHECK(net.watching(0) == false);
  CHECK(net.watching(1) == false);
  CHECK(net.backend.offload_calls.back() == 0);
  CHECK(net.backend.pair_calls.back().pair == 1);
  CHECK_FALSE(net.backend.pair_calls.back().enabled);
  // Notifications after reset are ignored.
  net.driver.notify(1);
  net.receive_ready();
  CHECK(net.backend.sent.size() == 1);

  net.make_queues();
  net.start();
  CHECK(net.watching(0) == true);
  CHECK(net.watching(1) == false);  // one pair until asked for more
  CHECK(net.backend.offloads() == test::kAllReceiveOffloads);
  uint16_t sent = net.transmit(make_header(), frame);
  expect_used(net.tx(), sent, 0);
  CHECK(net.backend.sent.size() == 2);
  // The frame read before the reset is lost, as on a real NIC; the next one arrives.
  uint16_t head = net.post_receive(kRx + 0x1000, 1024);
  expect_used(net.rx(), head, 76);
  CHECK(net.bytes(kRx + 0x1000 + 12, 64) == frame);
  CHECK(net.set_pairs(2) == kControlOk);
}

TEST_CASE("virtio-net: the device does nothing before DRIVER_OK", "[virtio-net]") {
  Net net;
  REQUIRE(net.driver.negotiate(net.all_features()));
  net.backend.push(make_header(), pattern(64, 37));
  net.receive_ready();
  net.driver.notify(0);
  net.driver.notify(1);
  CHECK(net.backend.receive_calls == 0);
  CHECK(net.watch_calls.empty());
}

// ============================== The TAP back end ==============================

TEST_CASE("tap: a descriptor that is not a TAP is refused", "[virtio-net][tap]") {
  Fd not_tap(::eventfd(0, EFD_CLOEXEC));
  REQUIRE(not_tap.valid());
  auto tap = Tap::adopt(not_tap.get());
  REQUIRE_FALSE(tap);
  CHECK_THAT(tap.error().message(), Contains("TUNGETIFF"));
}

// Moves this process into a network namespace of its own, so that the TAP a test makes touches
// nothing on the host's network: a new one as root, else one inside a new user namespace (where
// the process is root). False if neither is allowed here.
static bool enter_private_network_namespace() {
  if (::unshare(CLONE_NEWNET) == 0) return true;
  return ::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
}

TEST_CASE("tap in a private network namespace: offloads, queues and a frame sent",
          "[virtio-net][tap]") {
  REQUIRE(enter_private_network_namespace());
  std::string name = fmt::format("wisput{}", ::getpid() % 100000);
  auto opened = Tap::open(name, 2);
  INFO((opened ? std::string("opened") : opened.error().message()));
  REQUIRE(opened);
  Tap& tap = **opened;
  CHECK(tap.created());
  CHECK(tap.name() == name);
  CHECK(tap.queue_pairs() == 2);
  CHECK(tap.accepts_offloads());
  CHECK(tap.mtu() == 1500);
  uint32_t supported = tap.supported_receive_offloads();
  CHECK((supported & net_offload::kChecksum) != 0);
  CHECK(tap.set_receive_offloads(supported));
  CHECK(tap.set_receive_offloads(0));
  if (supported & net_offload::kUso4) {
    // One of USO4 and USO6, as a guest may accept: the rest of the offloads still apply.
    CHECK(tap.set_receive_offloads(net_offload::kChecksum | net_offload::kUso4));
    CHECK(
        tap.set_receive_offloads(net_offload::kChecksum | net_offload::kTso4 | net_offload::kUso6));
  }
  CHECK(tap.set_pair_enabled(1, false));
  CHECK(tap.set_pair_enabled(1, true));
  CHECK(tap.receive_fd(0) != tap.receive_fd(1));

  // A broadcast frame, through its header.
  NetHeader header = make_header();
  std::vector<uint8_t> frame(60, 0);
  std::fill_n(frame.begin(), 6, 0xff);
  frame[6] = 0x02;
  frame[12] = 0x08;
  frame[13] = 0x06;  // ARP
  iovec parts[2] = {{&header, sizeof(header)}, {frame.data(), frame.size()}};
  CHECK(tap.send(0, parts) == static_cast<ssize_t>(sizeof(header) + frame.size()));
}
