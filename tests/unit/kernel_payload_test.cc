// A bzImage's compressed payload: found, checked and decompressed, and the vmlinux booted in the
// bzImage's place, or not when it does not fit. The bzImages are the tiny hello guest with the
// test kit's ELF64 hello compressed after it, as a kernel build lays out its payload.
#include <asm/bootparam.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <vector>

#include "firmware/elf.h"
#include "firmware/kernel_loader.h"
#include "firmware/kernel_payload.h"
#include "firmware/layout.h"
#include "tests/unit/compress_for_test.h"
#include "tests/unit/temp_file.h"
#include "tests/unit/test_memory.h"

using namespace wisp;
using wisp::test::bzimage_with_payload;
using wisp::test::kAllCompressions;
using wisp::test::kernel_payload;

namespace {

constexpr uint64_t kKitLoadAddress = 0x100000;  // guest/kit/ld/elf64.ld
constexpr uint32_t kInitSize = 1 << 20;

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<uint8_t> tiny_bzimage() {
  return read_file(std::string(TINY_GUEST_DIR) + "/hello.bzImage");
}
std::vector<uint8_t> kit_elf() {
  return read_file(std::string(KIT_GUEST_DIR) + "/hello.elf64.elf");
}

std::vector<uint8_t> compressed_bzimage(Compression c, uint64_t pref = kKitLoadAddress) {
  return bzimage_with_payload(tiny_bzimage(), kernel_payload(c, kit_elf()), pref, kInitSize);
}

BzImage parse(const ImageFile& file) {
  auto head = file.head(kBzImageHeadBytes);
  REQUIRE(head);
  auto image = parse_bzimage(*head, file.size());
  REQUIRE(image);
  return *image;
}

std::string payload_error(std::vector<uint8_t> bytes) {
  ImageFile file = ImageFile::from_bytes(std::move(bytes));
  auto payload = find_kernel_payload(file, parse(file));
  REQUIRE_FALSE(payload);
  return payload.error().message();
}

void set_le32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

TEST_CASE("each format's payload is found and decompresses to the vmlinux") {
  std::vector<uint8_t> elf = kit_elf();
  for (Compression c : kAllCompressions) {
    INFO(compression_name(c));
    std::vector<uint8_t> packed = kernel_payload(c, elf);
    ImageFile file = ImageFile::from_bytes(compressed_bzimage(c));
    auto payload = find_kernel_payload(file, parse(file));
    REQUIRE(payload);
    CHECK(payload->compression == c);
    CHECK(payload->file_offset == tiny_bzimage().size());
    CHECK(payload->length == packed.size());
    CHECK(payload->uncompressed_size == elf.size());

    std::vector<uint8_t> bytes(payload->length), vmlinux(payload->uncompressed_size);
    REQUIRE(file.read(payload->file_offset, bytes));
    REQUIRE(decompress_kernel_payload(*payload, bytes, vmlinux));
    CHECK(vmlinux == elf);
  }
}

TEST_CASE("a bzImage without a usable payload is told apart") {
  ImageFile plain = ImageFile::from_bytes(tiny_bzimage());
  CHECK_FALSE(has_kernel_payload(parse(plain)));
  CHECK_THAT(payload_error(tiny_bzimage()), Catch::Contains("no payload"));

  std::vector<uint8_t> past_end = compressed_bzimage(Compression::kXz);
  set_le32(past_end, 0x24c, static_cast<uint32_t>(past_end.size()));
  CHECK_THAT(payload_error(past_end), Catch::Contains("past the end"));

  std::vector<uint8_t> lzo = compressed_bzimage(Compression::kXz);
  std::copy_n("\x89LZO", 4, lzo.begin() + static_cast<ptrdiff_t>(tiny_bzimage().size()));
  CHECK_THAT(payload_error(lzo), Catch::Contains("not one Wisp decodes"));
}

TEST_CASE("a size trailer that is zero, over init_size or over the hard limit is refused") {
  for (Compression c : {Compression::kZstd, Compression::kGzip}) {
    INFO(compression_name(c));
    std::vector<uint8_t> bytes = compressed_bzimage(c);
    ImageFile file = ImageFile::from_bytes(bytes);
    uint64_t trailer =
        parse(file).setup_bytes + parse(file).payload_offset + parse(file).payload_length - 4;
    set_le32(bytes, trailer, 0);
    CHECK_THAT(payload_error(bytes), Catch::Contains("trailer is 0"));
    set_le32(bytes, trailer, kInitSize + 1);
    CHECK_THAT(payload_error(bytes), Catch::Contains("init_size"));
    set_le32(bytes, trailer, 0xffffffff);
    set_le32(bytes, 0x260, 0xffffffff);
    CHECK_THAT(payload_error(bytes), Catch::Contains("limit"));
  }
}

TEST_CASE("a trailer that lies about the size, or a payload that is not ELF, fails to decompress") {
  std::vector<uint8_t> elf = kit_elf();
  ImageFile file = ImageFile::from_bytes(compressed_bzimage(Compression::kLz4));
  auto payload = find_kernel_payload(file, parse(file));
  REQUIRE(payload);
  std::vector<uint8_t> bytes(payload->length);
  REQUIRE(file.read(payload->file_offset, bytes));
  KernelPayload lying = *payload;
  lying.uncompressed_size += 16;
  std::vector<uint8_t> vmlinux(lying.uncompressed_size);
  CHECK_FALSE(decompress_kernel_payload(lying, bytes, vmlinux));

  std::vector<uint8_t> text(5000, 'x');
  ImageFile not_elf = ImageFile::from_bytes(
      bzimage_with_payload(tiny_bzimage(), kernel_payload(Compression::kGzip, text), 0, 1 << 20));
  auto other = find_kernel_payload(not_elf, parse(not_elf));
  REQUIRE(other);
  std::vector<uint8_t> other_bytes(other->length), out(other->uncompressed_size);
  REQUIRE(not_elf.read(other->file_offset, other_bytes));
  auto result = decompress_kernel_payload(*other, other_bytes, out);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("not ELF"));
}

