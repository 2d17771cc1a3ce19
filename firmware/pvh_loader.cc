// PVH boot (xen/docs/misc/pvh.pandoc and xen/include/public/arch-x86/hvm/start_info.h): the ELF
// segments, then an hvm_start_info with the command line, the memory map, the modules (each
// --initrd file, the first of which Linux takes as its initrd) and the RSDP; the CPU starts in
// 32-bit flat protected mode at the note's entry with %ebx pointing at the start info.
#include "firmware/boot_params.h"
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

}  // namespace

Result<CpuEntry> load_pvh_kernel(const LoadContext& context, const ElfImage& elf) {
  const BootConfig& config = context.config;
  TRY(load_elf_claimed(context, elf));
  uint64_t kernel_end = elf.segments.back().end();
  std::vector<LoadedModule> modules =
      TRY(load_modules(context.memory, context.plan, config.initrd_paths, kernel_end,
                       low_memory_end(config.memory_size)));

  TRY(context.plan.claim("the command line", layout::kCmdlineAddress, config.cmdline.size() + 1));
  TRY(write_cmdline(context.memory, layout::kCmdlineAddress, config.cmdline,
                    layout::kCmdlineMaxBytes - 1));

  BootInfoBlob blob;
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
  blob.add(info);  // rewritten below, once the addresses of what follows are known
  std::vector<E820Entry> map = e820_map(config.memory_size);
  info.memmap_entries = static_cast<uint32_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    uint64_t at =
        blob.add(MemmapEntry{map[i].address, map[i].size, static_cast<uint32_t>(map[i].type), 0});
    if (i == 0) info.memmap_paddr = at;
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    uint64_t at = blob.add(ModlistEntry{modules[i].address, modules[i].size, 0, 0});
    if (i == 0) info.modlist_paddr = at;
  }
  blob.set_header(info);
  TRY(blob.write(context.memory, context.plan, "the PVH start info"));

  CpuEntry entry{EntryMode::kProtected, *elf.pvh_entry};
  entry.rbx = layout::kBootInfoAddress;
  return entry;
}

}  // namespace wisp
