// What to boot and how the boot CPU starts: the firmware side of `wisp run`'s options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "firmware/platform.h"

namespace wisp {

class ImageFile;

enum class KernelFormat {
  kAuto,       // chosen from the file's content
  kBzImage,    // Linux boot protocol, 64-bit entry
  kPvh,        // ELF with a XEN_ELFNOTE_PHYS32_ENTRY note
  kMultiboot,  // Multiboot 1: ELF or a.out kludge
  kElf,        // a plain ELF64: long mode at e_entry
  kRaw,        // a flat binary at a given address
};

enum class EntryMode { kReal, kProtected, kLong };

struct RawImageOptions {
  std::optional<uint64_t> load_address;
  std::optional<uint64_t> entry;
  std::optional<EntryMode> entry_mode;
};

struct BootConfig {
  std::string kernel_path;
  std::vector<std::string> initrd_paths;  // modules for multiboot and PVH; one initrd for Linux
  std::string cmdline;
  uint64_t memory_size = 0;
  uint32_t cpu_count = 1;
  KernelFormat format = KernelFormat::kAuto;
  RawImageOptions raw;
  PlatformDescription platform;  // the devices that the ACPI tables and the MP table describe
  // The vmlinux inside a bzImage kernel, decompressed by the caller: loaded instead of the
  // bzImage when it fits the bzImage's header. Null: the guest decompresses its kernel.
  const ImageFile* decompressed_kernel = nullptr;
};

// The boot CPU's state at the guest's first instruction.
struct CpuEntry {
  EntryMode mode = EntryMode::kLong;
  uint64_t rip = 0;
  uint64_t rax = 0;
  uint64_t rbx = 0;
  uint64_t rsi = 0;
  uint64_t rsp = 0;
};

const char* format_name(KernelFormat format);

}  // namespace wisp
