#include <asm/bootparam.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "firmware/boot_params.h"
#include "firmware/layout.h"
#include "firmware/long_mode.h"
#include "firmware/reset_vector.h"
#include "tests/unit/test_memory.h"

using namespace wisp;

TEST_CASE("boot_params carries the header, pointers and e820 map") {
  auto memory = test::make_guest_memory({{0, 64 << 20}});
  BzImage image;
  image.setup_header.assign(0x202 + 0x66 - 0x1f1, 0);
  std::memcpy(image.setup_header.data() + (0x202 - 0x1f1), "HdrS", 4);
  BootParamsInput input{&image, 64 << 20, layout::kCmdlineAddress, 0x3000000, 0x123456, 0xe0000};
  REQUIRE(write_boot_params(memory, layout::kZeroPageAddress, input));

  auto params = memory.read_obj<boot_params>(layout::kZeroPageAddress);
  REQUIRE(params);
  CHECK(params->hdr.header == 0x53726448);
  CHECK(params->hdr.type_of_loader == 0xff);
  CHECK(params->hdr.cmd_line_ptr == layout::kCmdlineAddress);
  CHECK(params->hdr.ramdisk_image == 0x3000000);
  CHECK(params->hdr.ramdisk_size == 0x123456);
  CHECK(params->acpi_rsdp_addr == 0xe0000);
  REQUIRE(params->e820_entries == 3);
  CHECK(params->e820_table[0].type == 1);
  CHECK(params->e820_table[2].addr == layout::kHighMemoryStart);
  CHECK(params->e820_table[2].addr + params->e820_table[2].size == 64 << 20);
}

TEST_CASE("the command line is NUL-terminated and bounded by the kernel's limit") {
  auto memory = test::make_guest_memory({{0, 1 << 20}});
  REQUIRE(write_cmdline(memory, layout::kCmdlineAddress, "console=ttyS0", 2047));
  auto bytes = memory.slice(layout::kCmdlineAddress, 14);
  REQUIRE(bytes);
  CHECK(std::memcmp(bytes->data(), "console=ttyS0", 14) == 0);

  auto too_long = write_cmdline(memory, layout::kCmdlineAddress, std::string(2048, 'a'), 2047);
  REQUIRE_FALSE(too_long);
  CHECK_THAT(too_long.error().message(), Catch::Contains("at most 2047"));
  CHECK(write_cmdline(memory, layout::kCmdlineAddress, std::string(2047, 'a'), 2047));
}

TEST_CASE("boot page tables identity-map the first 4 GiB with 2 MiB pages") {
  auto memory = test::make_guest_memory({{0, 1 << 20}});
  REQUIRE(long_mode::write_boot_tables(memory));
  auto pml4 = memory.read_obj<uint64_t>(layout::kPml4Address);
  REQUIRE(pml4);
  CHECK((*pml4 & ~0xfffull) == layout::kPdptAddress);
  CHECK((*pml4 & 3) == 3);
  for (uint64_t gig = 0; gig < 4; ++gig) {
    auto pdpte = memory.read_obj<uint64_t>(layout::kPdptAddress + gig * 8);
    REQUIRE(pdpte);
    uint64_t directory = *pdpte & ~0xfffull;
    auto last = memory.read_obj<uint64_t>(directory + 511 * 8);
    REQUIRE(last);
    CHECK((*last & ~0xfffull) == gig * (1ull << 30) + 511 * (2ull << 20));
    CHECK((*last & 0x80) == 0x80);  // a large page
  }
  auto code = long_mode::decode_descriptor(long_mode::kGdt[long_mode::kCodeSelector / 8]);
  CHECK(code.long_mode);
  CHECK(code.present);
  CHECK(code.type == 0xb);
  auto data = long_mode::decode_descriptor(long_mode::kGdt[long_mode::kDataSelector / 8]);
  CHECK(data.limit == 0xffffffff);
  CHECK(data.type == 0x3);
}

TEST_CASE("the reset vector holds a stub that pulses the i8042 reset line") {
  auto memory = test::make_guest_memory({{0, 1 << 20}});
  REQUIRE(write_reset_vector(memory));
  auto stub = memory.slice(layout::kResetVectorAddress, 4);
  REQUIRE(stub);
  // mov al, 0xfe; out 0x64, al
  CHECK((*stub)[0] == 0xb0);
  CHECK((*stub)[1] == 0xfe);
  CHECK((*stub)[2] == 0xe6);
  CHECK((*stub)[3] == layout::kI8042CommandPort);
  CHECK(layout::kAcpiTablesAddress + layout::kAcpiTablesMaxBytes <= layout::kResetVectorAddress);
}
