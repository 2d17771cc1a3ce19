#include "firmware/boot_common.h"

#include "firmware/acpi.h"
#include "firmware/image_file.h"
#include "firmware/layout.h"
#include "firmware/mp_table.h"
#include "firmware/reset_vector.h"

namespace wisp {

Result<void> BootPlan::claim(std::string_view what, uint64_t start, uint64_t size) {
  if (start + size < start) return fail("{} at {:#x} wraps around", what, start);
  for (const Claim& claim : claims_) {
    if (start < claim.start + claim.size && claim.start < start + size)
      return fail("{} ({:#x}-{:#x}) overlaps {} ({:#x}-{:#x})", what, start, start + size,
                  claim.what, claim.start, claim.start + claim.size);
  }
  claims_.push_back({std::string(what), start, size});
  return {};
}

uint64_t BootInfoBlob::add_bytes(const uint8_t* data, size_t size) {
  uint64_t at = next_address();
  bytes_.insert(bytes_.end(), data, data + size);
  while (bytes_.size() % 4) bytes_.push_back(0);
  return at;
}

uint64_t BootInfoBlob::add_string(std::string_view text) {
  std::vector<uint8_t> terminated(text.begin(), text.end());
  terminated.push_back(0);
  return add_bytes(terminated.data(), terminated.size());
}

uint64_t BootInfoBlob::next_address() const {
  return layout::kBootInfoAddress + bytes_.size();
}

Result<void> BootInfoBlob::write(const GuestMemory& memory, BootPlan& plan,
                                 std::string_view what) const {
  if (bytes_.size() > layout::kBootInfoMaxBytes)
    return fail("{} ({} bytes with its command line and modules) is larger than its {} bytes", what,
                bytes_.size(), layout::kBootInfoMaxBytes);
  TRY(plan.claim(what, layout::kBootInfoAddress, bytes_.size()));
  return memory.write(layout::kBootInfoAddress, bytes_);
}

Result<std::vector<LoadedModule>> load_modules(const GuestMemory& memory, BootPlan& plan,
                                               const std::vector<std::string>& paths,
                                               uint64_t start, uint64_t limit) {
  std::vector<LoadedModule> modules;
  uint64_t next = page_align_up(start);
  for (const std::string& path : paths) {
    ImageFile file = TRY(ImageFile::open(path));
    if (next > limit || file.size() > limit - next)
      return fail("module {} ({} MiB) does not fit in guest memory below {:#x}", path,
                  (file.size() + (1 << 20) - 1) >> 20, limit);
    TRY(plan.claim(path, next, file.size()));
    std::span<uint8_t> target = TRY(memory.slice(next, file.size()));
    TRY(file.read(0, target));
    modules.push_back({next, file.size(), path});
    next = page_align_up(next + file.size());
  }
  return modules;
}

Result<uint64_t> write_platform_tables(const GuestMemory& memory, BootPlan& plan,
                                       const BootConfig& config) {
  acpi::AcpiTables tables = TRY(acpi::build_acpi_tables(
      acpi::AcpiConfig{.cpu_count = config.cpu_count, .platform = config.platform}));
  TRY(plan.claim("the ACPI tables", tables.base, tables.bytes.size()));
  TRY(memory.write(tables.base, tables.bytes));
  std::vector<uint8_t> mp_table = TRY(mp::build_mp_table(config.cpu_count, config.platform));
  TRY(plan.claim("the MP table", layout::kMpTableAddress, mp_table.size()));
  TRY(memory.write(layout::kMpTableAddress, mp_table));
  TRY(plan.claim("the reset vector", layout::kResetVectorAddress, 16));
  TRY(write_reset_vector(memory));
  return tables.rsdp_address;
}

}  // namespace wisp
