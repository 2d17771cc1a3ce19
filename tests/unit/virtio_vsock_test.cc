// virtio-vsock (virtio 1.2 §5.10) driven through the virtio-mmio registers and a fake driver's
// rings, with real unix sockets in a temporary directory on the host side: host-initiated streams
// (CONNECT, OP_REQUEST, OP_RESPONSE, "OK"), guest-initiated ones (`<uds>_P`, present and absent),
// data both ways under credit-based flow control, shutdown and reset either way, malformed
// packets, a driver reset, and the socket file's life.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/vsock.h"
#include "devices/virtio/vsock_packet.h"
#include "tests/unit/temp_file.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using namespace wisp;
using namespace wisp::virtio;
using wisp::test::FakeQueue;
using wisp::test::make_guest_memory;
using wisp::test::readable;
using wisp::test::TempDir;
using wisp::test::UsedElement;
using wisp::test::writable;

namespace {

constexpr uint64_t kGuestCid = 3;
constexpr uint64_t kMemoryBytes = 4 << 20;
constexpr uint16_t kQueueSize = 128;
constexpr uint64_t kQueueBase = 0x1000;  // queue i at kQueueBase + i * kQueueStride
constexpr uint64_t kQueueStride = 0x2000;
constexpr uint64_t kTx = 0x100000;  // tx packets, kSlot apart
constexpr uint64_t kRx = 0x200000;  // rx buffers, kSlot apart
constexpr uint64_t kSlot = 0x11000;
constexpr size_t kTxSlots = 8;
constexpr size_t kRxSlots = 16;
constexpr uint32_t kHeaderBytes = sizeof(VsockHeader);
constexpr uint32_t kHostPortBase = 1u << 30;

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof(address.sun_path));
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

