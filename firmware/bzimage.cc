#include "firmware/bzimage.h"

#include <algorithm>

namespace wisp {
namespace {

// Setup header offsets in the file (boot.rst, "The Real-Mode Kernel Header").
constexpr uint64_t kSetupHeaderStart = 0x1f1;
constexpr uint64_t kSetupSectsOffset = 0x1f1;
constexpr uint64_t kSyssizeOffset = 0x1f4;
constexpr uint64_t kBootFlagOffset = 0x1fe;
constexpr uint64_t kJumpOffset = 0x200;  // its second byte gives the header's length
constexpr uint64_t kHeaderMagicOffset = 0x202;
constexpr uint64_t kVersionOffset = 0x206;
constexpr uint64_t kLoadflagsOffset = 0x211;
constexpr uint64_t kInitrdAddrMaxOffset = 0x22c;
constexpr uint64_t kXloadflagsOffset = 0x236;
constexpr uint64_t kCmdlineSizeOffset = 0x238;
constexpr uint64_t kPayloadOffsetOffset = 0x248;
constexpr uint64_t kPayloadLengthOffset = 0x24c;
constexpr uint64_t kPrefAddressOffset = 0x258;
constexpr uint64_t kInitSizeOffset = 0x260;

constexpr uint16_t kBootFlag = 0xaa55;
constexpr uint32_t kHeaderMagic = 0x53726448;  // "HdrS"
// XLF_KERNEL_64 arrived with protocol 2.12; cmdline_size with 2.06; init_size with 2.10.
constexpr uint16_t kMinimumVersion = 0x020c;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint16_t kXlfKernel64 = 0x01;
constexpr uint64_t kEntry64Offset = 0x200;

template <typename T>
T read_field(std::span<const uint8_t> head, uint64_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(T{head[offset + i]} << (8 * i));
  return value;
}

}  // namespace

bool looks_like_bzimage(std::span<const uint8_t> head) {
  return head.size() >= kHeaderMagicOffset + 4 &&
         read_field<uint16_t>(head, kBootFlagOffset) == kBootFlag &&
         read_field<uint32_t>(head, kHeaderMagicOffset) == kHeaderMagic;
}

Result<BzImage> parse_bzimage(std::span<const uint8_t> head, uint64_t file_size) {
  if (head.size() < kInitSizeOffset + 4 || file_size < head.size())
    return fail("too small to be a bzImage ({} bytes)", file_size);
  if (!looks_like_bzimage(head))
    return fail("not a bzImage: no Linux boot protocol header (HdrS) found");

  BzImage image;
  image.protocol_version = read_field<uint16_t>(head, kVersionOffset);
  if (image.protocol_version < kMinimumVersion)
    return fail("boot protocol {}.{} is too old: 2.12 or newer is needed for the 64-bit entry",
                image.protocol_version >> 8, image.protocol_version & 0xff);
  if (!(read_field<uint16_t>(head, kXloadflagsOffset) & kXlfKernel64))
    return fail("the kernel has no 64-bit entry point (XLF_KERNEL_64 is clear)");
  if (!(read_field<uint8_t>(head, kLoadflagsOffset) & kLoadedHigh))
    return fail("the kernel must be loaded below 1 MiB (a zImage), which is not supported");

  uint8_t setup_sects = read_field<uint8_t>(head, kSetupSectsOffset);
  if (setup_sects == 0) setup_sects = 4;  // boot.rst: 0 means 4
  image.setup_bytes = (uint64_t{setup_sects} + 1) * 512;
  uint64_t declared_kernel_bytes = uint64_t{read_field<uint32_t>(head, kSyssizeOffset)} * 16;
  if (file_size < image.setup_bytes || file_size - image.setup_bytes < declared_kernel_bytes)
    return fail("truncated bzImage: the header promises {} bytes, the file has {}",
                image.setup_bytes + declared_kernel_bytes, file_size);
  image.kernel_bytes = file_size - image.setup_bytes;

  image.initrd_addr_max = read_field<uint32_t>(head, kInitrdAddrMaxOffset);
  image.cmdline_size = read_field<uint32_t>(head, kCmdlineSizeOffset);
  image.init_size = read_field<uint32_t>(head, kInitSizeOffset);
  image.pref_address = read_field<uint64_t>(head, kPrefAddressOffset);
  image.payload_offset = read_field<uint32_t>(head, kPayloadOffsetOffset);
  image.payload_length = read_field<uint32_t>(head, kPayloadLengthOffset);

  uint64_t header_end = kJumpOffset + 2 + read_field<uint8_t>(head, kJumpOffset + 1);
  if (header_end > head.size()) return fail("the setup header runs past the file's start");
  image.setup_header.assign(head.begin() + kSetupHeaderStart, head.begin() + header_end);
  return image;
}

Result<LoadedKernel> load_bzimage(const GuestMemory& memory, const ImageFile& file,
                                  const BzImage& image, uint64_t load_address) {
  uint64_t footprint = std::max<uint64_t>(image.kernel_bytes, image.init_size);
  if (!memory.slice(load_address, footprint))
    return fail("the kernel needs {} MiB from {:#x}, more than guest memory has",
                (footprint + (1 << 20) - 1) >> 20, load_address);
  std::span<uint8_t> target = TRY(memory.slice(load_address, image.kernel_bytes));
  TRY(file.read(image.setup_bytes, target));
  return LoadedKernel{load_address + kEntry64Offset, load_address + footprint};
}

}  // namespace wisp
