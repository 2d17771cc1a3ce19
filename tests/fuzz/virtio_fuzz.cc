// libFuzzer target: a hostile guest driver against the split virtqueue and virtio-blk.
//
// The input fills a small guest memory (two regions with a hole between them, like RAM below and
// above the MMIO hole) that holds the rings, the indirect tables and the buffers, and chooses the
// queue's layout, the negotiated features, how the fake disk back end finishes each operation,
// and register writes thrown in between. Each input runs twice on fresh memory:
//   1. the virtqueue walker alone: every chain popped must lie inside guest memory;
//   2. a virtio-blk device initialised through its virtio-mmio registers, notified, its
//      operations completed (fully, short, failed, refused), then reset or shut down.
// The fake back end checks what the device hands it: every iovec inside guest RAM, no transfer
// past the disk's end, no write to a read-only disk, nothing left unsubmitted for reset or
// shutdown to wait for. A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (well-formed requests of each kind, some malformed rings) into the directory it is given.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "devices/block/block_backend.h"
#include "devices/virtio/block.h"
#include "devices/virtio/block_request.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/base/device_worker.h"
#include "vmm/base/fd.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/log.h"

namespace {

using namespace wisp;
using namespace wisp::virtio;
using namespace wisp::fuzz;

// ---- The input format ----
// [0]       flags (below)
// [1]       queue size: 1 << (value % 9), 1 to 256
// [2..7]    descriptor table, available ring, used ring addresses (le16 each; custom layout)
// [8..15]   completion script: how the fake back end ends its n-th operation (script[n % 8] % 6)
// [16]      count of register operations (% 16), 5 bytes each: offset selector, le32 value
// then      the guest memory image: region A from its start, then region B
constexpr uint8_t kFlagIndirect = 1 << 0;       // negotiate VIRTIO_F_INDIRECT_DESC
constexpr uint8_t kFlagEventIndex = 1 << 1;     // negotiate VIRTIO_F_EVENT_IDX
constexpr uint8_t kFlagDiscard = 1 << 2;        // the disk offers discard and write-zeroes
constexpr uint8_t kFlagReadOnly = 1 << 3;       // the disk is read-only
constexpr uint8_t kFlagCustomLayout = 1 << 4;   // ring addresses from bytes 2..7
constexpr uint8_t kFlagResetAtEnd = 1 << 5;     // end with a reset (else shut_down)
constexpr uint8_t kFlagEarlyComplete = 1 << 6;  // complete between notifications
constexpr size_t kHeaderBytes = 17;
constexpr size_t kRegisterOpBytes = 5;

enum Completion : uint8_t { kFull, kShort, kError, kZero, kTooMuch, kRefuseNext, kCompletionKinds };

constexpr uint64_t kRegionASize = 0x4000;  // [0x4000, kRegionB) is a hole
constexpr uint64_t kDiskBytes = 64 * 1024;

struct Input {
  uint8_t flags = 0;
  QueueLayout layout;
  uint8_t script[8] = {};
  std::span<const uint8_t> register_ops;
  std::span<const uint8_t> image;
};

QueueLayout standard_layout(uint16_t size) {
  return ring_layout(kRegionA, size);
}

[[maybe_unused]] bool parse(const uint8_t* data, size_t size, Input& input) {
  if (size < kHeaderBytes) return false;
  input.flags = data[0];
  auto queue_size = static_cast<uint16_t>(1u << (data[1] % 9));
  input.layout = standard_layout(queue_size);
  if (input.flags & kFlagCustomLayout) {
    input.layout.descriptor_table = le16(data + 2);
    input.layout.available_ring = le16(data + 4);
    input.layout.used_ring = le16(data + 6);
  }
  std::memcpy(input.script, data + 8, sizeof(input.script));
  size_t ops = (data[16] % 16) * kRegisterOpBytes;
  size_t rest = size - kHeaderBytes;
  ops = std::min(ops, rest - rest % kRegisterOpBytes);
  input.register_ops = std::span(data + kHeaderBytes, ops);
  input.image = std::span(data + kHeaderBytes + ops, size - kHeaderBytes - ops);
  return true;
}

// ---- 1. The walker alone ----
[[maybe_unused]] void fuzz_walker(const Input& input) {
  GuestMemory memory = make_memory(input.image, kRegionASize);
  VirtQueue::Features features{(input.flags & kFlagIndirect) != 0,
                               (input.flags & kFlagEventIndex) != 0};
  auto queue = VirtQueue::create(memory, input.layout, features);
  if (!queue) return;
  DescriptorChain chain;
  uint16_t size = input.layout.size;
  for (uint32_t i = 0; i < 2u * size + 2; ++i) {
    auto popped = queue->pop(chain);
    if (!popped || !*popped) break;
    if (chain.head() >= size) finding("a head outside the queue");
    if (chain.buffers().size() > 2u * size) finding("a chain longer than two tables");
    uint64_t readable = 0, writable = 0;
    bool seen_writable = false;
    for (const GuestBuffer& buffer : chain.buffers()) {
      auto host = memory.slice(buffer.address, buffer.length);
      if (!host || buffer.length == 0) finding("a chain buffer outside guest memory");
      // Touch it: a bad translation would fault here.
      volatile uint8_t first = host->front();
      volatile uint8_t last = host->back();
      (void)first;
      (void)last;
      if (buffer.device_writable) {
        seen_writable = true;
        writable += buffer.length;
      } else {
        if (seen_writable) finding("a readable buffer after a writable one");
        readable += buffer.length;
      }
    }
    if (readable != chain.readable_bytes() || writable != chain.writable_bytes())
      finding("a chain's byte counts");
    (void)queue->push_used(chain.head(), static_cast<uint32_t>(writable));
    (void)queue->needs_interrupt();
  }
  (void)queue->enable_notification_and_check();
}

// ---- 2. virtio-blk ----
class FuzzBackend final : public BlockBackend {
 public:
  FuzzBackend(const GuestMemory& memory, const Input& input)
      : memory_(memory),
        input_(input),
        read_only_(input.flags & kFlagReadOnly),
        discard_((input.flags & kFlagDiscard) && !(input.flags & kFlagReadOnly)),
        event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!event_.valid()) finding("eventfd");
  }

  std::string_view name() const override { return "fuzz"; }

  bool enqueue(const BlockIo& io) override {
    check(io);
    if (refuse_next_) {
      refuse_next_ = false;
      return false;
    }
    ops_.push_back(
        Op{io.op, io.offset, io.length, {io.buffers.begin(), io.buffers.end()}, io.tag, false});
    signal();  // readable while anything is unfinished
    return true;
  }
  void submit() override {
    for (Op& op : ops_) op.submitted = true;
  }
  int completion_fd() const override { return event_.get(); }
  void reap(const std::function<void(const BlockCompletion&)>& done) override {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(event_.get(), &count, sizeof(count));
    std::vector<BlockCompletion> finished;
    std::vector<Op> waiting;
    for (Op& op : ops_) {
      if (op.submitted) {
        finished.push_back({op.tag, perform(op)});
      } else {
        waiting.push_back(std::move(op));
      }
    }
    if (finished.empty() && !waiting.empty())
      finding("the device waits for operations it never submitted");
    ops_ = std::move(waiting);
    if (!ops_.empty()) signal();
    for (const BlockCompletion& completion : finished) done(completion);
  }
  uint32_t in_flight() const override { return static_cast<uint32_t>(ops_.size()); }
  int sync_now() override { return 0; }

  bool all_submitted() const {
    for (const Op& op : ops_)
      if (!op.submitted) return false;
    return true;
  }

 private:
  struct Op {
    BlockOp op;
    uint64_t offset;
    uint64_t length;
    std::vector<iovec> buffers;
    uint64_t tag;
    bool submitted;
  };

  void signal() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof(one));
  }

  // What the device may hand a back end.
  void check(const BlockIo& io) const {
    switch (io.op) {
      case BlockOp::kRead:
      case BlockOp::kWrite: {
        if (io.op == BlockOp::kWrite && read_only_) finding("a write to a read-only disk");
        if (io.length == 0) finding("an empty transfer");
        uint64_t total = 0;
        for (const iovec& buffer : io.buffers) {
          if (!inside_guest(memory_, buffer.iov_base, buffer.iov_len))
            finding("an iovec outside guest memory");
          total += buffer.iov_len;
        }
        if (total != io.length) finding("a transfer whose length is not its buffers'");
        break;
      }
      case BlockOp::kFlush:
        return;
      case BlockOp::kDiscard:
      case BlockOp::kWriteZeroes:
        if (!discard_) finding("a discard or write-zeroes the disk does not offer");
        if (!io.buffers.empty()) finding("buffers with a discard");
        break;
    }
    if (io.offset > kDiskBytes || io.length > kDiskBytes - io.offset)
      finding("an operation past the end of the disk");
  }

  // Carries out `op` on guest memory as a host would, with the script's outcome.
  int64_t perform(const Op& op) {
    uint8_t kind = input_.script[count_++ % sizeof(input_.script)] % kCompletionKinds;
    if (kind == kRefuseNext) refuse_next_ = true;
    bool transfer = op.op == BlockOp::kRead || op.op == BlockOp::kWrite;
    if (kind == kError) return -EIO;
    if (!transfer) return 0;
    uint64_t bytes = op.length;
    if (kind == kShort && bytes >= 2) bytes /= 2;
    if (kind == kZero) bytes = 0;
    uint64_t left = bytes;
    for (const iovec& buffer : op.buffers) {
      size_t length = std::min<uint64_t>(left, buffer.iov_len);
      auto* host = static_cast<uint8_t*>(buffer.iov_base);
      if (op.op == BlockOp::kRead) {
        std::memset(host, 0x5a, length);
      } else {
        for (size_t i = 0; i < length; ++i) sink_ += host[i];
      }
      left -= length;
    }
    return static_cast<int64_t>(kind == kTooMuch ? op.length + 1 : bytes);
  }

  const GuestMemory& memory_;
  const Input& input_;
  const bool read_only_;
  const bool discard_;
  Fd event_;
  std::vector<Op> ops_;
  uint32_t count_ = 0;
  bool refuse_next_ = false;
  uint8_t sink_ = 0;
};

