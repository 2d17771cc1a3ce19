#include "devices/virtio/virtio_device.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

#include "devices/virtio/virtio_spec.h"

namespace wisp::virtio {

VirtioDevice::VirtioDevice(const GuestMemory& memory, Identity identity, IrqLine& irq,
                           DeviceWorker& worker)
    : memory_(memory),
      identity_(std::move(identity)),
      device_features_(identity_.features | kTransportFeatures),
      irq_(irq),
      worker_(worker),
      queues_(identity_.queue_count),
      config_(identity_.config),
      config_after_reset_(identity_.config) {}

void VirtioDevice::set_driver_features(uint32_t word, uint32_t value) {
  if (status_ & kStatusFeaturesOk) {
    if (warnings_.allow("virtio"))
      log::warn("{}: driver features written after FEATURES_OK", name());
    return;
  }
  if (word > 1) return;  // only 64 feature bits exist in this device
  uint64_t shift = 32ull * word;
  driver_features_ =
      (driver_features_ & ~(uint64_t{UINT32_MAX} << shift)) | (uint64_t{value} << shift);
}

uint8_t VirtioDevice::status() const {
  return status_ | (needs_reset_.load() ? kStatusDeviceNeedsReset : 0);
}

// §3.1.1: the driver accepts only features the device offered, and a modern (virtio-mmio
// version 2) device works only with a driver that accepts VIRTIO_F_VERSION_1.
bool VirtioDevice::features_acceptable() const {
  if ((driver_features_ & ~device_features_) != 0 ||
      !(driver_features_ & feature_bit(kFeatureVersion1)))
    return false;
  if (auto why = refuse_features(driver_features_)) {
    if (warnings_.allow("virtio")) log::warn("{}: refusing driver features: {}", name(), *why);
    return false;
  }
  return true;
}

void VirtioDevice::set_status(uint8_t status) {
  if (status == 0) {
    worker_.run_and_wait([this] {
      if (running_on_worker_) reset();
      running_on_worker_ = false;
    });
    reset_registers();
    return;
  }
  status &= static_cast<uint8_t>(~kStatusDeviceNeedsReset);  // set by the device alone
  if (status_ & ~status) {
    if (warnings_.allow("virtio"))
      log::warn("{}: the driver cleared status bits ({:#x} to {:#x}); ignored", name(), status_,
                status);
    return;
  }
  uint8_t added = status & ~status_;
  if ((added & kStatusFeaturesOk) && !features_acceptable()) {
    // Left clear: the driver reads the status back and sees its features refused (§3.1.1).
    if (warnings_.allow("virtio"))
      log::warn("{}: refusing driver features {:#x} (offered {:#x})", name(), driver_features_,
                device_features_);
    status &= static_cast<uint8_t>(~kStatusFeaturesOk);
    added &= static_cast<uint8_t>(~kStatusFeaturesOk);
  }
  if ((added & kStatusDriverOk) && !(status & kStatusFeaturesOk)) {
    if (warnings_.allow("virtio")) log::warn("{}: DRIVER_OK without FEATURES_OK; ignored", name());
    return;
  }
  status_ = status;
  if (added & kStatusDriverOk) start_running();
}

// DRIVER_OK: check each ready queue's layout and hand the queues to the worker.
void VirtioDevice::start_running() {
  VirtQueue::Features features{negotiated(kFeatureRingIndirectDesc),
                               negotiated(kFeatureRingEventIdx)};
  std::vector<std::optional<VirtQueue>> queues(queues_.size());
  for (size_t index = 0; index < queues_.size(); ++index) {
    const QueueState& state = queues_[index];
    if (!state.ready) continue;
    if (state.requested_size > identity_.max_queue_size) {
      fail_device(fmt::format("queue {}: size {} is above QueueNumMax {}", index,
                              state.requested_size, identity_.max_queue_size));
      return;
    }
    QueueLayout layout = state.layout;
    layout.size = static_cast<uint16_t>(state.requested_size);
    auto queue = VirtQueue::create(memory_, layout, features);
    if (!queue) {
      fail_device(fmt::format("queue {}: {}", index, queue.error().message()));
      return;
    }
    queues[index] = std::move(*queue);
  }
  worker_.run_and_wait([this, &queues] {
    running_on_worker_ = true;
    activate(std::move(queues));
  });
}

void VirtioDevice::reset_registers() {
  driver_features_ = 0;
  status_ = 0;
  std::fill(queues_.begin(), queues_.end(), QueueState{});
  config_ = config_after_reset_;
  interrupt_status_.store(0);
  needs_reset_.store(false);
}

void VirtioDevice::refuse_live_queue_change(uint16_t queue, std::string_view what) {
  if (status_ & kStatusDriverOk) {
    fail_device(fmt::format("the driver changed the {} of live queue {}", what, queue));
  } else if (warnings_.allow("virtio")) {
    log::warn("{}: the driver changed the {} of ready queue {}; ignored", name(), what, queue);
  }
}

void VirtioDevice::set_queue_size(uint16_t queue, uint32_t size) {
  if (queue >= queues_.size()) return;
  if (queues_[queue].ready) return refuse_live_queue_change(queue, "size");
  queues_[queue].requested_size = size;  // checked when the queue goes live
}

void VirtioDevice::set_queue_address(uint16_t queue, QueuePart part, uint64_t address) {
  if (queue >= queues_.size()) return;
  if (queues_[queue].ready) return refuse_live_queue_change(queue, "address");
  QueueLayout& layout = queues_[queue].layout;
  switch (part) {
    case QueuePart::kDescriptorTable:
      layout.descriptor_table = address;
      break;
    case QueuePart::kAvailableRing:
      layout.available_ring = address;
      break;
    case QueuePart::kUsedRing:
      layout.used_ring = address;
      break;
  }
}

uint64_t VirtioDevice::queue_address(uint16_t queue, QueuePart part) const {
  if (queue >= queues_.size()) return 0;
  const QueueLayout& layout = queues_[queue].layout;
  switch (part) {
    case QueuePart::kDescriptorTable:
      return layout.descriptor_table;
    case QueuePart::kAvailableRing:
      return layout.available_ring;
    case QueuePart::kUsedRing:
      return layout.used_ring;
  }
  return 0;
}

bool VirtioDevice::queue_ready(uint16_t queue) const {
  return queue < queues_.size() && queues_[queue].ready;
}

void VirtioDevice::set_queue_ready(uint16_t queue, bool ready) {
  if (queue >= queues_.size() || queues_[queue].ready == ready) return;
  if (status_ & kStatusDriverOk) {
    // Queues are set up before DRIVER_OK (§3.1.1); enabling or disabling one later would need
    // VIRTIO_F_RING_RESET, which is not offered.
    return refuse_live_queue_change(queue, "readiness");
  }
  queues_[queue].ready = ready;
}

void VirtioDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = offset + i < config_.size() ? config_[offset + i] : 0;
}

