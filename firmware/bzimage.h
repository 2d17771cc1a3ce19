// The Linux x86 boot protocol's bzImage (Documentation/arch/x86/boot.rst): parsing the setup
// header of a kernel image and loading its protected-mode part for the 64-bit entry point.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "firmware/image_file.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

// The setup header fields the loader needs, validated.
struct BzImage {
  uint16_t protocol_version = 0;
  uint64_t setup_bytes = 0;   // real-mode setup code and header: (setup_sects + 1) * 512
  uint64_t kernel_bytes = 0;  // the protected-mode kernel that follows it in the file
  uint32_t initrd_addr_max = 0;
  uint32_t cmdline_size = 0;          // longest command line, without the terminating NUL
  uint32_t init_size = 0;             // memory the kernel needs from its load address while booting
  uint64_t pref_address = 0;          // where a relocatable kernel prefers to run (2.10)
  uint32_t payload_offset = 0;        // the compressed vmlinux, from the protected-mode part (2.08)
  uint32_t payload_length = 0;        // its bytes; 0: no payload
  std::vector<uint8_t> setup_header;  // file bytes 0x1f1.. to the header's end, for boot_params
};

// How many bytes of the file start the parser wants: enough for any setup header.
inline constexpr uint64_t kBzImageHeadBytes = 0x400;

// True when `head` has the boot sector flag and the "HdrS" setup header magic.
bool looks_like_bzimage(std::span<const uint8_t> head);

// `head` is the start of the file (up to kBzImageHeadBytes); `file_size` its full size.
Result<BzImage> parse_bzimage(std::span<const uint8_t> head, uint64_t file_size);

struct LoadedKernel {
  uint64_t entry_64bit;  // the 64-bit entry: load address + 0x200
  uint64_t end;          // first byte past what the kernel may use while booting
};

// Reads the protected-mode kernel from `file` straight into guest memory at `load_address`.
Result<LoadedKernel> load_bzimage(const GuestMemory& memory, const ImageFile& file,
                                  const BzImage& image, uint64_t load_address);

}  // namespace wisp
