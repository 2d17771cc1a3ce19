#include "firmware/decompress.h"

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace wisp {
namespace {

// Decoder memory: a damaged or hostile header may ask for a huge dictionary. The kernel's xz
// payloads use a 32 MiB one (scripts/xz_wrap.sh); `lzma -9` 64 MiB.
constexpr uint64_t kLzmaMemoryLimit = 256ull << 20;
// lz4's legacy frame: the magic, then blocks of at most 8 MiB of output, each preceded by its
// compressed size (lz4's doc/lz4_Frame_format.md, "Legacy frame").
constexpr uint32_t kLz4LegacyMagic = 0x184c2102;
constexpr uint32_t kLz4LegacyBlockBytes = 8u << 20;

template <typename F>
class AtExit {
 public:
  explicit AtExit(F f) : f_(std::move(f)) {}
  ~AtExit() { f_(); }
  AtExit(const AtExit&) = delete;
  AtExit& operator=(const AtExit&) = delete;

 private:
  F f_;
};

uint32_t le32(std::span<const uint8_t> bytes, size_t at) {
  uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;
}

std::unexpected<Error> too_large(Compression c, size_t expected) {
  return fail("the {} stream holds more than the {} bytes expected", compression_name(c), expected);
}
std::unexpected<Error> too_small(Compression c, uint64_t got, size_t expected) {
  return fail("the {} stream ends after {} bytes, {} expected", compression_name(c), got, expected);
}
// What a stream that ended produced, against what was expected.
Result<void> check_total(Compression c, uint64_t total, size_t expected) {
  if (total > expected) return too_large(c, expected);
  if (total < expected) return too_small(c, total, expected);
  return {};
}
std::unexpected<Error> truncated(Compression c) {
  return fail("the {} stream is truncated", compression_name(c));
}

// The stream-based libraries take 32-bit lengths.
Result<void> check_32bit(std::span<const uint8_t> input, std::span<uint8_t> output) {
  if (input.size() > UINT_MAX || output.size() > UINT_MAX)
    return fail("{} bytes in or {} out: too large to decode", input.size(), output.size());
  return {};
}

Result<void> inflate_gzip(std::span<const uint8_t> input, std::span<uint8_t> output) {
  TRY(check_32bit(input, output));
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return fail("zlib: cannot start inflating");
  AtExit end([&] { inflateEnd(&stream); });
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = output.data();
  stream.avail_out = static_cast<uInt>(output.size());
  uint8_t spare;
  for (;;) {
    int status = inflate(&stream, Z_NO_FLUSH);
    if (status == Z_STREAM_END) break;
    if (status == Z_NEED_DICT || status == Z_DATA_ERROR || status == Z_MEM_ERROR)
      return fail("the gzip stream is damaged ({})", stream.msg ? stream.msg : "no reason given");
    if (stream.avail_out == 0 && stream.next_out == &spare + 1)
      return too_large(Compression::kGzip, output.size());
    if (stream.avail_out == 0) {  // full: the stream may still end without another byte
      stream.next_out = &spare;
      stream.avail_out = 1;
    } else if (stream.avail_in == 0) {
      return truncated(Compression::kGzip);
    }
  }
  return check_total(Compression::kGzip, stream.total_out, output.size());
}

Result<void> decompress_bzip2(std::span<const uint8_t> input, std::span<uint8_t> output) {
  TRY(check_32bit(input, output));
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return fail("bzip2: cannot start decoding");
  AtExit end([&] { BZ2_bzDecompressEnd(&stream); });
  stream.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(input.data()));
  stream.avail_in = static_cast<unsigned>(input.size());
  stream.next_out = reinterpret_cast<char*>(output.data());
  stream.avail_out = static_cast<unsigned>(output.size());
  char spare;
  for (;;) {
    int status = BZ2_bzDecompress(&stream);
    if (status == BZ_STREAM_END) break;
    if (status != BZ_OK) return fail("the bzip2 stream is damaged (error {})", status);
    if (stream.avail_out == 0 && stream.next_out == &spare + 1)
      return too_large(Compression::kBzip2, output.size());
    if (stream.avail_out == 0) {
      stream.next_out = &spare;
      stream.avail_out = 1;
    } else if (stream.avail_in == 0) {
      return truncated(Compression::kBzip2);
    }
  }
  uint64_t total = (uint64_t{stream.total_out_hi32} << 32) | stream.total_out_lo32;
  return check_total(Compression::kBzip2, total, output.size());
}

// .xz and the legacy .lzma: one stream, whatever follows it ignored.
Result<void> decompress_lzma(Compression c, std::span<const uint8_t> input,
                             std::span<uint8_t> output) {
  lzma_stream stream = LZMA_STREAM_INIT;
  lzma_ret started = c == Compression::kXz ? lzma_stream_decoder(&stream, kLzmaMemoryLimit, 0)
                                           : lzma_alone_decoder(&stream, kLzmaMemoryLimit);
  if (started != LZMA_OK) return fail("liblzma: cannot start decoding (error {})", +started);
  AtExit end([&] { lzma_end(&stream); });
  stream.next_in = input.data();
  stream.avail_in = input.size();
  stream.next_out = output.data();
  stream.avail_out = output.size();
  uint8_t spare;
  for (;;) {
    lzma_ret status = lzma_code(&stream, LZMA_FINISH);
    if (status == LZMA_STREAM_END) break;
    if (status == LZMA_MEMLIMIT_ERROR)
      return fail("the {} stream needs more than {} MiB to decode", compression_name(c),
                  kLzmaMemoryLimit >> 20);
    if (stream.avail_out == 0 && stream.next_out == &spare + 1) return too_large(c, output.size());
    if (status != LZMA_OK && status != LZMA_BUF_ERROR)
      return fail("the {} stream is damaged (error {})", compression_name(c), +status);
    if (stream.avail_out == 0) {
      stream.next_out = &spare;
      stream.avail_out = 1;
    } else if (stream.avail_in == 0 || status == LZMA_BUF_ERROR) {
      return truncated(c);
    }
  }
  return check_total(c, stream.total_out, output.size());
}

// One frame, decoded in one pass straight into `output`: zstd then needs no window buffer of
// its own, whatever window size the frame declares.
Result<void> decompress_zstd(std::span<const uint8_t> input, std::span<uint8_t> output) {
  size_t frame = ZSTD_findFrameCompressedSize(input.data(), input.size());
  if (ZSTD_isError(frame))
    return fail("the zstd stream is damaged or truncated ({})", ZSTD_getErrorName(frame));
  unsigned long long declared = ZSTD_getFrameContentSize(input.data(), frame);
  if (declared == ZSTD_CONTENTSIZE_ERROR) return fail("the zstd frame header is damaged");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != output.size())
    return fail("the zstd frame declares {} bytes, {} expected", declared, output.size());
  ZSTD_DCtx* context = ZSTD_createDCtx();
  if (!context) return fail("zstd: cannot start decoding");
  AtExit end([&] { ZSTD_freeDCtx(context); });
  size_t size = ZSTD_decompressDCtx(context, output.data(), output.size(), input.data(), frame);
  if (ZSTD_getErrorCode(size) == ZSTD_error_dstSize_tooSmall)
    return too_large(Compression::kZstd, output.size());
  if (ZSTD_isError(size)) return fail("the zstd stream is damaged ({})", ZSTD_getErrorName(size));
  if (size != output.size()) return too_small(Compression::kZstd, size, output.size());
  return {};
}