TEST_CASE("the decompressed vmlinux boots in the bzImage's place, with its setup header") {
  std::vector<uint8_t> elf = kit_elf();
  test::TempFile kernel("payload-bzimage");
  std::vector<uint8_t> image = compressed_bzimage(Compression::kZstd);
  std::ofstream(kernel.path(), std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()),
             static_cast<std::streamsize>(image.size()));
  test::TempFile initrd("payload-initrd", "an initrd");
  ImageFile vmlinux = ImageFile::from_bytes(elf, "vmlinux");
  auto parsed = parse_elf(vmlinux);
  REQUIRE(parsed);

  auto memory = test::make_guest_memory({{0, 64 << 20}});
  BootConfig config;
  config.kernel_path = kernel.path();
  config.initrd_paths = {initrd.path()};
  config.cmdline = "0 decompressed";
  config.memory_size = 64 << 20;
  config.decompressed_kernel = &vmlinux;
  auto entry = load_kernel(memory, config);
  REQUIRE(entry);
  CHECK(entry->mode == EntryMode::kLong);
  CHECK(entry->rip == parsed->entry);
  CHECK(entry->rsi == layout::kZeroPageAddress);
  auto params = memory.read_obj<boot_params>(layout::kZeroPageAddress);
  REQUIRE(params);
  CHECK(params->hdr.payload_length == kernel_payload(Compression::kZstd, elf).size());
  CHECK(params->hdr.init_size == kInitSize);
  CHECK(params->hdr.ramdisk_size == 9);
  CHECK(params->hdr.ramdisk_image >= kKitLoadAddress + kInitSize);
  const ElfSegment& first = parsed->segments.front();
  auto loaded = memory.slice(first.address, first.file_size);
  REQUIRE(loaded);
  CHECK(std::equal(loaded->begin(), loaded->end(),
                   elf.begin() + static_cast<ptrdiff_t>(first.file_offset)));
}

TEST_CASE("a vmlinux that does not fit its bzImage leaves the guest to decompress") {
  std::vector<uint8_t> elf = kit_elf();
  test::TempFile kernel("payload-bzimage");
  // The header says the kernel runs at 2 MiB; the ELF is linked at 1 MiB.
  std::vector<uint8_t> image = compressed_bzimage(Compression::kGzip, 0x200000);
  std::ofstream(kernel.path(), std::ios::binary)
      .write(reinterpret_cast<const char*>(image.data()),
             static_cast<std::streamsize>(image.size()));
  ImageFile vmlinux = ImageFile::from_bytes(elf, "vmlinux");
  auto memory = test::make_guest_memory({{0, 64 << 20}});
  BootConfig config;
  config.kernel_path = kernel.path();
  config.memory_size = 64 << 20;
  config.decompressed_kernel = &vmlinux;
  auto entry = load_kernel(memory, config);
  REQUIRE(entry);
  CHECK(entry->rip == layout::kKernelLoadAddress + 0x200);

  ImageFile not_elf = ImageFile::from_bytes(std::vector<uint8_t>(4096, 0x7f), "junk");
  config.decompressed_kernel = &not_elf;
  auto junk_entry = load_kernel(memory, config);
  REQUIRE(junk_entry);
  CHECK(junk_entry->rip == layout::kKernelLoadAddress + 0x200);
}
