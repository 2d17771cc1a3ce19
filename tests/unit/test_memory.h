// Guest memory for unit tests: plain anonymous mappings at chosen guest addresses.
#pragma once

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

}  // namespace wisp::test
