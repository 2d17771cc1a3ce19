// One loader per boot format, each putting its kernel and what the format hands it into guest
// memory and saying how the boot CPU starts. load_kernel (kernel_loader.h) picks one.
#pragma once

#include "firmware/boot_common.h"
#include "firmware/boot_config.h"
#include "firmware/bzimage.h"
#include "firmware/elf.h"
#include "firmware/image_file.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

// What every loader is handed.
struct LoadContext {
  const GuestMemory& memory;
  BootPlan& plan;
  const BootConfig& config;
  const ImageFile& kernel;
  uint64_t rsdp_address;
};

// Linux boot protocol: 64-bit entry, %rsi = boot_params (linux_loader.cc). With
// config.decompressed_kernel, the vmlinux is loaded instead of the bzImage where it can be.
Result<CpuEntry> load_bzimage_kernel(const LoadContext& context);
// The vmlinux of a bzImage, decompressed by the host: its segments at their physical addresses
// (the kernel's own load address, so nothing needs relocating), the kernel's boot-time footprint
// claimed as the bzImage's would be; the entry is the vmlinux's e_entry (vmlinux_loader.cc).
Result<LoadedKernel> load_decompressed_vmlinux(const LoadContext& context, const BzImage& image,
                                               const ImageFile& vmlinux);
// PVH: 32-bit entry from the ELF note, %ebx = hvm_start_info (pvh_loader.cc).
Result<CpuEntry> load_pvh_kernel(const LoadContext& context, const ElfImage& elf);
// Plain ELF64: long mode at e_entry, %rsi = boot_params (elf_loader.cc).
Result<CpuEntry> load_elf64_kernel(const LoadContext& context, const ElfImage& elf);
// Multiboot 1: 32-bit entry, %eax = magic, %ebx = multiboot info (multiboot.cc).
Result<CpuEntry> load_multiboot_kernel(const LoadContext& context, uint64_t header_offset);
// A flat binary at --load-address, entered at --entry in --entry-mode (raw_loader.cc).
Result<CpuEntry> load_raw_kernel(const LoadContext& context);

// Loads an ELF's segments, claiming each in the boot plan (elf_loader.cc).
Result<void> load_elf_claimed(const LoadContext& context, const ElfImage& elf);

// The highest address below which modules and initrds go: RAM below the MMIO hole.
uint64_t low_memory_end(uint64_t memory_size);

}  // namespace wisp
