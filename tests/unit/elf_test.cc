// The ELF parser, the PVH note and the Multiboot header on the kit's guests, whole and damaged.
#include <elf.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "firmware/elf.h"
#include "firmware/kernel_loader.h"
#include "firmware/multiboot.h"
#include "tests/unit/test_memory.h"

using namespace wisp;

namespace {

std::vector<uint8_t> read_kit_guest(const std::string& name) {
  std::ifstream in(std::string(KIT_GUEST_DIR) + "/" + name, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string elf_error(std::vector<uint8_t> bytes) {
  auto image = parse_elf(ImageFile::from_bytes(std::move(bytes)));
  REQUIRE_FALSE(image);
  return image.error().message();
}

template <typename T>
void poke(std::vector<uint8_t>& bytes, uint64_t offset, T value) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

// The offset of the first program header of a 64-bit ELF.
uint64_t first_phdr64(const std::vector<uint8_t>& bytes) {
  Elf64_Ehdr header;
  std::memcpy(&header, bytes.data(), sizeof(header));
  return header.e_phoff;
}

}  // namespace

TEST_CASE("a PVH guest's note gives its 32-bit entry") {
  auto image = parse_elf(ImageFile::from_bytes(read_kit_guest("hello.pvh.elf")));
  REQUIRE(image);
  REQUIRE(image->pvh_entry);
  CHECK(*image->pvh_entry >= 0x100000);
  CHECK_FALSE(image->segments.empty());
  CHECK(detect_format(ImageFile::from_bytes(read_kit_guest("hello.pvh.elf"))) ==
        KernelFormat::kPvh);
}

TEST_CASE("a plain ELF64 has no PVH note and loads at its physical addresses") {
  auto bytes = read_kit_guest("hello.elf64.elf");
  auto file = ImageFile::from_bytes(bytes);
  auto image = parse_elf(file);
  REQUIRE(image);
  CHECK(image->is_64bit);
  CHECK_FALSE(image->pvh_entry);
  CHECK(*detect_format(file) == KernelFormat::kElf);

  auto memory = test::make_guest_memory({{0, 8 << 20}});
  auto end = load_elf_segments(memory, file, *image);
  REQUIRE(end);
  const ElfSegment& first = image->segments.front();
  auto loaded = memory.slice(first.address, first.file_size);
  REQUIRE(loaded);
  CHECK(std::equal(loaded->begin(), loaded->end(),
                   bytes.begin() + static_cast<ptrdiff_t>(first.file_offset)));
  CHECK(*end == image->segments.back().end());

  auto small = test::make_guest_memory({{0, 1 << 20}});  // the segments sit at 1 MiB
  CHECK_FALSE(load_elf_segments(small, file, *image));
}

TEST_CASE("damaged ELF files are refused with a reason") {
  auto good = read_kit_guest("hello.elf64.elf");
  uint64_t phdr = first_phdr64(good);

  CHECK_THAT(elf_error({0x7f, 'E', 'L', 'F'}), Catch::Contains("truncated ELF header"));
  auto truncated = good;
  truncated.resize(sizeof(Elf64_Ehdr));
  CHECK_THAT(elf_error(truncated), Catch::Contains("past the end"));

  auto big_endian = good;
  big_endian[EI_DATA] = ELFDATA2MSB;
  CHECK_THAT(elf_error(big_endian), Catch::Contains("big-endian"));

  auto wrong_machine = good;
  poke<uint16_t>(wrong_machine, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
  CHECK_THAT(elf_error(wrong_machine), Catch::Contains("not for x86"));

  auto shared_object = good;
  poke<uint16_t>(shared_object, offsetof(Elf64_Ehdr, e_type), ET_DYN);
  CHECK_THAT(elf_error(shared_object), Catch::Contains("not an executable"));

  auto many_headers = good;
  poke<uint16_t>(many_headers, offsetof(Elf64_Ehdr, e_phnum), 60000);
  CHECK_THAT(elf_error(many_headers), Catch::Contains("program headers"));

  auto headers_outside = good;
  poke<uint64_t>(headers_outside, offsetof(Elf64_Ehdr, e_phoff), 1ull << 40);
  CHECK_THAT(elf_error(headers_outside), Catch::Contains("past the end"));

  auto segment_outside = good;
  poke<uint64_t>(segment_outside, phdr + offsetof(Elf64_Phdr, p_offset), 1ull << 40);
  CHECK_THAT(elf_error(segment_outside), Catch::Contains("past the end of the file"));

  auto file_larger_than_memory = good;
  poke<uint64_t>(file_larger_than_memory, phdr + offsetof(Elf64_Phdr, p_memsz), 1);
  CHECK_THAT(elf_error(file_larger_than_memory), Catch::Contains("exceeds memory size"));

  auto wrapping = good;
  poke<uint64_t>(wrapping, phdr + offsetof(Elf64_Phdr, p_paddr), ~0ull - 16);
  poke<uint64_t>(wrapping, phdr + offsetof(Elf64_Phdr, p_memsz), 1ull << 30);
  CHECK_THAT(elf_error(wrapping), Catch::Contains("wraps around"));
}

// The first PT_LOAD of a 64-bit ELF.
static Elf64_Phdr first_load(const std::vector<uint8_t>& image) {
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  Elf64_Phdr load{};
  for (uint16_t i = 0; i < header.e_phnum; ++i) {
    std::memcpy(&load, image.data() + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(load));
    if (load.p_type == PT_LOAD) break;
  }
  REQUIRE(load.p_type == PT_LOAD);
  return load;
}

// The image with its program headers replaced by two PT_LOADs: its first, and a copy of it that
// loads nothing from the file and sits `distance` bytes further on.
static std::vector<uint8_t> with_two_loads(const std::vector<uint8_t>& image, uint64_t distance) {
  Elf64_Phdr load = first_load(image);
  Elf64_Phdr second = load;
  second.p_filesz = 0;
  second.p_paddr += distance;
  second.p_vaddr += distance;
  std::vector<uint8_t> bytes = image;
  bytes.resize((bytes.size() + 7) & ~size_t{7});
  uint64_t table = bytes.size();
  bytes.resize(table + 2 * sizeof(Elf64_Phdr));
  std::memcpy(bytes.data() + table, &load, sizeof(load));
  std::memcpy(bytes.data() + table + sizeof(load), &second, sizeof(second));
  poke<uint64_t>(bytes, offsetof(Elf64_Ehdr, e_phoff), table);
  poke<uint16_t>(bytes, offsetof(Elf64_Ehdr, e_phnum), 2);
  return bytes;
}

TEST_CASE("two PT_LOAD segments may not overlap") {
  auto good = read_kit_guest("hello.elf64.elf");
  uint64_t past_the_first = (first_load(good).p_memsz + 0xfff) & ~uint64_t{0xfff};
  auto apart = parse_elf(ImageFile::from_bytes(with_two_loads(good, past_the_first)));
  REQUIRE(apart);
  CHECK(apart->segments.size() == 2);
  CHECK_THAT(elf_error(with_two_loads(good, 0)), Catch::Contains("overlap"));
  CHECK_THAT(elf_error(with_two_loads(good, 16)), Catch::Contains("overlap"));
}

TEST_CASE("Multiboot headers are found only with a valid checksum in the first 8 KiB") {
  auto elf = read_kit_guest("hello.multiboot.elf");
  auto at = find_multiboot_header(elf);
  REQUIRE(at);
  CHECK(*at % 4 == 0);
  CHECK(*detect_format(ImageFile::from_bytes(elf)) == KernelFormat::kMultiboot);

  auto bad_checksum = elf;
  bad_checksum[*at + 8] ^= 1;
  CHECK_FALSE(find_multiboot_header(bad_checksum));

  std::vector<uint8_t> late(kMultibootSearchBytes + 64, 0);
  std::memcpy(late.data() + kMultibootSearchBytes, elf.data() + *at, 12);
  CHECK_FALSE(find_multiboot_header(late));

  auto kludge = read_kit_guest("hello.multiboot-aout.bin");
  auto kludge_at = find_multiboot_header(kludge);
  REQUIRE(kludge_at);
  MultibootHeader header;
  std::memcpy(&header, kludge.data() + *kludge_at, sizeof(header));
  CHECK((header.flags & kMultibootAddressFields) != 0);
}

TEST_CASE("files that are no kernel at all are not guessed") {
  auto raw = read_kit_guest("hello.raw-long.bin");
  auto format = detect_format(ImageFile::from_bytes(raw, "raw.bin"));
  REQUIRE_FALSE(format);
  CHECK_THAT(format.error().message(), Catch::Contains("--kernel-format raw"));
}