class Driver : public MmioDriver {
 public:
  Driver(BlockDevice& device, FuzzBackend& backend)
      : MmioDriver(device,
                   [this, &device](uint16_t queue) {
                     device.notify_queue(queue);
                     if (!backend_.all_submitted())
                       finding("the device left operations unsubmitted after serving a queue");
                   }),
        backend_(backend) {}

  void initialize(const Input& input) {
    uint64_t offered = start();
    uint64_t wanted =
        offered & ~(feature_bit(kFeatureRingIndirectDesc) | feature_bit(kFeatureRingEventIdx));
    if (input.flags & kFlagIndirect) wanted |= feature_bit(kFeatureRingIndirectDesc);
    if (input.flags & kFlagEventIndex) wanted |= feature_bit(kFeatureRingEventIdx);
    accept(wanted);
    set_up_queue(0, input.layout);
    driver_ok();
  }

  // One register operation from the input: selector, le32 value.
  void register_op(const uint8_t* op) { register_access(op[0], le32(op + 1)); }

 private:
  FuzzBackend& backend_;
};

[[maybe_unused]] void fuzz_block(const Input& input) {
  GuestMemory memory = make_memory(input.image, kRegionASize);
  auto owned = std::make_unique<FuzzBackend>(memory, input);
  FuzzBackend& backend = *owned;
  BlockDeviceOptions options;
  options.name = "fuzz0";
  options.capacity_bytes = kDiskBytes;
  options.read_only = input.flags & kFlagReadOnly;
  options.discard = input.flags & kFlagDiscard;
  options.serial = "wisp-fuzz";
  NullIrq irq;
  InlineWorker worker;
  BlockDevice device(memory, options, std::move(owned), irq, worker);
  Driver driver(device, backend);
  driver.initialize(input);

  auto complete_ready = [&] {
    for (int i = 0; i < 64; ++i) {
      pollfd ready{device.completion_fd(), POLLIN, 0};
      if (::poll(&ready, 1, 0) != 1) return;
      device.complete_io();
    }
  };
  size_t ops = input.register_ops.size() / kRegisterOpBytes;
  for (size_t round = 0; round < 3 || round < ops; ++round) {
    if (round < 3) driver.write(mmio::kQueueNotify, 0);
    if ((input.flags & kFlagEarlyComplete) || round >= 2) complete_ready();
    if (round < ops) driver.register_op(input.register_ops.data() + kRegisterOpBytes * round);
  }
  if (input.flags & kFlagResetAtEnd) {
    driver.write(mmio::kStatus, 0);
  } else {
    device.shut_down();
  }
  if (backend.in_flight() != 0) finding("operations left in flight after reset or shutdown");
}

}  // namespace

