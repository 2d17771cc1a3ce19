#include "firmware/long_mode.h"

#include "firmware/layout.h"

namespace wisp::long_mode {
namespace {

// Page-table entry bits (Intel SDM vol. 3, 4.5).
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kLargePage = 1ull << 7;
constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kLargePageBytes = 2ull << 20;
constexpr uint64_t kEntriesPerTable = 512;

}  // namespace

Result<void> write_gdt(const GuestMemory& memory) {
  for (size_t i = 0; i < kGdt.size(); ++i)
    TRY(memory.write_obj(layout::kGdtAddress + i * 8, kGdt[i]));
  return {};
}

Result<void> write_boot_tables(const GuestMemory& memory) {
  TRY(write_gdt(memory));

  constexpr uint64_t kGigabyte = 1ull << 30;
  constexpr uint64_t kDirectories = layout::kIdentityMappedBytes / kGigabyte;
  TRY(memory.fill(layout::kPml4Address, kPageSize, 0));
  TRY(memory.write_obj(layout::kPml4Address, layout::kPdptAddress | kPresent | kWritable));
  TRY(memory.fill(layout::kPdptAddress, kPageSize, 0));
  for (uint64_t gig = 0; gig < kDirectories; ++gig) {
    uint64_t directory = layout::kPageDirectoryAddress + gig * kPageSize;
    TRY(memory.write_obj(layout::kPdptAddress + gig * 8, directory | kPresent | kWritable));
    for (uint64_t i = 0; i < kEntriesPerTable; ++i) {
      uint64_t physical = gig * kGigabyte + i * kLargePageBytes;
      TRY(memory.write_obj(directory + i * 8, physical | kPresent | kWritable | kLargePage));
    }
  }
  return {};
}

Segment decode_descriptor(uint64_t d) {
  Segment s{};
  s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
  uint32_t raw_limit = static_cast<uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
  s.granularity = (d >> 55) & 1;
  s.limit = s.granularity ? (raw_limit << 12) | 0xfff : raw_limit;
  s.type = (d >> 40) & 0xf;
  s.code_or_data = (d >> 44) & 1;
  s.dpl = (d >> 45) & 3;
  s.present = (d >> 47) & 1;
  s.long_mode = (d >> 53) & 1;
  s.default_big = (d >> 54) & 1;
  return s;
}

}  // namespace wisp::long_mode
