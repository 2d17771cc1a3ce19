// The vhost-user front end against a fake back end: what it says, in which order, with which
// descriptors, and how it takes refusals, hang-ups and silence.
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "devices/vhost_user/frontend.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/unit/fake_vhost_user_backend.h"
#include "tests/unit/test_memory.h"

using wisp::Fd;
using wisp::GuestMemory;
using wisp::Mapping;
using wisp::test::FakeVhostUserBackend;
using wisp::vhost_user::Frontend;
using wisp::vhost_user::Request;
namespace vu = wisp::vhost_user;

namespace {

constexpr uint64_t kVersion1 = wisp::virtio::feature_bit(wisp::virtio::kFeatureVersion1);
constexpr uint64_t kProtocolFeatures = wisp::virtio::feature_bit(vu::kFeatureProtocolFeatures);
constexpr uint64_t kReplyAck = wisp::virtio::feature_bit(vu::kProtocolReplyAck);
constexpr uint64_t kMultiQueue = wisp::virtio::feature_bit(vu::kProtocolMultiQueue);

// Two regions of one memfd, as Wisp lays out RAM below and above the 32-bit hole.
GuestMemory shared_memory() {
  return wisp::test::make_shared_guest_memory({{0, 2 << 20}, {0x100000000, 1 << 20}});
}

std::unique_ptr<Frontend> connect(FakeVhostUserBackend& backend,
                                  std::chrono::milliseconds timeout = Frontend::kReplyTimeout) {
  auto frontend = Frontend::adopt(backend.take_frontend_socket(), "fake", timeout);
  REQUIRE(frontend);
  return std::move(*frontend);
}

std::vector<Request> requests(const std::vector<FakeVhostUserBackend::Message>& messages) {
  std::vector<Request> kinds;
  for (const auto& message : messages) kinds.push_back(message.request);
  return kinds;
}

bool same_file(int a, int b) {
  struct stat first {
  }, second{};
  return ::fstat(a, &first) == 0 && ::fstat(b, &second) == 0 && first.st_ino == second.st_ino &&
         first.st_dev == second.st_dev;
}

}  // namespace

TEST_CASE("vhost-user: the handshake takes the owner, the features and REPLY_ACK", "[vhost-user]") {
  FakeVhostUserBackend backend(kVersion1 | kProtocolFeatures | 1, kReplyAck | kMultiQueue);
  auto frontend = connect(backend);
  // The protocol-features bit is the connection's, not the device's.
  CHECK(frontend->features() == (kVersion1 | 1));
  auto messages = backend.take_messages(4);
  REQUIRE(requests(messages) == std::vector{Request::kSetOwner, Request::kGetFeatures,
                                            Request::kGetProtocolFeatures,
                                            Request::kSetProtocolFeatures});
  CHECK(messages[3].as<uint64_t>() == kReplyAck);  // only what Wisp uses
  for (const auto& message : messages) CHECK(message.flags == vu::kVersion);
}

TEST_CASE("vhost-user: a back end without protocol features is asked only for its features",
          "[vhost-user]") {
  FakeVhostUserBackend backend(kVersion1, 0);
  auto frontend = connect(backend);
  REQUIRE(frontend->set_features(kVersion1));
  auto messages = backend.take_messages(3);
  REQUIRE(requests(messages) ==
          std::vector{Request::kSetOwner, Request::kGetFeatures, Request::kSetFeatures});
  CHECK(messages[2].as<uint64_t>() == kVersion1);  // no protocol-features bit to acknowledge
}

