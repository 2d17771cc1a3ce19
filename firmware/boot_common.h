// Pieces every boot format shares: a record of the guest ranges a boot has used, modules and
// initrds placed after the kernel, and the platform tables (ACPI, reset vector).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp {

// The guest ranges a boot has filled, so that a kernel segment, module or boot structure placed
// on top of another is an error instead of silent corruption.
class BootPlan {
 public:
  Result<void> claim(std::string_view what, uint64_t start, uint64_t size);

 private:
  struct Claim {
    std::string what;
    uint64_t start;
    uint64_t size;
  };
  std::vector<Claim> claims_;
};

struct LoadedModule {
  uint64_t address;
  uint64_t size;
  std::string path;
};

// Loads the files one after another from `start` (page aligned), all below `limit`.
Result<std::vector<LoadedModule>> load_modules(const GuestMemory& memory, BootPlan& plan,
                                               const std::vector<std::string>& paths,
                                               uint64_t start, uint64_t limit);

// The ACPI tables and the reset vector stub; returns the RSDP's address.
Result<uint64_t> write_platform_tables(const GuestMemory& memory, BootPlan& plan,
                                       uint32_t cpu_count);

inline uint64_t page_align_up(uint64_t value) {
  return (value + 0xfff) & ~uint64_t{0xfff};
}

}  // namespace wisp
