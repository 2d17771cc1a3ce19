// libFuzzer target: the virtio-mmio register file (devices/virtio/mmio_transport.*, and the
// register side of devices/virtio/virtio_device.*) under a hostile driver, with a fake device.
//
// virtio_fuzz and net_fuzz drive the transport with 4-byte aligned accesses to the first 72
// registers only; here every access is a read or write of width 1, 2, 4 or 8 at any offset of the
// 4 KiB window (or, to reach the registers faster, an aligned 4-byte access to one of them). The
// input also chooses the fake device: its ID, features, queue count, QueueNumMax, configuration
// space, whether it refuses a feature without another, and whether it fails (DEVICE_NEEDS_RESET)
// on the first chain it pops. A guest memory image (two regions with a hole between them) holds
// whatever rings the driver points the queues at.
//
// The target keeps a model of the register file written from the virtio 1.x spec (§2.1 status,
// §2.2 features, §3.1.1 initialisation, §4.2.2 the MMIO registers) and checks against it:
//   - every read: the constant registers, DeviceFeatures by its selector, QueueNumMax, QueueReady
//     and the queue addresses of the selected queue, InterruptStatus, Status (with
//     DEVICE_NEEDS_RESET), ConfigGeneration, the SHM registers (-1), the configuration space at
//     any width (0 past its end); accesses below the configuration space that are not 4 bytes
//     wide and aligned read 0 and change nothing;
//   - the device side: activate is called exactly when DRIVER_OK is accepted, with the queues the
//     driver made ready, each of the size it wrote and at the addresses it wrote; a DRIVER_OK that
//     activates nothing must report DEVICE_NEEDS_RESET; reset is called exactly when a running
//     device is reset; queues are served only while running and not failed;
//   - features: FEATURES_OK sticks only for a subset of what was offered, with VERSION_1, that the
//     device accepts; driver features cannot change after FEATURES_OK;
//   - interrupts: InterruptStatus holds exactly the bits raised and not acknowledged, and a change
//     to a live queue after DRIVER_OK fails the device with a configuration-change interrupt.
// A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (a driver's initialisation and requests, resets, refused features, live queue changes, narrow
// and wide accesses to the registers and the configuration space) into the directory it is given.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/base/device_worker.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/irq_line.h"
#include "vmm/base/log.h"

// Where an activated queue's rings are is private to VirtQueue; the target compares them with
// what the driver wrote through pointers to members named in an explicit instantiation, where
// access checking does not apply ([temp.spec.general]).
namespace wisp::fuzz {
template <auto Member, typename Tag>
struct Expose {
  friend auto member(Tag) { return Member; }
};
struct Descriptors {};
struct Available {};
struct Used {};
auto member(Descriptors);
auto member(Available);
auto member(Used);
template struct Expose<&virtio::VirtQueue::descriptors_, Descriptors>;
template struct Expose<&virtio::VirtQueue::available_, Available>;
template struct Expose<&virtio::VirtQueue::used_, Used>;
}  // namespace wisp::fuzz

namespace {

using namespace wisp;
using namespace wisp::virtio;
using namespace wisp::fuzz;

// ---- The input format ----
// [0]       flags (below)
// [1]       queues: 1 + value % 4; QueueNumMax: 1 << ((value >> 2) % 9), 1 to 256
// [2]       the configuration space's length: value % 65 bytes
// [3]       the device ID
// [4..11]   the device type's features (le64)
// [12]      count of steps, 7 bytes each: access, offset (le16), value (le32)
//   access: bit 7 a read; bits 0-1 the width (1, 2, 4, 8); bit 5: a register access instead
//   (4 bytes wide at (offset % 64) * 4); an 8-byte write writes the value twice
// then      the guest memory image: region A from its start, then region B
constexpr uint8_t kFlagRefuseFeature = 1 << 0;  // refuse feature bit 0 without bit 1
constexpr uint8_t kFlagFailOnPop = 1 << 1;      // fail_device on the first chain popped
constexpr size_t kHeaderBytes = 13;
constexpr size_t kStepBytes = 7;
constexpr uint8_t kAccessRead = 0x80;
constexpr uint8_t kAccessRegister = 0x20;
constexpr uint64_t kWindowBytes = 0x1000;
constexpr uint64_t kRegionASize = 0x4000;

constexpr uint64_t kTransportFeatures = feature_bit(kFeatureVersion1) |
                                        feature_bit(kFeatureRingIndirectDesc) |
                                        feature_bit(kFeatureRingEventIdx);

// Counts the pulses a device raises, so the fake device knows which of its calls interrupted.
class CountingIrq final : public IrqLine {
 public:
  void set_level(bool high) override { pulses += high; }
  uint64_t pulses = 0;
};

// ---- The fake device: records what the register side asks of it ----
class FakeDevice final : public VirtioDevice {
 public:
  FakeDevice(const GuestMemory& memory, Identity identity, CountingIrq& irq, DeviceWorker& worker,
             uint8_t flags)
      : VirtioDevice(memory, std::move(identity), irq, worker), irq_(irq), flags_(flags) {}

