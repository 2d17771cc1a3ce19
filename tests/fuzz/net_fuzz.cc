// libFuzzer target: a hostile guest driver and a hostile network against virtio-net.
//
// The input chooses the device (one or two queue pairs; a back end that takes offloads or not, and
// the receive offloads it supports), the features the driver accepts, the frames the network
// hands the device (each a 12-byte header, as the TAP puts in front, and a length up to past the
// largest frame), a guest memory image (two regions with a hole between them: descriptor tables,
// control commands, buffers), and a script of steps: chains made available on any queue,
// notifications, frames arriving, the back end becoming readable or failing, register writes,
// interrupt suppression, and resets followed by a new initialisation.
//
// The fake back end checks what the device hands it:
//   - a frame to send: a 12-byte checked copy of the header first (never guest memory), the rest
//     inside guest memory, 14 to 65553 bytes after the header, a header that passes
//     check_transmit_header for the features the device offered, num_buffers 0;
//   - receive offloads: only those it supports, none that needs TUN_F_CSUM (or TSO) without it;
//   - queue pairs and receive buffers: only those it has, each large enough for any frame.
// The device's counters never count more frames than went through the back end, and after a
// reset neither guest memory nor the back end is touched until the driver starts the device
// again. A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (frames sent and received with and without mergeable buffers, control commands, resets, some
// malformed frames and rings) into the directory it is given.
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "devices/net/net_backend.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/net.h"
#include "devices/virtio/net_header.h"
#include "devices/virtio/virtio_spec.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/base/device_worker.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/log.h"

namespace {

using namespace wisp;
using namespace wisp::virtio;
using namespace wisp::fuzz;

// ---- The input format ----
// [0]       flags (below)
// [1]       queue size of every queue: 1 << (value % 7), 1 to 64
// [2..9]    the driver's features (le64), of those the device offers; VERSION_1 always
// [10]      the back end's receive offloads (net_offload bits)
// [11]      count of steps (% 65), 4 bytes each: kind, then three arguments
// [12]      count of frames (% 9), 15 bytes each: a 12-byte header, the frame's whole length (le24)
// then      the steps, the frames, then the guest memory image: region A from its start, then B
constexpr uint8_t kFlagIndirect = 1 << 0;      // negotiate VIRTIO_F_INDIRECT_DESC
constexpr uint8_t kFlagEventIndex = 1 << 1;    // negotiate VIRTIO_F_EVENT_IDX
constexpr uint8_t kFlagTwoPairs = 1 << 2;      // the back end has two queue pairs
constexpr uint8_t kFlagOffloads = 1 << 3;      // the back end takes offloads (IFF_VNET_HDR)
constexpr uint8_t kFlagRawFeatures = 1 << 4;   // features as given (else made consistent)
constexpr uint8_t kFlagResetAtEnd = 1 << 5;    // end with a reset and its checks
constexpr uint8_t kFlagNoInterrupts = 1 << 6;  // VIRTQ_AVAIL_F_NO_INTERRUPT on every queue
constexpr size_t kHeaderBytes = 13;
constexpr size_t kStepBytes = 4;
constexpr size_t kFrameEntryBytes = 15;
constexpr size_t kMaxSteps = 64;
constexpr size_t kMaxFrames = 8;

// A step: kind % kStepKinds, arguments a, b, c.
enum StepKind : uint8_t {
  kAvailable,      // chain `b` made available on queue `a`; notified if c & 1
  kNotify,         // QueueNotify with `a` (one past the last queue: ignored by the transport)
  kFrame,          // frame `a` arrives for pair `b`; the back end is readable at once if c & 1
  kReceiveReady,   // the back end's descriptor for pair `a` (up to one past the last) is readable
  kBackendErrors,  // receive fails (EIO, once) if a % 8 == 7, send (ENOBUFS) if b % 4 == 3
  kRegister,       // a register write of (c << 8 | b) at (a & 0x7f) % 72 * 4, a read if a & 0x80
  kReset,          // reset, check that the device stays quiet, initialise again (fresh rings)
  kSuppress,       // used_event (EVENT_IDX) or the available ring's flags of queue a: c << 8 | b
  kStepKinds
};

constexpr uint64_t kRegionASize = 0x6000;  // [0x6000, kRegionB) is a hole
constexpr uint64_t kQueueArea = kRegionA;  // queue i at kQueueArea + i * kQueueStride
constexpr uint64_t kQueueStride = 0x800;   // a queue of 64 takes 1678 bytes
constexpr uint32_t kMaxFrameLength = NetDevice::kReceiveBufferBytes + 64;

struct FrameSpec {
  uint8_t header[sizeof(NetHeader)];
  uint32_t length;  // the whole frame, header included
};

struct Input {
  uint8_t flags = 0;
  uint16_t queue_size = 1;
  uint64_t features = 0;
  uint32_t receive_offloads = 0;
  std::span<const uint8_t> steps;
  std::vector<FrameSpec> frames;
  std::span<const uint8_t> image;

