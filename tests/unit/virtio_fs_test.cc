// virtio-fs over vhost-user with a fake back end: the configuration space, the hand-over of the
// queues at DRIVER_OK, the back end's interrupts, a reset, and the take-over that answers the
// guest with EIO once the back end is gone.
#include <linux/fuse.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <map>

#include "devices/virtio/fs.h"
#include "tests/unit/fake_vhost_user_backend.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using wisp::Fd;
using wisp::GuestMemory;
using wisp::test::FakeQueue;
using wisp::test::FakeVhostUserBackend;
using wisp::test::readable;
using wisp::test::writable;
using wisp::vhost_user::Request;
namespace virtio = wisp::virtio;

namespace {

constexpr uint64_t kVersion1 = virtio::feature_bit(virtio::kFeatureVersion1);
constexpr uint64_t kPackedRing = virtio::feature_bit(34);  // VIRTIO_F_RING_PACKED
// What QEMU's virtiofsd offers, more or less: the transport features, packed rings, and the
// vhost-user bits.
constexpr uint64_t kBackendFeatures =
    virtio::VirtioDevice::kTransportFeatures | kPackedRing |
    virtio::feature_bit(wisp::vhost_user::kFeatureProtocolFeatures);

// A device, its fake back end and a fake driver, with eventfds for kicks and calls as the device
// manager makes them, and a record of what the device asked the thread to watch.
struct FsFixture {
  FsFixture()
      : memory(wisp::test::make_shared_guest_memory({{0, 1 << 20}})),
        backend(kBackendFeatures, wisp::virtio::feature_bit(wisp::vhost_user::kProtocolReplyAck)),
        frontend(adopt(backend)),
        harness(memory, virtio::FsDeviceOptions{"fs0", "hostfiles"}, *frontend) {
    virtio::FsQueueSignals signals;
    for (int i = 0; i < virtio::FsDevice::kQueueCount; ++i) {
      kicks.emplace_back(::eventfd(0, EFD_CLOEXEC));
      calls.emplace_back(::eventfd(0, EFD_CLOEXEC));
      signals.kicks.push_back(kicks.back().get());
      signals.calls.push_back(calls.back().get());
    }
    harness.device.connect_signals(std::move(signals),
                                   [this](int fd, bool on) { watching[fd] = on; });
    backend.take_messages(4);  // the handshake
  }

  static std::unique_ptr<wisp::vhost_user::Frontend> adopt(FakeVhostUserBackend& backend) {
    auto frontend = wisp::vhost_user::Frontend::adopt(backend.take_frontend_socket(), "fake");
    REQUIRE(frontend);
    return std::move(*frontend);
  }

  void start() {
    std::vector<virtio::QueueLayout> layouts = {hiprio.layout(), requests.layout()};
    REQUIRE(harness.driver.initialize(kVersion1, layouts));
  }

  GuestMemory memory;
  FakeVhostUserBackend backend;
  std::unique_ptr<wisp::vhost_user::Frontend> frontend;
  wisp::test::MmioHarness<virtio::FsDevice> harness;
  FakeQueue hiprio{memory, 0x1000, 16};
  FakeQueue requests{memory, 0x2000, 16};
  std::vector<Fd> kicks, calls;
  std::map<int, bool> watching;
};

}  // namespace

TEST_CASE("virtio-fs: the device offers the transport features and its tag", "[virtio-fs]") {
  FsFixture fs;
  auto& driver = fs.harness.driver;
  CHECK(driver.read32(virtio::mmio::kDeviceId) == virtio::kDeviceIdFs);
  // Neither the back end's packed rings nor the vhost-user connection's own bit.
  CHECK(driver.device_features() == virtio::VirtioDevice::kTransportFeatures);
  CHECK(virtio::FsDevice::check_backend(*fs.frontend));
  char tag[virtio::kFsTagBytes + 1] = {};
  for (size_t i = 0; i < virtio::kFsTagBytes; ++i) tag[i] = driver.read_config<char>(i);
  CHECK(std::string(tag) == "hostfiles");
  CHECK(driver.read_config<uint32_t>(virtio::kFsTagBytes) == 1);  // num_request_queues
  CHECK(driver.read32(virtio::mmio::kQueueNumMax) == virtio::FsDevice::kQueueSize);
}