Result<void> decompress_lz4_legacy(std::span<const uint8_t> input, std::span<uint8_t> output) {
  if (input.size() < 4 || le32(input, 0) != kLz4LegacyMagic) return fail("not an lz4 legacy frame");
  const uint32_t max_block = static_cast<uint32_t>(LZ4_compressBound(kLz4LegacyBlockBytes));
  size_t at = 4, written = 0;
  while (at < input.size()) {
    if (input.size() - at < 4) return truncated(Compression::kLz4);
    uint32_t block = le32(input, at);
    at += 4;
    if (block == kLz4LegacyMagic) continue;  // frames may follow one another
    if (block == 0 || block > max_block)
      return fail("the lz4 stream is damaged (a block of {} bytes at offset {})", block, at - 4);
    if (block > input.size() - at) return truncated(Compression::kLz4);
    size_t room = std::min<size_t>(output.size() - written, kLz4LegacyBlockBytes);
    int size = LZ4_decompress_safe(reinterpret_cast<const char*>(input.data() + at),
                                   reinterpret_cast<char*>(output.data() + written),
                                   static_cast<int>(block), static_cast<int>(room));
    if (size < 0)
      return fail("the lz4 block at offset {} is damaged or holds more than the {} bytes expected",
                  at - 4, output.size());
    written += static_cast<size_t>(size);
    at += block;
  }
  if (written != output.size()) return too_small(Compression::kLz4, written, output.size());
  return {};
}

}  // namespace

const char* compression_name(Compression compression) {
  switch (compression) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kBzip2:
      return "bzip2";
    case Compression::kLzma:
      return "lzma";
    case Compression::kXz:
      return "xz";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

std::optional<Compression> compression_of(std::span<const uint8_t> head) {
  auto starts_with = [&](std::initializer_list<uint8_t> magic) {
    return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
  };
  if (starts_with({0x1f, 0x8b})) return Compression::kGzip;
  if (starts_with({'B', 'Z', 'h'})) return Compression::kBzip2;
  if (starts_with({0xfd, '7', 'z', 'X', 'Z', 0x00})) return Compression::kXz;
  if (starts_with({0x02, 0x21, 0x4c, 0x18})) return Compression::kLz4;
  if (starts_with({0x28, 0xb5, 0x2f, 0xfd})) return Compression::kZstd;
  // .lzma has no magic: its first byte packs lc/lp/pb (0x5d for the usual lc=3 lp=0 pb=2), then
  // comes a little-endian dictionary size; `lzma -9` and the kernel's builds use 0x5d.
  if (starts_with({0x5d, 0x00, 0x00})) return Compression::kLzma;
  return std::nullopt;
}

Result<void> decompress(Compression compression, std::span<const uint8_t> input,
                        std::span<uint8_t> output) {
  switch (compression) {
    case Compression::kGzip:
      return inflate_gzip(input, output);
    case Compression::kBzip2:
      return decompress_bzip2(input, output);
    case Compression::kLzma:
    case Compression::kXz:
      return decompress_lzma(compression, input, output);
    case Compression::kLz4:
      return decompress_lz4_legacy(input, output);
    case Compression::kZstd:
      return decompress_zstd(input, output);
  }
  return fail("unknown compression");
}

}  // namespace wisp