  uint16_t pairs() const { return (flags & kFlagTwoPairs) ? 2 : 1; }
};

[[maybe_unused]] bool parse(const uint8_t* data, size_t size, Input& input) {
  if (size < kHeaderBytes) return false;
  input.flags = data[0];
  input.queue_size = static_cast<uint16_t>(1u << (data[1] % 7));
  input.features = uint64_t{le32(data + 2)} | (uint64_t{le32(data + 6)} << 32);
  input.receive_offloads = data[10] & 0x7fu;
  size_t at = kHeaderBytes;
  size_t steps = data[11] % (kMaxSteps + 1) * kStepBytes;
  steps = std::min(steps, (size - at) / kStepBytes * kStepBytes);
  input.steps = std::span(data + at, steps);
  at += steps;
  size_t frames = data[12] % (kMaxFrames + 1);
  for (size_t i = 0; i < frames && at + kFrameEntryBytes <= size; ++i) {
    FrameSpec frame;
    std::memcpy(frame.header, data + at, sizeof(frame.header));
    const uint8_t* length = data + at + sizeof(frame.header);
    frame.length =
        (uint32_t{length[0]} | (uint32_t{length[1]} << 8) | (uint32_t{length[2]} << 16)) %
        (kMaxFrameLength + 1);
    input.frames.push_back(frame);
    at += kFrameEntryBytes;
  }
  input.image = std::span(data + at, size - at);
  return true;
}

// Every byte of guest memory, to see whether anything wrote to it.
std::vector<uint8_t> snapshot(const GuestMemory& memory) {
  std::vector<uint8_t> bytes;
  for (const MemoryRegion& region : memory.regions()) {
    const uint8_t* data = region.mapping.data();
    bytes.insert(bytes.end(), data, data + region.size());
  }
  return bytes;
}

// Features a well-behaved driver could accept: each with those it needs (§5.1.3.1).
uint64_t consistent(uint64_t features) {
  auto has = [&](uint32_t feature) { return (features & feature_bit(feature)) != 0; };
  auto drop = [&](std::initializer_list<uint32_t> dropped) {
    for (uint32_t feature : dropped) features &= ~feature_bit(feature);
  };
  if (!has(kNetFeatureGuestCsum))
    drop({kNetFeatureGuestTso4, kNetFeatureGuestTso6, kNetFeatureGuestUfo, kNetFeatureGuestUso4,
          kNetFeatureGuestUso6});
  if (!has(kNetFeatureGuestTso4) && !has(kNetFeatureGuestTso6)) drop({kNetFeatureGuestEcn});
  if (!has(kNetFeatureCsum))
    drop({kNetFeatureHostTso4, kNetFeatureHostTso6, kNetFeatureHostUfo, kNetFeatureHostUso});
  if (!has(kNetFeatureHostTso4) && !has(kNetFeatureHostTso6)) drop({kNetFeatureHostEcn});
  if (!has(kNetFeatureCtrlVq)) drop({kNetFeatureMq, kNetFeatureCtrlGuestOffloads});
  if (missing_net_feature_dependency(features)) finding("consistent features are refused");
  return features;
}

// ---- The network ----
class FuzzNetBackend final : public NetBackend {
 public:
  FuzzNetBackend(const GuestMemory& memory, const Input& input)
      : memory_(memory),
        input_(input),
        pairs_(input.pairs()),
        accepts_offloads_(input.flags & kFlagOffloads),
        supported_(input.receive_offloads),
        waiting_(pairs_) {}

