// The bzImage parser and loader on Debian's own kernel (fetched by the "kernel: fetch" test),
// whole and damaged, and its payload decompressed on the host.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <vector>

#include "firmware/bzimage.h"
#include "firmware/elf.h"
#include "firmware/format_loaders.h"
#include "firmware/kernel_payload.h"
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

TEST_CASE("Debian's payload decompresses to a vmlinux that fits its header", "[debian-kernel]") {
  auto file = ImageFile::open(kKernel);
  REQUIRE(file);
  auto head = file->head(kBzImageHeadBytes);
  REQUIRE(head);
  auto image = parse_bzimage(*head, file->size());
  REQUIRE(image);
  auto payload = find_kernel_payload(*file, *image);
  REQUIRE(payload);
  CHECK(payload->uncompressed_size <= image->init_size);
  std::vector<uint8_t> bytes(payload->length), vmlinux(payload->uncompressed_size);
  REQUIRE(file->read(payload->file_offset, bytes));
  REQUIRE(decompress_kernel_payload(*payload, bytes, vmlinux));
  auto elf = parse_elf(ImageFile::from_bytes(vmlinux));
  REQUIRE(elf);
  CHECK(elf->is_64bit);
  CHECK(elf->segments.front().address == image->pref_address);
  CHECK(elf->pvh_entry);  // the same vmlinux that tools/guest/extract-vmlinux.sh gives

  // Loaded in place of the bzImage, entered at startup_64, clear of the initrd's placement.
  auto memory = test::make_guest_memory({{0, 256 << 20}});
  BootPlan plan;
  BootConfig config;
  config.kernel_path = kKernel;
  config.memory_size = 256 << 20;
  ImageFile decompressed = ImageFile::from_bytes(vmlinux);
  LoadContext context{memory, plan, config, *file, 0};
  auto loaded = load_decompressed_vmlinux(context, *image, decompressed);
  REQUIRE(loaded);
  CHECK(loaded->entry_64bit == elf->entry);
  CHECK(loaded->end >= image->pref_address + image->init_size);
}
