// virtio-blk (virtio 1.x §5.2) driven through the virtio-mmio registers and a fake driver's rings:
// first with a fake back end that completes operations when the test says (in-flight states,
// host errors, short transfers, reset and shutdown with requests in flight), then with the real
// SyncBackend and IoUringBackend on a temporary image file. Also DiskImage::open.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/block/block_backend.h"
#include "devices/block/disk_image.h"
#include "devices/block/io_uring_backend.h"
#include "devices/block/sync_backend.h"
#include "devices/virtio/block.h"
#include "devices/virtio/block_request.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"

using namespace wisp;
using namespace wisp::virtio;
using Catch::Matchers::Contains;
using wisp::test::FakeBuffer;
using wisp::test::FakeQueue;
using wisp::test::make_guest_memory;
using wisp::test::MmioHarness;
using wisp::test::readable;
using wisp::test::UsedElement;
using wisp::test::writable;

namespace {

// §5.2.3 feature bits, as the driver sees them.
constexpr uint32_t kFeatureSizeMax = 1;
constexpr uint32_t kFeatureSegMax = 2;
constexpr uint32_t kFeatureReadOnly = 5;
constexpr uint32_t kFeatureBlockSize = 6;
constexpr uint32_t kFeatureFlush = 9;
constexpr uint32_t kFeatureMultiQueue = 12;
constexpr uint32_t kFeatureDiscard = 13;
constexpr uint32_t kFeatureWriteZeroes = 14;

// Guest memory: [0, 1 MiB) and [2 MiB, 3 MiB).
constexpr uint64_t kHighRam = 0x200000;
constexpr uint64_t kQueueBase = 0x1000;  // queue i at kQueueBase + i * kQueueStride
constexpr uint64_t kQueueStride = 0x2000;
constexpr uint64_t kHeaders = 0x10000;   // 16-byte request headers
constexpr uint64_t kStatuses = 0x18000;  // status bytes
constexpr uint64_t kData = 0x20000;      // data buffers, up to kTables
constexpr uint64_t kTables = 0xf0000;    // indirect tables
constexpr uint8_t kUntouched = 0xee;     // what a status byte holds before the device writes it

constexpr uint64_t kDiskBytes = 1 << 20;
constexpr uint64_t kDiskSectors = kDiskBytes / 512;

// ---- A back end that records operations and completes them when the test says. ----
class FakeBackend final : public BlockBackend {
 public:
  struct Op {
    BlockOp op;
    uint64_t offset;
    uint64_t length;
    std::vector<iovec> buffers;
    uint64_t tag;
    bool submitted = false;
    bool completed = false;
  };

  FakeBackend() : event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { REQUIRE(event_.valid()); }

  std::string_view name() const override { return "fake"; }
  bool enqueue(const BlockIo& io) override {
    std::lock_guard lock(mutex_);
    if (refuse_enqueue) return false;
    ops_.push_back(Op{io.op, io.offset, io.length, {io.buffers.begin(), io.buffers.end()}, io.tag});
    return true;
  }
  void submit() override {
    std::lock_guard lock(mutex_);
    ++submits;
    for (Op& op : ops_) op.submitted = true;
  }
  int completion_fd() const override { return event_.get(); }
  void reap(const std::function<void(const BlockCompletion&)>& done) override {
    std::vector<BlockCompletion> ready;
    {
      std::lock_guard lock(mutex_);
      uint64_t count;
      [[maybe_unused]] ssize_t n = ::read(event_.get(), &count, sizeof(count));
      ready.swap(ready_);
    }
    for (const BlockCompletion& completion : ready) done(completion);
  }
  uint32_t in_flight() const override {
    std::lock_guard lock(mutex_);
    uint32_t count = static_cast<uint32_t>(ready_.size());
    for (const Op& op : ops_) count += op.completed ? 0 : 1;
    return count;
  }
  int sync_now() override {
    ++syncs;
    return sync_result;
  }

  // ---- The test's side. ----
  size_t op_count() const {
    std::lock_guard lock(mutex_);
    return ops_.size();
  }
  Op op(size_t index) const {
    std::lock_guard lock(mutex_);
    REQUIRE(index < ops_.size());
    return ops_[index];
  }
  // Completes operation `index` with `result` (bytes or -errno); a read's transferred bytes are
  // filled with `fill`, as the host would. Returns whether the operation had been submitted.
  bool complete(size_t index, int64_t result, uint8_t fill = 0) {
    std::lock_guard lock(mutex_);
    Op& op = ops_.at(index);
    if (op.op == BlockOp::kRead && result > 0) {
      auto left = static_cast<uint64_t>(result);
      for (const iovec& buffer : op.buffers) {
        size_t length = std::min<uint64_t>(left, buffer.iov_len);
        std::memset(buffer.iov_base, fill, length);
        left -= length;
      }
    }
    op.completed = true;
    ready_.push_back({op.tag, result});
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof(one));
    return op.submitted;
  }

  std::atomic<bool> refuse_enqueue{false};
  std::atomic<int> submits{0};
  std::atomic<int> syncs{0};
  int sync_result = 0;

 private:
  mutable std::mutex mutex_;
  Fd event_;
  std::vector<Op> ops_;
  std::vector<BlockCompletion> ready_;
};

// ---- A virtio-blk device, its guest memory, its queues and the driver's request helpers. ----
struct Sent {
  uint16_t head;
  uint64_t status;  // the guest address of the status byte
};

class Blk {
 public:
  Blk(BlockDeviceOptions options, std::unique_ptr<BlockBackend> backend)
      : harness(memory, std::move(options), std::move(backend)) {
    for (uint16_t i = 0; i < harness.device.queue_count(); ++i)
      queues.push_back(std::make_unique<FakeQueue>(memory, kQueueBase + kQueueStride * i,
                                                   BlockDevice::kQueueSize));
  }

  // Negotiates everything the device offers and starts every queue.
  void start() { start(harness.device.device_features()); }
  void start(uint64_t features) {
    std::vector<QueueLayout> layouts;
    for (auto& queue : queues) layouts.push_back(queue->layout());
    REQUIRE(driver.initialize(features, layouts));
  }

  FakeQueue& queue(uint16_t index = 0) { return *queues.at(index); }

  // A request header (struct virtio_blk_req's first 16 bytes) in the next header slot.
  uint64_t header(uint32_t type, uint64_t sector) {
    uint64_t at = kHeaders + 16 * (next_header_++ % 1024);
    uint8_t bytes[16] = {};
    std::memcpy(bytes, &type, 4);
    std::memcpy(bytes + 8, &sector, 8);
    REQUIRE(memory.write(at, bytes));
    return at;
  }
  // A fresh status byte, holding kUntouched.
  uint64_t status_byte() {
    uint64_t at = kStatuses + (next_status_++ % 4096);
    REQUIRE(memory.write_obj(at, kUntouched));
    return at;
  }
  uint8_t status_at(uint64_t address) const {
    auto value = memory.read_obj<uint8_t>(address);
    REQUIRE(value);
    return *value;
  }
  uint8_t status(const Sent& sent) const { return status_at(sent.status); }

  // Makes the chain of `buffers` available on `queue` and, if `kick`, notifies the device.
  uint16_t post(std::initializer_list<FakeBuffer> buffers, uint16_t queue_index = 0,
                bool kick = true) {
    uint16_t head = queue(queue_index).add_chain(buffers);
    queue(queue_index).make_available(head);
    if (kick) driver.notify(queue_index);
    return head;
  }

