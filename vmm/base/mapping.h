// An owning anonymous memory mapping: unmapped exactly once, movable, never copied.
#pragma once

#include <sys/mman.h>

#include <algorithm>
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

  // Memory aligned to 2 MiB and offered to transparent huge pages, so that the host (and,
  // nested, the L1 hypervisor) maps guest RAM with 2 MiB pages where it can: far fewer TLB
  // misses and page-table walks for the guest. Costs at most 2 MiB of RSS per touched 2 MiB of
  // guest memory. The first `small_page_bytes` stay on 4 KiB pages: the boot structures live
  // there, and a tiny guest that touches a few pages of it should not pay for zeroing (and
  // keeping) a whole huge page.
  //
  // Anonymous and private, unless `file` is given: then `size` bytes of it from `file_offset`,
  // shared, so that another process (a vhost-user back end) can map the same RAM. Huge pages
  // there depend on the host's shmem_enabled.
  static constexpr size_t kHugePage = 2ull << 20;
  static Result<Mapping> guest_ram(size_t size, size_t small_page_bytes, int file = -1,
                                   uint64_t file_offset = 0) {
    // Over-reserve, then trim the ends so that the kept part starts on a 2 MiB boundary.
    Mapping reserved = TRY(anonymous(size + kHugePage));
    uintptr_t start = reinterpret_cast<uintptr_t>(reserved.address_);
    uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
    size_t head = aligned - start;
    size_t tail = kHugePage - head;
    if (head) ::munmap(reserved.address_, head);
    if (tail) ::munmap(reinterpret_cast<uint8_t*>(aligned) + size, tail);
    reserved.address_ = nullptr;
    reserved.size_ = 0;
    Mapping ram(reinterpret_cast<uint8_t*>(aligned), size);
    if (file >= 0 &&
        ::mmap(ram.address_, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
               file, static_cast<off_t>(file_offset)) == MAP_FAILED)
      return fail_errno(fmt::format("mmap of {} bytes of shared guest memory", size));
    ::madvise(ram.address_, size, MADV_DONTFORK);  // a forked helper must not copy guest RAM
    // Advice only: a host without THP ignores it. NOHUGEPAGE matters where THP is "always".
    size_t small = std::min(small_page_bytes, size);
    if (small) ::madvise(ram.address_, small, MADV_NOHUGEPAGE);
    if (size > small) ::madvise(ram.address_ + small, size - small, MADV_HUGEPAGE);
    return ram;
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
