// The guest's RAM as the VMM sees it: a few regions, each a host mapping at a guest-physical
// address. Every access by guest address goes through one bounds-checked translation, which
// yields a span inside a single region or an error; never a pointer past a region.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/mapping.h"
#include "vmm/base/result.h"

namespace wisp {

struct MemoryRegion {
  uint64_t guest_address;
  Mapping mapping;
  uint64_t file_offset = 0;  // where the mapping starts in GuestMemory::shared_file(), if any

  uint64_t size() const { return mapping.size(); }
  uint64_t end() const { return guest_address + mapping.size(); }
};

class GuestMemory {
 public:
  // Regions must not overlap; they are kept sorted by guest address. `file_offset`: for RAM
  // mapped from the shared file.
  Result<void> add_region(uint64_t guest_address, Mapping mapping, uint64_t file_offset = 0);

  // RAM that another process can map (a vhost-user back end): every region is a shared mapping
  // of this file. -1 when guest RAM is private to the VMM (the default).
  void set_shared_file(Fd file) { shared_file_ = std::move(file); }
  int shared_file() const { return shared_file_.get(); }

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  uint64_t total_bytes() const;

  // The host bytes for [address, address + length), which must lie inside one region.
  Result<std::span<uint8_t>> slice(uint64_t address, uint64_t length) const;

  Result<void> write(uint64_t address, std::span<const uint8_t> bytes) const;
  Result<void> read(uint64_t address, std::span<uint8_t> bytes) const;
  Result<void> fill(uint64_t address, uint64_t length, uint8_t value) const;

  // Copies a plain struct in or out; the guest may change memory at any time, so callers
  // validate the copy, never a pointer into guest RAM.
  template <typename T>
  Result<T> read_obj(uint64_t address) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    TRY(read(address, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))));
    return value;
  }
  template <typename T>
  Result<void> write_obj(uint64_t address, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(address, std::span(reinterpret_cast<const uint8_t*>(&value), sizeof(T)));
  }

 private:
  std::vector<MemoryRegion> regions_;
  Fd shared_file_;
};

}  // namespace wisp
