#include "vmm/host_decompression.h"

#include <vector>

#include "firmware/bzimage.h"
#include "firmware/elf.h"
#include "firmware/kernel_payload.h"
#include "vmm/base/log.h"
#include "vmm/base/mapping.h"

namespace wisp {
namespace {

// The payload of a bzImage, or nothing (the reason logged; the loader reports a file it cannot
// open or parse itself).
std::optional<KernelPayload> payload_of(const ImageFile& kernel) {
  auto head = kernel.head(kBzImageHeadBytes);
  if (!head || !looks_like_bzimage(*head)) return std::nullopt;
  auto image = parse_bzimage(*head, kernel.size());
  if (!image) return std::nullopt;
  if (!has_kernel_payload(*image)) {
    log::debug("{}: no compressed payload; the kernel runs as it is", kernel.path());
    return std::nullopt;
  }
  auto payload = find_kernel_payload(kernel, *image);
  if (!payload) {
    log::warn("{}: the guest decompresses the kernel: {}", kernel.path(),
              payload.error().message());
    return std::nullopt;
  }
  return *payload;
}

// A cached vmlinux whose ELF headers hold; a damaged one is removed.
std::optional<ImageFile> cached(const KernelCache& cache, const KernelCacheKey& key,
                                const KernelPayload& payload) {
  std::optional<ImageFile> entry = cache.find(key, payload.uncompressed_size);
  if (!entry) return std::nullopt;
  if (auto elf = parse_elf(*entry); !elf) {
    log::info("kernel cache: {} is damaged ({}): replacing it", entry->path(),
              elf.error().message());
    cache.remove(key);
    return std::nullopt;
  }
  return entry;
}

Result<ImageFile> decompress_now(const ImageFile& kernel, const KernelPayload& payload) {
  std::vector<uint8_t> compressed(payload.length);
  TRY(kernel.read(payload.file_offset, compressed));
  Mapping vmlinux = TRY(Mapping::anonymous(payload.uncompressed_size));
  std::span<uint8_t> output(vmlinux.data(), payload.uncompressed_size);
  TRY(decompress_kernel_payload(payload, compressed, output));
  return ImageFile::from_mapping(std::move(vmlinux), payload.uncompressed_size,
                                 kernel.path() + " (decompressed)");
}

}  // namespace

std::optional<ImageFile> host_decompressed_kernel(const std::string& kernel_path,
                                                  const KernelCache* cache) {
  auto kernel = ImageFile::open(kernel_path);
  if (!kernel) return std::nullopt;
  std::optional<KernelPayload> payload = payload_of(*kernel);
  if (!payload) return std::nullopt;

  std::optional<KernelCacheKey> key;
  if (cache) {
    auto hashed = kernel_cache_key(*kernel, payload->file_offset, payload->length);
    if (hashed)
      key = *hashed;
    else
      log::info("kernel cache: not used: {}", hashed.error().message());
  }
  if (key) {
    if (std::optional<ImageFile> hit = cached(*cache, *key, *payload)) return hit;
  }

  auto vmlinux = decompress_now(*kernel, *payload);
  if (!vmlinux) {
    log::warn("{}: the guest decompresses the kernel: {} payload: {}", kernel_path,
              compression_name(payload->compression), vmlinux.error().message());
    return std::nullopt;
  }
  if (key) {
    if (auto stored = cache->store(*key, vmlinux->contents()); !stored)
      log::info("kernel cache: the decompressed kernel is not kept: {}", stored.error().message());
  }
  return std::move(*vmlinux);
}

std::optional<ImageFile> prepare_decompressed_kernel(const VmConfig& config) {
  if (!config.decompress_kernel) return std::nullopt;
  if (config.kernel_format != KernelFormat::kAuto && config.kernel_format != KernelFormat::kBzImage)
    return std::nullopt;
  std::optional<std::string> directory = KernelCache::default_directory();
  if (!directory) {
    log::info("kernel cache: no directory (neither WISP_CACHE, XDG_CACHE_HOME nor HOME is set)");
    return host_decompressed_kernel(config.kernel_path, nullptr);
  }
  KernelCache cache(*directory);
  return host_decompressed_kernel(config.kernel_path, &cache);
}

}  // namespace wisp