TEST_CASE("virtio-fs: DRIVER_OK hands both queues to the back end with their eventfds",
          "[virtio-fs]") {
  FsFixture fs;
  fs.start();
  auto messages = fs.backend.take_messages(2 + 2 * 6);
  std::vector<Request> kinds;
  for (const auto& message : messages) kinds.push_back(message.request);
  std::vector<Request> ring = {Request::kSetVringNum,  Request::kSetVringBase,
                               Request::kSetVringAddr, Request::kSetVringKick,
                               Request::kSetVringCall, Request::kSetVringEnable};
  std::vector<Request> expected = {Request::kSetFeatures, Request::kSetMemTable};
  expected.insert(expected.end(), ring.begin(), ring.end());
  expected.insert(expected.end(), ring.begin(), ring.end());
  REQUIRE(kinds == expected);
  CHECK((messages[0].as<uint64_t>() & kVersion1));
  CHECK(messages[2].as<wisp::vhost_user::VringState>().num == 16);
  // The request queue's kick is the eventfd KVM signals for it.
  const auto& kick = messages[2 + 6 + 3];
  REQUIRE(kick.fds.size() == 1);
  struct stat given {
  }, sent{};
  REQUIRE(::fstat(fs.kicks[1].get(), &given) == 0);
  REQUIRE(::fstat(kick.fds[0].get(), &sent) == 0);
  CHECK(given.st_ino == sent.st_ino);

  SECTION("the back end's call becomes the transport's interrupt") {
    int before = fs.harness.irq.raised;
    fs.harness.device.backend_used_buffers();
    CHECK(fs.harness.irq.raised == before + 1);
    CHECK((fs.harness.driver.interrupt_status() & virtio::kInterruptUsedBuffer));
  }
  SECTION("a reset stops both rings before it returns") {
    fs.harness.driver.reset();
    auto stops = fs.backend.take_messages(2);
    REQUIRE(stops.size() == 2);
    CHECK(stops[0].request == Request::kGetVringBase);
    CHECK(stops[0].as<wisp::vhost_user::VringState>().index == 0);
    CHECK(stops[1].as<wisp::vhost_user::VringState>().index == 1);
    // A stopped device relays no more interrupts.
    int before = fs.harness.irq.raised;
    fs.harness.device.backend_used_buffers();
    CHECK(fs.harness.irq.raised == before);
  }
}

TEST_CASE("virtio-fs: once the back end hangs up, the guest's requests fail with EIO",
          "[virtio-fs]") {
  FsFixture fs;
  fs.start();
  fs.backend.take_messages(14);
  // A request the back end never answered, then the back end goes away.
  auto request = [&](uint64_t unique, uint64_t in_address, uint64_t out_address) {
    fuse_in_header in{};
    in.len = sizeof(in);
    in.opcode = FUSE_GETATTR;
    in.unique = unique;
    REQUIRE(fs.memory.write_obj(in_address, in));
    REQUIRE(fs.memory.fill(out_address, sizeof(fuse_out_header), 0xaa));
    fs.requests.make_available(
        fs.requests.add_chain({readable(in_address, sizeof(in)), writable(out_address, 256)}));
  };
  request(41, 0x10000, 0x11000);
  fs.backend.hang_up();
  fs.harness.device.backend_hung_up();
  CHECK(fs.watching[fs.frontend->socket_fd()] == false);
  CHECK(fs.watching[fs.kicks[0].get()] == true);
  CHECK(fs.watching[fs.kicks[1].get()] == true);

  auto check_failed = [&](uint64_t unique, uint64_t out_address) {
    auto used = fs.requests.take_used();
    CHECK(used.length == sizeof(fuse_out_header));
    auto out = fs.memory.read_obj<fuse_out_header>(out_address);
    REQUIRE(out);
    CHECK(out->error == -EIO);
    CHECK(out->unique == unique);
    CHECK(out->len == sizeof(fuse_out_header));
  };
  // What was pending is answered at once.
  REQUIRE(fs.requests.used_pending() == 1);
  check_failed(41, 0x11000);
  // And what comes later, when the guest notifies.
  request(42, 0x12000, 0x13000);
  fs.harness.driver.notify(1);
  REQUIRE(fs.requests.used_pending() == 1);
  check_failed(42, 0x13000);
  // A FORGET on the high-priority queue has no reply: it is returned empty.
  fs.hiprio.make_available(fs.hiprio.add_chain({readable(0x14000, 64)}));
  fs.harness.driver.notify(0);
  REQUIRE(fs.hiprio.used_pending() == 1);
  CHECK(fs.hiprio.take_used().length == 0);
  CHECK_FALSE(fs.harness.driver.needs_reset());

  SECTION("a later driver gets no back end either") {
    fs.harness.driver.reset();
    CHECK(fs.watching[fs.kicks[1].get()] == false);
    fs.start();
    request(43, 0x15000, 0x16000);
    fs.harness.driver.notify(1);
    REQUIRE(fs.requests.used_pending() >= 1);
  }
}

TEST_CASE("virtio-fs: a back end without the transport features is refused", "[virtio-fs]") {
  FakeVhostUserBackend backend(kVersion1, 0);  // no indirect descriptors, no event index
  auto frontend = wisp::vhost_user::Frontend::adopt(backend.take_frontend_socket(), "old");
  REQUIRE(frontend);
  auto checked = virtio::FsDevice::check_backend(**frontend);
  REQUIRE_FALSE(checked);
  CHECK_THAT(checked.error().message(), Catch::Contains("old lacks virtio features 0x30000000"));
}