TEST_CASE("vhost-user: activation sends the features, the memory table and each ring",
          "[vhost-user]") {
  FakeVhostUserBackend backend(kVersion1 | kProtocolFeatures, kReplyAck);
  auto frontend = connect(backend);
  backend.take_messages(4);
  GuestMemory memory = shared_memory();

  REQUIRE(frontend->set_features(kVersion1));
  REQUIRE(frontend->set_memory_table(memory));
  int kick = ::eventfd(0, EFD_CLOEXEC);
  int call = ::eventfd(0, EFD_CLOEXEC);
  Fd kick_owner(kick), call_owner(call);
  REQUIRE(
      frontend->start_vring(memory, vu::VringSetup{1, 256, 0x1000, 0x2000, 0x3000, kick, call}));
  auto messages = backend.take_messages(9);
  REQUIRE(requests(messages) == std::vector{Request::kSetFeatures, Request::kSetMemTable,
                                            Request::kSetVringNum, Request::kSetVringBase,
                                            Request::kSetVringAddr, Request::kSetVringKick,
                                            Request::kSetVringCall, Request::kSetVringEnable});
  CHECK(messages[0].as<uint64_t>() == (kVersion1 | kProtocolFeatures));

  const auto& table_message = messages[1];
  CHECK(table_message.flags == (vu::kVersion | vu::kFlagNeedReply));
  REQUIRE(table_message.payload.size() == 8 + 2 * sizeof(vu::MemoryRegion));
  auto table = table_message.as<vu::MemoryTable>();
  REQUIRE(table.region_count == 2);
  CHECK(table.regions[0].guest_address == 0);
  CHECK(table.regions[0].size == 2 << 20);
  CHECK(table.regions[0].user_address ==
        reinterpret_cast<uint64_t>(memory.regions()[0].mapping.data()));
  CHECK(table.regions[0].mmap_offset == 0);
  CHECK(table.regions[1].guest_address == 0x100000000);
  CHECK(table.regions[1].mmap_offset == 2 << 20);
  REQUIRE(table_message.fds.size() == 2);
  CHECK(same_file(table_message.fds[0].get(), memory.shared_file()));
  CHECK(same_file(table_message.fds[1].get(), memory.shared_file()));

  CHECK(messages[2].as<vu::VringState>().index == 1);
  CHECK(messages[2].as<vu::VringState>().num == 256);
  CHECK(messages[3].as<vu::VringState>().num == 0);
  auto address = messages[4].as<vu::VringAddress>();
  uint8_t* base = memory.regions()[0].mapping.data();
  CHECK(address.index == 1);
  CHECK(address.descriptor == reinterpret_cast<uint64_t>(base + 0x1000));
  CHECK(address.available == reinterpret_cast<uint64_t>(base + 0x2000));
  CHECK(address.used == reinterpret_cast<uint64_t>(base + 0x3000));
  CHECK(messages[5].as<uint64_t>() == 1);
  REQUIRE(messages[5].fds.size() == 1);
  CHECK(same_file(messages[5].fds[0].get(), kick));
  REQUIRE(messages[6].fds.size() == 1);
  CHECK(same_file(messages[6].fds[0].get(), call));
  CHECK(messages[7].as<vu::VringState>().num == 1);

  auto stopped = frontend->stop_vring(1);
  REQUIRE(stopped);
  CHECK(*stopped == 7);
}

TEST_CASE("vhost-user: a refused memory table, private memory and a ring outside RAM are errors",
          "[vhost-user]") {
  FakeVhostUserBackend backend(kVersion1 | kProtocolFeatures, kReplyAck);
  auto frontend = connect(backend);
  GuestMemory memory = shared_memory();
  backend.set_ack_status(1);
  auto refused = frontend->set_memory_table(memory);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("refused SET_MEM_TABLE"));

  GuestMemory private_memory;
  auto mapping = Mapping::anonymous(1 << 20);
  REQUIRE(mapping);
  REQUIRE(private_memory.add_region(0, std::move(*mapping)));
  auto unshared = frontend->set_memory_table(private_memory);
  REQUIRE_FALSE(unshared);
  CHECK_THAT(unshared.error().message(), Catch::Contains("private"));

  auto outside = frontend->start_vring(memory, vu::VringSetup{0, 16, 0x7000'0000, 0, 0, -1, -1});
  CHECK_FALSE(outside);
}

TEST_CASE("vhost-user: a back end that hangs up or stays silent is an error, not a hang",
          "[vhost-user]") {
  SECTION("hung up") {
    FakeVhostUserBackend backend(kVersion1, 0);
    auto frontend = connect(backend);
    backend.hang_up();
    auto stopped = frontend->stop_vring(0);
    REQUIRE_FALSE(stopped);
    CHECK_THAT(stopped.error().message(), Catch::Contains("GET_VRING_BASE"));
  }
  SECTION("silent") {
    FakeVhostUserBackend backend(kVersion1, 0);
    auto frontend = connect(backend, std::chrono::milliseconds(100));
    backend.go_silent();
    auto stopped = frontend->stop_vring(0);
    REQUIRE_FALSE(stopped);
    CHECK_THAT(stopped.error().message(), Catch::Contains("no answer within 100 ms"));
  }
}
