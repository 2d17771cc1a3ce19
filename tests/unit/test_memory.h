// Guest memory for unit tests: plain anonymous mappings at chosen guest addresses.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "vmm/base/guest_memory.h"

namespace wisp::test {

inline GuestMemory make_guest_memory(std::initializer_list<std::pair<uint64_t, uint64_t>> regions) {
  GuestMemory memory;
  for (auto [address, size] : regions) {
    auto mapping = Mapping::anonymous(size);
    REQUIRE(mapping);
    REQUIRE(memory.add_region(address, std::move(*mapping)));
  }
  return memory;
}

// Guest memory that another process could map, as --memory shared=on makes it: the regions are
// consecutive parts of one memfd.
inline GuestMemory make_shared_guest_memory(
    std::initializer_list<std::pair<uint64_t, uint64_t>> regions) {
  GuestMemory memory;
  uint64_t total = 0;
  for (auto [address, size] : regions) total += size;
  Fd file(::memfd_create("test-ram", MFD_CLOEXEC));
  REQUIRE(file.valid());
  REQUIRE(::ftruncate(file.get(), static_cast<off_t>(total)) == 0);
  uint64_t offset = 0;
  for (auto [address, size] : regions) {
    auto mapping = Mapping::guest_ram(size, 0, file.get(), offset);
    REQUIRE(mapping);
    REQUIRE(memory.add_region(address, std::move(*mapping), offset));
    offset += size;
  }
  memory.set_shared_file(std::move(file));
  return memory;
}

}  // namespace wisp::test
