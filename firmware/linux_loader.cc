#include "firmware/linux_loader.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "firmware/acpi.h"
#include "firmware/boot_params.h"
#include "firmware/bzimage.h"
#include "firmware/file_io.h"
#include "firmware/layout.h"
#include "firmware/long_mode.h"
#include "firmware/reset_vector.h"
#include "vmm/base/fd.h"

namespace wisp {
namespace {

constexpr uint64_t kPageSize = 4096;

struct OpenFile {
  Fd fd;
  uint64_t size;
};

Result<OpenFile> open_regular_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(fmt::format("cannot open {}", path));
  struct stat info {};
  if (::fstat(fd.get(), &info) < 0) return fail_errno(fmt::format("cannot stat {}", path));
  if (!S_ISREG(info.st_mode)) return fail("{} is not a regular file", path);
  return OpenFile{std::move(fd), static_cast<uint64_t>(info.st_size)};
}

Result<BzImage> read_bzimage_header(const OpenFile& file) {
  std::vector<uint8_t> head(std::min(file.size, kBzImageHeadBytes));
  TRY(read_exactly(file.fd.get(), 0, head));
  return parse_bzimage(head, file.size);
}

// The initrd goes as high as the kernel allows, below the MMIO hole, page aligned, clear of the
// kernel's boot-time footprint.
Result<uint64_t> place_initrd(const BzImage& image, uint64_t memory_size, uint64_t kernel_end,
                              uint64_t initrd_size) {
  uint64_t ceiling =
      std::min({memory_size, layout::kMmioHoleStart, uint64_t{image.initrd_addr_max} + 1});
  if (initrd_size > ceiling || (ceiling - initrd_size) / kPageSize * kPageSize < kernel_end)
    return fail("the initrd ({} MiB) does not fit in guest memory below {:#x} beside the kernel",
                (initrd_size + (1 << 20) - 1) >> 20, ceiling);
  return (ceiling - initrd_size) / kPageSize * kPageSize;
}

Result<uint64_t> write_acpi(const GuestMemory& memory, uint32_t cpu_count) {
  acpi::AcpiTables tables = TRY(acpi::build_acpi_tables({cpu_count}));
  TRY(memory.write(tables.base, tables.bytes));
  return tables.rsdp_address;
}

}  // namespace

Result<LinuxEntry> load_linux(const GuestMemory& memory, const LinuxBootConfig& config) {
  OpenFile kernel = TRY(open_regular_file(config.kernel_path));
  BzImage image = TRY_CONTEXT(read_bzimage_header(kernel), config.kernel_path);
  LoadedKernel loaded =
      TRY(load_bzimage(memory, kernel.fd.get(), image, layout::kKernelLoadAddress));

  BootParamsInput params{&image, config.memory_size, layout::kCmdlineAddress};
  if (!config.initrd_path.empty()) {
    OpenFile initrd = TRY(open_regular_file(config.initrd_path));
    params.initrd_size = initrd.size;
    params.initrd_address = TRY(place_initrd(image, config.memory_size, loaded.end, initrd.size));
    std::span<uint8_t> target = TRY(memory.slice(params.initrd_address, initrd.size));
    TRY(read_exactly(initrd.fd.get(), 0, target));
  }

  uint64_t max_cmdline = std::min<uint64_t>(image.cmdline_size, layout::kCmdlineMaxBytes - 1);
  TRY(write_cmdline(memory, layout::kCmdlineAddress, config.cmdline, max_cmdline));
  params.rsdp_address = TRY(write_acpi(memory, config.cpu_count));
  TRY(write_boot_params(memory, layout::kZeroPageAddress, params));
  TRY(long_mode::write_boot_tables(memory));
  TRY(write_reset_vector(memory));
  return LinuxEntry{loaded.entry_64bit, layout::kZeroPageAddress};
}

}  // namespace wisp