  std::string_view name() const override { return "fuzz0"; }
  uint64_t accepted_features() const { return driver_features(); }

  // What happened during the last register access.
  struct Events {
    bool activated = false;
    bool reset = false;
    std::vector<uint16_t> processed;
    uint32_t raised = 0;  // interrupt bits raised by the device type
    bool failed = false;  // the device type called fail_device
  };
  Events events;
  std::vector<std::optional<VirtQueue>> queues;  // since activation
  bool running = false;

 protected:
  void activate(std::vector<std::optional<VirtQueue>> activated) override {
    if (running) finding("activated twice without a reset");
    running = true;
    events.activated = true;
    queues = std::move(activated);
  }
  void reset() override {
    if (!running) finding("reset while not running");
    running = false;
    events.reset = true;
    queues.clear();
  }
  void process_queue(uint16_t index) override {
    if (!running) finding("a queue served while not running");
    events.processed.push_back(index);
    if (index >= queues.size() || !queues[index]) return;
    VirtQueue& queue = *queues[index];
    DescriptorChain chain;
    for (uint32_t i = 0; i < 2u * queue.size() + 2; ++i) {
      auto popped = queue.pop(chain);
      if (!popped || ((flags_ & kFlagFailOnPop) && *popped)) {
        fail("a broken ring, or a chain this device refuses");
        return;
      }
      if (!*popped) break;
      if (!queue.push_used(chain.head(), 0)) {
        fail("the used ring");
        return;
      }
    }
    uint64_t before = irq_.pulses;
    interrupt_if_needed(queue);
    if (irq_.pulses != before) events.raised |= kInterruptUsedBuffer;
  }
  void write_config_bytes(uint64_t offset, std::span<const uint8_t> data) override {
    std::vector<uint8_t>& config = config_bytes();
    bool wrote = false;
    for (size_t i = 0; i < data.size() && offset + i < config.size(); ++i, wrote = true)
      config[offset + i] = data[i];
    if (wrote) bump_config_generation();
  }
  std::optional<std::string> refuse_features(uint64_t features) const override {
    if ((flags_ & kFlagRefuseFeature) && (features & 1) && !(features & 2))
      return "feature 0 needs feature 1";
    return std::nullopt;
  }

 private:
  void fail(std::string_view why) {
    events.failed = true;
    fail_device(why);
  }

  CountingIrq& irq_;
  uint8_t flags_;
};

// ---- The model of the register file ----
struct QueueModel {
  uint32_t size = 0;
  uint64_t descriptors = 0, available = 0, used = 0;
  bool ready = false;
};

class Harness {
 public:
  Harness(const uint8_t* header, std::span<const uint8_t> image)
      : flags_(header[0]),
        queue_count_(static_cast<uint16_t>(1 + header[1] % 4)),
        max_queue_size_(static_cast<uint16_t>(1u << ((header[1] >> 2) % 9))),
        device_id_(header[3]),
        device_features_((uint64_t{le32(header + 4)} | uint64_t{le32(header + 8)} << 32) |
                         kTransportFeatures),
        memory_(make_memory(image, kRegionASize)),
        device_(memory_, identity(header), irq_, worker_, flags_),
        transport_(device_, [this](uint16_t queue) { device_.notify_queue(queue); }),
        queues_(queue_count_) {
    for (size_t i = 0; i < header[2] % 65u; ++i)
      initial_config_.push_back(static_cast<uint8_t>(0x30 + i));
    config_ = initial_config_;
  }

