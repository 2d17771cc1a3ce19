// What a virtio-net device sends its frames through (a TAP device, or a fake in tests): one
// frame per read or write, each led by a 12-byte virtio-net header (struct virtio_net_hdr_v1,
// §5.1.6), on one of up to 16 queue pairs.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>

#include "vmm/base/result.h"

namespace wisp {

// Offloads the back end may use for frames it hands to the guest: the TUN_F_* bits of
// <linux/if_tun.h> (TUNSETOFFLOAD). USO4/USO6 are newer than the 6.1 uapi headers.
namespace net_offload {
inline constexpr uint32_t kChecksum = 0x01;  // TUN_F_CSUM: partial checksums
inline constexpr uint32_t kTso4 = 0x02;      // TUN_F_TSO4
inline constexpr uint32_t kTso6 = 0x04;      // TUN_F_TSO6
inline constexpr uint32_t kTsoEcn = 0x08;    // TUN_F_TSO_ECN
inline constexpr uint32_t kUfo = 0x10;       // TUN_F_UFO
inline constexpr uint32_t kUso4 = 0x20;      // TUN_F_USO4 (Linux 6.2)
inline constexpr uint32_t kUso6 = 0x40;      // TUN_F_USO6 (Linux 6.2)
}  // namespace net_offload

class NetBackend {
 public:
  virtual ~NetBackend() = default;

  virtual uint16_t queue_pairs() const = 0;
  // Whether frames written may carry offload requests (partial checksums, GSO): false for a TAP
  // without IFF_VNET_HDR, whose headers are made up and dropped by the back end.
  virtual bool accepts_offloads() const = 0;
  // The net_offload bits set_receive_offloads can enable.
  virtual uint32_t supported_receive_offloads() const = 0;
  virtual Result<void> set_receive_offloads(uint32_t offloads) = 0;
  // Whether received frames go to `pair` (a TAP queue attached or detached); pair 0 always does.
  virtual Result<void> set_pair_enabled(uint16_t pair, bool enabled) = 0;

  // Readable when a frame waits for `pair`.
  virtual int receive_fd(uint16_t pair) const = 0;
  // Reads one frame (header included) into `buffer`: its length, or -errno (-EAGAIN: none).
  virtual ssize_t receive(uint16_t pair, std::span<uint8_t> buffer) = 0;
  // Sends one frame (header included) gathered from `frame`: its length, or -errno.
  virtual ssize_t send(uint16_t pair, std::span<const iovec> frame) = 0;
};

}  // namespace wisp
