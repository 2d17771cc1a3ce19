// Host decompression end to end on the host's /dev/kvm: tiny bzImages whose payload is the kit's
// ELF64 hello, compressed in each format. The bzImage's own 64-bit entry is the tiny hello guest,
// so the guest's first line tells which path ran: "hello from elf64" when Wisp booted the
// decompressed vmlinux, "hello from the tiny guest" when the bzImage ran as it is.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/unit/compress_for_test.h"

using wisp::Compression;
using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::run_process;
using wisp::test::tiny_guest;
namespace fs = std::filesystem;

namespace {

constexpr int kTimeout = 60;
constexpr int kGuestExitedZero = 1;  // both guests write 0 to debug-exit for a command line "0 ..."
const std::string kDecompressed = "hello from elf64: 0 x\n";
const std::string kAsItIs = "hello from the tiny guest: 0 x\n";

std::vector<uint8_t> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A scratch directory with the compressed bzImage and a cache directory.
class Scratch {
 public:
  explicit Scratch(std::vector<uint8_t> image) : path_("/tmp/wisp-decompress-XXXXXX") {
    REQUIRE(::mkdtemp(path_.data()));
    std::ofstream(kernel(), std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()),
               static_cast<std::streamsize>(image.size()));
  }
  ~Scratch() { fs::remove_all(path_); }
  std::string kernel() const { return path_ + "/bzImage"; }
  std::string cache() const { return path_ + "/cache"; }
  size_t cached_entries() const {
    std::error_code error;
    auto it = fs::directory_iterator(cache() + "/vmlinux", error);
    return error ? 0 : static_cast<size_t>(std::distance(it, fs::directory_iterator()));
  }

 private:
  std::string path_;
};

std::vector<uint8_t> compressed_hello(Compression c) {
  return wisp::test::bzimage_with_payload(
      bytes_of(tiny_guest("hello")),
      wisp::test::kernel_payload(c, bytes_of(kit_guest("hello.elf64.elf"))), 0x100000, 1 << 20);
}

wisp::test::ProcessResult boot(const std::string& cache, const std::string& kernel,
                               std::vector<std::string> more = {}) {
  std::vector<std::string> argv = {
      "env",  "WISP_CACHE=" + cache, kWisp, "run", "--memory", "64M", "--kernel",
      kernel, "--cmdline",           "0 x"};
  argv.insert(argv.end(), more.begin(), more.end());
  auto result = run_process(argv, "", kTimeout);
  UNSCOPED_INFO("stdout: " << result.out << " stderr: " << result.err);
  return result;
}

}  // namespace

TEST_CASE("a bzImage's payload is decompressed on the host in every format, then cached",
          "[kvm][decompress]") {
  for (Compression c : wisp::test::kAllCompressions) {
    INFO(wisp::compression_name(c));
    Scratch scratch(compressed_hello(c));
    auto cold = boot(scratch.cache(), scratch.kernel());
    CHECK(cold.out == kDecompressed);
    CHECK(cold.status == kGuestExitedZero);
    CHECK(cold.err.empty());
    CHECK(scratch.cached_entries() == 1);
    auto warm = boot(scratch.cache(), scratch.kernel());
    CHECK(warm.out == kDecompressed);
    CHECK(warm.status == kGuestExitedZero);
  }
}

TEST_CASE("with --no-decompress-cache the bzImage boots as it is", "[kvm][decompress]") {
  Scratch scratch(compressed_hello(Compression::kLz4));
  auto result = boot(scratch.cache(), scratch.kernel(), {"--no-decompress-cache"});
  CHECK(result.out == kAsItIs);
  CHECK(result.status == kGuestExitedZero);
  CHECK(scratch.cached_entries() == 0);
}

TEST_CASE("a damaged payload falls back to the bzImage with a warning", "[kvm][decompress]") {
  std::vector<uint8_t> image = compressed_hello(Compression::kXz);
  size_t payload = bytes_of(tiny_guest("hello")).size();
  for (size_t i = payload + 64; i < payload + 128; ++i) image[i] ^= 0x5a;
  Scratch scratch(image);
  auto result = boot(scratch.cache(), scratch.kernel());
  CHECK(result.out == kAsItIs);
  CHECK(result.status == kGuestExitedZero);
  CHECK_THAT(result.err, Catch::Contains("warning") && Catch::Contains("the guest decompresses"));
  CHECK(scratch.cached_entries() == 0);
}

TEST_CASE("a cache that cannot be written still boots the decompressed kernel",
          "[kvm][decompress]") {
  Scratch scratch(compressed_hello(Compression::kZstd));
  auto result = boot("/dev/null/cache", scratch.kernel());
  CHECK(result.out == kDecompressed);
  CHECK(result.status == kGuestExitedZero);
  CHECK(result.err.empty());  // said only with -v
}