  Sent read(uint64_t sector, uint64_t data, uint32_t length, uint16_t queue_index = 0,
            bool kick = true) {
    uint64_t status = status_byte();
    uint64_t hdr = header(kBlockTypeIn, sector);
    uint16_t head = length ? post({readable(hdr, 16), writable(data, length), writable(status, 1)},
                                  queue_index, kick)
                           : post({readable(hdr, 16), writable(status, 1)}, queue_index, kick);
    return {head, status};
  }
  Sent write(uint64_t sector, uint64_t data, uint32_t length, uint16_t queue_index = 0,
             bool kick = true) {
    uint64_t status = status_byte();
    uint64_t hdr = header(kBlockTypeOut, sector);
    uint16_t head = length ? post({readable(hdr, 16), readable(data, length), writable(status, 1)},
                                  queue_index, kick)
                           : post({readable(hdr, 16), writable(status, 1)}, queue_index, kick);
    return {head, status};
  }
  Sent flush() { return simple(kBlockTypeFlush); }
  // A request of `type` with no data.
  Sent simple(uint32_t type) {
    uint64_t status = status_byte();
    uint64_t hdr = header(type, 0);
    return {post({readable(hdr, 16), writable(status, 1)}), status};
  }
  Sent get_id(uint64_t data, uint32_t length) {
    uint64_t status = status_byte();
    uint64_t hdr = header(kBlockTypeGetId, 0);
    return {post({readable(hdr, 16), writable(data, length), writable(status, 1)}), status};
  }
  // A discard or write-zeroes request with one segment, put at `segment_at`.
  Sent segment(uint32_t type, uint64_t sector, uint32_t count, uint32_t flags,
               uint64_t segment_at = kTables - 0x100) {
    BlockSegment segment{sector, count, flags};
    REQUIRE(memory.write_obj(segment_at, segment));
    uint64_t status = status_byte();
    uint64_t hdr = header(type, 0);
    return {post({readable(hdr, 16), readable(segment_at, 16), writable(status, 1)}), status};
  }

  // The next used element of `queue`, waiting for the back end's completions (a real back end
  // completes asynchronously) for at most ten seconds.
  UsedElement wait_used(uint16_t queue_index = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (queue(queue_index).used_pending() == 0) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      pollfd ready{harness.device.completion_fd(), POLLIN, 0};
      ::poll(&ready, 1, 100);
      harness.device.complete_io();
    }
    return queue(queue_index).take_used();
  }
  // Waits for `sent` to come back and returns its status byte; checks the used element.
  uint8_t finish(const Sent& sent, uint32_t expected_length, uint16_t queue_index = 0) {
    UsedElement used = wait_used(queue_index);
    CHECK(used.id == sent.head);
    CHECK(used.length == expected_length);
    return status(sent);
  }

  void fill(uint64_t address, uint64_t length, uint8_t seed) {
    std::vector<uint8_t> bytes(length);
    for (size_t i = 0; i < length; ++i) bytes[i] = static_cast<uint8_t>(seed + i * 7 + i / 511);
    REQUIRE(memory.write(address, bytes));
  }
  std::vector<uint8_t> bytes(uint64_t address, uint64_t length) const {
    std::vector<uint8_t> out(length);
    REQUIRE(memory.read(address, out));
    return out;
  }
  bool all(uint64_t address, uint64_t length, uint8_t value) const {
    auto data = bytes(address, length);
    return std::all_of(data.begin(), data.end(), [value](uint8_t b) { return b == value; });
  }

  GuestMemory memory = make_guest_memory({{0, 0x100000}, {kHighRam, 0x100000}});
  MmioHarness<BlockDevice> harness;
  BlockDevice& device = harness.device;
  test::MmioDriver& driver = harness.driver;
  std::vector<std::unique_ptr<FakeQueue>> queues;

 private:
  uint32_t next_header_ = 0;
  uint32_t next_status_ = 0;
};

BlockDeviceOptions options(uint64_t capacity = kDiskBytes) {
  BlockDeviceOptions result;
  result.name = "blk0";
  result.capacity_bytes = capacity;
  result.serial = "wisp-test-serial";
  return result;
}

// A Blk over a FakeBackend, with the back end kept at hand.
struct FakeBlk {
  explicit FakeBlk(BlockDeviceOptions opts = options()) {
    auto owned = std::make_unique<FakeBackend>();
    backend = owned.get();
    blk = std::make_unique<Blk>(std::move(opts), std::move(owned));
    blk->start();
  }
  FakeBackend* backend;
  std::unique_ptr<Blk> blk;
};

// The host address of guest [address, address + length).
uint8_t* host(const GuestMemory& memory, uint64_t address, uint64_t length) {
  auto span = memory.slice(address, length);
  REQUIRE(span);
  return span->data();
}

}  // namespace

// ============================== With a fake back end ==============================

TEST_CASE("virtio-blk: a read goes to the back end and completes when it does", "[virtio][block]") {
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent sent = blk.read(3, kData, 1024);
  REQUIRE(f.backend->op_count() == 1);
  FakeBackend::Op op = f.backend->op(0);
  CHECK(op.op == BlockOp::kRead);
  CHECK(op.offset == 3 * 512);
  CHECK(op.length == 1024);
  CHECK(op.submitted);
  REQUIRE(op.buffers.size() == 1);
  CHECK(op.buffers[0].iov_base == host(blk.memory, kData, 1024));
  CHECK(op.buffers[0].iov_len == 1024);

  // In flight: nothing returned, no status, no interrupt.
  CHECK(blk.status(sent) == kUntouched);
  CHECK(blk.queue().used_index() == 0);
  CHECK(blk.harness.irq.raised == 0);
  blk.device.complete_io();  // nothing to reap
  CHECK(blk.queue().used_index() == 0);

  REQUIRE(f.backend->complete(0, 1024, 0x5a));
  blk.device.complete_io();
  UsedElement used = blk.queue().take_used();
  CHECK(used.id == sent.head);
  CHECK(used.length == 1025);  // the data and the status byte
  CHECK(blk.status(sent) == kBlockStatusOk);
  CHECK(blk.all(kData, 1024, 0x5a));
  CHECK(blk.harness.irq.raised == 1);
  CHECK(blk.driver.interrupt_status() == kInterruptUsedBuffer);
}

TEST_CASE("virtio-blk: requests complete in the order the back end finishes them",
          "[virtio][block]") {
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent first = blk.write(0, kData, 512, 0, false);
  Sent second = blk.read(8, kData + 0x1000, 4096, 0, false);
  Sent third = blk.flush();  // one notification for the three
  REQUIRE(f.backend->op_count() == 3);
  CHECK(f.backend->op(0).op == BlockOp::kWrite);
  CHECK(f.backend->op(1).op == BlockOp::kRead);
  CHECK(f.backend->op(2).op == BlockOp::kFlush);
  CHECK(f.backend->submits == 1);

  REQUIRE(f.backend->complete(2, 0));
  REQUIRE(f.backend->complete(1, 4096));
  blk.device.complete_io();
  CHECK(blk.queue().take_used().id == third.head);
  CHECK(blk.queue().take_used().id == second.head);
  CHECK(blk.queue().used_pending() == 0);
  CHECK(blk.status(first) == kUntouched);
  CHECK(blk.harness.irq.raised == 1);  // one interrupt for both

  // EVENT_IDX is negotiated: the driver asks for the next interrupt as Linux does, once it has
  // consumed what was returned.
  blk.queue().set_used_event(2);
  REQUIRE(f.backend->complete(0, 512));
  blk.device.complete_io();
  UsedElement used = blk.queue().take_used();
  CHECK(used.id == first.head);
  CHECK(used.length == 1);  // a write returns only the status byte
  CHECK(blk.status(first) == kBlockStatusOk);
  CHECK(blk.harness.irq.raised == 2);
}

TEST_CASE("virtio-blk: host errors become VIRTIO_BLK_S_IOERR", "[virtio][block]") {
  int error = GENERATE(EIO, ENOSPC, EINVAL);
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent read = blk.read(0, kData, 512);
  Sent write = blk.write(0, kData, 512);
  Sent flush = blk.flush();
  REQUIRE(f.backend->op_count() == 3);
  for (size_t i = 0; i < 3; ++i) REQUIRE(f.backend->complete(i, -error));
  blk.device.complete_io();
  CHECK(blk.queue().used_pending() == 3);
  for (const Sent& sent : {read, write, flush}) {
    UsedElement used = blk.queue().take_used();
    CHECK(used.id == sent.head);
    CHECK(used.length == 1);  // nothing counted as read
    CHECK(blk.status(sent) == kBlockStatusIoError);
  }
}

