// Pieces every boot format shares: a record of the guest ranges a boot has used, modules and
// initrds placed after the kernel, and the platform tables (ACPI, MP table, reset vector).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "firmware/boot_config.h"
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

// The ACPI tables, the MP table and the reset vector stub, for config.cpu_count CPUs and the
// devices of config.platform, each range claimed in `plan`; returns the RSDP's address.
Result<uint64_t> write_platform_tables(const GuestMemory& memory, BootPlan& plan,
                                       const BootConfig& config);

// The boot information area at layout::kBootInfoAddress (a PVH start info or a Multiboot info,
// and the tables and strings they point to), built as one blob: each piece 4-byte aligned, its
// guest address returned so that the header can point at it.
class BootInfoBlob {
 public:
  template <typename T>
  uint64_t add(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return add_bytes(reinterpret_cast<const uint8_t*>(&value), sizeof(T));
  }
  uint64_t add_string(std::string_view text);  // NUL-terminated
  uint64_t next_address() const;
  // Rewrites the header added first, once the addresses it holds are known.
  template <typename T>
  void set_header(const T& header) {
    std::memcpy(bytes_.data(), &header, std::min(sizeof(T), bytes_.size()));
  }
  // Claims the area as `what` and writes it; fails when it outgrows the area.
  Result<void> write(const GuestMemory& memory, BootPlan& plan, std::string_view what) const;

 private:
  uint64_t add_bytes(const uint8_t* data, size_t size);
  std::vector<uint8_t> bytes_;
};

inline uint64_t page_align_up(uint64_t value) {
  return (value + 0xfff) & ~uint64_t{0xfff};
}

}  // namespace wisp