  void step(const uint8_t* step) {
    uint8_t access = step[0];
    uint64_t offset = le16(step + 1) % kWindowBytes;
    size_t width = size_t{1} << (access & 3);
    if (access & kAccessRegister) {
      offset = offset % 64 * 4;
      width = 4;
    }
    offset = std::min(offset, kWindowBytes - width);
    uint32_t value = le32(step + 3);
    device_.events = {};
    if (access & kAccessRead) {
      read(offset, width);
    } else {
      write(offset, width, value);
    }
    if (device_.events.activated || device_.events.reset || !device_.events.processed.empty() ||
        device_.events.raised || device_.events.failed)
      finding("the device acted on a read or an access it should have ignored");
    if (device_.accepted_features() != driver_features_)
      finding("the driver's features are not what it wrote before FEATURES_OK");
  }

 private:
  static VirtioDevice::Identity identity(const uint8_t* header) {
    VirtioDevice::Identity identity;
    identity.device_id = header[3];
    identity.features = uint64_t{le32(header + 4)} | uint64_t{le32(header + 8)} << 32;
    identity.queue_count = static_cast<uint16_t>(1 + header[1] % 4);
    identity.max_queue_size = static_cast<uint16_t>(1u << ((header[1] >> 2) % 9));
    for (size_t i = 0; i < header[2] % 65u; ++i)
      identity.config.push_back(static_cast<uint8_t>(0x30 + i));
    return identity;
  }

  static bool is_register_access(uint64_t offset, size_t width) {
    return width == 4 && offset % 4 == 0;
  }

  // ---- Reads: compared with the model; a read changes nothing ----
  void read(uint64_t offset, size_t width) {
    uint8_t data[8];
    std::memset(data, 0xa5, sizeof(data));
    transport_.read(offset, std::span(data, width));
    uint8_t expected[8] = {};
    if (offset >= mmio::kConfig) {
      for (size_t i = 0; i < width; ++i) {
        uint64_t at = offset - mmio::kConfig + i;
        expected[i] = at < config_.size() ? config_[at] : 0;
      }
    } else if (is_register_access(offset, width)) {
      uint32_t value = expected_register(offset);
      std::memcpy(expected, &value, 4);
    }
    if (std::memcmp(data, expected, width) != 0) finding("a read that disagrees with the model");
  }

  uint32_t expected_register(uint64_t offset) const {
    const QueueModel* queue = queue_select_ < queue_count_ ? &queues_[queue_select_] : nullptr;
    auto address = [&](uint64_t QueueModel::*part, bool high) -> uint32_t {
      if (!queue) return 0;
      return static_cast<uint32_t>(high ? queue->*part >> 32 : queue->*part);
    };
    switch (offset) {
      case mmio::kMagicValue:
        return mmio::kMagic;
      case mmio::kVersion:
        return mmio::kTransportVersion;
      case mmio::kDeviceId:
        return device_id_;
      case mmio::kVendorId:
        return mmio::kVendor;
      case mmio::kDeviceFeatures:
        return device_features_select_ > 1
                   ? 0
                   : static_cast<uint32_t>(device_features_ >> (32 * device_features_select_));
      case mmio::kQueueNumMax:
        return queue ? max_queue_size_ : 0;
      case mmio::kQueueReady:
        return queue && queue->ready;
      case mmio::kInterruptStatus:
        return interrupt_status_;
      case mmio::kStatus:
        return status_ | (needs_reset_ ? kStatusDeviceNeedsReset : 0);
      case mmio::kQueueDescLow:
      case mmio::kQueueDescHigh:
        return address(&QueueModel::descriptors, offset == mmio::kQueueDescHigh);
      case mmio::kQueueDriverLow:
      case mmio::kQueueDriverHigh:
        return address(&QueueModel::available, offset == mmio::kQueueDriverHigh);
      case mmio::kQueueDeviceLow:
      case mmio::kQueueDeviceHigh:
        return address(&QueueModel::used, offset == mmio::kQueueDeviceHigh);
      case mmio::kShmLenLow:
      case mmio::kShmLenHigh:
      case mmio::kShmBaseLow:
      case mmio::kShmBaseHigh:
        return UINT32_MAX;
      case mmio::kConfigGeneration:
        return config_generation_;
      default:
        return 0;
    }
  }