TEST_CASE("virtio-blk: a short transfer is continued where it stopped", "[virtio][block]") {
  FakeBlk f;
  Blk& blk = *f.blk;
  uint64_t status = blk.status_byte();
  uint64_t hdr = blk.header(kBlockTypeIn, 10);
  uint16_t head = blk.post({readable(hdr, 16), writable(kData, 512), writable(kData + 0x1000, 512),
                            writable(kData + 0x2000, 512), writable(status, 1)});
  REQUIRE(f.backend->op_count() == 1);
  CHECK(f.backend->op(0).buffers.size() == 3);

  // 700 bytes: the first buffer and 188 bytes of the second.
  REQUIRE(f.backend->complete(0, 700, 0x11));
  blk.device.complete_io();
  CHECK(blk.queue().used_pending() == 0);
  REQUIRE(f.backend->op_count() == 2);
  FakeBackend::Op rest = f.backend->op(1);
  CHECK(rest.op == BlockOp::kRead);
  CHECK(rest.offset == 10 * 512 + 700);
  CHECK(rest.length == 1536 - 700);
  CHECK(rest.submitted);
  REQUIRE(rest.buffers.size() == 2);
  CHECK(rest.buffers[0].iov_base == host(blk.memory, kData + 0x1000 + 188, 324));
  CHECK(rest.buffers[0].iov_len == 324);
  CHECK(rest.buffers[1].iov_base == host(blk.memory, kData + 0x2000, 512));
  CHECK(rest.buffers[1].iov_len == 512);

  // Then exactly the first remaining buffer, then the rest.
  REQUIRE(f.backend->complete(1, 324, 0x22));
  blk.device.complete_io();
  REQUIRE(f.backend->op_count() == 3);
  FakeBackend::Op last = f.backend->op(2);
  CHECK(last.offset == 10 * 512 + 1024);
  CHECK(last.length == 512);
  REQUIRE(last.buffers.size() == 1);
  CHECK(last.buffers[0].iov_base == host(blk.memory, kData + 0x2000, 512));
  REQUIRE(f.backend->complete(2, 512, 0x33));
  blk.device.complete_io();

  UsedElement used = blk.queue().take_used();
  CHECK(used.id == head);
  CHECK(used.length == 1537);
  CHECK(blk.status_at(status) == kBlockStatusOk);
  CHECK(blk.all(kData, 512, 0x11));
  CHECK(blk.all(kData + 0x1000, 188, 0x11));
  CHECK(blk.all(kData + 0x1000 + 188, 324, 0x22));
  CHECK(blk.all(kData + 0x2000, 512, 0x33));
}

TEST_CASE("virtio-blk: a transfer of 0 bytes, or more than asked, is an I/O error",
          "[virtio][block]") {
  int64_t result = GENERATE(0, 1025, 1 << 30);
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent sent = blk.read(0, kData, 1024);
  REQUIRE(f.backend->complete(0, result));
  blk.device.complete_io();
  CHECK(f.backend->op_count() == 1);  // not retried
  UsedElement used = blk.queue().take_used();
  CHECK(used.id == sent.head);
  CHECK(used.length == 1);
  CHECK(blk.status(sent) == kBlockStatusIoError);
}

TEST_CASE("virtio-blk: a back end that refuses work gets VIRTIO_BLK_S_IOERR", "[virtio][block]") {
  BlockDeviceOptions opts = options();
  opts.discard = true;
  FakeBlk f(opts);
  Blk& blk = *f.blk;

  SECTION("at once") {
    f.backend->refuse_enqueue = true;
    Sent sents[] = {blk.read(0, kData, 512), blk.write(0, kData, 512), blk.flush(),
                    blk.segment(kBlockTypeDiscard, 0, 8, 0),
                    blk.segment(kBlockTypeWriteZeroes, 0, 8, 0)};
    for (const Sent& sent : sents) {
      UsedElement used = blk.queue().take_used();
      CHECK(used.id == sent.head);
      CHECK(used.length == 1);
      CHECK(blk.status(sent) == kBlockStatusIoError);
    }
    CHECK(f.backend->op_count() == 0);
    // Nothing is left in flight: a later request goes through.
    f.backend->refuse_enqueue = false;
    Sent ok = blk.flush();
    REQUIRE(f.backend->complete(0, 0));
    blk.device.complete_io();
    CHECK(blk.queue().take_used().id == ok.head);
    CHECK(blk.status(ok) == kBlockStatusOk);
  }
  SECTION("when a short transfer is continued") {
    Sent sent = blk.write(0, kData, 1024);
    f.backend->refuse_enqueue = true;
    REQUIRE(f.backend->complete(0, 512));
    blk.device.complete_io();
    UsedElement used = blk.queue().take_used();
    CHECK(used.id == sent.head);
    CHECK(blk.status(sent) == kBlockStatusIoError);
  }
}

TEST_CASE("virtio-blk: a head made available again while in flight needs a reset",
          "[virtio][block]") {
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent sent = blk.read(0, kData, 512);
  blk.queue().make_available(sent.head);
  blk.driver.notify(0);
  CHECK(blk.driver.needs_reset());
  CHECK(blk.driver.interrupt_status() & kInterruptConfigChange);
  CHECK(f.backend->op_count() == 1);
  // The request in flight still completes normally until the driver resets.
  REQUIRE(f.backend->complete(0, 512));
  blk.device.complete_io();
  CHECK(blk.status(sent) == kBlockStatusOk);
}

TEST_CASE("virtio-blk: requests started before a broken chain are still submitted",
          "[virtio][block]") {
  // Otherwise they would sit in the back end unsubmitted, and reset or shutdown would wait for
  // them for ever.
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent sent = blk.read(0, kData, 512, 0, /*kick=*/false);
  SECTION("the same head twice in one batch") {
    blk.queue().make_available(sent.head);
  }
  SECTION("a malformed chain after it") {
    blk.queue().make_available(9999);
  }
  blk.driver.notify(0);
  REQUIRE(blk.driver.needs_reset());
  REQUIRE(f.backend->op_count() == 1);
  CHECK(f.backend->op(0).submitted);
}

TEST_CASE("virtio-blk: reset with a request in flight writes nothing more to the guest",
          "[virtio][block]") {
  FakeBlk f;
  Blk& blk = *f.blk;

  SECTION("the completions are already waiting") {
    Sent sent = blk.read(0, kData, 512);
    Sent other = blk.write(4, kData + 0x1000, 512);
    REQUIRE(f.backend->complete(1, 512));
    REQUIRE(f.backend->complete(0, 512, 0x77));
    blk.driver.reset();
    CHECK(blk.driver.status() == 0);
    CHECK(blk.status(sent) == kUntouched);
    CHECK(blk.status(other) == kUntouched);
    CHECK(blk.queue().used_index() == 0);
    CHECK(blk.harness.irq.raised == 0);
    blk.device.complete_io();  // nothing left to reap
    CHECK(blk.queue().used_index() == 0);
  }
  SECTION("the completion arrives while reset waits for it") {
    Sent sent = blk.write(0, kData, 4096);
    std::atomic<bool> completed{false};
    std::thread completer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      completed = true;
      f.backend->complete(0, 4096);
    });
    blk.driver.reset();
    CHECK(completed);  // reset returned only once the back end was done
    completer.join();
    CHECK(blk.driver.status() == 0);
    CHECK(blk.status(sent) == kUntouched);
    CHECK(blk.queue().used_index() == 0);
    CHECK(f.backend->in_flight() == 0);
  }

  // The device starts again with fresh rings.
  FakeQueue fresh(blk.memory, 0x60000, 16);
  QueueLayout layouts[] = {fresh.layout()};
  REQUIRE(blk.driver.initialize(blk.device.device_features(), layouts));
  uint64_t status = blk.status_byte();
  fresh.make_available(
      fresh.add_chain({readable(blk.header(kBlockTypeFlush, 0), 16), writable(status, 1)}));
  blk.driver.notify(0);
  size_t flush = f.backend->op_count() - 1;
  CHECK(f.backend->op(flush).op == BlockOp::kFlush);
  REQUIRE(f.backend->complete(flush, 0));
  blk.device.complete_io();
  CHECK(fresh.used_index() == 1);
  CHECK(blk.status_at(status) == kBlockStatusOk);
}

