// What the PVH and Multiboot loaders hand a guest, read back from guest memory.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "firmware/kernel_loader.h"
#include "firmware/layout.h"
#include "firmware/multiboot.h"
#include "tests/unit/temp_file.h"
#include "tests/unit/test_memory.h"

using namespace wisp;

namespace {

std::string kit_guest(const std::string& name) {
  return std::string(KIT_GUEST_DIR) + "/" + name;
}

// Two small module files.
struct Modules {
  test::TempFile first_file{"module-a", "first module"}, second_file{"module-b", "second"};
  const std::string& first = first_file.path();
  const std::string& second = second_file.path();
};

BootConfig boot_config(std::string kernel, std::vector<std::string> modules, std::string cmdline,
                       uint64_t memory_size) {
  BootConfig config;
  config.kernel_path = std::move(kernel);
  config.initrd_paths = std::move(modules);
  config.cmdline = std::move(cmdline);
  config.memory_size = memory_size;
  return config;
}

template <typename T>
T read(const GuestMemory& memory, uint64_t address) {
  auto value = memory.read_obj<T>(address);
  REQUIRE(value);
  return *value;
}

std::string read_string(const GuestMemory& memory, uint64_t address) {
  std::string text;
  for (char c; (c = static_cast<char>(read<uint8_t>(memory, address))) != 0; ++address) text += c;
  return text;
}

}  // namespace

TEST_CASE("PVH: start info with command line, memory map, modules and RSDP") {
  Modules modules;
  auto memory = test::make_guest_memory({{0, 64 << 20}});
  BootConfig config = boot_config(kit_guest("hello.pvh.elf"), {modules.first, modules.second},
                                  "console=ttyS0", 64 << 20);
  auto entry = load_kernel(memory, config);
  REQUIRE(entry);
  CHECK(entry->mode == EntryMode::kProtected);
  CHECK(entry->rbx == layout::kBootInfoAddress);

  uint64_t info = layout::kBootInfoAddress;
  CHECK(read<uint32_t>(memory, info) == 0x336ec578);
  CHECK(read<uint32_t>(memory, info + 4) == 1);   // version
  CHECK(read<uint32_t>(memory, info + 12) == 2);  // nr_modules
  CHECK(read_string(memory, read<uint64_t>(memory, info + 24)) == "console=ttyS0");
  CHECK(read<uint64_t>(memory, info + 32) == layout::kAcpiTablesAddress);  // rsdp
  uint64_t memmap = read<uint64_t>(memory, info + 40);
  CHECK(read<uint32_t>(memory, info + 48) == 3);  // low RAM, reserved, RAM above 1 MiB
  CHECK(read<uint64_t>(memory, memmap + 2 * 24 + 8) == (64 << 20) - layout::kHighMemoryStart);

  uint64_t modlist = read<uint64_t>(memory, info + 16);
  uint64_t first = read<uint64_t>(memory, modlist);
  CHECK(first % 4096 == 0);
  CHECK(read<uint64_t>(memory, modlist + 8) == 12);
  auto bytes = memory.slice(first, 12);
  REQUIRE(bytes);
  CHECK(std::memcmp(bytes->data(), "first module", 12) == 0);
  CHECK(read<uint64_t>(memory, modlist + 32) > first);
  CHECK(read<uint64_t>(memory, modlist + 32 + 8) == 6);
}

