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

const std::string kHello = std::string(TINY_GUEST_DIR) + "/hello.bzImage";

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

Result<BzImage> parse(const std::vector<uint8_t>& file) {
  std::span<const uint8_t> head(file.data(), std::min<size_t>(file.size(), kBzImageHeadBytes));
  return parse_bzimage(head, file.size());
}

std::string error_of(const std::vector<uint8_t>& file) {
  auto image = parse(file);
  REQUIRE_FALSE(image);
  return image.error().message();
}

}  // namespace

TEST_CASE("the tiny guest's setup header parses") {
  auto file = read_file(kHello);
  auto image = parse(file);
  REQUIRE(image);
  CHECK(image->protocol_version == 0x020f);
  CHECK(image->setup_bytes == 0x400);
  CHECK(image->kernel_bytes == file.size() - 0x400);
  CHECK(image->cmdline_size == 2047);
  CHECK(image->init_size == 0x10000);
  CHECK(image->initrd_addr_max == 0x7fffffff);
  // The copy for boot_params runs from 0x1f1 to the end given by the jump at 0x200.
  CHECK(image->setup_header.size() == 0x202u + file[0x201] - 0x1f1u);
  CHECK(image->setup_header[0x202 - 0x1f1] == 'H');
}

TEST_CASE("corrupted bzImages are rejected with a reason") {
  auto good = read_file(kHello);

  CHECK_THAT(error_of({}), Catch::Contains("too small"));
  CHECK_THAT(error_of(std::vector<uint8_t>(good.begin(), good.begin() + 0x240)),
             Catch::Contains("too small"));

  auto no_magic = good;
  no_magic[0x202] = 'X';
  CHECK_THAT(error_of(no_magic), Catch::Contains("HdrS"));

  auto no_boot_flag = good;
  no_boot_flag[0x1fe] = 0;
  CHECK_THAT(error_of(no_boot_flag), Catch::Contains("not a bzImage"));

  auto old = good;
  old[0x206] = 0x0b;  // protocol 2.11
  CHECK_THAT(error_of(old), Catch::Contains("too old"));

  auto no_64bit = good;
  no_64bit[0x236] = 0;
  CHECK_THAT(error_of(no_64bit), Catch::Contains("64-bit"));

  auto not_high = good;
  not_high[0x211] = 0;
  CHECK_THAT(error_of(not_high), Catch::Contains("below 1 MiB"));

  auto truncated = good;
  truncated.resize(good.size() - 32);
  CHECK_THAT(error_of(truncated), Catch::Contains("truncated"));

  auto huge_syssize = good;
  huge_syssize[0x1f4 + 3] = 0xff;
  CHECK_THAT(error_of(huge_syssize), Catch::Contains("truncated"));

  auto long_header = good;
  long_header[0x201] = 0xff;  // the header would run to 0x301; the file head still holds it
  CHECK(parse(long_header));
}

TEST_CASE("setup_sects of 0 means 4") {
  auto file = read_file(kHello);
  // Move the protected-mode part so that it starts at (4 + 1) * 512.
  std::vector<uint8_t> moved(file.begin(), file.begin() + 0x400);
  moved.resize(0xa00, 0);
  moved.insert(moved.end(), file.begin() + 0x400, file.end());
  moved[0x1f1] = 0;
  auto image = parse(moved);
  REQUIRE(image);
  CHECK(image->setup_bytes == 0xa00);
}

TEST_CASE("the loader copies the protected-mode kernel and checks its footprint") {
  auto file = read_file(kHello);
  auto image = parse(file);
  REQUIRE(image);
  auto image_file = ImageFile::open(kHello);
  REQUIRE(image_file);

  auto memory = test::make_guest_memory({{0, 2 << 20}});
  auto loaded = load_bzimage(memory, *image_file, *image, 0x100000);
  REQUIRE(loaded);
  CHECK(loaded->entry_64bit == 0x100200);
  CHECK(loaded->end == 0x100000 + 0x10000);  // init_size is larger than the file
  auto copied = memory.slice(0x100000, image->kernel_bytes);
  REQUIRE(copied);
  CHECK(std::equal(copied->begin(), copied->end(), file.begin() + 0x400));

  auto small = test::make_guest_memory({{0, 0x108000}});
  auto refused = load_bzimage(small, *image_file, *image, 0x100000);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message(), Catch::Contains("more than guest memory has"));
}