TEST_CASE("virtio-blk: shut_down completes what is in flight and syncs the disk",
          "[virtio][block]") {
  SECTION("writable disk") {
    FakeBlk f;
    Blk& blk = *f.blk;
    Sent sent = blk.write(0, kData, 512);
    std::thread completer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      f.backend->complete(0, 512);
    });
    blk.device.shut_down();
    completer.join();
    UsedElement used = blk.queue().take_used();
    CHECK(used.id == sent.head);
    CHECK(blk.status(sent) == kBlockStatusOk);
    CHECK(f.backend->syncs == 1);
    CHECK(blk.harness.irq.raised == 1);
  }
  SECTION("a short transfer is finished, not cut") {
    FakeBlk f;
    Blk& blk = *f.blk;
    Sent sent = blk.read(0, kData, 1024);
    std::thread completer([&] {
      f.backend->complete(0, 512, 0x44);
      while (f.backend->op_count() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      f.backend->complete(1, 512, 0x55);
    });
    blk.device.shut_down();
    completer.join();
    CHECK(blk.queue().take_used().length == 1025);
    CHECK(blk.status(sent) == kBlockStatusOk);
    CHECK(blk.all(kData + 512, 512, 0x55));
  }
  SECTION("a read-only disk is not synced") {
    BlockDeviceOptions opts = options();
    opts.read_only = true;
    FakeBlk f(opts);
    f.blk->device.shut_down();
    CHECK(f.backend->syncs == 0);
  }
  SECTION("a failing sync is survived") {
    FakeBlk f;
    f.backend->sync_result = -EIO;
    f.blk->device.shut_down();
    CHECK(f.backend->syncs == 1);
  }
  SECTION("before the driver ever started the device") {
    auto owned = std::make_unique<FakeBackend>();
    FakeBackend* backend = owned.get();
    Blk blk(options(), std::move(owned));
    blk.device.shut_down();
    CHECK(backend->syncs == 1);
  }
}

TEST_CASE("virtio-blk: requests on several queues complete on their own queue", "[virtio][block]") {
  BlockDeviceOptions opts = options();
  opts.queue_count = 4;
  FakeBlk f(opts);
  Blk& blk = *f.blk;
  Sent on3 = blk.read(0, kData, 512, 3);
  Sent on1 = blk.read(0, kData + 0x1000, 512, 1);
  REQUIRE(f.backend->op_count() == 2);
  CHECK(f.backend->op(0).tag != f.backend->op(1).tag);
  REQUIRE(f.backend->complete(0, 512));
  REQUIRE(f.backend->complete(1, 512));
  blk.device.complete_io();
  CHECK(blk.queue(3).take_used().id == on3.head);
  CHECK(blk.queue(1).take_used().id == on1.head);
  CHECK(blk.queue(0).used_index() == 0);
  CHECK(blk.queue(2).used_index() == 0);
}

TEST_CASE("virtio-blk: EVENT_IDX suppresses interrupts the driver did not ask for",
          "[virtio][block]") {
  auto owned = std::make_unique<FakeBackend>();
  FakeBackend* backend = owned.get();
  Blk blk(options(), std::move(owned));
  blk.start();
  REQUIRE(blk.driver.negotiated() & feature_bit(kFeatureRingEventIdx));
  blk.queue().set_used_event(1);  // interrupt once the second request is returned
  blk.flush();
  blk.flush();
  CHECK(blk.queue().avail_event() == 2);  // notify me after the second
  REQUIRE(backend->complete(0, 0));
  blk.device.complete_io();
  CHECK(blk.queue().used_index() == 1);
  CHECK(blk.harness.irq.raised == 0);
  REQUIRE(backend->complete(1, 0));
  blk.device.complete_io();
  CHECK(blk.queue().used_index() == 2);
  CHECK(blk.harness.irq.raised == 1);
}

// ============================== With the real back ends ==============================

namespace {

enum class BackendKind { kSync, kIoUring };

// A temporary image file with a unique name (ctest runs tests in parallel), removed at the end.
class TempImage {
 public:
  explicit TempImage(uint64_t size, bool allocate = false) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "wisp-virtio-blk-XXXXXX").string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    Fd fd(::mkstemp(name.data()));
    REQUIRE(fd.valid());
    path_ = name.data();
    if (allocate) {
      // Written data, so that the file owns its blocks.
      std::vector<uint8_t> bytes(size);
      for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 1);
      REQUIRE(::pwrite(fd.get(), bytes.data(), size, 0) == static_cast<ssize_t>(size));
      REQUIRE(::fsync(fd.get()) == 0);
    } else {
      REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
    }
  }
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;

  const std::string& path() const { return path_; }
  std::vector<uint8_t> contents(uint64_t offset, uint64_t length) const {
    Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd.valid());
    std::vector<uint8_t> bytes(length);
    REQUIRE(::pread(fd.get(), bytes.data(), length, static_cast<off_t>(offset)) ==
            static_cast<ssize_t>(length));
    return bytes;
  }
  // Bytes the file takes on its file system.
  uint64_t allocated_bytes() const {
    struct stat info {};
    REQUIRE(::stat(path_.c_str(), &info) == 0);
    return static_cast<uint64_t>(info.st_blocks) * 512;
  }

 private:
  std::string path_;
};

const char* kind_name(BackendKind kind) {
  return kind == BackendKind::kSync ? "sync" : "io_uring";
}

std::unique_ptr<BlockBackend> open_backend(BackendKind kind, const TempImage& image,
                                           DiskAccess access, uint64_t& size) {
  auto disk = DiskImage::open(image.path(), access, DiskCache::kWriteback);
  if (!disk) FAIL(disk.error().message());
  size = disk->size_bytes;
  Result<std::unique_ptr<BlockBackend>> backend =
      kind == BackendKind::kSync ? SyncBackend::create(std::move(disk->fd))
                                 : IoUringBackend::create(std::move(disk->fd), 256);
  // io_uring is expected to work on this host: fail rather than skip.
  if (!backend) FAIL(kind_name(kind) << " back end: " << backend.error().message());
  return std::move(*backend);
}

// A virtio-blk device on a real back end over a temporary image.
struct RealBlk {
  explicit RealBlk(BackendKind kind, uint64_t size = kDiskBytes, bool allocate = false,
                   DiskAccess access = DiskAccess::kReadWrite, bool discard = false)
      : image(size, allocate) {
    uint64_t capacity = 0;
    auto backend = open_backend(kind, image, access, capacity);
    REQUIRE(backend->name() == kind_name(kind));
    BlockDeviceOptions opts = options(capacity);
    opts.read_only = access == DiskAccess::kReadOnly;
    opts.discard = discard;
    blk = std::make_unique<Blk>(std::move(opts), std::move(backend));
    blk->start();
  }
  TempImage image;
  std::unique_ptr<Blk> blk;
};

}  // namespace

TEST_CASE("virtio-blk: a pattern written through the rings reads back", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);
  Blk& blk = *r.blk;

  // 8 KiB at sector 16, from a buffer in low RAM and one above the hole.
  blk.fill(kData, 4096, 3);
  blk.fill(kHighRam + 0x1000, 4096, 99);
  uint64_t status = blk.status_byte();
  uint64_t hdr = blk.header(kBlockTypeOut, 16);
  uint16_t head = blk.post({readable(hdr, 16), readable(kData, 4096),
                            readable(kHighRam + 0x1000, 4096), writable(status, 1)});
  CHECK(blk.finish({head, status}, 1) == kBlockStatusOk);
  Sent flush = blk.flush();
  CHECK(blk.finish(flush, 1) == kBlockStatusOk);

  std::vector<uint8_t> expected = blk.bytes(kData, 4096);
  std::vector<uint8_t> high = blk.bytes(kHighRam + 0x1000, 4096);
  expected.insert(expected.end(), high.begin(), high.end());
  CHECK(r.image.contents(16 * 512, 8192) == expected);

  // Read it back in three unequal pieces.
  uint64_t read_status = blk.status_byte();
  uint64_t read_hdr = blk.header(kBlockTypeIn, 16);
  REQUIRE(blk.memory.fill(kData + 0x10000, 0x3000, 0));
  uint16_t read_head = blk.post({readable(read_hdr, 16), writable(kData + 0x10000, 1000),
                                 writable(kData + 0x11000, 7000), writable(kData + 0x13000, 192),
                                 writable(read_status, 1)});
  CHECK(blk.finish({read_head, read_status}, 8193) == kBlockStatusOk);
  std::vector<uint8_t> back = blk.bytes(kData + 0x10000, 1000);
  auto middle = blk.bytes(kData + 0x11000, 7000);
  auto tail = blk.bytes(kData + 0x13000, 192);
  back.insert(back.end(), middle.begin(), middle.end());
  back.insert(back.end(), tail.begin(), tail.end());
  CHECK(back == expected);

  // Unwritten sectors of a sparse image read as zeroes.
  REQUIRE(blk.memory.fill(kData + 0x20000, 512, 0xff));
  Sent zero = blk.read(0, kData + 0x20000, 512);
  CHECK(blk.finish(zero, 513) == kBlockStatusOk);
  CHECK(blk.all(kData + 0x20000, 512, 0));
}