void VirtioDevice::write_config(uint64_t offset, std::span<const uint8_t> data) {
  write_config_bytes(offset, data);
}

void VirtioDevice::change_config(uint64_t offset, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  if (offset > config_.size() || bytes.size() > config_.size() - offset) {
    log::error("{}: a configuration change past its end (a bug of the device type)", name());
    std::abort();
  }
  std::copy(bytes.begin(), bytes.end(), config_.begin() + static_cast<ptrdiff_t>(offset));
  std::copy(bytes.begin(), bytes.end(),
            config_after_reset_.begin() + static_cast<ptrdiff_t>(offset));
  config_generation_.fetch_add(1);
  if (status_ & kStatusDriverOk) raise_interrupt(kInterruptConfigChange);
}

void VirtioDevice::notify_queue(uint16_t queue) {
  if (!running_on_worker_) {
    if (warnings_.allow("virtio"))
      log::warn("{}: queue {} notified before DRIVER_OK; ignored", name(), queue);
    return;
  }
  if (needs_reset_.load()) return;
  process_queue(queue);
}

void VirtioDevice::interrupt_if_needed(VirtQueue& queue) {
  if (queue.needs_interrupt()) raise_interrupt(kInterruptUsedBuffer);
}

void VirtioDevice::raise_interrupt(uint32_t bits) {
  interrupt_status_.fetch_or(bits);
  irq_.pulse();
}

void VirtioDevice::fail_device(std::string_view why) {
  if (warnings_.allow("virtio")) log::warn("{}: device needs a reset: {}", name(), why);
  if (needs_reset_.exchange(true)) return;
  raise_interrupt(kInterruptConfigChange);
}

}  // namespace wisp::virtio
