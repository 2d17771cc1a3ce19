#include "tests/unit/compress_for_test.h"

#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <stdexcept>

namespace wisp::test {
namespace {

void put_le32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void set_le(std::vector<uint8_t>& bytes, size_t at, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (8 * i));
}

std::vector<uint8_t> gzip(std::span<const uint8_t> data) {
  z_stream stream{};
  if (deflateInit2(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::vector<uint8_t> out(deflateBound(&stream, data.size()) + 32);
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

std::vector<uint8_t> bzip2(std::span<const uint8_t> data) {
  unsigned size = static_cast<unsigned>(data.size() + data.size() / 100 + 600);
  std::vector<uint8_t> out(size);
  char none = 0;  // bzip2 refuses a null source, even of no bytes
  char* source = data.empty() ? &none : reinterpret_cast<char*>(const_cast<uint8_t*>(data.data()));
  if (BZ2_bzBuffToBuffCompress(reinterpret_cast<char*>(out.data()), &size, source,
                               static_cast<unsigned>(data.size()), 9, 0, 0) != BZ_OK)
    throw std::runtime_error("BZ2_bzBuffToBuffCompress");
  out.resize(size);
  return out;
}

std::vector<uint8_t> lzma_code_all(lzma_stream& stream, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(data.size() + data.size() / 2 + 4096);
  stream.next_in = data.data();
  stream.avail_in = data.size();
  stream.next_out = out.data();
  stream.avail_out = out.size();
  lzma_ret status = lzma_code(&stream, LZMA_FINISH);
  out.resize(stream.total_out);
  lzma_end(&stream);
  if (status != LZMA_STREAM_END) throw std::runtime_error("lzma_code");
  return out;
}

std::vector<uint8_t> lzma_alone(std::span<const uint8_t> data) {
  lzma_options_lzma options;
  lzma_lzma_preset(&options, 6);
  lzma_stream stream = LZMA_STREAM_INIT;
  if (lzma_alone_encoder(&stream, &options) != LZMA_OK)
    throw std::runtime_error("lzma_alone_encoder");
  return lzma_code_all(stream, data);
}

std::vector<uint8_t> xz(std::span<const uint8_t> data) {
  lzma_stream stream = LZMA_STREAM_INIT;
  if (lzma_easy_encoder(&stream, 6, LZMA_CHECK_CRC32) != LZMA_OK)
    throw std::runtime_error("lzma_easy_encoder");
  return lzma_code_all(stream, data);
}

// lz4's legacy frame: the magic, then 8 MiB blocks each after its compressed size.
std::vector<uint8_t> lz4_legacy(std::span<const uint8_t> data) {
  constexpr size_t kBlock = 8 << 20;
  std::vector<uint8_t> out;
  put_le32(out, 0x184c2102);
  for (size_t at = 0; at < data.size(); at += kBlock) {
    size_t size = std::min(kBlock, data.size() - at);
    std::vector<char> block(static_cast<size_t>(LZ4_compressBound(static_cast<int>(size))));
    int packed = LZ4_compress_default(reinterpret_cast<const char*>(data.data() + at), block.data(),
                                      static_cast<int>(size), static_cast<int>(block.size()));
    if (packed <= 0) throw std::runtime_error("LZ4_compress_default");
    put_le32(out, static_cast<uint32_t>(packed));
    out.insert(out.end(), block.begin(), block.begin() + packed);
  }
  return out;
}

std::vector<uint8_t> zstd(std::span<const uint8_t> data) {
  std::vector<uint8_t> out(ZSTD_compressBound(data.size()));
  size_t size = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 19);
  if (ZSTD_isError(size)) throw std::runtime_error("ZSTD_compress");
  out.resize(size);
  return out;
}

}  // namespace

std::vector<uint8_t> compress(Compression compression, std::span<const uint8_t> data) {
  switch (compression) {
    case Compression::kGzip:
      return gzip(data);
    case Compression::kBzip2:
      return bzip2(data);
    case Compression::kLzma:
      return lzma_alone(data);
    case Compression::kXz:
      return xz(data);
    case Compression::kLz4:
      return lz4_legacy(data);
    case Compression::kZstd:
      return zstd(data);
  }
  throw std::logic_error("unknown compression");
}

std::vector<uint8_t> kernel_payload(Compression compression, std::span<const uint8_t> data) {
  std::vector<uint8_t> out = compress(compression, data);
  if (compression != Compression::kGzip) put_le32(out, static_cast<uint32_t>(data.size()));
  return out;
}

std::vector<uint8_t> bzimage_with_payload(std::vector<uint8_t> base,
                                          std::span<const uint8_t> payload, uint64_t pref_address,
                                          uint32_t init_size) {
  uint64_t setup_sects = base.at(0x1f1) ? base.at(0x1f1) : 4;
  uint64_t setup_bytes = (setup_sects + 1) * 512;
  uint64_t offset = base.size() - setup_bytes;  // from the protected-mode part's start
  base.insert(base.end(), payload.begin(), payload.end());
  base.resize((base.size() + 15) / 16 * 16);
  set_le(base, 0x1f4, (base.size() - setup_bytes) / 16, 4);  // syssize
  set_le(base, 0x248, offset, 4);                            // payload_offset
  set_le(base, 0x24c, payload.size(), 4);                    // payload_length
  set_le(base, 0x258, pref_address, 8);
  set_le(base, 0x260, init_size, 4);
  return base;
}

}  // namespace wisp::test
