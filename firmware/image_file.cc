#include "firmware/image_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace wisp {

Result<ImageFile> ImageFile::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail_errno(fmt::format("cannot open {}", path));
  struct stat info {};
  if (::fstat(fd.get(), &info) < 0) return fail_errno(fmt::format("cannot stat {}", path));
  if (!S_ISREG(info.st_mode)) return fail("{} is not a regular file", path);
  return ImageFile(std::move(fd), {}, static_cast<uint64_t>(info.st_size), path);
}

ImageFile ImageFile::from_bytes(std::vector<uint8_t> bytes, std::string name) {
  uint64_t size = bytes.size();
  return ImageFile(Fd(), std::move(bytes), size, std::move(name));
}

ImageFile ImageFile::from_mapping(Mapping mapping, uint64_t size, std::string name) {
  ImageFile file(Fd(), {}, std::min<uint64_t>(size, mapping.size()), std::move(name));
  file.mapping_ = std::move(mapping);
  return file;
}

Result<void> ImageFile::read(uint64_t offset, std::span<uint8_t> target) const {
  if (offset > size_ || target.size() > size_ - offset)
    return fail("{}: {} bytes at offset {:#x} run past the end of the file ({} bytes)", path_,
                target.size(), offset, size_);
  if (!fd_.valid()) {
    std::copy_n(contents().begin() + static_cast<ptrdiff_t>(offset), target.size(), target.begin());
    return {};
  }
  size_t done = 0;
  while (done < target.size()) {
    ssize_t n = ::pread(fd_.get(), target.data() + done, target.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(fmt::format("reading {}", path_));
    if (n == 0) return fail("{}: the file shrank while being read", path_);
    done += static_cast<size_t>(n);
  }
  return {};
}

std::span<const uint8_t> ImageFile::contents() const {
  if (fd_.valid()) return {};
  return {mapping_.data() ? mapping_.data() : bytes_.data(), size_};
}

Result<std::vector<uint8_t>> ImageFile::head(uint64_t length) const {
  std::vector<uint8_t> bytes(std::min(length, size_));
  TRY(read(0, bytes));
  return bytes;
}

}  // namespace wisp