#ifndef WISP_FUZZ_SEEDS

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);  // a hostile guest makes the device warn a lot
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input input;
  if (!parse(data, size, input)) return 0;
  fuzz_walker(input);
  fuzz_block(input);
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

// Where seeds put things in region A: the rings from 0 (up to 32 entries end before 0x400), then
// request headers, status bytes, an indirect table and data buffers. The image stops after the
// last byte a seed wrote: the rest of guest memory is zero.
constexpr uint64_t kSeedHeaders = 0x400;
constexpr uint64_t kSeedStatuses = 0x580;
constexpr uint64_t kSeedTables = 0x5c0;
constexpr uint64_t kBuf = 0x800;

// Builds one input as a driver would lay out its rings.
class Seed : public SeedImage {
 public:
  Seed(uint8_t flags, uint16_t size_log2)
      : SeedImage(kRegionASize), layout_(standard_layout(1 << size_log2)) {
    header_[0] = flags;
    header_[1] = static_cast<uint8_t>(size_log2);
  }
  // Rings where the input says (kFlagCustomLayout).
  void place(uint16_t descriptors, uint16_t available, uint16_t used) {
    header_[0] |= kFlagCustomLayout;
    uint16_t addresses[] = {descriptors, available, used};
    std::memcpy(header_ + 2, addresses, sizeof(addresses));
    layout_.descriptor_table = descriptors;
    layout_.available_ring = available;
    layout_.used_ring = used;
  }
  void script(std::initializer_list<uint8_t> kinds) {
    size_t i = 0;
    for (uint8_t kind : kinds) header_[8 + i++ % 8] = kind;
  }
  void register_op(uint8_t selector, uint32_t value) {
    ops_.push_back(selector);
    for (int i = 0; i < 4; ++i) ops_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }

