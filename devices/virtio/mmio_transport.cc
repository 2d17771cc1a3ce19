#include "devices/virtio/mmio_transport.h"

namespace wisp::virtio {

using QueuePart = VirtioDevice::QueuePart;

// §4.2.2.2: the driver uses only 32-bit wide, aligned accesses to the control registers; the
// configuration space may be accessed at any width.
bool MmioTransport::is_register_access(uint64_t offset, size_t size) {
  if (size == 4 && offset % 4 == 0) return true;
  if (warnings_.allow("virtio-mmio"))
    log::warn("{}: {}-byte access to register {:#x} ignored", device_.name(), size, offset);
  return false;
}

void MmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset >= mmio::kConfig) {
    std::lock_guard lock(device_.mutex());
    device_.read_config(offset - mmio::kConfig, data);
    return;
  }
  uint32_t value = 0;
  if (is_register_access(offset, data.size())) {
    std::lock_guard lock(device_.mutex());
    value = read_register(offset);
  }
  store_le(data, value);
}

void MmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= mmio::kConfig) {
    std::lock_guard lock(device_.mutex());
    device_.write_config(offset - mmio::kConfig, data);
    return;
  }
  if (!is_register_access(offset, data.size())) return;
  uint32_t value = static_cast<uint32_t>(load_le(data));
  if (offset == mmio::kQueueNotify) {
    // No lock: the worker serves the queue (§4.2.3.3, the notification's value is the index).
    if (value < device_.queue_count()) notify_(static_cast<uint16_t>(value));
    return;
  }
  std::lock_guard lock(device_.mutex());
  write_register(offset, value);
}

uint32_t MmioTransport::read_register(uint64_t offset) {
  switch (offset) {
    case mmio::kMagicValue:
      return mmio::kMagic;
    case mmio::kVersion:
      return mmio::kTransportVersion;
    case mmio::kDeviceId:
      return device_.device_id();
    case mmio::kVendorId:
      return mmio::kVendor;
    case mmio::kDeviceFeatures:
      return device_features_select_ > 1 ? 0
                                         : static_cast<uint32_t>(device_.device_features() >>
                                                                 (32 * device_features_select_));
    case mmio::kQueueNumMax:
      return queue_select_ < device_.queue_count() ? device_.max_queue_size() : 0;
    case mmio::kQueueReady:
      return device_.queue_ready(queue_select_) ? 1 : 0;
    case mmio::kInterruptStatus:
      return device_.interrupt_status();
    case mmio::kStatus:
      return device_.status();
    case mmio::kQueueDescLow:
      return static_cast<uint32_t>(
          device_.queue_address(queue_select_, QueuePart::kDescriptorTable));
    case mmio::kQueueDescHigh:
      return static_cast<uint32_t>(
          device_.queue_address(queue_select_, QueuePart::kDescriptorTable) >> 32);
    case mmio::kQueueDriverLow:
      return static_cast<uint32_t>(device_.queue_address(queue_select_, QueuePart::kAvailableRing));
    case mmio::kQueueDriverHigh:
      return static_cast<uint32_t>(
          device_.queue_address(queue_select_, QueuePart::kAvailableRing) >> 32);
    case mmio::kQueueDeviceLow:
      return static_cast<uint32_t>(device_.queue_address(queue_select_, QueuePart::kUsedRing));
    case mmio::kQueueDeviceHigh:
      return static_cast<uint32_t>(device_.queue_address(queue_select_, QueuePart::kUsedRing) >>
                                   32);
    case mmio::kShmLenLow:
    case mmio::kShmLenHigh:
    case mmio::kShmBaseLow:
    case mmio::kShmBaseHigh:
      return UINT32_MAX;  // §4.2.2: a shared memory region that does not exist reads as -1
    case mmio::kConfigGeneration:
      return device_.config_generation();
    default:
      return 0;  // write-only and reserved registers
  }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
  switch (offset) {
    case mmio::kDeviceFeaturesSel:
      device_features_select_ = value;
      break;
    case mmio::kDriverFeatures:
      device_.set_driver_features(driver_features_select_, value);
      break;
    case mmio::kDriverFeaturesSel:
      driver_features_select_ = value;
      break;
    case mmio::kQueueSel:
      queue_select_ = static_cast<uint16_t>(std::min<uint32_t>(value, UINT16_MAX));
      break;
    case mmio::kQueueNum:
      device_.set_queue_size(queue_select_, value);
      break;
    case mmio::kQueueReady:
      device_.set_queue_ready(queue_select_, value & 1);
      break;
    case mmio::kInterruptAck:
      device_.acknowledge_interrupt(value);
      break;
    case mmio::kStatus: {
      // Status is 8 bits wide: 0x100 resets the device as 0 does, and the selectors with it.
      auto status = static_cast<uint8_t>(value);
      device_.set_status(status);
      if (status == 0) {
        device_features_select_ = 0;
        driver_features_select_ = 0;
        queue_select_ = 0;
      }
      break;
    }
    case mmio::kQueueDescLow:
      write_queue_address(QueuePart::kDescriptorTable, false, value);
      break;
    case mmio::kQueueDescHigh:
      write_queue_address(QueuePart::kDescriptorTable, true, value);
      break;
    case mmio::kQueueDriverLow:
      write_queue_address(QueuePart::kAvailableRing, false, value);
      break;
    case mmio::kQueueDriverHigh:
      write_queue_address(QueuePart::kAvailableRing, true, value);
      break;
    case mmio::kQueueDeviceLow:
      write_queue_address(QueuePart::kUsedRing, false, value);
      break;
    case mmio::kQueueDeviceHigh:
      write_queue_address(QueuePart::kUsedRing, true, value);
      break;
    case mmio::kShmSel:
      break;  // no device has shared memory regions: each reads as absent, whichever is selected
    default:
      if (warnings_.allow("virtio-mmio"))
        log::warn("{}: write of {:#x} to read-only or reserved register {:#x} ignored",
                  device_.name(), value, offset);
      break;
  }
}

void MmioTransport::write_queue_address(QueuePart part, bool high, uint32_t value) {
  uint64_t address = device_.queue_address(queue_select_, part);
  address = high ? (address & UINT32_MAX) | (uint64_t{value} << 32)
                 : (address & ~uint64_t{UINT32_MAX}) | value;
  device_.set_queue_address(queue_select_, part, address);
}

}  // namespace wisp::virtio