TEST_CASE("virtio-blk: many requests in flight at once", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);
  Blk& blk = *r.blk;
  constexpr int kRequests = 64;  // each 4 KiB at its own place
  std::vector<Sent> sent;
  for (int i = 0; i < kRequests; ++i) {
    blk.fill(kData + 0x1000u * i, 4096, static_cast<uint8_t>(i));
    sent.push_back(blk.write(8u * i, kData + 0x1000u * i, 4096, 0, i + 1 == kRequests));
  }
  for (int i = 0; i < kRequests; ++i) blk.wait_used();
  for (const Sent& s : sent) CHECK(blk.status(s) == kBlockStatusOk);
  for (int i = 0; i < kRequests; ++i) {
    INFO("request " << i);
    CHECK(r.image.contents(4096u * i, 4096) == blk.bytes(kData + 0x1000u * i, 4096));
  }
  // And read them all back into other buffers at once.
  REQUIRE(blk.memory.fill(kData + 0x50000, 0x40000, 0));
  sent.clear();
  for (int i = 0; i < kRequests; ++i)
    sent.push_back(blk.read(8u * i, kData + 0x50000 + 0x1000u * i, 4096, 0, i + 1 == kRequests));
  for (int i = 0; i < kRequests; ++i) CHECK(blk.wait_used().length == 4097);
  for (int i = 0; i < kRequests; ++i) {
    INFO("request " << i);
    CHECK(blk.status(sent[i]) == kBlockStatusOk);
    CHECK(blk.bytes(kData + 0x50000 + 0x1000u * i, 4096) == blk.bytes(kData + 0x1000u * i, 4096));
  }
}

TEST_CASE("virtio-blk: GET_ID", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);
  Blk& blk = *r.blk;
  REQUIRE(blk.memory.fill(kData, 64, 0xaa));

  SECTION("20 bytes, NUL-padded") {
    Sent sent = blk.get_id(kData, 20);
    CHECK(blk.finish(sent, 21) == kBlockStatusOk);
    std::vector<uint8_t> expected(20, 0);
    std::memcpy(expected.data(), "wisp-test-serial", 16);
    CHECK(blk.bytes(kData, 20) == expected);
    CHECK(blk.all(kData + 20, 44, 0xaa));
  }
  SECTION("a shorter buffer gets the start") {
    Sent sent = blk.get_id(kData, 8);
    CHECK(blk.finish(sent, 9) == kBlockStatusOk);
    CHECK(blk.bytes(kData, 8) == std::vector<uint8_t>{'w', 'i', 's', 'p', '-', 't', 'e', 's'});
    CHECK(blk.all(kData + 8, 56, 0xaa));
  }
  SECTION("a longer buffer gets 20 bytes") {
    Sent sent = blk.get_id(kData, 64);
    CHECK(blk.finish(sent, 21) == kBlockStatusOk);
    CHECK(blk.all(kData + 16, 4, 0));
    CHECK(blk.all(kData + 20, 44, 0xaa));
  }
  SECTION("split over two buffers") {
    uint64_t status = blk.status_byte();
    uint16_t head = blk.post({readable(blk.header(kBlockTypeGetId, 0), 16), writable(kData, 5),
                              writable(kData + 32, 15), writable(status, 1)});
    CHECK(blk.finish({head, status}, 21) == kBlockStatusOk);
    CHECK(blk.bytes(kData, 5) == std::vector<uint8_t>{'w', 'i', 's', 'p', '-'});
    CHECK(blk.bytes(kData + 32, 11) ==
          std::vector<uint8_t>{'t', 'e', 's', 't', '-', 's', 'e', 'r', 'i', 'a', 'l'});
    CHECK(blk.all(kData + 43, 4, 0));
    CHECK(blk.all(kData + 5, 27, 0xaa));
  }
  SECTION("no buffer at all") {
    Sent sent = blk.simple(kBlockTypeGetId);
    CHECK(blk.finish(sent, 1) == kBlockStatusOk);
  }
}

TEST_CASE("virtio-blk: GET_ID of a 20-byte serial has no NUL", "[virtio][block]") {
  auto owned = std::make_unique<FakeBackend>();
  BlockDeviceOptions opts = options();
  opts.serial = "01234567890123456789";
  Blk blk(opts, std::move(owned));
  blk.start();
  REQUIRE(blk.memory.fill(kData, 32, 0xaa));
  Sent sent = blk.get_id(kData, 32);
  CHECK(blk.finish(sent, 21) == kBlockStatusOk);
  auto id = blk.bytes(kData, 20);
  CHECK(std::string(id.begin(), id.end()) == "01234567890123456789");
  CHECK(blk.all(kData + 20, 12, 0xaa));
}

TEST_CASE("virtio-blk: malformed requests get an error status", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);
  Blk& blk = *r.blk;

  SECTION("past the capacity") {
    CHECK(blk.finish(blk.read(kDiskSectors - 1, kData, 512), 513) == kBlockStatusOk);
    CHECK(blk.finish(blk.read(kDiskSectors - 1, kData, 1024), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.read(kDiskSectors, kData, 512), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.write(kDiskSectors, kData, 512), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.write(kDiskSectors - 2, kData, 2048), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.read(~0ull, kData, 512), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.read(1ull << 55, kData, 512), 1) == kBlockStatusIoError);  // * 512 wraps
    CHECK(blk.finish(blk.write(~0ull / 512 + 1, kData, 512), 1) == kBlockStatusIoError);
  }
  SECTION("a data length that is not a multiple of 512") {
    CHECK(blk.finish(blk.read(0, kData, 100), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.write(0, kData, 513), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.read(0, kData, 1023), 1) == kBlockStatusIoError);
  }
  SECTION("an empty read or write at the end of the disk is fine") {
    CHECK(blk.finish(blk.read(kDiskSectors, kData, 0), 1) == kBlockStatusOk);
    CHECK(blk.finish(blk.write(0, kData, 0), 1) == kBlockStatusOk);
  }
  SECTION("unknown request types") {
    for (uint32_t type : {2u, 3u, 5u, 7u, 9u, 10u, 12u, 14u, 15u, 0x80000000u, 0xffffffffu}) {
      INFO("type " << type);
      CHECK(blk.finish(blk.simple(type), 1) == kBlockStatusUnsupported);
    }
  }
  SECTION("a header shorter than 16 bytes") {
    uint64_t status = blk.status_byte();
    uint64_t hdr = blk.header(kBlockTypeIn, 0);
    uint16_t head = blk.post({readable(hdr, 15), writable(kData, 512), writable(status, 1)});
    CHECK(blk.finish({head, status}, 1) == kBlockStatusIoError);
    status = blk.status_byte();
    head = blk.post({writable(status, 1)});  // no header at all
    CHECK(blk.finish({head, status}, 1) == kBlockStatusIoError);
  }
  SECTION("a chain with no device-writable byte is returned untouched") {
    uint64_t hdr = blk.header(kBlockTypeIn, 0);
    REQUIRE(blk.memory.fill(kData, 16, 0xaa));
    uint16_t head = blk.post({readable(hdr, 16), readable(kData, 16)});
    UsedElement used = blk.wait_used();
    CHECK(used.id == head);
    CHECK(used.length == 0);
    CHECK(blk.all(kData, 16, 0xaa));
    // A zero-length writable descriptor is no status byte either.
    head = blk.post({readable(hdr, 16), writable(kData, 0)});
    used = blk.wait_used();
    CHECK(used.id == head);
    CHECK(used.length == 0);
    // The device goes on.
    CHECK(blk.finish(blk.flush(), 1) == kBlockStatusOk);
    CHECK_FALSE(blk.driver.needs_reset());
  }
  SECTION("discard and write-zeroes when discard is off") {
    CHECK_FALSE(blk.driver.negotiated() & feature_bit(kFeatureDiscard));
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, 8, 0), 1) == kBlockStatusUnsupported);
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 0, 8, 0), 1) == kBlockStatusUnsupported);
  }
}

