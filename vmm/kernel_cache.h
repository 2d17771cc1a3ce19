// Decompressed kernels (the vmlinux inside a bzImage) kept on disk between runs, keyed by a hash
// of the compressed payload, so that a kernel is decompressed once, not at every boot. Entries are
// written whole or not at all (a temporary file renamed into place), checked by size when read,
// and only the few most recently used are kept. The directory is
// ${WISP_CACHE:-${XDG_CACHE_HOME:-~/.cache}/wisp}/vmlinux, as tools/lib.sh picks its cache.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "firmware/image_file.h"
#include "vmm/base/result.h"

namespace wisp {

// 128 bits of XXH3 over the compressed payload, as 32 hex digits.
using KernelCacheKey = std::string;

// Hashes `length` bytes of `file` from `offset`, reading them a piece at a time.
Result<KernelCacheKey> kernel_cache_key(const ImageFile& file, uint64_t offset, uint64_t length);

class KernelCache {
 public:
  // How many entries are kept: a kernel developer's recent builds, not every one.
  static constexpr size_t kKeptEntries = 4;

  // The directory from the variables' values (null: unset), or nothing without any of them.
  static std::optional<std::string> directory_from(const char* wisp_cache,
                                                   const char* xdg_cache_home, const char* home);
  // The directory from this process's environment.
  static std::optional<std::string> default_directory();

  explicit KernelCache(std::string directory) : directory_(std::move(directory)) {}

  const std::string& directory() const { return directory_; }
  std::string path_of(const KernelCacheKey& key) const { return directory_ + "/" + key; }

  // The entry for `key` if there is one of `size` bytes. One of another size (a damaged or
  // truncated write) is removed, and is a miss.
  std::optional<ImageFile> find(const KernelCacheKey& key, uint64_t size) const;
  // Removes the entry for `key` (found damaged by its reader).
  void remove(const KernelCacheKey& key) const;
  // Writes the entry for `key`, creating the directory; then drops the least recently used
  // entries beyond kKeptEntries.
  Result<void> store(const KernelCacheKey& key, std::span<const uint8_t> bytes) const;

 private:
  void prune() const;

  std::string directory_;
};

}  // namespace wisp
