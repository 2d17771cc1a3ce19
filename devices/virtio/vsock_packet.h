// The wire format of virtio-vsock (virtio 1.2 §5.10 Socket Device): the header in front of every
// packet on the rx and tx queues, its operations, types and flags, with the spec's names.
#pragma once

#include <linux/virtio_vsock.h>

#include <cstddef>
#include <cstdint>

namespace wisp::virtio {

// §5.10.1 Device ID.
inline constexpr uint32_t kDeviceIdVsock = 19;

// §5.10.2 Virtqueues.
inline constexpr uint16_t kVsockRxQueue = 0;
inline constexpr uint16_t kVsockTxQueue = 1;
inline constexpr uint16_t kVsockEventQueue = 2;

// §5.10.4: the well-known CID of the host; 0, 1, 0xffffffff (and the upper 32 bits) are reserved.
inline constexpr uint64_t kVsockHostCid = 2;

// §5.10.6 Device Operation: struct virtio_vsock_hdr, little-endian on the wire as on x86.
#pragma pack(push, 1)
struct VsockHeader {
  uint64_t src_cid;
  uint64_t dst_cid;
  uint32_t src_port;
  uint32_t dst_port;
  uint32_t len;  // payload bytes after the header
  uint16_t type;
  uint16_t op;
  uint32_t flags;
  uint32_t buf_alloc;  // the sender's receive buffer for this flow (§5.10.6.3)
  uint32_t fwd_cnt;    // payload bytes the sender has taken out of that buffer, free-running
};
#pragma pack(pop)
static_assert(sizeof(VsockHeader) == 44);
static_assert(sizeof(VsockHeader) == sizeof(virtio_vsock_hdr));
static_assert(offsetof(VsockHeader, len) == offsetof(virtio_vsock_hdr, len));
static_assert(offsetof(VsockHeader, op) == offsetof(virtio_vsock_hdr, op));
static_assert(offsetof(VsockHeader, fwd_cnt) == offsetof(virtio_vsock_hdr, fwd_cnt));

// §5.10.6: op.
inline constexpr uint16_t kVsockOpInvalid = 0;        // VIRTIO_VSOCK_OP_INVALID
inline constexpr uint16_t kVsockOpRequest = 1;        // VIRTIO_VSOCK_OP_REQUEST
inline constexpr uint16_t kVsockOpResponse = 2;       // VIRTIO_VSOCK_OP_RESPONSE
inline constexpr uint16_t kVsockOpRst = 3;            // VIRTIO_VSOCK_OP_RST
inline constexpr uint16_t kVsockOpShutdown = 4;       // VIRTIO_VSOCK_OP_SHUTDOWN
inline constexpr uint16_t kVsockOpRw = 5;             // VIRTIO_VSOCK_OP_RW
inline constexpr uint16_t kVsockOpCreditUpdate = 6;   // VIRTIO_VSOCK_OP_CREDIT_UPDATE
inline constexpr uint16_t kVsockOpCreditRequest = 7;  // VIRTIO_VSOCK_OP_CREDIT_REQUEST

// §5.10.6.2 Addressing: type. Only stream sockets are served.
inline constexpr uint16_t kVsockTypeStream = 1;  // VIRTIO_VSOCK_TYPE_STREAM

// §5.10.6.4 Stream Sockets: the flags of OP_SHUTDOWN, permanent once sent.
inline constexpr uint32_t kVsockShutdownReceive = 1;  // VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE (bit 0)
inline constexpr uint32_t kVsockShutdownSend = 2;     // VIRTIO_VSOCK_SHUTDOWN_F_SEND (bit 1)

}  // namespace wisp::virtio
