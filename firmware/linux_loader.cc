// The Linux boot protocol's bzImage with its 64-bit entry point (Documentation/arch/x86/boot.rst).
#include <algorithm>
#include <optional>

#include "firmware/boot_params.h"
#include "firmware/bzimage.h"
#include "firmware/format_loaders.h"
#include "firmware/layout.h"
#include "vmm/base/log.h"

namespace wisp {
namespace {

constexpr uint64_t kPageSize = 4096;

// The initrd goes as high as the kernel allows, below the MMIO hole, page aligned, clear of the
// kernel's boot-time footprint.
Result<uint64_t> place_initrd(const BzImage& image, uint64_t memory_size, uint64_t kernel_end,
                              uint64_t initrd_size) {
  uint64_t ceiling = std::min({low_memory_end(memory_size), uint64_t{image.initrd_addr_max} + 1});
  if (initrd_size > ceiling || (ceiling - initrd_size) / kPageSize * kPageSize < kernel_end)
    return fail("the initrd ({} MiB) does not fit in guest memory below {:#x} beside the kernel",
                (initrd_size + (1 << 20) - 1) >> 20, ceiling);
  return (ceiling - initrd_size) / kPageSize * kPageSize;
}

// The vmlinux the host decompressed, or nothing (the guest decompresses as usual) when there is
// none or it does not fit this bzImage; the boot plan is then as it was.
std::optional<LoadedKernel> try_decompressed(const LoadContext& context, const BzImage& image) {
  if (!context.config.decompressed_kernel) return std::nullopt;
  BootPlan before = context.plan;
  auto loaded = load_decompressed_vmlinux(context, image, *context.config.decompressed_kernel);
  if (loaded) return *loaded;
  log::warn("{}: the kernel decompresses itself: its host-decompressed vmlinux is unusable: {}",
            context.config.kernel_path, loaded.error().message());
  context.plan = before;
  return std::nullopt;
}

}  // namespace

Result<CpuEntry> load_bzimage_kernel(const LoadContext& context) {
  const BootConfig& config = context.config;
  auto head = TRY(context.kernel.head(kBzImageHeadBytes));
  BzImage image = TRY_CONTEXT(parse_bzimage(head, context.kernel.size()), config.kernel_path);
  std::optional<LoadedKernel> loaded = try_decompressed(context, image);
  if (!loaded) {
    loaded = TRY(load_bzimage(context.memory, context.kernel, image, layout::kKernelLoadAddress));
    TRY(context.plan.claim("the kernel", layout::kKernelLoadAddress,
                           loaded->end - layout::kKernelLoadAddress));
  }

  BootParamsInput params{&image, config.memory_size, layout::kCmdlineAddress};
  params.rsdp_address = context.rsdp_address;
  if (config.initrd_paths.size() > 1)
    return fail("a Linux kernel takes one initrd, not {}", config.initrd_paths.size());
  if (!config.initrd_paths.empty()) {
    ImageFile initrd = TRY(ImageFile::open(config.initrd_paths[0]));
    params.initrd_size = initrd.size();
    params.initrd_address =
        TRY(place_initrd(image, config.memory_size, loaded->end, initrd.size()));
    TRY(context.plan.claim("the initrd", params.initrd_address, initrd.size()));
    std::span<uint8_t> target = TRY(context.memory.slice(params.initrd_address, initrd.size()));
    TRY(initrd.read(0, target));
  }
  CpuEntry entry{EntryMode::kLong, loaded->entry_64bit};
  entry.rsi = TRY(write_zero_page(context.memory, context.plan, params, config.cmdline));
  return entry;
}

}  // namespace wisp
