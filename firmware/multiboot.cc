// Multiboot 1 loading (the Multiboot Specification 0.6.96, sections 3.1 to 3.3): the image from
// its ELF program headers or, with the a.out kludge, from the header's address fields; modules
// after it; the multiboot information structure with memory sizes, the memory map, the command
// line (the image's path first, as GRUB and QEMU pass it) and the modules.
#include "firmware/multiboot.h"

#include <cstring>

#include "firmware/format_loaders.h"
#include "firmware/layout.h"
#include "firmware/memory_map.h"

namespace wisp {
namespace {

// Header flags in bits 0-15 that a loader must honour or refuse (spec 3.1.2).
constexpr uint32_t kSupportedRequiredFlags = kMultibootPageAlignModules | kMultibootWantsMemoryInfo;

// multiboot_info flags (spec 3.3).
constexpr uint32_t kInfoMemory = 1u << 0;
constexpr uint32_t kInfoCmdline = 1u << 2;
constexpr uint32_t kInfoModules = 1u << 3;
constexpr uint32_t kInfoMemoryMap = 1u << 6;
constexpr uint32_t kInfoBootLoaderName = 1u << 9;

struct MultibootInfo {
  uint32_t flags;
  uint32_t mem_lower;  // KiB from 0
  uint32_t mem_upper;  // KiB from 1 MiB
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
  uint32_t drives_length;
  uint32_t drives_addr;
  uint32_t config_table;
  uint32_t boot_loader_name;
  uint32_t apm_table;
  uint32_t vbe[4];  // VBE information, unused
};
static_assert(sizeof(MultibootInfo) == 88);

struct MultibootModule {
  uint32_t mod_start;
  uint32_t mod_end;
  uint32_t string;
  uint32_t reserved;
};
static_assert(sizeof(MultibootModule) == 16);

#pragma pack(push, 1)
struct MultibootMmapEntry {
  uint32_t size;  // of the rest of the entry: 20
  uint64_t base_addr;
  uint64_t length;
  uint32_t type;
};
#pragma pack(pop)
static_assert(sizeof(MultibootMmapEntry) == 24);

Result<MultibootHeader> read_header(const ImageFile& kernel, uint64_t offset) {
  MultibootHeader header{};
  uint64_t available = std::min<uint64_t>(sizeof(header), kernel.size() - offset);
  TRY(kernel.read(offset, std::span(reinterpret_cast<uint8_t*>(&header), available)));
  uint32_t unsupported = header.flags & 0xffff & ~kSupportedRequiredFlags;
  if (unsupported)
    return fail(
        "the Multiboot header asks for features Wisp does not provide (flags {:#x}; a "
        "video mode is not supported)",
        unsupported);
  if ((header.flags & kMultibootAddressFields) && available < sizeof(header))
    return fail("the Multiboot header's address fields run past the end of the file");
  return header;
}

// The a.out kludge: the file from header_addr's position, placed so that the header lands at
// header_addr, up to load_end_addr, then zeroes to bss_end_addr (spec 3.1.3).
Result<uint64_t> load_kludge(const LoadContext& context, const MultibootHeader& h,
                             uint64_t header_offset) {
  if (h.load_addr > h.header_addr || h.header_addr - h.load_addr > header_offset)
    return fail("the Multiboot header's load_addr {:#x} does not fit its header_addr {:#x}",
                h.load_addr, h.header_addr);
  uint64_t file_offset = header_offset - (h.header_addr - h.load_addr);
  uint64_t load_end =
      h.load_end_addr ? h.load_end_addr : h.load_addr + context.kernel.size() - file_offset;
  if (load_end < h.load_addr || load_end - h.load_addr > context.kernel.size() - file_offset)
    return fail("the Multiboot load range {:#x}-{:#x} is not inside the file", h.load_addr,
                load_end);
  uint64_t end = h.bss_end_addr ? h.bss_end_addr : load_end;
  if (end < load_end) return fail("the Multiboot bss_end_addr lies before load_end_addr");
  TRY(context.plan.claim("the Multiboot image", h.load_addr, end - h.load_addr));
  std::span<uint8_t> target = TRY(context.memory.slice(h.load_addr, end - h.load_addr));
  TRY(context.kernel.read(file_offset, target.first(load_end - h.load_addr)));
  std::fill(target.begin() + static_cast<ptrdiff_t>(load_end - h.load_addr), target.end(), 0);
  return end;
}

uint32_t address32(uint64_t address) {
  return static_cast<uint32_t>(address);
}

// GRUB and QEMU pass the image's path before its arguments.
std::string image_command_line(const std::string& path, const std::string& arguments) {
  return arguments.empty() ? path : path + " " + arguments;
}

}  // namespace

std::optional<uint64_t> find_multiboot_header(std::span<const uint8_t> head) {
  for (uint64_t at = 0; at + 12 <= head.size() && at < kMultibootSearchBytes; at += 4) {
    uint32_t words[3];
    std::memcpy(words, head.data() + at, sizeof(words));
    if (words[0] == kMultibootHeaderMagic && words[0] + words[1] + words[2] == 0) return at;
  }
  return std::nullopt;
}

Result<CpuEntry> load_multiboot_kernel(const LoadContext& context, uint64_t header_offset) {
  const BootConfig& config = context.config;
  MultibootHeader header = TRY(read_header(context.kernel, header_offset));
  uint64_t image_end;
  uint64_t entry_point;
  if (header.flags & kMultibootAddressFields) {
    image_end = TRY(load_kludge(context, header, header_offset));
    entry_point = header.entry_addr;
  } else {
    ElfImage elf = TRY_CONTEXT(parse_elf(context.kernel), config.kernel_path);
    if (elf.is_64bit) return fail("a Multiboot image must be a 32-bit ELF or use the a.out kludge");
    TRY(load_elf_claimed(context, elf));
    image_end = elf.segments.back().end();
    entry_point = elf.entry;
  }
  uint64_t low_end = low_memory_end(config.memory_size);
  std::vector<LoadedModule> modules =
      TRY(load_modules(context.memory, context.plan, config.initrd_paths, image_end, low_end));

  BootInfoBlob blob;
  MultibootInfo info{};
  blob.add(info);  // filled in below, once the addresses of what follows are known
  info.flags = kInfoMemory | kInfoCmdline | kInfoModules | kInfoMemoryMap | kInfoBootLoaderName;
  info.mem_lower = static_cast<uint32_t>(layout::kEbdaStart >> 10);
  info.mem_upper = static_cast<uint32_t>((low_end - layout::kHighMemoryStart) >> 10);
  // The whole blob lies below 1 MiB, so its addresses fit the 32-bit fields.
  info.cmdline = address32(blob.add_string(image_command_line(config.kernel_path, config.cmdline)));
  info.boot_loader_name = address32(blob.add_string("wisp"));
  std::vector<MultibootModule> entries;
  for (const LoadedModule& module : modules) {
    uint32_t string = address32(blob.add_string(module.path));
    entries.push_back({static_cast<uint32_t>(module.address),
                       static_cast<uint32_t>(module.address + module.size), string, 0});
  }
  info.mods_count = static_cast<uint32_t>(entries.size());
  info.mods_addr = address32(blob.next_address());
  for (const MultibootModule& entry : entries) blob.add(entry);
  info.mmap_addr = address32(blob.next_address());
  for (const E820Entry& range : e820_map(config.memory_size))
    blob.add(MultibootMmapEntry{20, range.address, range.size, static_cast<uint32_t>(range.type)});
  info.mmap_length = address32(blob.next_address()) - info.mmap_addr;
  blob.set_header(info);
  TRY(blob.write(context.memory, context.plan, "the Multiboot information"));

  CpuEntry entry{EntryMode::kProtected, entry_point};
  entry.rax = kMultibootBootloaderMagic;
  entry.rbx = layout::kBootInfoAddress;
  return entry;
}

}  // namespace wisp
