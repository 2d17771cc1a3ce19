#include "firmware/kernel_payload.h"

#include <cstring>

#include "firmware/elf.h"

namespace wisp {
namespace {

constexpr uint64_t kTrailerBytes = 4;
constexpr uint64_t kMagicBytes = 8;

}  // namespace

Result<KernelPayload> find_kernel_payload(const ImageFile& file, const BzImage& image) {
  if (!has_kernel_payload(image)) return fail("the bzImage has no payload (payload_length is 0)");
  if (image.payload_offset > image.kernel_bytes ||
      image.payload_length > image.kernel_bytes - image.payload_offset)
    return fail("the payload ({} bytes at {:#x}) runs past the end of the file",
                image.payload_length, image.payload_offset);
  if (image.payload_length < kTrailerBytes + kMagicBytes)
    return fail("the payload is too short ({} bytes)", image.payload_length);

  KernelPayload payload;
  payload.file_offset = image.setup_bytes + image.payload_offset;
  payload.length = image.payload_length;
  std::array<uint8_t, kMagicBytes> magic;
  TRY(file.read(payload.file_offset, magic));
  auto compression = compression_of(magic);
  if (!compression)
    return fail("the payload's compression is not one Wisp decodes (it starts {:02x})",
                fmt::join(magic.begin(), magic.begin() + 4, " "));
  payload.compression = *compression;

  std::array<uint8_t, kTrailerBytes> trailer;
  TRY(file.read(payload.file_offset + payload.length - kTrailerBytes, trailer));
  uint32_t size;
  std::memcpy(&size, trailer.data(), sizeof(size));
  payload.uncompressed_size = size;
  if (size == 0) return fail("the payload's size trailer is 0");
  if (size > image.init_size)
    return fail("the payload's size trailer ({} bytes) is larger than the kernel's init_size ({})",
                size, image.init_size);
  if (size > kMaxDecompressedKernelBytes)
    return fail("the payload's size trailer ({} MiB) is over Wisp's limit of {} MiB", size >> 20,
                kMaxDecompressedKernelBytes >> 20);
  return payload;
}

Result<void> decompress_kernel_payload(const KernelPayload& payload, std::span<const uint8_t> bytes,
                                       std::span<uint8_t> vmlinux) {
  if (bytes.size() != payload.length || vmlinux.size() != payload.uncompressed_size)
    return fail("the payload buffers do not match the payload");
  // gzip's trailer is its own ISIZE field; every other format has it appended after the stream.
  std::span<const uint8_t> stream =
      payload.compression == Compression::kGzip ? bytes : bytes.first(bytes.size() - kTrailerBytes);
  TRY(decompress(payload.compression, stream, vmlinux));
  if (!looks_like_elf(vmlinux)) return fail("the payload decompressed to something not ELF");
  return {};
}

}  // namespace wisp