TEST_CASE("virtio-blk: a read-only disk", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind, kDiskBytes, /*allocate=*/true, DiskAccess::kReadOnly, /*discard=*/true);
  Blk& blk = *r.blk;
  CHECK(blk.driver.negotiated() & feature_bit(kFeatureReadOnly));
  // Discard is not offered on a read-only disk, even when asked for.
  CHECK_FALSE(blk.device.device_features() & feature_bit(kFeatureDiscard));
  CHECK_FALSE(blk.device.device_features() & feature_bit(kFeatureWriteZeroes));

  blk.fill(kData, 512, 5);
  CHECK(blk.finish(blk.write(0, kData, 512), 1) == kBlockStatusIoError);
  CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, 8, 0), 1) != kBlockStatusOk);
  CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 0, 8, 0), 1) != kBlockStatusOk);
  CHECK(blk.finish(blk.read(0, kData + 0x1000, 512), 513) == kBlockStatusOk);
  CHECK(blk.bytes(kData + 0x1000, 512) == r.image.contents(0, 512));
  CHECK(blk.finish(blk.flush(), 1) == kBlockStatusOk);
}

TEST_CASE("virtio-blk: discard punches a hole and write-zeroes zeroes", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind, kDiskBytes, /*allocate=*/true, DiskAccess::kReadWrite, /*discard=*/true);
  Blk& blk = *r.blk;
  REQUIRE(blk.driver.negotiated() & feature_bit(kFeatureDiscard));
  REQUIRE(blk.driver.negotiated() & feature_bit(kFeatureWriteZeroes));
  CHECK(blk.driver.read_config<uint32_t>(36) == BlockDevice::kMaxDiscardSectors);
  CHECK(blk.driver.read_config<uint8_t>(56) == 1);  // write_zeroes_may_unmap

  SECTION("discard") {
    uint64_t before = r.image.allocated_bytes();
    REQUIRE(before >= kDiskBytes);
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, 512, 0), 1) == kBlockStatusOk);
    CHECK(r.image.allocated_bytes() <= before - 256 * 1024);
    CHECK(r.image.contents(0, 256 * 1024) == std::vector<uint8_t>(256 * 1024, 0));
    // The sectors after it are untouched.
    CHECK(r.image.contents(256 * 1024, 1)[0] == static_cast<uint8_t>(256 * 1024 * 13 + 1));
    REQUIRE(blk.memory.fill(kData, 4096, 0xff));
    CHECK(blk.finish(blk.read(504, kData, 4096), 4097) == kBlockStatusOk);
    CHECK(blk.all(kData, 4096, 0));
  }
  SECTION("write-zeroes without unmap") {
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 8, 16, 0), 1) == kBlockStatusOk);
    CHECK(r.image.contents(8 * 512, 16 * 512) == std::vector<uint8_t>(16 * 512, 0));
    CHECK(r.image.contents(7 * 512, 512) != std::vector<uint8_t>(512, 0));
    CHECK(r.image.contents(24 * 512, 512) != std::vector<uint8_t>(512, 0));
  }
  SECTION("write-zeroes with unmap frees the space too") {
    uint64_t before = r.image.allocated_bytes();
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 1024, 256, kBlockSegmentFlagUnmap), 1) ==
          kBlockStatusOk);
    CHECK(r.image.contents(1024 * 512, 256 * 512) == std::vector<uint8_t>(256 * 512, 0));
    CHECK(r.image.allocated_bytes() <= before - 128 * 1024);
  }
  SECTION("discard with the unmap flag, or unknown flags") {
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, 8, kBlockSegmentFlagUnmap), 1) ==
          kBlockStatusUnsupported);
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, 8, 2), 1) == kBlockStatusUnsupported);
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 0, 8, 2), 1) == kBlockStatusUnsupported);
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, 0, 8, 0x80000001u), 1) ==
          kBlockStatusUnsupported);
    CHECK(r.image.contents(0, 4096) != std::vector<uint8_t>(4096, 0));
  }
  SECTION("a segment past the capacity or too long") {
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, kDiskSectors - 8, 16, 0), 1) ==
          kBlockStatusIoError);
    CHECK(blk.finish(blk.segment(kBlockTypeWriteZeroes, ~0ull, 1, 0), 1) == kBlockStatusIoError);
    CHECK(blk.finish(blk.segment(kBlockTypeDiscard, 0, BlockDevice::kMaxDiscardSectors + 1, 0),
                     1) == kBlockStatusIoError);
  }
  SECTION("a segment of the wrong size") {
    uint64_t status = blk.status_byte();
    uint16_t head = blk.post({readable(blk.header(kBlockTypeDiscard, 0), 16),
                              readable(kTables - 0x100, 8), writable(status, 1)});
    CHECK(blk.finish({head, status}, 1) == kBlockStatusIoError);
    status = blk.status_byte();
    head = blk.post({readable(blk.header(kBlockTypeDiscard, 0), 16), writable(status, 1)});
    CHECK(blk.finish({head, status}, 1) == kBlockStatusIoError);
  }
}

TEST_CASE("virtio-blk: the message framing is independent of the descriptors", "[virtio][block]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);
  Blk& blk = *r.blk;
  REQUIRE(blk.driver.negotiated() & feature_bit(kFeatureVersion1));

  SECTION("the header across two descriptors, the second carrying the data too") {
    // header[0..8) at A; header[8..16) and 512 bytes of data at B.
    uint64_t a = kData;
    uint64_t b = kData + 0x1000;
    uint32_t type = kBlockTypeOut;
    uint64_t sector = 5;
    REQUIRE(blk.memory.write_obj(a, type));
    REQUIRE(blk.memory.write_obj<uint32_t>(a + 4, 0));
    REQUIRE(blk.memory.write_obj(b, sector));
    blk.fill(b + 8, 512, 42);
    uint64_t status = blk.status_byte();
    uint16_t head = blk.post({readable(a, 8), readable(b, 520), writable(status, 1)});
    CHECK(blk.finish({head, status}, 1) == kBlockStatusOk);
    CHECK(r.image.contents(5 * 512, 512) == blk.bytes(b + 8, 512));
  }
  SECTION("the header in one-byte pieces") {
    uint64_t hdr = blk.header(kBlockTypeIn, 0);
    uint64_t status = blk.status_byte();
    std::vector<FakeBuffer> buffers;
    for (uint32_t i = 0; i < 16; ++i) buffers.push_back(readable(hdr + i, 1));
    buffers.push_back(writable(kData, 512));
    buffers.push_back(writable(status, 1));
    uint16_t head = blk.queue().add_chain(buffers);
    blk.queue().make_available(head);
    blk.driver.notify(0);
    CHECK(blk.finish({head, status}, 513) == kBlockStatusOk);
  }
  SECTION("header and data in one descriptor, the status at the end of a longer one") {
    uint64_t at = kData;
    uint32_t type = kBlockTypeOut;
    uint64_t sector = 9;
    REQUIRE(blk.memory.write_obj(at, type));
    REQUIRE(blk.memory.write_obj<uint32_t>(at + 4, 0));
    REQUIRE(blk.memory.write_obj(at + 8, sector));
    blk.fill(at + 16, 1024, 7);
    REQUIRE(blk.memory.fill(kData + 0x2000, 4, kUntouched));
    uint16_t head = blk.post({readable(at, 16 + 1024), writable(kData + 0x2000, 4)});
    UsedElement used = blk.wait_used();
    CHECK(used.id == head);
    CHECK(used.length == 1);
    CHECK(blk.status_at(kData + 0x2003) == kBlockStatusOk);  // the last writable byte
    CHECK(blk.all(kData + 0x2000, 3, kUntouched));
    CHECK(r.image.contents(9 * 512, 1024) == blk.bytes(at + 16, 1024));
  }
  SECTION("the status byte in the same descriptor as the read data") {
    std::vector<uint8_t> pattern(512);
    for (size_t i = 0; i < 512; ++i) pattern[i] = static_cast<uint8_t>(i ^ 0x5c);
    REQUIRE(blk.memory.write(kData, pattern));
    CHECK(blk.finish(blk.write(2, kData, 512), 1) == kBlockStatusOk);
    uint64_t hdr = blk.header(kBlockTypeIn, 2);
    REQUIRE(blk.memory.fill(kData + 0x1000, 513, kUntouched));
    uint16_t head = blk.post({readable(hdr, 16), writable(kData + 0x1000, 513)});
    UsedElement used = blk.wait_used();
    CHECK(used.id == head);
    CHECK(used.length == 513);
    CHECK(blk.bytes(kData + 0x1000, 512) == pattern);
    CHECK(blk.status_at(kData + 0x1000 + 512) == kBlockStatusOk);
  }
  SECTION("an indirect table") {
    REQUIRE(blk.driver.negotiated() & feature_bit(kFeatureRingIndirectDesc));
    uint64_t status = blk.status_byte();
    blk.fill(kData, 1024, 77);
    uint16_t head = blk.queue().add_indirect_chain(
        kTables, {readable(blk.header(kBlockTypeOut, 40), 16), readable(kData, 512),
                  readable(kData + 512, 512), writable(status, 1)});
    blk.queue().make_available(head);
    blk.driver.notify(0);
    CHECK(blk.finish({head, status}, 1) == kBlockStatusOk);
    CHECK(r.image.contents(40 * 512, 1024) == blk.bytes(kData, 1024));
  }
}

