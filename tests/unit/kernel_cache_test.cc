// The kernel cache and host decompression: where the cache lives, a miss then a hit, a damaged
// entry replaced, a cache that cannot be written, and pruning.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "firmware/elf.h"
#include "tests/unit/compress_for_test.h"
#include "tests/unit/temp_file.h"
#include "vmm/host_decompression.h"
#include "vmm/kernel_cache.h"

using namespace wisp;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A directory of the test's own under /tmp, removed with what is in it.
class TempDirectory {
 public:
  TempDirectory() : path_("/tmp/wisp-cache-test-XXXXXX") { REQUIRE(::mkdtemp(path_.data())); }
  ~TempDirectory() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> kit_elf() {
  return read_file(std::string(KIT_GUEST_DIR) + "/hello.elf64.elf");
}

// The tiny hello guest with the kit's ELF hello as its xz payload, in a file.
struct CompressedKernel {
  test::TempFile file{"cache-bzimage"};
  std::vector<uint8_t> elf = kit_elf();
  CompressedKernel() {
    auto base = read_file(std::string(TINY_GUEST_DIR) + "/hello.bzImage");
    write_file(file.path(),
               test::bzimage_with_payload(base, test::kernel_payload(Compression::kXz, elf),
                                          0x100000, 1 << 20));
  }
  std::vector<uint8_t> read(const ImageFile& image) const {
    std::vector<uint8_t> bytes(image.size());
    REQUIRE(image.read(0, bytes));
    return bytes;
  }
};

std::vector<std::string> entries_in(const std::string& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("the cache directory: WISP_CACHE, then XDG_CACHE_HOME, then HOME") {
  CHECK(KernelCache::directory_from("/w", "/x", "/h") == "/w/vmlinux");
  CHECK(KernelCache::directory_from("", "/x", "/h") == "/x/wisp/vmlinux");
  CHECK(KernelCache::directory_from(nullptr, "relative", "/h") == "/h/.cache/wisp/vmlinux");
  CHECK(KernelCache::directory_from(nullptr, nullptr, "/h") == "/h/.cache/wisp/vmlinux");
  CHECK_FALSE(KernelCache::directory_from(nullptr, nullptr, nullptr));
  CHECK_FALSE(KernelCache::directory_from(nullptr, "", ""));
}

TEST_CASE("the cache key is a hash of the bytes named, not of the file around them") {
  std::vector<uint8_t> a = {1, 2, 3, 4, 5, 6}, b = {9, 9, 3, 4, 5, 6};
  ImageFile fa = ImageFile::from_bytes(a), fb = ImageFile::from_bytes(b);
  auto ka = kernel_cache_key(fa, 2, 4), kb = kernel_cache_key(fb, 2, 4);
  REQUIRE(ka);
  REQUIRE(kb);
  CHECK(*ka == *kb);
  CHECK(ka->size() == 32);
  CHECK(*kernel_cache_key(fa, 0, 6) != *ka);
  CHECK_FALSE(kernel_cache_key(fa, 2, 5));  // past the end
}

TEST_CASE("a miss decompresses and stores, a hit reads the entry back") {
  TempDirectory home;
  KernelCache cache(home.path() + "/wisp/vmlinux");
  CompressedKernel kernel;

  auto cold = host_decompressed_kernel(kernel.file.path(), &cache);
  REQUIRE(cold);
  CHECK_FALSE(cold->contents().empty());  // decompressed into memory
  CHECK(kernel.read(*cold) == kernel.elf);
  std::vector<std::string> names = entries_in(cache.directory());
  REQUIRE(names.size() == 1);
  CHECK(read_file(cache.directory() + "/" + names[0]) == kernel.elf);

  auto warm = host_decompressed_kernel(kernel.file.path(), &cache);
  REQUIRE(warm);
  CHECK(warm->contents().empty());  // read from the cache file
  CHECK(warm->path() == cache.directory() + "/" + names[0]);
  CHECK(kernel.read(*warm) == kernel.elf);
}

TEST_CASE("a damaged cache entry is found out and replaced") {
  TempDirectory home;
  KernelCache cache(home.path());
  CompressedKernel kernel;
  REQUIRE(host_decompressed_kernel(kernel.file.path(), &cache));
  std::string entry = home.path() + "/" + entries_in(home.path()).at(0);

  SECTION("cut short") {
    fs::resize_file(entry, kernel.elf.size() / 2);
  }
  SECTION("the right size but not ELF") {
    write_file(entry, std::vector<uint8_t>(kernel.elf.size(), 0));
  }
  auto again = host_decompressed_kernel(kernel.file.path(), &cache);
  REQUIRE(again);
  CHECK_FALSE(again->contents().empty());  // decompressed again
  CHECK(read_file(entry) == kernel.elf);   // and stored again
}

TEST_CASE("a cache that cannot be written does not stop decompression") {
  test::TempFile not_a_directory("cache-file");
  KernelCache cache(not_a_directory.path() + "/vmlinux");
  CompressedKernel kernel;
  CHECK_FALSE(cache.store("00000000000000000000000000000000", kernel.elf));
  auto vmlinux = host_decompressed_kernel(kernel.file.path(), &cache);
  REQUIRE(vmlinux);
  CHECK(kernel.read(*vmlinux) == kernel.elf);

  auto uncached = host_decompressed_kernel(kernel.file.path(), nullptr);
  REQUIRE(uncached);
  CHECK(kernel.read(*uncached) == kernel.elf);
}

TEST_CASE("what is not a bzImage with a payload is left alone") {
  TempDirectory home;
  KernelCache cache(home.path());
  CHECK_FALSE(host_decompressed_kernel(std::string(TINY_GUEST_DIR) + "/hello.bzImage", &cache));
  CHECK_FALSE(host_decompressed_kernel(std::string(KIT_GUEST_DIR) + "/hello.elf64.elf", &cache));
  CHECK_FALSE(host_decompressed_kernel("/nonexistent/kernel", &cache));
  CHECK(entries_in(home.path()).empty());
}

TEST_CASE("only the most recently used entries are kept") {
  TempDirectory home;
  KernelCache cache(home.path());
  std::vector<uint8_t> bytes = {1, 2, 3};
  for (size_t i = 0; i < KernelCache::kKeptEntries + 2; ++i) {
    std::string key = fmt::format("{:032x}", i);
    REQUIRE(cache.store(key, bytes));
    // Distinct modification times, oldest first.
    fs::last_write_time(cache.path_of(key),
                        fs::file_time_type::clock::now() - std::chrono::minutes(60 - i));
  }
  write_file(home.path() + "/.stale.XXXXXX", bytes);
  fs::last_write_time(home.path() + "/.stale.XXXXXX",
                      fs::file_time_type::clock::now() - std::chrono::hours(2));
  REQUIRE(cache.store(fmt::format("{:032x}", 99), bytes));
  std::vector<std::string> names = entries_in(home.path());
  CHECK(names.size() == KernelCache::kKeptEntries);
  CHECK(std::find(names.begin(), names.end(), fmt::format("{:032x}", 99)) != names.end());
  CHECK(std::find(names.begin(), names.end(), fmt::format("{:032x}", 0)) == names.end());
  CHECK(std::find(names.begin(), names.end(), ".stale.XXXXXX") == names.end());
  CHECK(cache.find(fmt::format("{:032x}", 99), 3));
  CHECK_FALSE(cache.find(fmt::format("{:032x}", 99), 4));  // the wrong size: removed
  CHECK_FALSE(cache.find(fmt::format("{:032x}", 99), 3));
}
