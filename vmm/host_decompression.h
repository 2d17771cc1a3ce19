// Decompressing a bzImage's kernel on the host: its vmlinux from the kernel cache, or
// decompressed now (and cached), for the loader to boot in place of the bzImage, so that the
// guest skips its own decompressor. Anything that stands in the way (not a bzImage, no payload,
// a format Wisp cannot decode, a damaged stream) is logged and leaves the guest to decompress.
#pragma once

#include <optional>
#include <string>

#include "firmware/image_file.h"
#include "vmm/config.h"
#include "vmm/kernel_cache.h"

namespace wisp {

// The vmlinux inside the bzImage at `kernel_path`, or nothing. Without a cache (or when it cannot
// be written) the vmlinux is decompressed into memory.
std::optional<ImageFile> host_decompressed_kernel(const std::string& kernel_path,
                                                  const KernelCache* cache);

// What `wisp run` boots: nothing with --no-decompress-cache or a --kernel-format other than auto
// or bzimage; otherwise host_decompressed_kernel with the cache in its default directory.
std::optional<ImageFile> prepare_decompressed_kernel(const VmConfig& config);

}  // namespace wisp
