// Constants of the virtio 1.x specification (OASIS "Virtual I/O Device (VIRTIO) Version 1.2")
// shared by every device and transport, with the spec's names. Section numbers are the spec's.
#pragma once

#include <cstdint>

namespace wisp::virtio {

// §2.1 Device Status Field.
inline constexpr uint8_t kStatusAcknowledge = 1;
inline constexpr uint8_t kStatusDriver = 2;
inline constexpr uint8_t kStatusDriverOk = 4;
inline constexpr uint8_t kStatusFeaturesOk = 8;
inline constexpr uint8_t kStatusDeviceNeedsReset = 64;
inline constexpr uint8_t kStatusFailed = 128;

// §6 Reserved Feature Bits.
inline constexpr uint32_t kFeatureRingIndirectDesc = 28;  // VIRTIO_F_INDIRECT_DESC
inline constexpr uint32_t kFeatureRingEventIdx = 29;      // VIRTIO_F_EVENT_IDX
inline constexpr uint32_t kFeatureVersion1 = 32;          // VIRTIO_F_VERSION_1

constexpr uint64_t feature_bit(uint32_t bit) {
  return uint64_t{1} << bit;
}

// §5 Device Types.
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;

// §2.7.5 The Virtqueue Descriptor Table: descriptor flags.
inline constexpr uint16_t kDescFlagNext = 1;      // VIRTQ_DESC_F_NEXT
inline constexpr uint16_t kDescFlagWrite = 2;     // VIRTQ_DESC_F_WRITE: device-writable
inline constexpr uint16_t kDescFlagIndirect = 4;  // VIRTQ_DESC_F_INDIRECT

// §2.7.6 The Virtqueue Available Ring, §2.7.8 The Virtqueue Used Ring: suppression flags.
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT
inline constexpr uint16_t kUsedFlagNoNotify = 1;      // VIRTQ_USED_F_NO_NOTIFY

// §2.7 Split Virtqueues: the largest queue size, and the alignment of each part (§2.7.2).
inline constexpr uint32_t kMaxQueueSize = 32768;
inline constexpr uint64_t kDescriptorTableAlignment = 16;
inline constexpr uint64_t kAvailableRingAlignment = 2;
inline constexpr uint64_t kUsedRingAlignment = 4;

// Interrupt status bits (§4.2.2 InterruptStatus for MMIO; the ISR status of §4.1.4.5 for PCI).
inline constexpr uint32_t kInterruptUsedBuffer = 1;
inline constexpr uint32_t kInterruptConfigChange = 2;

}  // namespace wisp::virtio