  // ---- Writes: the model follows the spec, then the device's reports are checked ----
  void write(uint64_t offset, size_t width, uint32_t value) {
    uint8_t data[8];
    store_le(std::span(data, width), uint64_t{value} | uint64_t{value} << 32);
    if (offset >= mmio::kConfig) {
      transport_.write(offset, std::span<const uint8_t>(data, width));
      bool wrote = false;
      for (size_t i = 0; i < width && offset - mmio::kConfig + i < config_.size(); ++i) {
        config_[offset - mmio::kConfig + i] = data[i];
        wrote = true;
      }
      config_generation_ += wrote;
      return;
    }
    if (!is_register_access(offset, width)) {
      transport_.write(offset, std::span<const uint8_t>(data, width));
      return;  // step() checks that the device did nothing
    }
    bool was_running = device_.running;
    bool could_serve = device_.running && !needs_reset_;
    transport_.write(offset, std::span<const uint8_t>(data, 4));
    FakeDevice::Events events = device_.events;
    device_.events = {};
    switch (offset) {
      case mmio::kDeviceFeaturesSel:
        device_features_select_ = value;
        break;
      case mmio::kDriverFeatures:
        if (!(status_ & kStatusFeaturesOk) && driver_features_select_ <= 1) {
          uint64_t shift = 32ull * driver_features_select_;
          driver_features_ =
              (driver_features_ & ~(uint64_t{UINT32_MAX} << shift)) | (uint64_t{value} << shift);
        }
        break;
      case mmio::kDriverFeaturesSel:
        driver_features_select_ = value;
        break;
      case mmio::kQueueSel:
        queue_select_ = static_cast<uint16_t>(std::min<uint32_t>(value, UINT16_MAX));
        break;
      case mmio::kQueueNum:
        change_queue([&](QueueModel& queue) { queue.size = value; });
        break;
      case mmio::kQueueReady:
        if (queue_select_ < queue_count_ && queues_[queue_select_].ready != (value & 1)) {
          if (status_ & kStatusDriverOk) {
            fail_device();
          } else {
            queues_[queue_select_].ready = value & 1;
          }
        }
        break;
      case mmio::kQueueNotify: {
        bool served = value < queue_count_ && could_serve;
        bool as_served = events.processed.size() == 1 && events.processed[0] == value;
        if (served ? !as_served : !events.processed.empty())
          finding("a notification served wrongly");
        break;
      }
      case mmio::kInterruptAck:
        interrupt_status_ &= ~value;
        break;
      case mmio::kStatus:
        write_status(value, was_running, events);
        break;
      case mmio::kQueueDescLow:
      case mmio::kQueueDescHigh:
        set_address(&QueueModel::descriptors, offset == mmio::kQueueDescHigh, value);
        break;
      case mmio::kQueueDriverLow:
      case mmio::kQueueDriverHigh:
        set_address(&QueueModel::available, offset == mmio::kQueueDriverHigh, value);
        break;
      case mmio::kQueueDeviceLow:
      case mmio::kQueueDeviceHigh:
        set_address(&QueueModel::used, offset == mmio::kQueueDeviceHigh, value);
        break;
      default:
        break;
    }
    if (offset != mmio::kStatus && (events.activated || events.reset))
      finding("activated or reset by a write other than Status");
    if (offset != mmio::kQueueNotify && !events.processed.empty())
      finding("a queue served without a notification");
    if (events.failed) fail_device();
    interrupt_status_ |= events.raised;
  }

  template <typename Change>
  void change_queue(Change change) {
    if (queue_select_ >= queue_count_) return;
    QueueModel& queue = queues_[queue_select_];
    if (queue.ready) {
      // A live queue's configuration does not change (§4.2.2.2); after DRIVER_OK, the device
      // needs a reset.
      if (status_ & kStatusDriverOk) fail_device();
      return;
    }
    change(queue);
  }
  void set_address(uint64_t QueueModel::*part, bool high, uint32_t value) {
    change_queue([&](QueueModel& queue) {
      uint64_t& address = queue.*part;
      address = high ? (address & UINT32_MAX) | (uint64_t{value} << 32)
                     : (address & ~uint64_t{UINT32_MAX}) | value;
    });
  }

