// ELF kernels (System V ABI, "Object Files" and "Program Loading"): 32- or 64-bit x86 executables,
// their loadable segments, and the PVH entry point a Xen ELF note may give
// (XEN_ELFNOTE_PHYS32_ENTRY; xen/include/public/elfnote.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "firmware/image_file.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

struct ElfSegment {
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t address;  // physical (p_paddr): where it goes in guest memory
  uint64_t memory_size;
  uint64_t end() const { return address + memory_size; }
};

struct ElfImage {
  bool is_64bit = false;
  uint64_t entry = 0;                 // e_entry
  std::optional<uint32_t> pvh_entry;  // from a XEN_ELFNOTE_PHYS32_ENTRY note
  std::vector<ElfSegment> segments;   // PT_LOAD, sorted by address, not overlapping
};

// True when the file starts with the ELF magic.
bool looks_like_elf(std::span<const uint8_t> head);

// Reads and validates the headers: the class, machine and type, program headers inside the file,
// segments whose file part is inside the file, no larger than their memory part, not wrapping
// around and not overlapping.
Result<ElfImage> parse_elf(const ImageFile& file);

// Copies every segment into guest memory and zeroes the rest of its memory size. Returns the
// first address past the highest segment.
Result<uint64_t> load_elf_segments(const GuestMemory& memory, const ImageFile& file,
                                   const ElfImage& image);

}  // namespace wisp
