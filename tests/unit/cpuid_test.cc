#include <catch2/catch.hpp>

#include "vmm/cpuid.h"

using namespace wisp;

namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index = 0) {
  kvm_cpuid_entry2 entry{};
  entry.function = function;
  entry.index = index;
  entry.ebx = 0x00ff0800;
  entry.edx = 0xffffffff;
  return entry;
}

const kvm_cpuid_entry2& find(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                             uint32_t index = 0) {
  for (const auto& entry : entries)
    if (entry.function == function && entry.index == index) return entry;
  FAIL("leaf not found");
  return entries.front();
}

}  // namespace

TEST_CASE("each vCPU's CPUID carries its APIC ID, the CPU count and the hypervisor bit") {
  std::vector<kvm_cpuid_entry2> supported = {leaf(1),      leaf(0xb, 0),     leaf(0xb, 1),
                                             leaf(0xb, 2), leaf(0x80000008), leaf(0x8000001e)};
  auto cpu3 = vcpu_cpuid(supported, {3, 4, true});
  const auto& features = find(cpu3, 1);
  CHECK(features.ebx >> 24 == 3);
  CHECK(((features.ebx >> 16) & 0xff) == 4);
  CHECK((features.ebx & 0xffff) == 0x0800);  // brand index and CLFLUSH size kept
  CHECK((features.ecx & (1u << 31)) != 0);
  CHECK((features.ecx & (1u << 24)) != 0);  // TSC-deadline timer
  CHECK((features.edx & (1u << 28)) != 0);

  CHECK(find(cpu3, 0xb, 0).edx == 3);
  CHECK(find(cpu3, 0xb, 0).ebx == 1);
  CHECK(find(cpu3, 0xb, 1).ebx == 4);
  CHECK(find(cpu3, 0xb, 1).eax == 2);  // two bits number four CPUs
  CHECK(((find(cpu3, 0xb, 1).ecx >> 8) & 0xff) == 2);
  CHECK(find(cpu3, 0xb, 2).ebx == 0);
  CHECK((find(cpu3, 0x80000008).ecx & 0xff) == 3);
  CHECK(find(cpu3, 0x8000001e).eax == 3);

  auto single = vcpu_cpuid(supported, {0, 1, false});
  CHECK((find(single, 1).edx & (1u << 28)) == 0);
  CHECK((find(single, 1).ecx & (1u << 24)) == 0);
  CHECK(find(single, 0xb, 1).eax == 0);
}