  void fail_device() {
    if (!needs_reset_) interrupt_status_ |= kInterruptConfigChange;
    needs_reset_ = true;
  }

  bool features_acceptable() const {
    if ((driver_features_ & ~device_features_) ||
        !(driver_features_ & feature_bit(kFeatureVersion1)))
      return false;
    return !((flags_ & kFlagRefuseFeature) && (driver_features_ & 1) && !(driver_features_ & 2));
  }

  // §2.1, §3.1.1: 0 resets; otherwise bits are only added, FEATURES_OK only for features the
  // device accepts, DRIVER_OK only after FEATURES_OK.
  void write_status(uint32_t value, bool was_running, const FakeDevice::Events& events) {
    auto status = static_cast<uint8_t>(value);
    if (status == 0) {
      if (events.reset != was_running) finding("reset called wrongly");
      if (events.activated) finding("activated by a reset");
      status_ = 0;
      driver_features_ = 0;
      std::fill(queues_.begin(), queues_.end(), QueueModel{});
      config_ = initial_config_;
      interrupt_status_ = 0;
      needs_reset_ = false;
      // Status is 8 bits wide: 0x100 resets as 0 does, and the transport's selectors with it.
      device_features_select_ = 0;
      driver_features_select_ = 0;
      queue_select_ = 0;
      return;
    }
    if (events.reset) finding("reset by a status write that is not 0");
    status &= static_cast<uint8_t>(~kStatusDeviceNeedsReset);
    uint8_t added = status & ~status_;
    bool starts = false;
    if (!(status_ & ~status)) {
      if ((added & kStatusFeaturesOk) && !features_acceptable()) {
        status &= static_cast<uint8_t>(~kStatusFeaturesOk);
        added &= static_cast<uint8_t>(~kStatusFeaturesOk);
      }
      if (!((added & kStatusDriverOk) && !(status & kStatusFeaturesOk))) {
        status_ = status;
        starts = added & kStatusDriverOk;
      }
    }
    if (!starts) {
      if (events.activated) finding("activated without DRIVER_OK accepted");
      return;
    }
    if (events.activated) {
      check_activated_queues();
      return;
    }
    // Not activated: a ready queue's size or layout was refused, with DEVICE_NEEDS_RESET.
    if (std::none_of(queues_.begin(), queues_.end(),
                     [](const QueueModel& queue) { return queue.ready; }))
      finding("DRIVER_OK with no queue ready did not activate the device");
    fail_device();
  }

  void check_activated_queues() {
    if (device_.queues.size() != queue_count_) finding("activated with the wrong queue count");
    for (size_t i = 0; i < queue_count_; ++i) {
      const QueueModel& model = queues_[i];
      const std::optional<VirtQueue>& queue = device_.queues[i];
      if (queue.has_value() != model.ready) finding("activated queues that are not the ready ones");
      if (!queue) continue;
      if (model.size > max_queue_size_ || queue->size() != model.size)
        finding("a queue activated with a size the driver did not write, or above QueueNumMax");
      auto starts_at = [&](std::span<uint8_t> part, uint64_t address) {
        auto host = memory_.slice(address, part.size());
        return host && host->data() == part.data();
      };
      if (!starts_at((*queue).*member(Descriptors{}), model.descriptors) ||
          !starts_at((*queue).*member(Available{}), model.available) ||
          !starts_at((*queue).*member(Used{}), model.used))
        finding("a queue activated at addresses the driver did not write");
    }
  }

  const uint8_t flags_;
  const uint16_t queue_count_;
  const uint16_t max_queue_size_;
  const uint32_t device_id_;
  const uint64_t device_features_;
  GuestMemory memory_;
  CountingIrq irq_;
  InlineWorker worker_;
  FakeDevice device_;
  MmioTransport transport_;

