#include "devices/block/disk_image.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

namespace wisp {
namespace {

Result<void> lock_image(int fd, const std::string& path, DiskAccess access) {
  struct flock lock {};
  lock.l_type = access == DiskAccess::kReadWrite ? F_WRLCK : F_RDLCK;
  lock.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file
  if (::fcntl(fd, F_OFD_SETLK, &lock) == 0) return {};
  if (errno == EAGAIN || errno == EACCES) {
    return fail(
        "disk {} is in use: another open of it holds a conflicting lock{} (another VMM, "
        "or another --disk)",
        path, access == DiskAccess::kReadWrite ? "" : " for writing");
  }
  return fail_errno(fmt::format("locking disk {}", path));
}

Result<uint64_t> image_size(int fd, const std::string& path, bool& block_device) {
  struct stat info {};
  if (::fstat(fd, &info) < 0) return fail_errno(fmt::format("stat of disk {}", path));
  block_device = S_ISBLK(info.st_mode);
  if (block_device) {
    uint64_t size = 0;
    if (::ioctl(fd, BLKGETSIZE64, &size) < 0)
      return fail_errno(fmt::format("BLKGETSIZE64 of disk {}", path));
    return size;
  }
  if (!S_ISREG(info.st_mode))
    return fail("disk {} is neither a regular file nor a block device", path);
  return static_cast<uint64_t>(info.st_size);
}

}  // namespace

Result<DiskImage> DiskImage::open(const std::string& path, DiskAccess access, DiskCache cache) {
  int flags = O_CLOEXEC | (access == DiskAccess::kReadWrite ? O_RDWR : O_RDONLY);
  if (cache == DiskCache::kNone) flags |= O_DIRECT;
  DiskImage image;
  image.fd.reset(::open(path.c_str(), flags));
  if (!image.fd.valid()) {
    if (errno == EINVAL && cache == DiskCache::kNone)
      return fail("disk {}: cache=none (O_DIRECT) is not supported by its file system", path);
    return fail_errno(fmt::format("disk {}", path));
  }
  TRY(lock_image(image.fd.get(), path, access));
  image.size_bytes = TRY(image_size(image.fd.get(), path, image.block_device));
  if (image.size_bytes == 0) return fail("disk {} is empty", path);
  if (image.size_bytes % kSectorBytes != 0)
    return fail("disk {} is {} bytes, not a whole number of 512-byte sectors", path,
                image.size_bytes);
  return image;
}

int zero_file_range(int fd, uint64_t offset, uint64_t length) {
  auto off = static_cast<off_t>(offset);
  auto len = static_cast<off_t>(length);
  if (::fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len) == 0) return 0;
  if (errno != EOPNOTSUPP) return -errno;
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0) return -errno;
  if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len) < 0) return -errno;
  return 0;
}

int discard_file_range(int fd, uint64_t offset, uint64_t length) {
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0)
    return 0;
  return errno == EOPNOTSUPP ? 0 : -errno;
}

}  // namespace wisp