TEST_CASE("virtio-blk: the configuration space and features", "[virtio][block]") {
  bool read_only = GENERATE(false, true);
  bool discard = GENERATE(false, true);
  uint16_t queue_count = GENERATE(uint16_t{1}, uint16_t{4});
  INFO("read_only " << read_only << ", discard " << discard << ", queues " << queue_count);
  BlockDeviceOptions opts = options(3ull << 30);
  opts.read_only = read_only;
  opts.discard = discard;
  opts.queue_count = queue_count;
  Blk blk(opts, std::make_unique<FakeBackend>());
  test::MmioDriver& driver = blk.driver;

  CHECK(driver.read32(mmio::kDeviceId) == kDeviceIdBlock);
  uint64_t features = driver.device_features();
  auto offered = [&](uint32_t bit) { return (features & feature_bit(bit)) != 0; };
  CHECK(offered(kFeatureVersion1));
  CHECK(offered(kFeatureRingIndirectDesc));
  CHECK(offered(kFeatureRingEventIdx));
  CHECK(offered(kFeatureSizeMax));
  CHECK(offered(kFeatureSegMax));
  CHECK(offered(kFeatureBlockSize));
  CHECK(offered(kFeatureFlush));
  CHECK(offered(kFeatureReadOnly) == read_only);
  CHECK(offered(kFeatureMultiQueue) == (queue_count > 1));
  CHECK(offered(kFeatureDiscard) == (discard && !read_only));
  CHECK(offered(kFeatureWriteZeroes) == (discard && !read_only));

  CHECK(driver.read_config<uint64_t>(0) == (3ull << 30) / 512);             // capacity
  CHECK(driver.read_config<uint32_t>(8) == BlockDevice::kMaxSegmentBytes);  // size_max
  CHECK(driver.read_config<uint32_t>(12) == BlockDevice::kMaxSegments);     // seg_max
  CHECK(BlockDevice::kMaxSegments + 2 <= BlockDevice::kQueueSize);
  CHECK(driver.read_config<uint32_t>(20) == 512);          // blk_size
  CHECK(driver.read_config<uint16_t>(34) == queue_count);  // num_queues
  CHECK(driver.read_config<uint32_t>(40) == 1);            // max_discard_seg
  CHECK(driver.read_config<uint32_t>(44) == 8);            // discard_sector_alignment
  CHECK(driver.read_config<uint32_t>(48) == BlockDevice::kMaxDiscardSectors);
  CHECK(driver.read_config<uint32_t>(52) == 1);  // max_write_zeroes_seg
  // Config writes (writeback, §5.2.4) are ignored: WCE is not offered.
  uint8_t one = 1;
  blk.harness.transport.write(mmio::kConfig + 32, std::span<const uint8_t>(&one, 1));
  CHECK(driver.read_config<uint8_t>(32) == 0);

  for (uint16_t queue = 0; queue < queue_count; ++queue) {
    driver.select_queue(queue);
    CHECK(driver.read32(mmio::kQueueNumMax) == BlockDevice::kQueueSize);
  }
  driver.select_queue(queue_count);
  CHECK(driver.read32(mmio::kQueueNumMax) == 0);
}

TEST_CASE("virtio-blk: the capacity is rounded down to whole sectors", "[virtio][block]") {
  Blk blk(options(kDiskBytes + 511), std::make_unique<FakeBackend>());
  CHECK(blk.driver.read_config<uint64_t>(0) == kDiskSectors);
}

// ============================== DiskImage::open ==============================

TEST_CASE("disk image: sizes that are not a whole number of sectors are refused",
          "[virtio][block]") {
  SECTION("not a multiple of 512") {
    TempImage image(1000);
    auto disk = DiskImage::open(image.path(), DiskAccess::kReadWrite, DiskCache::kWriteback);
    REQUIRE_FALSE(disk);
    CHECK_THAT(disk.error().message(),
               Contains(image.path()) && Contains("1000 bytes") && Contains("512-byte sectors"));
  }
  SECTION("empty") {
    TempImage image(0);
    auto disk = DiskImage::open(image.path(), DiskAccess::kReadOnly, DiskCache::kWriteback);
    REQUIRE_FALSE(disk);
    CHECK_THAT(disk.error().message(), Contains(image.path()) && Contains("empty"));
  }
  SECTION("missing") {
    std::string path = (std::filesystem::temp_directory_path() / "wisp-no-such-disk-a9c3").string();
    auto disk = DiskImage::open(path, DiskAccess::kReadOnly, DiskCache::kWriteback);
    REQUIRE_FALSE(disk);
    CHECK_THAT(disk.error().message(), Contains(path) && Contains("No such file"));
  }
  SECTION("a directory") {
    auto disk = DiskImage::open(std::filesystem::temp_directory_path().string(),
                                DiskAccess::kReadOnly, DiskCache::kWriteback);
    REQUIRE_FALSE(disk);
  }
  SECTION("a good one") {
    TempImage image(4096);
    auto disk = DiskImage::open(image.path(), DiskAccess::kReadWrite, DiskCache::kWriteback);
    REQUIRE(disk);
    CHECK(disk->size_bytes == 4096);
    CHECK_FALSE(disk->block_device);
    CHECK(disk->fd.valid());
  }
}

TEST_CASE("disk image: open-file-description locks keep writers apart", "[virtio][block]") {
  TempImage image(4096);
  auto open = [&](DiskAccess access) {
    return DiskImage::open(image.path(), access, DiskCache::kWriteback);
  };

  SECTION("a second writer is refused, naming the lock") {
    auto first = open(DiskAccess::kReadWrite);
    REQUIRE(first);
    auto second = open(DiskAccess::kReadWrite);
    REQUIRE_FALSE(second);
    CHECK_THAT(second.error().message(), Contains(image.path()) && Contains("lock"));
    // Once the first closes, the disk is free again.
    first->fd.reset();
    CHECK(open(DiskAccess::kReadWrite));
  }
  SECTION("readers share") {
    auto first = open(DiskAccess::kReadOnly);
    REQUIRE(first);
    auto second = open(DiskAccess::kReadOnly);
    CHECK(second);
  }
  SECTION("a reader beside a writer is refused") {
    auto writer = open(DiskAccess::kReadWrite);
    REQUIRE(writer);
    auto reader = open(DiskAccess::kReadOnly);
    REQUIRE_FALSE(reader);
    CHECK_THAT(reader.error().message(), Contains("lock"));
  }
  SECTION("a writer beside a reader is refused") {
    auto reader = open(DiskAccess::kReadOnly);
    REQUIRE(reader);
    auto writer = open(DiskAccess::kReadWrite);
    REQUIRE_FALSE(writer);
    CHECK_THAT(writer.error().message(), Contains("lock"));
  }
}

// ============================== Swapping the back end ==============================

