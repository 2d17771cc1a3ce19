#include "firmware/kernel_loader.h"

#include <algorithm>

#include "firmware/bzimage.h"
#include "firmware/format_loaders.h"
#include "firmware/layout.h"
#include "firmware/long_mode.h"
#include "firmware/multiboot.h"

namespace wisp {
namespace {

Result<CpuEntry> load_elf_kernel(const LoadContext& context, KernelFormat format) {
  ElfImage elf = TRY_CONTEXT(parse_elf(context.kernel), context.config.kernel_path);
  if (format == KernelFormat::kPvh || (format == KernelFormat::kAuto && elf.pvh_entry)) {
    if (!elf.pvh_entry)
      return fail("{} has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)",
                  context.config.kernel_path);
    return load_pvh_kernel(context, elf);
  }
  if (!elf.is_64bit)
    return fail("{} is a 32-bit ELF with neither a PVH note nor a Multiboot header",
                context.config.kernel_path);
  return load_elf64_kernel(context, elf);
}

Result<CpuEntry> dispatch(const LoadContext& context, KernelFormat format) {
  switch (format) {
    case KernelFormat::kBzImage:
      return load_bzimage_kernel(context);
    case KernelFormat::kMultiboot: {
      auto head = TRY(context.kernel.head(kMultibootSearchBytes));
      std::optional<uint64_t> header = find_multiboot_header(head);
      if (!header) return fail("{} has no Multiboot header", context.config.kernel_path);
      return load_multiboot_kernel(context, *header);
    }
    case KernelFormat::kPvh:
    case KernelFormat::kElf:
      return load_elf_kernel(context, format);
    case KernelFormat::kRaw:
      return load_raw_kernel(context);
    case KernelFormat::kAuto:
      break;
  }
  return fail("no kernel format chosen");
}

}  // namespace

const char* format_name(KernelFormat format) {
  switch (format) {
    case KernelFormat::kAuto:
      return "auto";
    case KernelFormat::kBzImage:
      return "bzimage";
    case KernelFormat::kPvh:
      return "pvh";
    case KernelFormat::kMultiboot:
      return "multiboot";
    case KernelFormat::kElf:
      return "elf";
    case KernelFormat::kRaw:
      return "raw";
  }
  return "?";
}

uint64_t low_memory_end(uint64_t memory_size) {
  return std::min(memory_size, layout::kMmioHoleStart);
}

Result<KernelFormat> detect_format(const ImageFile& kernel) {
  auto head = TRY(kernel.head(kMultibootSearchBytes));
  if (looks_like_bzimage(head)) return KernelFormat::kBzImage;
  if (find_multiboot_header(head)) return KernelFormat::kMultiboot;
  if (looks_like_elf(head)) {
    ElfImage elf = TRY(parse_elf(kernel));
    return elf.pvh_entry ? KernelFormat::kPvh : KernelFormat::kElf;
  }
  return fail(
      "{} is not a kernel Wisp knows: not a bzImage, Multiboot or ELF image (a raw "
      "binary needs --kernel-format raw)",
      kernel.path());
}

Result<CpuEntry> load_kernel(const GuestMemory& memory, const BootConfig& config) {
  ImageFile kernel = TRY(ImageFile::open(config.kernel_path));
  KernelFormat format = config.format;
  if (format == KernelFormat::kAuto) format = TRY(detect_format(kernel));

  BootPlan plan;
  uint64_t rsdp = TRY(write_platform_tables(memory, plan, config));
  LoadContext context{memory, plan, config, kernel, rsdp};
  CpuEntry entry = TRY(dispatch(context, format));
  // A kernel whose first instruction is not in RAM (an ELF's e_entry, a PVH note, a Multiboot
  // entry_addr, a raw --entry) would fault at once, with nothing to tell the user why.
  if (!memory.slice(entry.rip, 1))
    return fail("{}: the entry point {:#x}{} is not in guest memory", config.kernel_path, entry.rip,
                format == KernelFormat::kRaw ? " (--entry)" : "");
  if (entry.mode == EntryMode::kLong) {
    TRY(plan.claim("the boot GDT", layout::kGdtAddress, long_mode::kGdt.size() * 8));
    TRY(plan.claim("the boot page tables", layout::kPml4Address,
                   layout::kPageDirectoryAddress + 4 * 4096 - layout::kPml4Address));
    TRY(long_mode::write_boot_tables(memory));
  } else if (entry.mode == EntryMode::kProtected) {
    TRY(plan.claim("the boot GDT", layout::kGdtAddress, long_mode::kGdt.size() * 8));
    TRY(long_mode::write_gdt(memory));
    // Many small kernels push before they set up a stack of their own.
    if (entry.rsp == 0) entry.rsp = layout::kEntryStackTop;
  }
  return entry;
}

}  // namespace wisp
