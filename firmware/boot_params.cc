#include "firmware/boot_params.h"

#include <asm/bootparam.h>

#include <algorithm>
#include <cstring>

#include "firmware/layout.h"
#include "firmware/memory_map.h"

namespace wisp {
namespace {

static_assert(sizeof(boot_params) == 4096);
static_assert(offsetof(boot_params, hdr) == 0x1f1);

constexpr uint8_t kLoaderTypeUndefined = 0xff;  // boot.rst: "no assigned ID"

}  // namespace

Result<void> write_boot_params(const GuestMemory& memory, uint64_t address,
                               const BootParamsInput& input) {
  boot_params params{};
  if (input.image) {
    const std::vector<uint8_t>& header = input.image->setup_header;
    std::memcpy(&params.hdr, header.data(), std::min(header.size(), sizeof(params.hdr)));
  }

  params.hdr.type_of_loader = kLoaderTypeUndefined;
  params.hdr.cmd_line_ptr = static_cast<uint32_t>(input.cmdline_address);
  params.ext_cmd_line_ptr = static_cast<uint32_t>(input.cmdline_address >> 32);
  params.hdr.ramdisk_image = static_cast<uint32_t>(input.initrd_address);
  params.ext_ramdisk_image = static_cast<uint32_t>(input.initrd_address >> 32);
  params.hdr.ramdisk_size = static_cast<uint32_t>(input.initrd_size);
  params.ext_ramdisk_size = static_cast<uint32_t>(input.initrd_size >> 32);
  params.acpi_rsdp_addr = input.rsdp_address;

  std::vector<E820Entry> map = e820_map(input.memory_size);
  if (map.size() > E820_MAX_ENTRIES_ZEROPAGE) return fail("the e820 map has too many entries");
  for (size_t i = 0; i < map.size(); ++i) {
    params.e820_table[i].addr = map[i].address;
    params.e820_table[i].size = map[i].size;
    params.e820_table[i].type = static_cast<uint32_t>(map[i].type);
  }
  params.e820_entries = static_cast<uint8_t>(map.size());
  return memory.write_obj(address, params);
}

Result<void> write_cmdline(const GuestMemory& memory, uint64_t address, std::string_view cmdline,
                           uint64_t max_length) {
  if (cmdline.size() > max_length)
    return fail_usage("the kernel command line is {} bytes; this kernel accepts at most {}",
                      cmdline.size(), max_length);
  if (cmdline.find('\0') != std::string_view::npos)
    return fail("the kernel command line contains a NUL byte");
  std::span<uint8_t> target = TRY(memory.slice(address, cmdline.size() + 1));
  std::copy(cmdline.begin(), cmdline.end(), target.begin());
  target[cmdline.size()] = 0;
  return {};
}

Result<uint64_t> write_zero_page(const GuestMemory& memory, BootPlan& plan,
                                 const BootParamsInput& input, std::string_view cmdline) {
  uint64_t max_cmdline = layout::kCmdlineMaxBytes - 1;
  if (input.image) max_cmdline = std::min<uint64_t>(input.image->cmdline_size, max_cmdline);
  TRY(plan.claim("the command line", input.cmdline_address, cmdline.size() + 1));
  TRY(write_cmdline(memory, input.cmdline_address, cmdline, max_cmdline));
  TRY(plan.claim("the zero page", layout::kZeroPageAddress, sizeof(boot_params)));
  TRY(write_boot_params(memory, layout::kZeroPageAddress, input));
  return layout::kZeroPageAddress;
}

}  // namespace wisp
