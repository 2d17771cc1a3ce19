// PVH boot (xen/docs/misc/pvh.pandoc and xen/include/public/arch-x86/hvm/start_info.h): the ELF
// segments, then an hvm_start_info with the command line, the memory map, the modules (each
// --initrd file, the first of which Linux takes as its initrd) and the RSDP; the CPU starts in
// 32-bit flat protected mode at the note's entry with %ebx pointing at the start info.
#include "firmware/format_loaders.h"
#include "firmware/layout.h"
#include "firmware/memory_map.h"

namespace wisp {

namespace {

constexpr uint32_t kStartInfoMagic = 0x336ec578;  // XEN_HVM_START_MAGIC_VALUE
constexpr uint32_t kStartInfoVersion = 1;         // with the memory map

struct StartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 56);

struct ModlistEntry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(ModlistEntry) == 32);

struct MemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // e820 types
  uint32_t reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

// Appends `value`'s bytes to the boot info blob; returns its guest address.
template <typename T>
uint64_t append(std::vector<uint8_t>& blob, const T& value) {
  uint64_t at = layout::kBootInfoAddress + blob.size();
  const auto* bytes = reinterpret_cast<const uint8_t*>(&value);
  blob.insert(blob.end(), bytes, bytes + sizeof(T));
  return at;
}

}  // namespace

Result<CpuEntry> load_pvh_kernel(const LoadContext& context, const ElfImage& elf) {
  const BootConfig& config = context.config;
  TRY(load_elf_claimed(context, elf));
  uint64_t kernel_end = elf.segments.back().end();
  std::vector<LoadedModule> modules =
      TRY(load_modules(context.memory, context.plan, config.initrd_paths, kernel_end,
                       low_memory_end(config.memory_size)));

  TRY(context.plan.claim("the command line", layout::kCmdlineAddress, config.cmdline.size() + 1));
  if (config.cmdline.size() >= layout::kCmdlineMaxBytes)
    return fail("the command line is longer than {} bytes", layout::kCmdlineMaxBytes - 1);
  std::vector<uint8_t> cmdline(config.cmdline.begin(), config.cmdline.end());
  cmdline.push_back(0);
  TRY(context.memory.write(layout::kCmdlineAddress, cmdline));

  std::vector<uint8_t> blob;
  StartInfo info{kStartInfoMagic,
                 kStartInfoVersion,
                 0,
                 static_cast<uint32_t>(modules.size()),
                 0,
                 layout::kCmdlineAddress,
                 context.rsdp_address,
                 0,
                 0,
                 0};
  append(blob, info);
  std::vector<E820Entry> map = e820_map(config.memory_size);
  info.memmap_entries = static_cast<uint32_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    uint64_t at = append(
        blob, MemmapEntry{map[i].address, map[i].size, static_cast<uint32_t>(map[i].type), 0});
    if (i == 0) info.memmap_paddr = at;
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    uint64_t at = append(blob, ModlistEntry{modules[i].address, modules[i].size, 0, 0});
    if (i == 0) info.modlist_paddr = at;
  }
  std::copy_n(reinterpret_cast<const uint8_t*>(&info), sizeof(info), blob.begin());
  if (blob.size() > layout::kBootInfoMaxBytes)
    return fail("too many modules for the PVH start info ({})", modules.size());
  TRY(context.plan.claim("the PVH start info", layout::kBootInfoAddress, blob.size()));
  TRY(context.memory.write(layout::kBootInfoAddress, blob));

  CpuEntry entry{EntryMode::kProtected, *elf.pvh_entry};
  entry.rbx = layout::kBootInfoAddress;
  return entry;
}

}  // namespace wisp