  void descriptor(uint16_t index, uint64_t address, uint32_t length, uint16_t flags,
                  uint16_t next) {
    descriptor_at(layout_.descriptor_table, index, address, length, flags, next);
  }
  void header(uint64_t at, uint32_t type, uint64_t sector) {
    put(at, type);
    put(at + 4, uint32_t{0});
    put(at + 8, sector);
  }
  // Makes `head` available in the next slot.
  void available(uint16_t head) {
    put(layout_.available_ring + 4 + 2ull * (available_ % layout_.size), head);
    ++available_;
    put(layout_.available_ring + 2, available_);
  }
  // A chain header → data → status from descriptor `first` on; returns the next free index.
  uint16_t request(uint16_t first, uint32_t type, uint64_t sector, uint64_t data, uint32_t length,
                   bool data_writable) {
    uint64_t hdr = kSeedHeaders + 16ull * first;
    uint64_t status = kSeedStatuses + first;
    header(hdr, type, sector);
    uint16_t index = first;
    descriptor(index, hdr, 16, kDescFlagNext, static_cast<uint16_t>(index + 1));
    ++index;
    if (length) {
      descriptor(index, data, length,
                 static_cast<uint16_t>(kDescFlagNext | (data_writable ? kDescFlagWrite : 0)),
                 static_cast<uint16_t>(index + 1));
      ++index;
    }
    descriptor(index, status, 1, kDescFlagWrite, 0);
    available(first);
    return static_cast<uint16_t>(index + 1);
  }

  void write(const std::string& path) {
    header_[16] = static_cast<uint8_t>(ops_.size() / kRegisterOpBytes);
    write_seed(path, {header_, ops_, image()});
  }

  const QueueLayout& layout() const { return layout_; }