TEST_CASE("Multiboot: info with memory, the image path before the arguments, modules, map") {
  Modules modules;
  auto memory = test::make_guest_memory({{0, 64 << 20}});
  std::string image = kit_guest("hello.multiboot.elf");
  BootConfig config = boot_config(image, {modules.first, modules.second}, "quiet", 64 << 20);
  auto entry = load_kernel(memory, config);
  REQUIRE(entry);
  CHECK(entry->mode == EntryMode::kProtected);
  CHECK(entry->rax == kMultibootBootloaderMagic);

  uint64_t info = entry->rbx;
  uint32_t flags = read<uint32_t>(memory, info);
  CHECK((flags & 0x24d) == 0x24d);  // memory, cmdline, modules, memory map, boot loader name
  CHECK(read<uint32_t>(memory, info + 4) == 639);                // mem_lower, KiB
  CHECK(read<uint32_t>(memory, info + 8) == (64 << 10) - 1024);  // mem_upper, KiB
  CHECK(read_string(memory, read<uint32_t>(memory, info + 16)) == image + " quiet");
  CHECK(read<uint32_t>(memory, info + 20) == 2);  // mods_count
  uint32_t mods = read<uint32_t>(memory, info + 24);
  uint32_t start = read<uint32_t>(memory, mods);
  CHECK(read<uint32_t>(memory, mods + 4) - start == 12);
  CHECK(read_string(memory, read<uint32_t>(memory, mods + 8)) == modules.first);
  CHECK(read_string(memory, read<uint32_t>(memory, info + 64)) == "wisp");
  uint32_t mmap_length = read<uint32_t>(memory, info + 44);
  CHECK(mmap_length == 3 * 24);
  uint32_t mmap = read<uint32_t>(memory, info + 48);
  CHECK(read<uint32_t>(memory, mmap) == 20);  // each entry's size field
}

TEST_CASE("a module larger than guest memory is refused") {
  auto memory = test::make_guest_memory({{0, 8 << 20}});
  test::TempFile big("module-big", std::string(16 << 20, 'm'));
  BootConfig config = boot_config(kit_guest("hello.pvh.elf"), {big.path()}, "", 8 << 20);
  auto entry = load_kernel(memory, config);
  REQUIRE_FALSE(entry);
  CHECK_THAT(entry.error().message(), Catch::Contains("does not fit"));
}

TEST_CASE("a Multiboot image that asks for a video mode is refused") {
  std::ifstream in(kit_guest("hello.multiboot-aout.bin"), std::ios::binary);
  std::vector<uint8_t> image(std::istreambuf_iterator<char>(in), {});
  auto at = find_multiboot_header(image);
  REQUIRE(at);
  // Set flag bit 2 (video mode) and fix the checksum so that the header is still valid.
  uint32_t flags, checksum;
  std::memcpy(&flags, image.data() + *at + 4, 4);
  flags |= kMultibootWantsVideoMode;
  checksum = 0u - kMultibootHeaderMagic - flags;
  std::memcpy(image.data() + *at + 4, &flags, 4);
  std::memcpy(image.data() + *at + 8, &checksum, 4);
  test::TempFile file("multiboot-video", std::string(image.begin(), image.end()));
  auto memory = test::make_guest_memory({{0, 8 << 20}});
  auto entry = load_kernel(memory, boot_config(file.path(), {}, "", 8 << 20));
  REQUIRE_FALSE(entry);
  CHECK_THAT(entry.error().message(), Catch::Contains("video mode"));
}

// Found by the loader fuzz target: an image (or --entry) whose entry point lies outside guest
// memory loaded "successfully", and the guest faulted at its first instruction.
TEST_CASE("a kernel whose entry point is not in guest memory is refused") {
  auto memory = test::make_guest_memory({{0, 8 << 20}});

  std::ifstream in(kit_guest("hello.elf64.elf"), std::ios::binary);
  std::vector<uint8_t> elf(std::istreambuf_iterator<char>(in), {});
  REQUIRE(elf.size() > 64);
  uint64_t entry = 0x40000000;  // e_entry: 1 GiB, past the 8 MiB of RAM
  std::memcpy(elf.data() + 24, &entry, sizeof(entry));
  test::TempFile file("far-entry", std::string(elf.begin(), elf.end()));
  auto loaded = load_kernel(memory, boot_config(file.path(), {}, "", 8 << 20));
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().message(), Catch::Contains("0x40000000 is not in guest memory"));

  test::TempFile raw("raw-far-entry", std::string(64, '\xf4'));
  BootConfig config = boot_config(raw.path(), {}, "", 8 << 20);
  config.format = KernelFormat::kRaw;
  config.raw = {0x100000, 0x900000, EntryMode::kProtected};  // loaded at 1 MiB, entered at 9 MiB
  auto raw_loaded = load_kernel(memory, config);
  REQUIRE_FALSE(raw_loaded);
  CHECK_THAT(raw_loaded.error().message(), Catch::Contains("0x900000 (--entry) is not in guest"));
  config.raw.entry = 0x100000;
  CHECK(load_kernel(memory, config));
}
