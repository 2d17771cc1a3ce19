// The payload decoders on streams made at test time: whole, truncated, cut short or too long for
// the size expected, and garbage.
#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "firmware/decompress.h"
#include "tests/unit/compress_for_test.h"

using namespace wisp;
using wisp::test::compress;
using wisp::test::kAllCompressions;

namespace {

// Compressible but not trivial: a counter and a text, repeated.
std::vector<uint8_t> sample(size_t size) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>((i % 251) ^ "wisp"[i % 4]);
  return data;
}

std::string error_of(Compression c, std::span<const uint8_t> input, size_t output_size) {
  std::vector<uint8_t> output(output_size);
  auto result = decompress(c, input, output);
  REQUIRE_FALSE(result);
  return result.error().message();
}

}  // namespace

TEST_CASE("each format's stream is recognised and decodes to its bytes exactly") {
  std::vector<uint8_t> data = sample(100'000);
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> stream = compress(c, data);
    CHECK(compression_of(stream) == c);
    std::vector<uint8_t> output(data.size());
    REQUIRE(decompress(c, stream, output));
    CHECK(output == data);
    // What a kernel build appends after the stream is ignored, except by lz4 (no end mark).
    if (c != Compression::kLz4) {
      std::vector<uint8_t> trailed = stream;
      trailed.insert(trailed.end(), {1, 2, 3, 4});
      std::fill(output.begin(), output.end(), 0);
      REQUIRE(decompress(c, trailed, output));
      CHECK(output == data);
    }
  }
}

TEST_CASE("lz4's legacy frame spans blocks of 8 MiB") {
  std::vector<uint8_t> data = sample((8 << 20) + 12345);
  std::vector<uint8_t> stream = compress(Compression::kLz4, data);
  std::vector<uint8_t> output(data.size());
  REQUIRE(decompress(Compression::kLz4, stream, output));
  CHECK(output == data);
}

TEST_CASE("an empty stream decodes to nothing") {
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> stream = compress(c, {});
    std::vector<uint8_t> output;
    CHECK(decompress(c, stream, output));
  }
}

TEST_CASE("a truncated stream is refused") {
  std::vector<uint8_t> data = sample(100'000);
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> stream = compress(c, data);
    for (size_t cut : {size_t{1}, stream.size() / 2, stream.size() - 8}) {
      INFO("cut to " << stream.size() - cut << " of " << stream.size());
      std::span<const uint8_t> part(stream.data(), stream.size() - cut);
      CHECK_FALSE(error_of(c, part, data.size()).empty());
    }
  }
}

TEST_CASE("a stream that does not fill the expected size exactly is refused") {
  std::vector<uint8_t> data = sample(100'000);
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> stream = compress(c, data);
    // A size trailer that lies either way: the output would overflow, or stay short.
    // (zstd's frame says its size up front.)
    CHECK_THAT(error_of(c, stream, data.size() - 1),
               Catch::Contains("more than") || Catch::Contains("declares"));
    CHECK_THAT(error_of(c, stream, data.size() + 1),
               Catch::Contains("ends after") || Catch::Contains("declares"));
  }
}

TEST_CASE("garbage after the magic is refused") {
  std::vector<uint8_t> data = sample(100'000);
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> stream = compress(c, data);
    // Keep the magic (and .lzma's properties), scramble the rest.
    for (size_t i = 13; i < stream.size(); ++i) stream[i] = static_cast<uint8_t>(i * 131 + 7);
    CHECK_FALSE(error_of(c, stream, data.size()).empty());
  }
  CHECK_FALSE(compression_of(std::vector<uint8_t>{0x89, 'L', 'Z', 'O'}));  // LZO: not decoded
  CHECK_FALSE(compression_of(std::vector<uint8_t>{}));
}

TEST_CASE("a header asking for a huge dictionary is refused, not obeyed") {
  // .lzma: properties 0x5d, then a 4 GiB - 1 dictionary, unknown size.
  std::vector<uint8_t> stream = {0x5d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00};
  CHECK_THAT(error_of(Compression::kLzma, stream, 1000), Catch::Contains("MiB to decode"));
}
