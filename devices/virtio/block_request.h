// A virtio-blk request (virtio 1.x §5.2.6) found in a descriptor chain. With VIRTIO_F_VERSION_1
// the message framing is independent of the descriptors (§2.6.4): the 16-byte header is the
// first 16 device-readable bytes, the status is the last device-writable byte, and the data is
// what lies between, whichever buffers it spans.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "devices/virtio/virtqueue.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp::virtio {

// §5.2.6 request types and status values.
inline constexpr uint32_t kBlockTypeIn = 0;
inline constexpr uint32_t kBlockTypeOut = 1;
inline constexpr uint32_t kBlockTypeFlush = 4;
inline constexpr uint32_t kBlockTypeGetId = 8;
inline constexpr uint32_t kBlockTypeDiscard = 11;
inline constexpr uint32_t kBlockTypeWriteZeroes = 13;
inline constexpr uint8_t kBlockStatusOk = 0;
inline constexpr uint8_t kBlockStatusIoError = 1;
inline constexpr uint8_t kBlockStatusUnsupported = 2;

inline constexpr uint32_t kBlockIdBytes = 20;  // VIRTIO_BLK_ID_BYTES
inline constexpr uint64_t kBlockHeaderBytes = 16;

// struct virtio_blk_discard_write_zeroes (§5.2.6).
struct BlockSegment {
  uint64_t sector;
  uint32_t sector_count;
  uint32_t flags;  // bit 0: unmap (write zeroes only)
};
static_assert(sizeof(BlockSegment) == 16);
inline constexpr uint32_t kBlockSegmentFlagUnmap = 1;

struct BlockRequest {
  std::optional<uint32_t> type;  // empty when the header is too short
  uint64_t sector = 0;
  uint64_t status_address = 0;  // the guest address of the status byte
  uint64_t data_bytes = 0;
  // The data buffers: device-readable ones for a write, device-writable ones (less the status
  // byte) for a read or get-id. Reused from request to request.
  std::vector<GuestBuffer> data;
};

// Fills `request` from `chain`. An error means the request cannot even be answered (it has no
// device-writable byte for the status); a malformed but answerable one leaves `type` empty.
Result<void> parse_block_request(const GuestMemory& memory, const DescriptorChain& chain,
                                 BlockRequest& request);

// Copies `out.size()` bytes starting `offset` bytes into the concatenation of `buffers`.
Result<void> read_from_buffers(const GuestMemory& memory, std::span<const GuestBuffer> buffers,
                               uint64_t offset, std::span<uint8_t> out);
// Copies `in` into the concatenation of `buffers`; returns the bytes written.
Result<uint64_t> write_to_buffers(const GuestMemory& memory, std::span<const GuestBuffer> buffers,
                                  std::span<const uint8_t> in);

}  // namespace wisp::virtio
