// Compressing bytes at test time with the same libraries Wisp decodes with, in the shapes a
// kernel build produces, and a bzImage built around such a payload.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "firmware/decompress.h"

namespace wisp::test {

// The stream alone, as `gzip -9`, `bzip2 -9`, `lzma -9`, `xz --check=crc32`, `lz4 -l` and
// `zstd` write it.
std::vector<uint8_t> compress(Compression compression, std::span<const uint8_t> data);

// What a kernel build makes the payload: the stream with the uncompressed size appended as a
// little-endian 32-bit number (gzip's stream ends with it already).
std::vector<uint8_t> kernel_payload(Compression compression, std::span<const uint8_t> data);

// A bzImage made of `base` (a bzImage file: its setup and protected-mode part, see
// guest/bzimage_header.inc) with `payload` appended to the protected-mode part and the header's
// payload_offset, payload_length, syssize, pref_address and init_size set to match.
std::vector<uint8_t> bzimage_with_payload(std::vector<uint8_t> base,
                                          std::span<const uint8_t> payload, uint64_t pref_address,
                                          uint32_t init_size);

inline constexpr Compression kAllCompressions[] = {Compression::kGzip, Compression::kBzip2,
                                                   Compression::kLzma, Compression::kXz,
                                                   Compression::kLz4,  Compression::kZstd};

}  // namespace wisp::test
