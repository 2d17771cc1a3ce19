// The compressed vmlinux inside a bzImage (Documentation/arch/x86/boot.rst: payload_offset and
// payload_length, protocol 2.08+), so that the host can decompress it instead of the guest.
// The kernel's build appends the uncompressed size to the payload as a little-endian 32-bit
// trailer (scripts/Makefile.lib, size_append; gzip's ISIZE is that number too), and the
// decompressor's output is the vmlinux ELF (arch/x86/boot/compressed/misc.c, parse_elf).
#pragma once

#include <cstdint>
#include <span>

#include "firmware/bzimage.h"
#include "firmware/decompress.h"
#include "firmware/image_file.h"
#include "vmm/base/result.h"

namespace wisp {

// No vmlinux is taken larger than this, whatever its trailer and init_size say.
inline constexpr uint64_t kMaxDecompressedKernelBytes = 1ull << 30;

struct KernelPayload {
  uint64_t file_offset = 0;  // in the bzImage file
  uint64_t length = 0;       // its trailer included
  Compression compression = Compression::kGzip;
  uint64_t uncompressed_size = 0;  // from the trailer, checked against init_size
};

inline bool has_kernel_payload(const BzImage& image) {
  return image.payload_length != 0;
}

// Finds the payload and checks it: inside the file's protected-mode part, in a format known here,
// with a size trailer no larger than init_size (the kernel decompresses within that) nor the
// hard maximum.
Result<KernelPayload> find_kernel_payload(const ImageFile& file, const BzImage& image);

// Decompresses `bytes` (the payload's, trailer included) into `vmlinux`, which has exactly
// payload.uncompressed_size bytes; fails unless the stream is whole and fills it with an ELF file.
Result<void> decompress_kernel_payload(const KernelPayload& payload, std::span<const uint8_t> bytes,
                                       std::span<uint8_t> vmlinux);

}  // namespace wisp