  void set_offered(uint64_t features) { offered_ = features; }

  uint16_t queue_pairs() const override { return pairs_; }
  bool accepts_offloads() const override { return accepts_offloads_; }
  uint32_t supported_receive_offloads() const override { return supported_; }
  Result<void> set_receive_offloads(uint32_t offloads) override {
    using namespace net_offload;
    if (offloads & ~supported_) finding("receive offloads the back end does not support");
    if ((offloads & ~kChecksum) && !(offloads & kChecksum))
      finding("receive offloads without TUN_F_CSUM");
    if ((offloads & kTsoEcn) && !(offloads & (kTso4 | kTso6)))
      finding("TUN_F_TSO_ECN without TUN_F_TSO4 or TUN_F_TSO6");
    return {};
  }
  Result<void> set_pair_enabled(uint16_t pair, bool) override {
    if (pair >= pairs_) finding("a queue pair the back end does not have");
    return {};
  }
  int receive_fd(uint16_t) const override { return -1; }

  ssize_t receive(uint16_t pair, std::span<uint8_t> buffer) override {
    if (pair >= pairs_) finding("a receive from a queue pair the back end does not have");
    if (buffer.size() < sizeof(NetHeader) + kNetMaxFrameBytes)
      finding("a receive buffer too small for the largest frame");
    if (receive_error_ && !receive_failed_) {
      // Once per input: the device logs each failure as a host error, which would flood the
      // fuzzer's output.
      receive_failed_ = true;
      return -EIO;
    }
    std::deque<std::vector<uint8_t>>& frames = waiting_[pair];
    if (frames.empty()) return -EAGAIN;
    size_t length = std::min(frames.front().size(), buffer.size());  // a TAP truncates too
    std::copy_n(frames.front().begin(), length, buffer.begin());
    frames.pop_front();
    ++frames_read_;
    return static_cast<ssize_t>(length);
  }

  ssize_t send(uint16_t pair, std::span<const iovec> frame) override {
    if (pair >= pairs_) finding("a frame sent on a queue pair the back end does not have");
    if (frame.empty() || frame[0].iov_len != sizeof(NetHeader))
      finding("a frame that does not start with a 12-byte header");
    if (inside_guest(memory_, frame[0].iov_base, frame[0].iov_len))
      finding("a header handed on from guest memory instead of its checked copy");
    NetHeader header;
    std::memcpy(&header, frame[0].iov_base, sizeof(header));
    uint64_t bytes = 0;
    for (const iovec& part : frame.subspan(1)) {
      if (part.iov_len == 0 || !inside_guest(memory_, part.iov_base, part.iov_len))
        finding("frame bytes outside guest memory");
      const auto* data = static_cast<const uint8_t*>(part.iov_base);
      sink_ += data[0] + data[part.iov_len - 1];
      bytes += part.iov_len;
    }
    if (header.num_buffers != 0) finding("a transmitted header with num_buffers");
    if (check_transmit_header(header, offered_, bytes))
      finding("a frame whose header the device should have refused");
    if (!accepts_offloads_ &&
        ((header.flags & kNetHeaderNeedsCsum) || header.gso_type != kNetGsoNone))
      finding("an offload request to a back end that takes none");
    ++sends_;
    if (send_error_) return -ENOBUFS;
    ++frames_sent_;
    return static_cast<ssize_t>(sizeof(header) + bytes);
  }

