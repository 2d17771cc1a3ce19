// A plain 64-bit ELF kernel: its segments at their physical addresses, entered in long mode at
// e_entry with %rsi = boot_params, as Linux's vmlinux is booted by Firecracker.
#include "firmware/boot_params.h"
#include "firmware/format_loaders.h"
#include "firmware/layout.h"

namespace wisp {

Result<void> load_elf_claimed(const LoadContext& context, const ElfImage& elf) {
  for (const ElfSegment& segment : elf.segments)
    TRY(context.plan.claim("an ELF segment", segment.address, segment.memory_size));
  TRY(load_elf_segments(context.memory, context.kernel, elf));
  return {};
}

Result<CpuEntry> load_elf64_kernel(const LoadContext& context, const ElfImage& elf) {
  if (!context.config.initrd_paths.empty())
    return fail("a plain ELF kernel takes no --initrd (use a PVH or Multiboot image)");
  TRY(load_elf_claimed(context, elf));
  BootParamsInput params{nullptr, context.config.memory_size, layout::kCmdlineAddress};
  params.rsdp_address = context.rsdp_address;
  CpuEntry entry{EntryMode::kLong, elf.entry};
  entry.rsi = TRY(write_zero_page(context.memory, context.plan, params, context.config.cmdline));
  return entry;
}

}  // namespace wisp