  // The model.
  std::vector<uint8_t> initial_config_;
  std::vector<uint8_t> config_;
  uint32_t config_generation_ = 0;
  uint32_t device_features_select_ = 0;
  uint32_t driver_features_select_ = 0;
  uint16_t queue_select_ = 0;
  uint64_t driver_features_ = 0;
  uint8_t status_ = 0;
  bool needs_reset_ = false;
  uint32_t interrupt_status_ = 0;
  std::vector<QueueModel> queues_;
};

}  // namespace

#ifndef WISP_FUZZ_SEEDS

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);  // a hostile driver makes the device warn a lot
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  size_t steps = std::min<size_t>(data[12], (size - kHeaderBytes) / kStepBytes);
  const uint8_t* script = data + kHeaderBytes;
  std::span<const uint8_t> image(script + steps * kStepBytes,
                                 size - kHeaderBytes - steps * kStepBytes);
  Harness harness(data, image);
  for (size_t i = 0; i < steps; ++i) harness.step(script + i * kStepBytes);
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

class Seed : public SeedImage {
 public:
  Seed(uint8_t flags, uint8_t queues, uint8_t max_log2, uint8_t config_bytes, uint64_t features)
      : SeedImage(kRegionASize) {
    header_[0] = flags;
    header_[1] = static_cast<uint8_t>((queues - 1) | max_log2 << 2);
    header_[2] = config_bytes;
    header_[3] = 2;  // a block device's ID
    std::memcpy(header_ + 4, &features, 8);
  }
  Seed& access(uint8_t kind, uint16_t offset, uint32_t value = 0) {
    steps_.push_back(kind);
    steps_.push_back(static_cast<uint8_t>(offset));
    steps_.push_back(static_cast<uint8_t>(offset >> 8));
    for (int i = 0; i < 4; ++i) steps_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  Seed& out(uint64_t offset, uint32_t value) {
    return access(kAccessRegister, static_cast<uint16_t>(offset / 4), value);
  }
  Seed& in(uint64_t offset) {
    return access(kAccessRegister | kAccessRead, static_cast<uint16_t>(offset / 4));
  }
  // The usual initialisation with `features`, then queue 0 of `size` at `base`, then DRIVER_OK.
  Seed& initialize(uint64_t features, uint16_t size, uint64_t base) {
    out(mmio::kStatus, 0).in(mmio::kMagicValue).in(mmio::kVersion).in(mmio::kDeviceId);
    out(mmio::kStatus, kStatusAcknowledge).out(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
    out(mmio::kDeviceFeaturesSel, 0).in(mmio::kDeviceFeatures);
    out(mmio::kDeviceFeaturesSel, 1).in(mmio::kDeviceFeatures);
    out(mmio::kDriverFeaturesSel, 0).out(mmio::kDriverFeatures, static_cast<uint32_t>(features));
    out(mmio::kDriverFeaturesSel, 1)
        .out(mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
    uint8_t status = kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk;
    out(mmio::kStatus, status).in(mmio::kStatus);
    QueueLayout layout = ring_layout(base, size);
    out(mmio::kQueueSel, 0).in(mmio::kQueueNumMax).out(mmio::kQueueNum, size);
    out(mmio::kQueueDescLow, static_cast<uint32_t>(layout.descriptor_table));
    out(mmio::kQueueDescHigh, 0);
    out(mmio::kQueueDriverLow, static_cast<uint32_t>(layout.available_ring));
    out(mmio::kQueueDriverHigh, 0);
    out(mmio::kQueueDeviceLow, static_cast<uint32_t>(layout.used_ring));
    out(mmio::kQueueDeviceHigh, 0);
    out(mmio::kQueueReady, 1).in(mmio::kQueueReady);
    return out(mmio::kStatus, status | kStatusDriverOk).in(mmio::kStatus);
  }
  // One chain of one writable buffer made available on the queue of `size` at `base`.
  void request(uint64_t base, uint16_t size, uint16_t slot, uint64_t buffer) {
    QueueLayout layout = ring_layout(base, size);
    descriptor_at(layout.descriptor_table, slot, buffer, 64, kDescFlagWrite, 0);
    put(layout.available_ring + 4 + 2ull * (slot % size), slot);
    put(layout.available_ring + 2, static_cast<uint16_t>(slot + 1));
  }
  void write(const std::string& path) {
    header_[12] = static_cast<uint8_t>(steps_.size() / kStepBytes);
    write_seed(path, {header_, steps_, image()});
  }

 private:
  uint8_t header_[kHeaderBytes] = {};
  std::vector<uint8_t> steps_;
};

constexpr uint64_t kVersion1 = feature_bit(kFeatureVersion1);

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  {
    Seed seed(0, 1, 8, 8, 0x3);  // initialise, two requests, interrupts acknowledged, reset
    seed.initialize(kVersion1 | 0x3, 8, 0);
    seed.request(0, 8, 0, 0x1000);
    seed.out(mmio::kQueueNotify, 0).in(mmio::kInterruptStatus).out(mmio::kInterruptAck, 1);
    seed.request(0, 8, 1, 0x1100);
    seed.out(mmio::kQueueNotify, 0).in(mmio::kInterruptStatus).out(mmio::kStatus, 0);
    seed.in(mmio::kStatus).in(mmio::kQueueReady);
    seed.write(dir + "/initialize");
  }
  {
    Seed seed(kFlagRefuseFeature, 2, 4, 0, 0x3);  // features refused, then accepted
    seed.out(mmio::kStatus, kStatusAcknowledge | kStatusDriver);
    seed.out(mmio::kDriverFeaturesSel, 1).out(mmio::kDriverFeatures, 1);
    seed.out(mmio::kDriverFeaturesSel, 0).out(mmio::kDriverFeatures, 1);
    seed.out(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    seed.in(mmio::kStatus).out(mmio::kDriverFeatures, 3);
    seed.out(mmio::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    seed.out(mmio::kStatus,
             kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
    seed.out(mmio::kDriverFeatures, 0).out(mmio::kStatus, kStatusAcknowledge).in(mmio::kStatus);
    seed.write(dir + "/features");
  }
  {
    Seed seed(kFlagFailOnPop, 2, 6, 16, 0);  // a live queue changed, a failed device, queue 1
    seed.initialize(kVersion1, 16, 0x800);
    seed.request(0x800, 16, 0, 0x2000);
    seed.out(mmio::kQueueNotify, 1).out(mmio::kQueueNotify, 2).out(mmio::kQueueNotify, 0);
    seed.in(mmio::kStatus).in(mmio::kInterruptStatus).out(mmio::kInterruptAck, 2);
    seed.out(mmio::kQueueNum, 8).out(mmio::kQueueSel, 1).out(mmio::kQueueReady, 1);
    seed.out(mmio::kStatus, 0x100).in(mmio::kStatus).out(mmio::kStatus, 0);
    seed.write(dir + "/live-change");
  }
  {
    Seed seed(0, 4, 8, 64, 0);  // every width at odd offsets, the configuration space
    for (uint8_t width = 0; width < 4; ++width) {
      seed.access(kAccessRead | width, 0x000).access(kAccessRead | width, 0x073);
      seed.access(width, 0x070, 0x0f).access(width, 0x031, 3);
      seed.access(kAccessRead | width, static_cast<uint16_t>(0x100 + width * 5));
      seed.access(width, static_cast<uint16_t>(0x104 + width * 9), 0x11223344);
      seed.access(kAccessRead | width, 0x0fe).access(kAccessRead | width, 0x13c);
      seed.access(kAccessRead | width, 0xffc);
    }
    seed.in(mmio::kConfigGeneration).in(mmio::kShmLenLow).in(mmio::kShmBaseHigh);
    seed.out(mmio::kQueueSel, 70000).in(mmio::kQueueNumMax).out(mmio::kDeviceFeaturesSel, 7);
    seed.in(mmio::kDeviceFeatures).out(mmio::kStatus, 0).in(mmio::kConfigGeneration);
    seed.write(dir + "/widths");
  }
  {
    Seed seed(0, 1, 2, 4, 0);  // a queue larger than QueueNumMax, addresses outside memory
    seed.initialize(kVersion1, 8, 0x10000);
    seed.in(mmio::kStatus).out(mmio::kStatus, 0).initialize(kVersion1, 4, 0x8000);
    seed.write(dir + "/bad-queues");
  }
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