  // ---- The script's side ----
  void push(size_t index, uint16_t pair) {
    const FrameSpec& spec = input_.frames[index];
    std::vector<uint8_t> frame(spec.length);
    size_t header = std::min<size_t>(spec.length, sizeof(spec.header));
    std::copy_n(spec.header, header, frame.begin());
    for (size_t i = header; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(index * 31 + i);
    waiting_[pair % pairs_].push_back(std::move(frame));
  }
  void set_errors(bool receive, bool send) {
    receive_error_ = receive;
    send_error_ = send;
  }
  uint64_t frames_read() const { return frames_read_; }
  uint64_t frames_sent() const { return frames_sent_; }
  uint64_t sends() const { return sends_; }

 private:
  const GuestMemory& memory_;
  const Input& input_;
  const uint16_t pairs_;
  const bool accepts_offloads_;
  const uint32_t supported_;
  uint64_t offered_ = 0;
  std::vector<std::deque<std::vector<uint8_t>>> waiting_;
  bool receive_error_ = false;
  bool receive_failed_ = false;
  bool send_error_ = false;
  uint64_t frames_read_ = 0;
  uint64_t frames_sent_ = 0;
  uint64_t sends_ = 0;
  uint8_t sink_ = 0;
};

QueueLayout standard_layout(uint16_t queue, uint16_t size) {
  return ring_layout(kQueueArea + kQueueStride * queue, size);
}

// ---- The guest's driver ----
class Driver : public MmioDriver {
 public:
  Driver(NetDevice& device, const GuestMemory& memory, const Input& input)
      : MmioDriver(device, [&device](uint16_t queue) { device.notify_queue(queue); }),
        device_(device),
        memory_(memory),
        input_(input),
        available_(device.queue_count(), 0) {}

  // §3.1.1 with every queue set up; `fresh` zeroes the rings as a driver does after a reset (the
  // first time, the image's rings are taken as they are).
  void initialize(bool fresh) {
    uint64_t offered = start();
    uint64_t transport = feature_bit(kFeatureRingIndirectDesc) | feature_bit(kFeatureRingEventIdx);
    uint64_t wanted = (offered & input_.features & ~transport) | feature_bit(kFeatureVersion1);
    if (!(input_.flags & kFlagRawFeatures)) wanted = consistent(wanted);
    if (input_.flags & kFlagIndirect) wanted |= feature_bit(kFeatureRingIndirectDesc);
    if (input_.flags & kFlagEventIndex) wanted |= feature_bit(kFeatureRingEventIdx);
    accept(wanted);
    bool accepted = read(mmio::kStatus) & kStatusFeaturesOk;
    if (!accepted && !(input_.flags & kFlagRawFeatures))
      finding("the device refused consistent features");
    for (uint16_t queue = 0; queue < device_.queue_count(); ++queue) {
      QueueLayout layout = standard_layout(queue, input_.queue_size);
      if (fresh) {
        (void)memory_.fill(layout.available_ring, 4, 0);
        (void)memory_.fill(layout.used_ring, 4 + 8ull * layout.size + 2, 0);
      }
      auto index = memory_.read_obj<uint16_t>(layout.available_ring + 2);
      available_[queue] = index ? *index : 0;
      if (input_.flags & kFlagNoInterrupts)
        (void)memory_.write_obj(layout.available_ring, uint16_t{kAvailFlagNoInterrupt});
      set_up_queue(queue, layout);
    }
    driver_ok();
  }

  // Puts `head` in the next slot of `queue`'s available ring and publishes it.
  void make_available(uint16_t queue, uint16_t head) {
    QueueLayout layout = standard_layout(queue, input_.queue_size);
    uint16_t index = available_[queue]++;
    (void)memory_.write_obj(layout.available_ring + 4 + 2ull * (index % layout.size), head);
    (void)memory_.write_obj(layout.available_ring + 2, available_[queue]);
  }
  // used_event with EVENT_IDX, the available ring's flags without.
  void suppress(uint16_t queue, uint16_t value) {
    QueueLayout layout = standard_layout(queue, input_.queue_size);
    uint64_t at = (input_.flags & kFlagEventIndex) ? layout.available_ring + 4 + 2ull * layout.size
                                                   : layout.available_ring;
    (void)memory_.write_obj(at, value);
  }

