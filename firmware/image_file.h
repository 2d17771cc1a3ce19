// A kernel, module or initrd file, read by offset with bounds checks. Loaders and parsers see only
// this, so that unit tests can hand them bytes instead of files.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/mapping.h"
#include "vmm/base/result.h"

namespace wisp {

class ImageFile {
 public:
  // Opens a regular file for reading; anything else (a directory, a device) is refused.
  static Result<ImageFile> open(const std::string& path);
  // The bytes themselves, named `name` in errors.
  static ImageFile from_bytes(std::vector<uint8_t> bytes, std::string name = "image");
  // The first `size` bytes of a memory mapping (a kernel decompressed by the host), named `name`.
  static ImageFile from_mapping(Mapping mapping, uint64_t size, std::string name);

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Fills `target` from `offset`; a range past the end of the file is an error.
  Result<void> read(uint64_t offset, std::span<uint8_t> target) const;
  // Reads up to `length` bytes from the start (fewer if the file is shorter).
  Result<std::vector<uint8_t>> head(uint64_t length) const;
  // All the bytes of an image backed by memory; empty for one backed by a file.
  std::span<const uint8_t> contents() const;

 private:
  ImageFile(Fd fd, std::vector<uint8_t> bytes, uint64_t size, std::string path)
      : fd_(std::move(fd)), bytes_(std::move(bytes)), size_(size), path_(std::move(path)) {}

  Fd fd_;                       // when backed by a file
  std::vector<uint8_t> bytes_;  // when backed by memory
  Mapping mapping_;             // when backed by a mapping
  uint64_t size_;
  std::string path_;
};

}  // namespace wisp