// A blocking client of a unix socket path.
Fd connect_to(const std::string& path) {
  Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(socket.valid());
  sockaddr_un address = unix_address(path);
  REQUIRE(::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return socket;
}

// A host program's listening socket at `path`.
Fd listen_at(const std::string& path) {
  Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(socket.valid());
  sockaddr_un address = unix_address(path);
  REQUIRE(::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(::listen(socket.get(), 8) == 0);
  return socket;
}

void write_all(int fd, std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    REQUIRE(sent > 0);
    bytes = bytes.subspan(static_cast<size_t>(sent));
  }
}
void write_all(int fd, std::string_view text) {
  write_all(fd, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

// What `fd` has now, without waiting.
std::vector<uint8_t> read_available(int fd) {
  std::vector<uint8_t> bytes;
  uint8_t buffer[65536];
  while (true) {
    ssize_t got = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got <= 0) break;
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  return bytes;
}
std::string read_text(int fd) {
  std::vector<uint8_t> bytes = read_available(fd);
  return std::string(bytes.begin(), bytes.end());
}

// Whether the peer closed `fd`: a read returns 0 (or an error) at once.
bool peer_closed(int fd) {
  pollfd poll_fd{fd, POLLIN, 0};
  if (::poll(&poll_fd, 1, 0) != 1) return false;
  uint8_t byte;
  ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return got <= 0;
}

std::vector<uint8_t> pattern(size_t length, uint8_t seed) {
  std::vector<uint8_t> bytes(length);
  for (size_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 7 + i / 253);
  return bytes;
}

std::vector<uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

struct Packet {
  VsockHeader header;
  std::vector<uint8_t> payload;
};

// A vsock device behind its transport, a guest driver's three queues, and the host directory.
class Vsock {
 public:
  Vsock() {
    auto created =
        VsockDevice::create(memory, VsockDeviceOptions{"vsock0", kGuestCid, uds}, irq, worker);
    REQUIRE(created);
    device = std::move(*created);
    transport = std::make_unique<MmioTransport>(*device, [this](uint16_t queue) {
      worker.run_and_wait([this, queue] { device->notify_queue(queue); });
    });
    driver = std::make_unique<test::MmioDriver>(*transport);
    for (uint16_t i = 0; i < 3; ++i)
      queues.push_back(
          std::make_unique<FakeQueue>(memory, kQueueBase + kQueueStride * i, kQueueSize));
  }

  void start() {
    std::vector<QueueLayout> layouts;
    for (auto& queue : queues) layouts.push_back(queue->layout());
    uint64_t features = device->device_features() & ~feature_bit(kFeatureRingEventIdx);
    REQUIRE(driver->initialize(features, layouts));
  }

  FakeQueue& rx() { return *queues[kVsockRxQueue]; }
  FakeQueue& tx() { return *queues[kVsockTxQueue]; }

  // The device thread's turn on its host sockets, as epoll would give it.
  void pump(int times = 4) {
    for (int i = 0; i < times; ++i) worker.run_and_wait([this] { device->process_host_events(); });
  }

  // ---- The guest's side ----
  VsockHeader header(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len = 0) const {
    VsockHeader header{};
    header.src_cid = kGuestCid;
    header.dst_cid = kVsockHostCid;
    header.src_port = src_port;
    header.dst_port = dst_port;
    header.len = len;
    header.type = kVsockTypeStream;
    header.op = op;
    header.buf_alloc = guest_buf_alloc;
    header.fwd_cnt = guest_fwd_cnt;
    return header;
  }
  // Posts `header` and `payload` on the tx queue as two buffers, as Linux's driver does, and
  // notifies; checks that the chain came back.
  void send(const VsockHeader& header, std::span<const uint8_t> payload = {}) {
    uint64_t at = kTx + kSlot * (next_tx_slot_++ % kTxSlots);
    REQUIRE(payload.size() + kHeaderBytes <= kSlot);
    REQUIRE(memory.write_obj(at, header));
    REQUIRE(memory.write(at + kHeaderBytes, payload));
    uint16_t head =
        payload.empty()
            ? tx().add_chain({readable(at, kHeaderBytes)})
            : tx().add_chain({readable(at, kHeaderBytes),
                              readable(at + kHeaderBytes, static_cast<uint32_t>(payload.size()))});
    post_tx(head);
  }
  void post_tx(uint16_t head) {
    tx().make_available(head);
    driver->notify(kVsockTxQueue);
    UsedElement used = tx().take_used();
    CHECK(used.id == head);
    CHECK(used.length == 0);
  }
  void send_op(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t flags = 0) {
    VsockHeader packet = header(op, src_port, dst_port);
    packet.flags = flags;
    send(packet);
  }
  void send_data(uint32_t src_port, uint32_t dst_port, std::span<const uint8_t> payload) {
    send(header(kVsockOpRw, src_port, dst_port, static_cast<uint32_t>(payload.size())), payload);
  }

  // Posts `count` rx buffers of `bytes` each (one descriptor each) and notifies.
  void post_rx(size_t count = 4, uint32_t bytes = kHeaderBytes + 4096) {
    for (size_t i = 0; i < count; ++i) {
      uint64_t at = kRx + kSlot * (next_rx_slot_++ % kRxSlots);
      uint16_t head = rx().add_chain({writable(at, bytes)});
      rx_addresses_[head] = at;
      rx().make_available(head);
    }
    driver->notify(kVsockRxQueue);
  }
  // The packets the device returned on the rx queue since the last call.
  std::vector<Packet> received() {
    std::vector<Packet> packets;
    while (rx().used_pending() > 0) {
      UsedElement used = rx().take_used();
      REQUIRE(used.length >= kHeaderBytes);
      uint64_t at = rx_addresses_.at(static_cast<uint16_t>(used.id));
      Packet packet;
      auto header = memory.read_obj<VsockHeader>(at);
      REQUIRE(header);
      packet.header = *header;
      REQUIRE(used.length == kHeaderBytes + packet.header.len);
      packet.payload.resize(packet.header.len);
      REQUIRE(memory.read(at + kHeaderBytes, packet.payload));
      packets.push_back(std::move(packet));
    }
    return packets;
  }
  // The one packet the device returned; REQUIREs that there is exactly one.
  Packet received_one() {
    std::vector<Packet> packets = received();
    REQUIRE(packets.size() == 1);
    return packets.front();
  }

  // A host-initiated stream to guest port `guest_port`, up to "OK": returns the host socket and
  // the host port the device picked.
  std::pair<Fd, uint32_t> connect_from_host(uint32_t guest_port) {
    Fd host = connect_to(uds);
    write_all(host.get(), fmt::format("CONNECT {}\n", guest_port));
    pump();
    post_rx(1);
    Packet request = received_one();
    CHECK(request.header.op == kVsockOpRequest);
    CHECK(request.header.dst_port == guest_port);
    uint32_t host_port = request.header.src_port;
    send_op(kVsockOpResponse, guest_port, host_port);
    CHECK(read_text(host.get()) == fmt::format("OK {}\n", host_port));
    return {std::move(host), host_port};
  }

  TempDir dir{"vsock"};
  std::string uds = dir.file("v.sock");
  GuestMemory memory = make_guest_memory({{0, kMemoryBytes}});
  test::RecordingIrq irq;
  InlineWorker worker;
  std::unique_ptr<VsockDevice> device;
  std::unique_ptr<MmioTransport> transport;
  std::unique_ptr<test::MmioDriver> driver;
  std::vector<std::unique_ptr<FakeQueue>> queues;
  uint32_t guest_buf_alloc = 256 * 1024;
  uint32_t guest_fwd_cnt = 0;

 private:
  size_t next_tx_slot_ = 0;
  size_t next_rx_slot_ = 0;
  std::map<uint16_t, uint64_t> rx_addresses_;
};

}  // namespace

TEST_CASE("virtio-vsock: identity, features and the guest CID in the configuration space",
          "[virtio-vsock]") {
  Vsock vsock;
  CHECK(vsock.driver->read32(mmio::kDeviceId) == kDeviceIdVsock);
  // §5.10.3: no feature bit; stream sockets are implied.
  CHECK(vsock.device->device_features() == VirtioDevice::kTransportFeatures);
  CHECK(vsock.device->queue_count() == 3);
  CHECK(vsock.driver->read_config<uint64_t>(0) == kGuestCid);
  vsock.start();
  CHECK_FALSE(vsock.driver->needs_reset());
}

TEST_CASE("virtio-vsock: a host-initiated stream: CONNECT, request, response, OK, data both ways",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  Fd host = connect_to(vsock.uds);
  write_all(host.get(), "CONNECT 52\n");
  vsock.pump();
  CHECK(vsock.received().empty());  // no rx buffers yet: the request waits
  vsock.post_rx(2);
  Packet request = vsock.received_one();
  CHECK(request.header.op == kVsockOpRequest);
  CHECK(request.header.type == kVsockTypeStream);
  CHECK(request.header.src_cid == kVsockHostCid);
  CHECK(request.header.dst_cid == kGuestCid);
  CHECK(request.header.dst_port == 52);
  CHECK(request.header.src_port >= kHostPortBase);
  CHECK(request.header.src_port < 2 * kHostPortBase);
  CHECK(request.header.buf_alloc == VsockConnection::kBufferBytes);
  CHECK(request.header.len == 0);
  uint32_t host_port = request.header.src_port;
  CHECK(read_text(host.get()).empty());  // no "OK" before the guest answers

  vsock.send_op(kVsockOpResponse, 52, host_port);
  CHECK(read_text(host.get()) == fmt::format("OK {}\n", host_port));
  CHECK(vsock.device->connection_count() == 1);

  write_all(host.get(), "hello guest");
  vsock.pump();
  Packet data = vsock.received_one();
  CHECK(data.header.op == kVsockOpRw);
  CHECK(data.header.src_port == host_port);
  CHECK(data.header.dst_port == 52);
  CHECK(data.payload == bytes_of("hello guest"));

  vsock.send_data(52, host_port, bytes_of("hello host"));
  CHECK(read_text(host.get()) == "hello host");

  SECTION("lower-case connect, as Firecracker takes it") {
    Fd second = connect_to(vsock.uds);
    write_all(second.get(), "connect 53\n");
    vsock.pump();
    vsock.post_rx(1);
    Packet second_request = vsock.received_one();
    CHECK(second_request.header.op == kVsockOpRequest);
    CHECK(second_request.header.dst_port == 53);
    CHECK(second_request.header.src_port != host_port);
  }
  SECTION("bytes the host sends right after its CONNECT line are the stream's first") {
    Fd second = connect_to(vsock.uds);
    write_all(second.get(), "CONNECT 54\nearly");
    vsock.pump();
    vsock.post_rx(1);
    Packet second_request = vsock.received_one();
    uint32_t second_port = second_request.header.src_port;
    vsock.send_op(kVsockOpResponse, 54, second_port);
    CHECK(read_text(second.get()) == fmt::format("OK {}\n", second_port));
    vsock.pump();
    vsock.post_rx(1);
    CHECK(vsock.received_one().payload == bytes_of("early"));
  }
}

TEST_CASE("virtio-vsock: a bad CONNECT line closes the host socket", "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  std::string line = GENERATE(std::string("HELLO 52\n"), std::string("CONNECT\n"),
                              std::string("CONNECT 52x\n"), std::string("CONNECT 4294967296\n"),
                              std::string("CONNECT 1 2\n"), std::string(40, 'C'));
  Fd host = connect_to(vsock.uds);
  write_all(host.get(), line);
  vsock.pump();
  CHECK(peer_closed(host.get()));
  CHECK(vsock.device->connection_count() == 0);
  vsock.post_rx(1);
  CHECK(vsock.received().empty());
}

TEST_CASE("virtio-vsock: the guest refusing a host connection closes the host socket",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  Fd host = connect_to(vsock.uds);
  write_all(host.get(), "CONNECT 99\n");
  vsock.pump();
  vsock.post_rx(1);
  Packet request = vsock.received_one();
  vsock.send_op(kVsockOpRst, 99, request.header.src_port);
  CHECK(peer_closed(host.get()));
  CHECK(read_text(host.get()).empty());  // no "OK"
  CHECK(vsock.device->connection_count() == 0);
}

TEST_CASE("virtio-vsock: host to guest stops at the guest's credit and goes on with its update",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  vsock.guest_buf_alloc = 4096;  // a small window: the device must wait for credit updates
  auto [host, port] = vsock.connect_from_host(52);
  std::vector<uint8_t> sent = pattern(10000, 1);
  write_all(host.get(), sent);
  vsock.pump();
  vsock.post_rx(8);
  std::vector<uint8_t> got;
  auto take = [&] {
    size_t before = got.size();
    for (Packet& packet : vsock.received()) {
      CHECK(packet.header.op == kVsockOpRw);
      got.insert(got.end(), packet.payload.begin(), packet.payload.end());
    }
    return got.size() - before;
  };
  CHECK(take() == 4096);  // all its credit, no more
  vsock.pump();
  CHECK(take() == 0);  // however often the device looks

  // The guest read what it got and says so; the next window follows.
  vsock.guest_fwd_cnt = 4096;
  vsock.send_op(kVsockOpCreditUpdate, 52, port);
  CHECK(take() == 4096);
  vsock.guest_fwd_cnt = 8192;
  vsock.send_op(kVsockOpCreditUpdate, 52, port);
  CHECK(take() == 10000 - 8192);
  CHECK(got == sent);
}

TEST_CASE("virtio-vsock: guest to host beyond one credit window, with the device's updates",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  auto [host, port] = vsock.connect_from_host(52);
  vsock.post_rx(16);
  const uint32_t window = VsockConnection::kBufferBytes;
  const uint32_t chunk = VsockDevice::kMaxPayloadBytes;
  std::vector<uint8_t> sent = pattern(3 * window, 5);
  std::vector<uint8_t> got;
  uint32_t tx_cnt = 0, peer_fwd_cnt = 0;
  bool saw_credit_update = false;
  // The guest sends as its credit allows; the host reads only when the guest has no credit left,
  // so the device holds what the host socket would not take.
  while (got.size() < sent.size()) {
    while (tx_cnt < sent.size() && window - (tx_cnt - peer_fwd_cnt) >= chunk) {
      vsock.send_data(52, port, std::span(sent).subspan(tx_cnt, chunk));
      tx_cnt += chunk;
    }
    std::vector<uint8_t> more = read_available(host.get());
    REQUIRE((!more.empty() || got.size() < tx_cnt));
    got.insert(got.end(), more.begin(), more.end());
    vsock.pump();
    for (Packet& packet : vsock.received()) {
      CHECK(packet.header.len == 0);
      saw_credit_update |= packet.header.op == kVsockOpCreditUpdate;
      peer_fwd_cnt = packet.header.fwd_cnt;
      CHECK(packet.header.buf_alloc == window);
    }
    vsock.post_rx(4);
  }
  CHECK(saw_credit_update);
  CHECK(got == sent);
  // Asked, the device says everything was forwarded.
  vsock.send_op(kVsockOpCreditRequest, 52, port);
  Packet update = vsock.received_one();
  CHECK(update.header.op == kVsockOpCreditUpdate);
  CHECK(update.header.fwd_cnt == tx_cnt);
}

TEST_CASE("virtio-vsock: a guest sending past its credit is reset", "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  auto [host, port] = vsock.connect_from_host(52);
  // Make the host socket refuse more than its buffer: shrink it, and never read.
  int small = 4096;
  REQUIRE(::setsockopt(host.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
  std::vector<uint8_t> chunk = pattern(VsockDevice::kMaxPayloadBytes, 9);
  for (uint32_t sent = 0; sent < VsockConnection::kBufferBytes; sent += chunk.size())
    vsock.send_data(52, port, chunk);
  CHECK(vsock.device->connection_count() == 1);
  vsock.post_rx(4);
  std::vector<Packet> before = vsock.received();  // perhaps credit updates, no reset
  for (const Packet& packet : before) CHECK(packet.header.op != kVsockOpRst);
  uint32_t last_fwd_cnt = before.empty() ? 0 : before.back().header.fwd_cnt;
  // What the guest was told it may send, and one chunk more.
  uint32_t allowed = VsockConnection::kBufferBytes - (VsockConnection::kBufferBytes - last_fwd_cnt);
  for (uint32_t sent = 0; sent <= allowed; sent += chunk.size()) vsock.send_data(52, port, chunk);
  Packet reset = vsock.received().back();
  CHECK(reset.header.op == kVsockOpRst);
  CHECK(reset.header.src_port == port);
  CHECK(reset.header.dst_port == 52);
  CHECK(vsock.device->connection_count() == 0);
}

TEST_CASE("virtio-vsock: a guest-initiated stream to <uds>_PORT", "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  Fd listener = listen_at(vsock.uds + "_1234");
  vsock.post_rx(2);
  vsock.send_op(kVsockOpRequest, 5000, 1234);
  Packet response = vsock.received_one();
  CHECK(response.header.op == kVsockOpResponse);
  CHECK(response.header.src_cid == kVsockHostCid);
  CHECK(response.header.dst_cid == kGuestCid);
  CHECK(response.header.src_port == 1234);
  CHECK(response.header.dst_port == 5000);
  Fd host(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(host.valid());

  vsock.send_data(5000, 1234, bytes_of("ping"));
  CHECK(read_text(host.get()) == "ping");
  write_all(host.get(), "pong");
  vsock.pump();
  Packet data = vsock.received_one();
  CHECK(data.header.op == kVsockOpRw);
  CHECK(data.payload == bytes_of("pong"));

  SECTION("a second guest socket to the same port is a stream of its own") {
    vsock.post_rx(1);
    vsock.send_op(kVsockOpRequest, 5001, 1234);
    CHECK(vsock.received_one().header.op == kVsockOpResponse);
    CHECK(vsock.device->connection_count() == 2);
  }
  SECTION("the host closing its socket: OP_SHUTDOWN, then OP_RST once the guest closes too") {
    host.reset();
    vsock.pump();
    vsock.post_rx(2);
    Packet shutdown = vsock.received_one();
    CHECK(shutdown.header.op == kVsockOpShutdown);
    CHECK((shutdown.header.flags & kVsockShutdownSend) != 0);
    vsock.send_op(kVsockOpShutdown, 5000, 1234, kVsockShutdownSend | kVsockShutdownReceive);
    Packet reset = vsock.received_one();
    CHECK(reset.header.op == kVsockOpRst);
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("the guest closing: the host reads what was sent, then EOF; the guest gets OP_RST") {
    vsock.send_data(5000, 1234, bytes_of("bye"));
    vsock.post_rx(1);
    vsock.send_op(kVsockOpShutdown, 5000, 1234, kVsockShutdownSend | kVsockShutdownReceive);
    CHECK(read_text(host.get()) == "bye");
    CHECK(peer_closed(host.get()));
    CHECK(vsock.received_one().header.op == kVsockOpRst);
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("the guest half-closing: the host reads EOF and may still answer") {
    vsock.send_op(kVsockOpShutdown, 5000, 1234, kVsockShutdownSend);
    CHECK(peer_closed(host.get()));
    write_all(host.get(), "answer");
    vsock.pump();
    vsock.post_rx(1);
    CHECK(vsock.received_one().payload == bytes_of("answer"));
  }
  SECTION("the guest resetting: the host socket is closed") {
    vsock.send_op(kVsockOpRst, 5000, 1234);
    CHECK(peer_closed(host.get()));
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("a credit request is answered with a credit update") {
    vsock.post_rx(1);
    vsock.send_op(kVsockOpCreditRequest, 5000, 1234);
    Packet update = vsock.received_one();
    CHECK(update.header.op == kVsockOpCreditUpdate);
    CHECK(update.header.fwd_cnt == 4);  // "ping"
    CHECK(update.header.buf_alloc == VsockConnection::kBufferBytes);
  }
}

TEST_CASE("virtio-vsock: a guest connection to a port nobody listens on is reset",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  vsock.post_rx(1);
  vsock.send_op(kVsockOpRequest, 5000, 999);
  Packet reset = vsock.received_one();
  CHECK(reset.header.op == kVsockOpRst);
  CHECK(reset.header.src_port == 999);
  CHECK(reset.header.dst_port == 5000);
  CHECK(reset.header.dst_cid == kGuestCid);
  CHECK(vsock.device->connection_count() == 0);
}

TEST_CASE("virtio-vsock: malformed packets are dropped or reset, never a crash", "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  Fd listener = listen_at(vsock.uds + "_1234");
  vsock.post_rx(4);

  SECTION("a chain shorter than the header: dropped") {
    REQUIRE(vsock.memory.fill(kTx, 20, 0x11));
    vsock.post_tx(vsock.tx().add_chain({readable(kTx, 20)}));
    CHECK(vsock.received().empty());
  }
  SECTION("a header split over descriptors is read whole") {
    VsockHeader request = vsock.header(kVsockOpRequest, 5000, 1234);
    REQUIRE(vsock.memory.write_obj(kTx, request));
    vsock.post_tx(vsock.tx().add_chain({readable(kTx, 10), readable(kTx + 10, 34)}));
    CHECK(vsock.received_one().header.op == kVsockOpResponse);
  }
  SECTION("an unknown type: OP_RST (§5.10.6.5)") {
    VsockHeader packet = vsock.header(kVsockOpRequest, 5000, 1234);
    packet.type = 2;  // SEQPACKET, not offered
    vsock.send(packet);
    Packet reset = vsock.received_one();
    CHECK(reset.header.op == kVsockOpRst);
    CHECK(reset.header.dst_port == 5000);
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("a length beyond the chain: OP_RST") {
    VsockHeader packet = vsock.header(kVsockOpRw, 5000, 1234, 100);
    vsock.send(packet, bytes_of("only ten b"));
    CHECK(vsock.received_one().header.op == kVsockOpRst);
  }
  SECTION("a length beyond the largest payload: OP_RST") {
    VsockHeader packet = vsock.header(kVsockOpRw, 5000, 1234, 0xffffffff);
    vsock.send(packet);
    CHECK(vsock.received_one().header.op == kVsockOpRst);
  }
  SECTION("a wrong source CID or a destination other than the host: dropped") {
    VsockHeader packet = vsock.header(kVsockOpRequest, 5000, 1234);
    packet.src_cid = 7;
    vsock.send(packet);
    packet.src_cid = kGuestCid;
    packet.dst_cid = 5;
    vsock.send(packet);
    CHECK(vsock.received().empty());
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("data for no stream: OP_RST; a reset for no stream: nothing") {
    vsock.send_data(5000, 4321, bytes_of("stray"));
    CHECK(vsock.received_one().header.op == kVsockOpRst);
    vsock.send_op(kVsockOpRst, 5000, 4321);
    CHECK(vsock.received().empty());
  }
  SECTION("a bad packet on a live stream resets it and closes the host socket") {
    vsock.send_op(kVsockOpRequest, 5000, 1234);
    CHECK(vsock.received_one().header.op == kVsockOpResponse);
    Fd host(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(host.valid());
    vsock.send(vsock.header(kVsockOpRw, 5000, 1234, 500), bytes_of("short"));
    CHECK(vsock.received_one().header.op == kVsockOpRst);
    CHECK(peer_closed(host.get()));
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("a second request on a live stream resets it") {
    vsock.send_op(kVsockOpRequest, 5000, 1234);
    CHECK(vsock.received_one().header.op == kVsockOpResponse);
    vsock.send_op(kVsockOpRequest, 5000, 1234);
    CHECK(vsock.received_one().header.op == kVsockOpRst);
    CHECK(vsock.device->connection_count() == 0);
  }
  SECTION("an rx chain too small for a header is returned unused") {
    Vsock fresh;
    fresh.start();
    uint16_t head = fresh.rx().add_chain({writable(kRx, 20)});
    fresh.rx().make_available(head);
    fresh.driver->notify(kVsockRxQueue);
    fresh.send_op(kVsockOpRequest, 5000, 999);  // owes a reset
    UsedElement used = fresh.rx().take_used();
    CHECK(used.id == head);
    CHECK(used.length == 0);
  }
  CHECK_FALSE(vsock.driver->needs_reset());
}

TEST_CASE("virtio-vsock: a packet split over several rx descriptors", "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  Fd listener = listen_at(vsock.uds + "_7");
  // A header buffer and a data buffer, as Linux's driver posted them before 6.2.
  uint16_t head = vsock.rx().add_chain({writable(kRx, kHeaderBytes), writable(kRx + 0x100, 64)});
  vsock.rx().make_available(head);
  vsock.driver->notify(kVsockRxQueue);
  vsock.send_op(kVsockOpRequest, 40, 7);
  vsock.rx().take_used();
  Fd host(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(host.valid());
  write_all(host.get(), std::string(100, 'x'));  // more than the data buffer holds
  vsock.pump();
  uint16_t second = vsock.rx().add_chain({writable(kRx, kHeaderBytes), writable(kRx + 0x100, 64)});
  vsock.rx().make_available(second);
  vsock.driver->notify(kVsockRxQueue);
  UsedElement used = vsock.rx().take_used();
  CHECK(used.id == second);
  CHECK(used.length == kHeaderBytes + 64);
  auto header = vsock.memory.read_obj<VsockHeader>(kRx);
  REQUIRE(header);
  CHECK(header->op == kVsockOpRw);
  CHECK(header->len == 64);
}

TEST_CASE("virtio-vsock: a driver reset closes every stream, and the listener stays",
          "[virtio-vsock]") {
  Vsock vsock;
  vsock.start();
  auto [host, port] = vsock.connect_from_host(52);
  vsock.driver->reset();
  CHECK(peer_closed(host.get()));
  CHECK(vsock.device->connection_count() == 0);
  // Connections made meanwhile wait for the driver.
  Fd waiting = connect_to(vsock.uds);
  write_all(waiting.get(), "CONNECT 52\n");
  vsock.queues.clear();
  for (uint16_t i = 0; i < 3; ++i)
    vsock.queues.push_back(
        std::make_unique<FakeQueue>(vsock.memory, kQueueBase + kQueueStride * i, kQueueSize));
  vsock.start();
  vsock.pump();
  vsock.post_rx(1);
  CHECK(vsock.received_one().header.op == kVsockOpRequest);
}

TEST_CASE("virtio-vsock: the socket file: an existing one is refused, the device's is removed",
          "[virtio-vsock]") {
  TempDir dir("vsock");
  GuestMemory memory = make_guest_memory({{0, kMemoryBytes}});
  test::RecordingIrq irq;
  InlineWorker worker;
  std::string path = dir.file("v.sock");
  {
    auto device = VsockDevice::create(memory, {"vsock0", kGuestCid, path}, irq, worker);
    REQUIRE(device);
    struct stat file {};
    REQUIRE(::stat(path.c_str(), &file) == 0);
    CHECK(S_ISSOCK(file.st_mode));
    // As Firecracker: a file already there is not replaced.
    auto second = VsockDevice::create(memory, {"vsock1", kGuestCid, path}, irq, worker);
    REQUIRE_FALSE(second);
    CHECK_THAT(second.error().message(), Catch::Contains(path) && Catch::Contains("exists"));
  }
  CHECK_FALSE(std::filesystem::exists(path));

  auto missing =
      VsockDevice::create(memory, {"vsock0", kGuestCid, dir.file("none/v.sock")}, irq, worker);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("No such file or directory"));
}
