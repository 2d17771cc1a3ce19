// The bzImage parser and loader on Debian's own kernel (fetched by the "kernel: fetch" test),
// whole and damaged.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <vector>

#include "firmware/bzimage.h"
#include "tests/unit/test_memory.h"

using namespace wisp;

namespace {

const std::string kKernel = DEBIAN_KERNEL;

std::vector<uint8_t> read_kernel() {
  std::ifstream in(kKernel, std::ios::binary);
  INFO("Debian's kernel should be at " << kKernel << " (the \"kernel: fetch\" test puts it there)");
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

Result<BzImage> parse(const std::vector<uint8_t>& file, uint64_t size) {
  std::span<const uint8_t> head(file.data(), std::min<size_t>(size, kBzImageHeadBytes));
  return parse_bzimage(head, size);
}

}  // namespace

TEST_CASE("Debian's bzImage parses and loads", "[debian-kernel]") {
  auto file = read_kernel();
  auto image = parse(file, file.size());
  REQUIRE(image);
  CHECK(image->protocol_version >= 0x020f);
  CHECK(image->kernel_bytes > (4u << 20));
  CHECK(image->init_size > image->kernel_bytes);  // it decompresses beyond itself
  CHECK(image->cmdline_size == 2047);
  CHECK(image->initrd_addr_max == 0x7fffffff);

  auto memory = test::make_guest_memory({{0, 128 << 20}});
  auto image_file = ImageFile::open(kKernel);
  REQUIRE(image_file);
  auto loaded = load_bzimage(memory, *image_file, *image, 0x100000);
  REQUIRE(loaded);
  CHECK(loaded->entry_64bit == 0x100200);
  auto copied = memory.slice(0x100000, image->kernel_bytes);
  REQUIRE(copied);
  CHECK(std::equal(copied->begin(), copied->end(), file.begin() + image->setup_bytes));

  // Not enough memory for its boot-time footprint.
  auto small = test::make_guest_memory({{0, 16 << 20}});
  CHECK_FALSE(load_bzimage(small, *image_file, *image, 0x100000));
}

TEST_CASE("a damaged Debian bzImage is refused", "[debian-kernel]") {
  auto file = read_kernel();
  CHECK_THAT(parse(file, file.size() - 4096).error().message(), Catch::Contains("truncated"));
  auto no_magic = file;
  no_magic[0x203] = 0;
  CHECK_THAT(parse(no_magic, no_magic.size()).error().message(), Catch::Contains("HdrS"));
}