 private:
  QueueLayout layout_;
  uint8_t header_[kHeaderBytes] = {};
  std::vector<uint8_t> ops_;
  uint16_t available_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  {
    Seed seed(0, 3);  // a read, a write, a flush, a GET_ID
    uint16_t next = seed.request(0, kBlockTypeIn, 1, kBuf, 512, true);
    next = seed.request(next, kBlockTypeOut, 2, kBuf + 0x200, 1024, false);
    seed.write(dir + "/rw");
    Seed more(kFlagEventIndex | kFlagEarlyComplete, 4);
    next = more.request(0, kBlockTypeFlush, 0, 0, 0, false);
    next = more.request(next, kBlockTypeGetId, 0, kBuf, 20, true);
    more.request(next, kBlockTypeIn, 127, kRegionB, 512, true);  // data above the hole
    more.write(dir + "/flush-getid-high");
  }
  {
    Seed seed(kFlagIndirect, 3);  // an indirect table
    constexpr uint64_t kTable = kSeedTables;
    seed.header(kSeedHeaders, kBlockTypeOut, 4);
    seed.descriptor_at(kTable, 0, kSeedHeaders, 16, kDescFlagNext, 1);
    seed.descriptor_at(kTable, 1, kBuf, 512, kDescFlagNext, 2);
    seed.descriptor_at(kTable, 2, kBuf + 512, 512, kDescFlagNext, 3);
    seed.descriptor_at(kTable, 3, kSeedStatuses, 1, kDescFlagWrite, 0);
    seed.descriptor(0, kTable, 64, kDescFlagIndirect, 0);
    seed.available(0);
    seed.write(dir + "/indirect");
  }
  {
    Seed seed(kFlagDiscard | kFlagResetAtEnd, 3);  // discard and write-zeroes
    seed.put(kBuf, BlockSegment{0, 8, 0});
    seed.put(kBuf + 16, BlockSegment{8, 16, kBlockSegmentFlagUnmap});
    uint16_t next = seed.request(0, kBlockTypeDiscard, 0, kBuf, 16, false);
    seed.request(next, kBlockTypeWriteZeroes, 0, kBuf + 16, 16, false);
    seed.write(dir + "/discard");
  }
  {
    Seed seed(kFlagEarlyComplete, 5);  // short transfers, errors, a refusal
    seed.script({kShort, kShort, kFull, kError, kZero, kTooMuch, kRefuseNext, kFull});
    uint16_t next = 0;
    for (int i = 0; i < 4; ++i)
      next = seed.request(next, i % 2 ? kBlockTypeOut : kBlockTypeIn, 8u * i, kBuf + 0x400u * i,
                          1024, i % 2 == 0);
    seed.write(dir + "/short-transfers");
  }
  {
    Seed seed(0, 3);  // a loop, then a chain that reuses a head in flight
    seed.descriptor(0, kBuf, 16, kDescFlagNext, 1);
    seed.descriptor(1, kBuf, 16, kDescFlagNext, 0);
    seed.available(0);
    seed.write(dir + "/loop");
    Seed twice(kFlagResetAtEnd, 3);
    twice.request(0, kBlockTypeIn, 0, kBuf, 512, true);
    twice.available(0);
    twice.write(dir + "/head-twice");
  }
  {
    Seed seed(kFlagEventIndex, 3);  // register writes between the rounds: notify, reset, ...
    seed.request(0, kBlockTypeIn, 0, kBuf, 4096, true);
    seed.register_op(mmio::kQueueNotify / 4, 0);
    seed.register_op(mmio::kStatus / 4, 0);
    seed.register_op(mmio::kInterruptAck / 4, 3);
    seed.register_op(0x80 | (mmio::kStatus / 4), 0);
    seed.register_op(mmio::kQueueDescLow / 4, 0x100);
    seed.write(dir + "/registers");
  }
  {
    Seed seed(0, 2);                   // rings placed by the input, the available ring in region B
    seed.place(0x100, 0x180, 0x8000);  // the used ring above the hole
    seed.request(0, kBlockTypeIn, 3, kBuf, 512, true);
    seed.write(dir + "/custom-layout");
  }
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