namespace {

// A move of the completion watch that records the descriptors, or fails when told to.
struct WatchMoves {
  BlockDevice::CompletionWatchMove move() {
    return [this](int old_fd, int new_fd) -> Result<void> {
      if (refuse) return fail("epoll_ctl add: Out of memory");
      moves.push_back({old_fd, new_fd});
      return {};
    };
  }
  bool refuse = false;
  std::vector<std::pair<int, int>> moves;
};

}  // namespace

TEST_CASE("disk swap: the new image's capacity and contents, and a configuration interrupt",
          "[virtio][block][disk-swap]") {
  BackendKind kind = GENERATE(BackendKind::kSync, BackendKind::kIoUring);
  INFO(kind_name(kind));
  RealBlk r(kind);  // 1 MiB
  Blk& blk = *r.blk;
  uint32_t generation = blk.driver.read32(mmio::kConfigGeneration);
  blk.fill(kData, 512, 9);
  CHECK(blk.finish(blk.write(0, kData, 512), 1) == kBlockStatusOk);
  blk.driver.acknowledge_interrupt(blk.driver.interrupt_status());

  TempImage other(2 * kDiskBytes, /*allocate=*/true);
  uint64_t size = 0;
  auto backend = open_backend(kind, other, DiskAccess::kReadWrite, size);
  int new_fd = backend->completion_fd();
  int old_fd = blk.device.completion_fd();
  WatchMoves watch;
  REQUIRE(blk.device.replace_backend(std::move(backend), size, watch.move()));
  CHECK(watch.moves == std::vector<std::pair<int, int>>{{old_fd, new_fd}});
  CHECK(blk.device.completion_fd() == new_fd);

  // virtblk_config_changed reads the new capacity: the driver sees the change and its generation.
  CHECK(blk.driver.read_config<uint64_t>(0) == 2 * kDiskSectors);
  CHECK(blk.driver.read32(mmio::kConfigGeneration) != generation);
  CHECK(blk.driver.interrupt_status() == kInterruptConfigChange);
  // What was written before the swap reached the old image.
  CHECK(r.image.contents(0, 512) == blk.bytes(kData, 512));

  // Reads come from the new image, past the old capacity too.
  Sent first = blk.read(0, kData + 0x1000, 512);
  CHECK(blk.finish(first, 513) == kBlockStatusOk);
  CHECK(blk.bytes(kData + 0x1000, 512) == other.contents(0, 512));
  Sent last = blk.read(2 * kDiskSectors - 1, kData + 0x2000, 512);
  CHECK(blk.finish(last, 513) == kBlockStatusOk);
  CHECK(blk.bytes(kData + 0x2000, 512) == other.contents(2 * kDiskBytes - 512, 512));
  Sent beyond = blk.read(2 * kDiskSectors, kData + 0x3000, 512);
  CHECK(blk.finish(beyond, 1) == kBlockStatusIoError);

  // A reset brings back the new capacity, not the one the device started with.
  blk.driver.write32(mmio::kStatus, 0);
  CHECK(blk.driver.read_config<uint64_t>(0) == 2 * kDiskSectors);
}

TEST_CASE("disk swap: to a smaller image, requests past its end fail",
          "[virtio][block][disk-swap]") {
  RealBlk r(BackendKind::kSync);
  Blk& blk = *r.blk;
  TempImage other(kDiskBytes / 4, /*allocate=*/true);
  uint64_t size = 0;
  auto backend = open_backend(BackendKind::kSync, other, DiskAccess::kReadWrite, size);
  WatchMoves watch;
  REQUIRE(blk.device.replace_backend(std::move(backend), size, watch.move()));
  CHECK(blk.driver.read_config<uint64_t>(0) == kDiskSectors / 4);
  CHECK(blk.finish(blk.read(kDiskSectors / 4, kData, 512), 1) == kBlockStatusIoError);
  blk.fill(kData, 512, 1);
  CHECK(blk.finish(blk.write(kDiskSectors / 4 - 1, kData, 512), 1) == kBlockStatusOk);
  CHECK(other.contents(kDiskBytes / 4 - 512, 512) == blk.bytes(kData, 512));
}

TEST_CASE("disk swap: requests in flight finish on the old back end, which is flushed",
          "[virtio][block][disk-swap]") {
  FakeBlk f;
  Blk& blk = *f.blk;
  Sent sent = blk.write(0, kData, 512);
  REQUIRE(f.backend->op_count() == 1);
  std::thread completer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    f.backend->complete(0, 512);
  });
  auto replacement = std::make_unique<FakeBackend>();
  FakeBackend* next = replacement.get();
  WatchMoves watch;
  // The old back end is gone once replace_backend returns: read what it saw before.
  std::atomic<int> old_syncs{-1};
  auto move = [&](int old_fd, int new_fd) -> Result<void> {
    old_syncs = f.backend->syncs.load();
    return watch.move()(old_fd, new_fd);
  };
  REQUIRE(blk.device.replace_backend(std::move(replacement), 4 * kDiskBytes, move));
  completer.join();
  CHECK(old_syncs == 1);
  UsedElement used = blk.queue().take_used();
  CHECK(used.id == sent.head);
  CHECK(blk.status(sent) == kBlockStatusOk);

  // The next request goes to the new back end.
  Sent read = blk.read(4 * kDiskSectors - 1, kData, 512);
  REQUIRE(next->op_count() == 1);
  CHECK(next->op(0).offset == 4 * kDiskBytes - 512);
  next->complete(0, 512, 0x77);
  CHECK(blk.finish(read, 513) == kBlockStatusOk);
  CHECK(blk.all(kData, 512, 0x77));
}

TEST_CASE("disk swap: a read-only disk's old back end is not flushed",
          "[virtio][block][disk-swap]") {
  BlockDeviceOptions opts = options();
  opts.read_only = true;
  FakeBlk f(opts);
  std::atomic<int> old_syncs{-1};
  auto move = [&](int, int) -> Result<void> {
    old_syncs = f.backend->syncs.load();
    return {};
  };
  REQUIRE(f.blk->device.replace_backend(std::make_unique<FakeBackend>(), kDiskBytes, move));
  CHECK(old_syncs == 0);
}

TEST_CASE("disk swap: when the swap fails, the old disk keeps working",
          "[virtio][block][disk-swap]") {
  RealBlk r(BackendKind::kIoUring);
  Blk& blk = *r.blk;
  uint32_t generation = blk.driver.read32(mmio::kConfigGeneration);
  blk.driver.acknowledge_interrupt(blk.driver.interrupt_status());
  int old_fd = blk.device.completion_fd();

  TempImage other(2 * kDiskBytes, /*allocate=*/true);
  uint64_t size = 0;
  WatchMoves watch;
  watch.refuse = true;
  auto backend = open_backend(BackendKind::kIoUring, other, DiskAccess::kReadWrite, size);
  auto swapped = blk.device.replace_backend(std::move(backend), size, watch.move());
  REQUIRE_FALSE(swapped);
  CHECK_THAT(swapped.error().message(), Contains("epoll_ctl"));
  CHECK(blk.device.completion_fd() == old_fd);
  CHECK(blk.driver.read_config<uint64_t>(0) == kDiskSectors);
  CHECK(blk.driver.read32(mmio::kConfigGeneration) == generation);
  CHECK(blk.driver.interrupt_status() == 0);

  blk.fill(kData, 512, 42);
  CHECK(blk.finish(blk.write(kDiskSectors - 1, kData, 512), 1) == kBlockStatusOk);
  CHECK(r.image.contents(kDiskBytes - 512, 512) == blk.bytes(kData, 512));
  CHECK(blk.finish(blk.read(kDiskSectors, kData, 512), 1) == kBlockStatusIoError);
}

TEST_CASE("disk swap: before the driver started, no interrupt, but the new capacity",
          "[virtio][block][disk-swap]") {
  Blk blk(options(), std::make_unique<FakeBackend>());
  WatchMoves watch;
  REQUIRE(
      blk.device.replace_backend(std::make_unique<FakeBackend>(), 3 * kDiskBytes, watch.move()));
  CHECK(blk.driver.read_config<uint64_t>(0) == 3 * kDiskSectors);
  CHECK(blk.driver.interrupt_status() == 0);
  CHECK(blk.harness.irq.raised == 0);
}