 private:
  NetDevice& device_;
  const GuestMemory& memory_;
  const Input& input_;
  std::vector<uint16_t> available_;
};

// Resets the device, then checks that nothing it is asked to do writes to guest memory or uses
// the back end: a reset device is quiet until DRIVER_OK (§2.1.2, §3.1.1).
void reset_and_check_quiet(NetDevice& device, Driver& driver, FuzzNetBackend& backend,
                           const GuestMemory& memory) {
  driver.write(mmio::kStatus, 0);
  std::vector<uint8_t> before = snapshot(memory);
  uint64_t reads = backend.frames_read(), sends = backend.sends();
  for (uint16_t pair = 0; pair <= device.queue_pairs(); ++pair) device.receive_ready(pair);
  for (uint16_t queue = 0; queue < device.queue_count(); ++queue) device.notify_queue(queue);
  if (snapshot(memory) != before) finding("guest memory written after a reset");
  if (backend.frames_read() != reads || backend.sends() != sends)
    finding("the back end used after a reset");
}

[[maybe_unused]] void fuzz_net(const Input& input) {
  GuestMemory memory = make_memory(input.image, kRegionASize);
  auto owned = std::make_unique<FuzzNetBackend>(memory, input);
  FuzzNetBackend& backend = *owned;
  NetDeviceOptions options{"fuzz0", MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 1500};
  NullIrq irq;
  InlineWorker worker;
  uint16_t pairs = input.pairs();
  NetDevice device(memory, options, std::move(owned), irq, worker, [pairs](uint16_t pair, bool) {
    if (pair >= pairs) finding("a receive watch on a queue pair that does not exist");
  });
  backend.set_offered(device.device_features());
  Driver driver(device, memory, input);
  driver.initialize(false);

  for (size_t at = 0; at + kStepBytes <= input.steps.size(); at += kStepBytes) {
    const uint8_t* step = input.steps.data() + at;
    uint8_t a = step[1], b = step[2], c = step[3];
    uint16_t value = static_cast<uint16_t>(b | (c << 8));
    switch (step[0] % kStepKinds) {
      case kAvailable: {
        auto queue = static_cast<uint16_t>(a % device.queue_count());
        driver.make_available(queue, b);
        if (c & 1) driver.write(mmio::kQueueNotify, queue);
        break;
      }
      case kNotify:
        driver.write(mmio::kQueueNotify, a % (device.queue_count() + 1u));
        break;
      case kFrame:
        if (input.frames.empty()) break;
        backend.push(a % input.frames.size(), b);
        if (c & 1) device.receive_ready(static_cast<uint16_t>(b % pairs));
        break;
      case kReceiveReady:
        device.receive_ready(static_cast<uint16_t>(a % (pairs + 1u)));
        break;
      case kBackendErrors:
        backend.set_errors(a % 8 == 7, b % 4 == 3);
        break;
      case kRegister:
        driver.register_access(a, value);
        break;
      case kReset:
        reset_and_check_quiet(device, driver, backend, memory);
        driver.initialize(true);
        break;
      case kSuppress:
        driver.suppress(static_cast<uint16_t>(a % device.queue_count()), value);
        break;
      default:
        break;
    }
    const NetDevice::Counters& counters = device.counters();
    if (counters.received + counters.receive_dropped > backend.frames_read())
      finding("more frames received or dropped than the back end handed over");
    if (counters.transmitted != backend.frames_sent())
      finding("the frames counted as sent are not those the back end took");
  }
  if (input.flags & kFlagResetAtEnd) reset_and_check_quiet(device, driver, backend, memory);
  if (std::getenv("WISP_FUZZ_VERBOSE")) {  // what a seed did, to check that it does what it says
    const NetDevice::Counters& counters = device.counters();
    std::fprintf(stderr,
                 "net_fuzz: sent %llu, send dropped %llu, received %llu, receive dropped %llu, "
                 "frames read %llu, status %#x\n",
                 static_cast<unsigned long long>(counters.transmitted),
                 static_cast<unsigned long long>(counters.transmit_dropped),
                 static_cast<unsigned long long>(counters.received),
                 static_cast<unsigned long long>(counters.receive_dropped),
                 static_cast<unsigned long long>(backend.frames_read()),
                 driver.read(mmio::kStatus));
  }
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
  fuzz_net(input);
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

// Where seeds put things in region A: the queues from 0 (five of up to 64 entries end before
// 0x2800), then control commands and acks, an indirect table, then buffers.
constexpr uint64_t kCommand = 0x2800;
constexpr uint64_t kAck = 0x2900;
constexpr uint64_t kTable = 0x2a00;
constexpr uint64_t kTxData = 0x3000;  // to 0x4000
constexpr uint64_t kRxData = 0x4000;  // to 0x6000
constexpr uint64_t kHole = 0x7000;
constexpr uint64_t kAllFeatures = ~0ull;

// Builds one input as a driver would lay out its rings.
class Seed : public SeedImage {
 public:
  explicit Seed(uint8_t flags, uint16_t size_log2 = 4, uint64_t features = kAllFeatures,
                uint8_t offloads = 0x7f)
      : SeedImage(kRegionASize), size_(static_cast<uint16_t>(1u << size_log2)) {
    header_[0] = flags;
    header_[1] = static_cast<uint8_t>(size_log2);
    for (int i = 0; i < 8; ++i) header_[2 + i] = static_cast<uint8_t>(features >> (8 * i));
    header_[10] = offloads;
  }

  void step(StepKind kind, uint8_t a = 0, uint8_t b = 0, uint8_t c = 0) {
    steps_.insert(steps_.end(), {static_cast<uint8_t>(kind), a, b, c});
  }
  // A frame the network hands over: its index for kFrame steps.
  uint8_t frame(const NetHeader& header, uint32_t length) {
    uint8_t entry[kFrameEntryBytes];
    std::memcpy(entry, &header, sizeof(header));
    entry[12] = static_cast<uint8_t>(length);
    entry[13] = static_cast<uint8_t>(length >> 8);
    entry[14] = static_cast<uint8_t>(length >> 16);
    frames_.insert(frames_.end(), entry, entry + sizeof(entry));
    return static_cast<uint8_t>(frame_count_++);
  }

  // Descriptor `index` of `queue`'s table.
  void descriptor(uint16_t queue, uint16_t index, uint64_t address, uint32_t length,
                  uint16_t flags = 0, uint16_t next = 0) {
    descriptor_at(standard_layout(queue, size_).descriptor_table, index, address, length, flags,
                  next);
  }
  // A chain of `buffers` (address, length, writable) from descriptor `first` of `queue` on.
  struct Buffer {
    uint64_t address;
    uint32_t length;
    bool writable;
  };
  void chain(uint16_t queue, uint16_t first, std::initializer_list<Buffer> buffers) {
    uint16_t index = first;
    size_t left = buffers.size();
    for (const Buffer& buffer : buffers) {
      bool last = --left == 0;
      auto flags = static_cast<uint16_t>((buffer.writable ? kDescFlagWrite : 0) |
                                         (last ? 0 : kDescFlagNext));
      descriptor(queue, index, buffer.address, buffer.length, flags,
                 static_cast<uint16_t>(index + 1));
      ++index;
    }
  }
  // Control command bytes at kCommand and a chain for them (class and command, data, ack).
  void command(uint16_t queue, uint16_t first, uint8_t command_class, uint8_t code,
               std::span<const uint8_t> data) {
    uint8_t head[2] = {command_class, code};
    put(kCommand, head, 2);
    put(kCommand + 2, data.data(), data.size());
    put(kAck, uint8_t{0xee});
    chain(queue, first,
          {{kCommand, 2, false},
           {kCommand + 2, static_cast<uint32_t>(data.size()), false},
           {kAck, 1, true}});
  }

  void write(const std::string& path) {
    header_[11] = static_cast<uint8_t>(steps_.size() / kStepBytes);
    header_[12] = static_cast<uint8_t>(frame_count_);
    write_seed(path, {header_, steps_, frames_, image()});
  }

 private:
  uint16_t size_;
  uint8_t header_[kHeaderBytes] = {};
  std::vector<uint8_t> steps_;
  std::vector<uint8_t> frames_;
  size_t frame_count_ = 0;
};

NetHeader header(uint8_t flags = 0, uint8_t gso_type = kNetGsoNone, uint16_t hdr_len = 0,
                 uint16_t gso_size = 0, uint16_t csum_start = 0, uint16_t csum_offset = 0) {
  return NetHeader{flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, 0};
}

uint64_t bit(uint32_t feature) {
  return feature_bit(feature);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  const uint64_t no_mrg = kAllFeatures & ~bit(kNetFeatureMrgRxbuf);
  {
    Seed seed(kFlagOffloads);  // a plain frame sent
    seed.put(kTxData, header());
    seed.chain(1, 0, {{kTxData, 12, false}, {kTxData + 12, 60, false}});
    seed.step(kAvailable, 1, 0, 1);
    seed.write(dir + "/tx");
  }
  {
    // A TCPv4 GSO frame, its header split across descriptors, then the same from an indirect
    // table, then a malformed one (GSO without NEEDS_CSUM) and one with a buffer in the hole.
    Seed seed(kFlagOffloads | kFlagIndirect);
    seed.put(kTxData, header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16));
    seed.chain(1, 0, {{kTxData, 5, false}, {kTxData + 5, 27, false}, {kTxData + 32, 3000, false}});
    seed.descriptor_at(kTable, 0, kTxData, 12, kDescFlagNext, 1);
    seed.descriptor_at(kTable, 1, kTxData + 12, 3020, 0, 0);
    seed.descriptor(1, 3, kTable, 32, kDescFlagIndirect);
    seed.put(kTxData + 0xc00, header(0, kNetGsoTcpV4, 54, 1448, 34, 16));
    seed.chain(1, 4, {{kTxData + 0xc00, 12, false}, {kTxData + 0xc0c, 100, false}});
    seed.chain(1, 6, {{kTxData, 12, false}, {kHole, 100, false}});
    for (uint8_t head : {0, 3, 4}) seed.step(kAvailable, 1, head, 0);
    seed.step(kNotify, 1);
    seed.step(kAvailable, 1, 6, 1);
    seed.write(dir + "/tx-gso-malformed");
  }
  {
    // Frames received without MRG_RXBUF: one into a chain of two buffers, one too large for the
    // next chain, which then takes the third.
    Seed seed(kFlagOffloads, 4, no_mrg);
    seed.chain(0, 0, {{kRxData, 8, true}, {kRxData + 0x100, 1600, true}});
    seed.chain(0, 2, {{kRxData + 0x1000, 1024, true}});
    uint8_t frame = seed.frame(header(kNetHeaderDataValid), 12 + 500);
    uint8_t too_big = seed.frame(header(), 12 + 2000);
    seed.step(kAvailable, 0, 0, 1);
    seed.step(kAvailable, 0, 2, 1);
    seed.step(kFrame, frame, 0, 1);
    seed.step(kFrame, too_big, 0, 1);
    seed.step(kFrame, frame, 0, 1);
    seed.write(dir + "/rx");
  }
  {
    Seed seed(kFlagOffloads | kFlagEventIndex);  // mergeable buffers, and none at first
    uint8_t frame = seed.frame(header(), 12 + 150);
    uint8_t gso = seed.frame(header(kNetHeaderNeedsCsum, kNetGsoTcpV6, 74, 1428, 54, 16), 4000);
    seed.step(kFrame, frame, 0, 1);
    for (uint16_t i = 0; i < 3; ++i) {
      seed.chain(0, i, {{kRxData + 0x100 * i, 64, true}});
      seed.step(kAvailable, 0, static_cast<uint8_t>(i), i == 2);
    }
    seed.chain(0, 3, {{kRxData + 0x1000, 0x1000, true}, {kRegionB, 0x1000, true}});
    seed.step(kAvailable, 0, 3, 1);
    seed.step(kFrame, gso, 0, 1);
    seed.step(kSuppress, 0, 1, 0);
    seed.write(dir + "/rx-mergeable");
  }
  {
    Seed seed(kFlagOffloads | kFlagTwoPairs);  // MQ: two pairs, control queue 4
    uint8_t pairs[2] = {2, 0};
    seed.command(4, 0, 4, 0, pairs);
    seed.step(kAvailable, 4, 0, 1);
    seed.put(kTxData, header());
    seed.chain(3, 0, {{kTxData, 72, false}});
    seed.step(kAvailable, 3, 0, 1);
    seed.chain(2, 0, {{kRxData, 2048, true}});
    seed.step(kAvailable, 2, 0, 1);
    uint8_t frame = seed.frame(header(), 12 + 100);
    seed.step(kFrame, frame, 1, 1);
    seed.step(kReceiveReady, 2);
    seed.write(dir + "/multiqueue");
  }
  {
    Seed seed(kFlagOffloads);  // GUEST_OFFLOADS_SET, then a TSO frame the guest refused
    uint64_t offloads = bit(kNetFeatureGuestCsum);
    uint8_t data[8];
    std::memcpy(data, &offloads, sizeof(data));
    seed.command(2, 0, 5, 0, data);
    seed.step(kAvailable, 2, 0, 1);
    seed.chain(0, 0, {{kRxData, 4096, true}});
    seed.step(kAvailable, 0, 0, 1);
    uint8_t tso = seed.frame(header(kNetHeaderNeedsCsum, kNetGsoTcpV4, 54, 1448, 34, 16), 3012);
    uint8_t plain = seed.frame(header(kNetHeaderDataValid), 70);
    seed.step(kFrame, tso, 0, 1);
    seed.step(kFrame, plain, 0, 1);
    seed.write(dir + "/guest-offloads");
  }
  {
    Seed seed(kFlagOffloads | kFlagResetAtEnd);  // traffic, a reset, traffic
    seed.put(kTxData, header());
    seed.chain(1, 0, {{kTxData, 72, false}});
    seed.chain(0, 0, {{kRxData, 2048, true}});
    uint8_t frame = seed.frame(header(), 12 + 64);
    seed.step(kFrame, frame, 0, 1);
    seed.step(kAvailable, 1, 0, 1);
    seed.step(kReset);
    seed.step(kAvailable, 1, 0, 1);
    seed.step(kAvailable, 0, 0, 1);
    seed.step(kFrame, frame, 0, 1);
    seed.write(dir + "/reset");
  }
  {
    // A back end without offloads, a receive error, a send error, odd frame lengths.
    Seed seed(0, 3, kAllFeatures, 0);
    seed.put(kTxData, header());
    seed.chain(1, 0, {{kTxData, 12 + 13, false}});
    seed.chain(1, 1, {{kTxData, 12 + 14, false}});
    seed.chain(0, 0, {{kRxData, 2048, true}});
    uint8_t tiny = seed.frame(header(), 20);
    uint8_t huge = seed.frame(header(), kMaxFrameLength);
    uint8_t plain = seed.frame(header(kNetHeaderNeedsCsum), 100);
    seed.step(kAvailable, 0, 0, 1);
    seed.step(kFrame, tiny, 0, 1);
    seed.step(kFrame, huge, 0, 1);
    seed.step(kBackendErrors, 7, 3);
    seed.step(kFrame, plain, 0, 1);
    seed.step(kAvailable, 1, 1, 1);  // refused by the back end
    seed.step(kBackendErrors, 0, 0);
    seed.step(kReceiveReady, 0);
    seed.step(kAvailable, 1, 0, 1);  // too short
    seed.step(kAvailable, 1, 1, 1);
    seed.step(kRegister, mmio::kInterruptAck / 4, 3, 0);
    seed.step(kRegister, 0x80 | (mmio::kStatus / 4));
    seed.write(dir + "/no-offloads");
  }
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
