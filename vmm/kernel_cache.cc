#include "vmm/kernel_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/log.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace wisp {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kHashPieceBytes = 1 << 20;
constexpr size_t kKeyDigits = 32;
// A temporary file this old belongs to a run that died while writing it.
constexpr auto kStaleTemporary = std::chrono::hours(1);

bool is_key(const std::string& name) {
  return name.size() == kKeyDigits && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

Result<void> write_all(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(fmt::format("writing {}", path));
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<KernelCacheKey> kernel_cache_key(const ImageFile& file, uint64_t offset, uint64_t length) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  std::vector<uint8_t> piece(std::min(length, kHashPieceBytes));
  for (uint64_t done = 0; done < length;) {
    size_t size = std::min<uint64_t>(piece.size(), length - done);
    TRY(file.read(offset + done, std::span(piece).first(size)));
    XXH3_128bits_update(&state, piece.data(), size);
    done += size;
  }
  XXH128_hash_t hash = XXH3_128bits_digest(&state);
  return fmt::format("{:016x}{:016x}", hash.high64, hash.low64);
}

std::optional<std::string> KernelCache::directory_from(const char* wisp_cache,
                                                       const char* xdg_cache_home,
                                                       const char* home) {
  if (wisp_cache && *wisp_cache) return std::string(wisp_cache) + "/vmlinux";
  // The XDG base directory specification: a relative path is invalid and ignored.
  if (xdg_cache_home && xdg_cache_home[0] == '/')
    return std::string(xdg_cache_home) + "/wisp/vmlinux";
  if (home && *home) return std::string(home) + "/.cache/wisp/vmlinux";
  return std::nullopt;
}

std::optional<std::string> KernelCache::default_directory() {
  return directory_from(::getenv("WISP_CACHE"), ::getenv("XDG_CACHE_HOME"), ::getenv("HOME"));
}

std::optional<ImageFile> KernelCache::find(const KernelCacheKey& key, uint64_t size) const {
  std::string path = path_of(key);
  auto file = ImageFile::open(path);
  if (!file) {
    log::debug("kernel cache: no entry: {}", file.error().message());
    return std::nullopt;
  }
  if (file->size() != size) {
    log::info("kernel cache: {} has {} bytes, not {}: replacing it", path, file->size(), size);
    remove(key);
    return std::nullopt;
  }
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // the most recently used, for prune()
  return std::move(*file);
}

void KernelCache::remove(const KernelCacheKey& key) const {
  if (::unlink(path_of(key).c_str()) < 0 && errno != ENOENT)
    log::debug("kernel cache: cannot remove {}: {}", path_of(key), std::strerror(errno));
}

Result<void> KernelCache::store(const KernelCacheKey& key, std::span<const uint8_t> bytes) const {
  std::error_code error;
  fs::create_directories(directory_, error);
  if (error) return fail("cannot create {}: {}", directory_, error.message());
  std::string temporary = directory_ + "/." + key + ".XXXXXX";
  Fd fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (!fd.valid()) return fail_errno(fmt::format("cannot create a file in {}", directory_));
  ::fchmod(fd.get(), 0644);
  Result<void> written = write_all(fd.get(), bytes, temporary);
  if (written && ::rename(temporary.c_str(), path_of(key).c_str()) < 0)
    written = fail_errno(fmt::format("renaming {} to {}", temporary, path_of(key)));
  if (!written) {
    ::unlink(temporary.c_str());
    return written;
  }
  prune();
  return {};
}

void KernelCache::prune() const {
  std::vector<std::pair<fs::file_time_type, fs::path>> entries;
  auto now = fs::file_time_type::clock::now();
  std::error_code error;
  for (fs::directory_iterator it(directory_, error), end; !error && it != end;
       it.increment(error)) {
    std::string name = it->path().filename().string();
    std::error_code time_error;
    fs::file_time_type time = it->last_write_time(time_error);
    if (time_error) continue;
    if (is_key(name)) {
      entries.emplace_back(time, it->path());
    } else if (name.starts_with(".") && now - time > kStaleTemporary) {
      fs::remove(it->path(), time_error);
    }
  }
  if (entries.size() <= kKeptEntries) return;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a > b; });
  for (size_t i = kKeptEntries; i < entries.size(); ++i) fs::remove(entries[i].second, error);
}

}  // namespace wisp
