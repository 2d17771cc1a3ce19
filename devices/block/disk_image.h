// A disk image as `--disk` names it: a raw image file or a block device, opened and locked so
// that two VMMs cannot write it at once, with its size checked.
#pragma once

#include <cstdint>
#include <string>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp {

enum class DiskAccess { kReadWrite, kReadOnly };
enum class DiskCache { kWriteback, kNone };  // kNone: O_DIRECT, bypassing the host page cache

struct DiskImage {
  Fd fd;
  uint64_t size_bytes = 0;  // a whole number of 512-byte sectors
  bool block_device = false;

  // Opens `path` and takes an open-file-description lock on it, as QEMU does: a write lock for a
  // writable disk, a read lock for a read-only one, so that a second writer (or a reader beside a
  // writer) fails at once with a message naming the image.
  static Result<DiskImage> open(const std::string& path, DiskAccess access, DiskCache cache);
};

inline constexpr uint64_t kSectorBytes = 512;

// Zeroes [offset, offset + length) of a file or block device: FALLOC_FL_ZERO_RANGE, or where the
// file system lacks it (tmpfs), a punched hole allocated again. 0 or -errno.
int zero_file_range(int fd, uint64_t offset, uint64_t length);
// Gives [offset, offset + length) back to the host (FALLOC_FL_PUNCH_HOLE; on a block device the
// kernel turns it into a discard that reads back as zeroes). A file system that cannot punch
// holes makes it a no-op: a discard is only a hint. 0 or -errno.
int discard_file_range(int fd, uint64_t offset, uint64_t length);

}  // namespace wisp
