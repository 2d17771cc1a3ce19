// A raw binary: the whole file at --load-address, entered at --entry in --entry-mode, with
// %rsi/%esi = a boot_params holding the command line and the e820 map. In real mode the CPU
// starts at CS = entry >> 4 & 0xf000 (so the entry must lie below 1 MiB), IP = the rest.
#include "firmware/boot_params.h"
#include "firmware/format_loaders.h"
#include "firmware/layout.h"

namespace wisp {
namespace {

constexpr uint64_t kRealModeLimit = 1ull << 20;
constexpr uint64_t kProtectedModeLimit = 1ull << 32;

}  // namespace

Result<CpuEntry> load_raw_kernel(const LoadContext& context) {
  const RawImageOptions& raw = context.config.raw;
  if (!raw.load_address || !raw.entry || !raw.entry_mode)
    return fail("a raw kernel needs --load-address, --entry and --entry-mode");
  if (!context.config.initrd_paths.empty()) return fail("a raw kernel takes no --initrd");
  uint64_t limit = *raw.entry_mode == EntryMode::kReal        ? kRealModeLimit
                   : *raw.entry_mode == EntryMode::kProtected ? kProtectedModeLimit
                                                              : ~0ull;
  if (*raw.entry >= limit)
    return fail("--entry {:#x} cannot be reached in that entry mode (below {:#x})", *raw.entry,
                limit);
  uint64_t size = context.kernel.size();
  if (size == 0) return fail("{} is empty", context.config.kernel_path);
  TRY(context.plan.claim("the raw image", *raw.load_address, size));
  std::span<uint8_t> target =
      TRY_CONTEXT(context.memory.slice(*raw.load_address, size), "loading the raw image");
  TRY(context.kernel.read(0, target));

  BootParamsInput params{nullptr, context.config.memory_size, layout::kCmdlineAddress};
  params.rsdp_address = context.rsdp_address;
  CpuEntry entry{*raw.entry_mode, *raw.entry};
  entry.rsi = TRY(write_zero_page(context.memory, context.plan, params, context.config.cmdline));
  return entry;
}

}  // namespace wisp
