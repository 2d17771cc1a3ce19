// The vhost-user protocol's wire format, front-end side (QEMU's docs/interop/vhost-user.rst): a
// 12-byte header, then a payload of `size` bytes; file descriptors travel beside a message as
// SCM_RIGHTS ancillary data. Everything is little-endian, as on the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wisp::vhost_user {

// Front-end message types ("Front-end message types").
enum class Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kSetMemTable = 5,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
};

// Header flags: the version in bits 0-1, then "reply" and "need reply".
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kFlagReply = 1u << 2;
inline constexpr uint32_t kFlagNeedReply = 1u << 3;

struct Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;  // of the payload that follows
};
static_assert(sizeof(Header) == 12);

// The virtio feature bit a back end sets to say it speaks protocol features; it is not a feature
// of the device, and never reaches the guest.
inline constexpr uint32_t kFeatureProtocolFeatures = 30;  // VHOST_USER_F_PROTOCOL_FEATURES

// Protocol feature bits ("Protocol features").
inline constexpr uint32_t kProtocolMultiQueue = 0;  // VHOST_USER_PROTOCOL_F_MQ
inline constexpr uint32_t kProtocolReplyAck = 3;    // VHOST_USER_PROTOCOL_F_REPLY_ACK

// "Vring state description": SET_VRING_NUM, SET_VRING_BASE, GET_VRING_BASE, SET_VRING_ENABLE.
struct VringState {
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

// "Vring address description": where the rings are, as front-end (this process's) virtual
// addresses, which the back end translates through the memory table's user addresses.
struct VringAddress {
  uint32_t index;
  uint32_t flags;  // bit 0: log the used ring (never set: no live migration)
  uint64_t descriptor;
  uint64_t used;
  uint64_t available;
  uint64_t log;
};
static_assert(sizeof(VringAddress) == 40);

// SET_VRING_KICK and SET_VRING_CALL: the queue index in bits 0-7; bit 8 set means no file
// descriptor comes with the message.
inline constexpr uint64_t kVringIndexMask = 0xff;
inline constexpr uint64_t kVringNoFileDescriptor = 1u << 8;

// "Memory region description" and the memory table of SET_MEM_TABLE: one file descriptor per
// region travels with the message, in the regions' order.
struct MemoryRegion {
  uint64_t guest_address;
  uint64_t size;
  uint64_t user_address;  // where the front end mapped it
  uint64_t mmap_offset;   // of the region in its file
};
static_assert(sizeof(MemoryRegion) == 32);

inline constexpr size_t kMaxMemoryRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS

struct MemoryTable {
  uint32_t region_count;
  uint32_t padding;
  MemoryRegion regions[kMaxMemoryRegions];
};
static_assert(sizeof(MemoryTable) == 8 + 32 * kMaxMemoryRegions);

}  // namespace wisp::vhost_user
