// An owning anonymous memory mapping: unmapped exactly once, movable, never copied.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "vmm/base/result.h"

namespace wisp {

class Mapping {
 public:
  Mapping() = default;
  Mapping(Mapping&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      unmap();
      address_ = std::exchange(other.address_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { unmap(); }

  // Anonymous private memory, reserved lazily (MAP_NORESERVE): pages cost host memory only
  // once the guest touches them.
  static Result<Mapping> anonymous(size_t size) {
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (address == MAP_FAILED) return fail_errno(fmt::format("mmap of {} bytes", size));
    return Mapping(static_cast<uint8_t*>(address), size);
  }

  // Maps `size` bytes of a file descriptor shared (e.g. a vCPU's kvm_run area).
  static Result<Mapping> shared_fd(int fd, size_t size) {
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (address == MAP_FAILED) return fail_errno("mmap of a file descriptor");
    return Mapping(static_cast<uint8_t*>(address), size);
  }

  uint8_t* data() const { return address_; }
  size_t size() const { return size_; }

 private:
  Mapping(uint8_t* address, size_t size) : address_(address), size_(size) {}
  void unmap() {
    if (address_) ::munmap(address_, size_);
    address_ = nullptr;
    size_ = 0;
  }

  uint8_t* address_ = nullptr;
  size_t size_ = 0;
};

}  // namespace wisp
