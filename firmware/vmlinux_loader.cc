// A bzImage's own vmlinux, decompressed by the host, booted as the bzImage would be after its
// decompressor ran (arch/x86/boot/compressed/misc.c): the PT_LOAD segments at their physical
// addresses, then the kernel's startup_64 (the ELF's entry) in long mode with %rsi = the zero page.
// The decompressor copies only the segments' file bytes; the kernel clears its own .bss and .brk,
// and this loader zeroes them anyway. Its work area, init_size bytes from the load address, stays
// clear of the initrd as it would be with the guest decompressing.
#include <algorithm>

#include "firmware/format_loaders.h"

namespace wisp {
namespace {

Result<void> check_fits(const BzImage& image, const ElfImage& elf) {
  if (!elf.is_64bit) return fail("it is a 32-bit ELF file");
  // The decompressor places the vmlinux at LOAD_PHYSICAL_ADDR, which the header's pref_address
  // holds; its segments are linked there. Anything else is not this bzImage's kernel.
  if (elf.segments.front().address != image.pref_address)
    return fail("its first segment is at {:#x}, not at the kernel's load address {:#x}",
                elf.segments.front().address, image.pref_address);
  bool entry_inside = std::any_of(elf.segments.begin(), elf.segments.end(), [&](const auto& s) {
    return elf.entry >= s.address && elf.entry < s.end();
  });
  if (!entry_inside) return fail("its entry point {:#x} is in none of its segments", elf.entry);
  return {};
}

}  // namespace

Result<LoadedKernel> load_decompressed_vmlinux(const LoadContext& context, const BzImage& image,
                                               const ImageFile& vmlinux) {
  ElfImage elf = TRY(parse_elf(vmlinux));
  TRY(check_fits(image, elf));
  uint64_t start = image.pref_address;
  if (start + image.init_size < start) return fail("init_size from {:#x} wraps around", start);
  uint64_t end = std::max(elf.segments.back().end(), start + image.init_size);
  if (!context.memory.slice(start, end - start))
    return fail("the kernel needs {} MiB from {:#x}, more than guest memory has",
                (end - start + (1 << 20) - 1) >> 20, start);
  TRY(context.plan.claim("the kernel", start, end - start));
  TRY(load_elf_segments(context.memory, vmlinux, elf));
  return LoadedKernel{elf.entry, end};
}

}  // namespace wisp
