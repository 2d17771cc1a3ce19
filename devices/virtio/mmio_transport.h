// The virtio-mmio transport, version 2 (virtio 1.x §4.2.2): the register file a driver sees in a
// device's MMIO window, forwarded to a VirtioDevice. It knows nothing of where the window is.
//
// A QueueNotify write normally never reaches it: the device manager registers an ioeventfd per
// queue, so KVM signals the device's worker without leaving the kernel. A write KVM did not match
// (a queue index the device lacks) arrives here and goes to the same notify callback.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "devices/virtio/virtio_device.h"
#include "vmm/base/bus.h"
#include "vmm/base/log.h"

namespace wisp::virtio {

// §4.2.2 MMIO Device Register Layout: offsets within the window.
namespace mmio {
inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersion = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorId = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kShmSel = 0x0ac;
inline constexpr uint64_t kShmLenLow = 0x0b0;
inline constexpr uint64_t kShmLenHigh = 0x0b4;
inline constexpr uint64_t kShmBaseLow = 0x0b8;
inline constexpr uint64_t kShmBaseHigh = 0x0bc;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;

inline constexpr uint32_t kMagic = 0x74726976;  // "virt", little-endian
inline constexpr uint32_t kTransportVersion = 2;
inline constexpr uint32_t kVendor = 0x50534957;  // "WISP", little-endian
}  // namespace mmio

class MmioTransport final : public BusDevice {
 public:
  using NotifyCallback = std::function<void(uint16_t queue)>;

  MmioTransport(VirtioDevice& device, NotifyCallback notify)
      : device_(device), notify_(std::move(notify)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_queue_address(VirtioDevice::QueuePart part, bool high, uint32_t value);
  bool is_register_access(uint64_t offset, size_t size);

  VirtioDevice& device_;
  NotifyCallback notify_;
  // Selectors, under the device's mutex.
  uint32_t device_features_select_ = 0;
  uint32_t driver_features_select_ = 0;
  uint16_t queue_select_ = 0;
  log::RateLimit warnings_{10};
};

}  // namespace wisp::virtio
