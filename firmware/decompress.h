// The compression formats a Linux bzImage's payload comes in (arch/x86/boot/compressed), each
// recognised by its magic and decoded with Debian's library for it into a buffer of a known size.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "vmm/base/result.h"

namespace wisp {

enum class Compression {
  kGzip,   // RFC 1952
  kBzip2,  // "BZh"
  kLzma,   // the legacy .lzma ("LZMA alone") header
  kXz,     // the .xz container
  kLz4,    // lz4's legacy frame: what `lz4 -l` writes and the kernel's unlz4 reads
  kZstd,   // a zstd frame (RFC 8878)
};

const char* compression_name(Compression compression);

// The format that the first bytes of a stream announce, or nothing (LZO, or not compressed).
std::optional<Compression> compression_of(std::span<const uint8_t> head);

// Decodes `input` into `output`, which must come out filled exactly: a stream that ends early,
// would write past the end, or is damaged is an error. Bytes after the end of the stream (the
// kernel's size trailer) are ignored, except by lz4's legacy frame, which has no end mark: its
// blocks must end exactly where `input` does.
Result<void> decompress(Compression compression, std::span<const uint8_t> input,
                        std::span<uint8_t> output);

}  // namespace wisp
