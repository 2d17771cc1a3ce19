#include "devices/virtio/block_request.h"

#include <algorithm>
#include <cstring>

namespace wisp::virtio {
namespace {

// Appends to `out` the part of `buffers` that starts `skip` bytes in and is `take` bytes long.
void append_range(std::span<const GuestBuffer> buffers, uint64_t skip, uint64_t take,
                  std::vector<GuestBuffer>& out) {
  for (const GuestBuffer& buffer : buffers) {
    if (take == 0) return;
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    uint64_t length = std::min<uint64_t>(buffer.length - skip, take);
    out.push_back({buffer.address + skip, static_cast<uint32_t>(length), buffer.device_writable});
    take -= length;
    skip = 0;
  }
}

}  // namespace

Result<void> parse_block_request(const GuestMemory& memory, const DescriptorChain& chain,
                                 BlockRequest& request) {
  std::span<const GuestBuffer> buffers = chain.buffers();
  auto first_writable = std::find_if(buffers.begin(), buffers.end(),
                                     [](const GuestBuffer& b) { return b.device_writable; });
  std::span<const GuestBuffer> readable(buffers.begin(), first_writable);
  std::span<const GuestBuffer> writable(first_writable, buffers.end());
  if (writable.empty()) return fail("a block request without a device-writable status byte");
  request.status_address = writable.back().address + writable.back().length - 1;
  request.type.reset();
  request.sector = 0;
  request.data.clear();
  request.data_bytes = 0;
  if (chain.readable_bytes() < kBlockHeaderBytes) return {};

  // struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector.
  uint8_t header[kBlockHeaderBytes];
  TRY(read_from_buffers(memory, readable, 0, header));
  uint32_t type;
  std::memcpy(&type, header, sizeof(type));
  std::memcpy(&request.sector, header + 8, sizeof(request.sector));
  request.type = type;

  if (type == kBlockTypeIn || type == kBlockTypeGetId) {
    request.data_bytes = chain.writable_bytes() - 1;
    append_range(writable, 0, request.data_bytes, request.data);
  } else {
    request.data_bytes = chain.readable_bytes() - kBlockHeaderBytes;
    append_range(readable, kBlockHeaderBytes, request.data_bytes, request.data);
  }
  return {};
}

Result<void> read_from_buffers(const GuestMemory& memory, std::span<const GuestBuffer> buffers,
                               uint64_t offset, std::span<uint8_t> out) {
  size_t copied = 0;
  for (const GuestBuffer& buffer : buffers) {
    if (copied == out.size()) break;
    if (offset >= buffer.length) {
      offset -= buffer.length;
      continue;
    }
    uint64_t length = std::min<uint64_t>(buffer.length - offset, out.size() - copied);
    TRY(memory.read(buffer.address + offset, out.subspan(copied, length)));
    copied += length;
    offset = 0;
  }
  if (copied != out.size()) return fail("a request is shorter than its {} bytes", out.size());
  return {};
}

Result<uint64_t> write_to_buffers(const GuestMemory& memory, std::span<const GuestBuffer> buffers,
                                  std::span<const uint8_t> in) {
  uint64_t written = 0;
  for (const GuestBuffer& buffer : buffers) {
    if (written == in.size()) break;
    uint64_t length = std::min<uint64_t>(buffer.length, in.size() - written);
    TRY(memory.write(buffer.address, in.subspan(written, length)));
    written += length;
  }
  return written;
}

}  // namespace wisp::virtio
