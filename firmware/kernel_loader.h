// Loads the kernel named in a BootConfig in whatever format it is (or is said to be), with the
// platform tables every guest gets, and says how the boot CPU starts.
#pragma once

#include "firmware/boot_config.h"
#include "firmware/image_file.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

// The format a kernel file is in, from its content: a Linux bzImage, a Multiboot header in the
// first 8 KiB, an ELF with a PVH note, a plain 64-bit ELF. Raw binaries are never guessed.
Result<KernelFormat> detect_format(const ImageFile& kernel);

Result<CpuEntry> load_kernel(const GuestMemory& memory, const BootConfig& config);

}  // namespace wisp
