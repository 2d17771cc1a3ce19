#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "vmm/cpuid.h"
#include "vmm/msr_policy.h"

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

TEST_CASE("features Wisp cannot honour are hidden and the rest of KVM's are kept") {
  auto all_bits = [](uint32_t function, uint32_t index = 0) {
    kvm_cpuid_entry2 entry{};
    entry.function = function;
    entry.index = index;
    entry.eax = entry.ebx = entry.ecx = entry.edx = 0xffffffff;
    return entry;
  };
  std::vector<kvm_cpuid_entry2> supported = {
      all_bits(1),       all_bits(7),          all_bits(0xd, 0),     all_bits(0xd, 1),
      all_bits(0xd, 17), all_bits(0xd, 18),    all_bits(0x12, 0),    all_bits(0x1d, 0),
      all_bits(0x1e, 0), all_bits(0x80000001), all_bits(0x8000000a), all_bits(0x40000001)};
  auto cpuid = vcpu_cpuid(supported, {0, 1, false});

  CHECK((find(cpuid, 1).ecx & 0x60) == 0);                 // VMX, SMX
  CHECK((find(cpuid, 1).ecx & 0x1f) == 0x1f);              // SSE3 and its neighbours stay
  CHECK(find(cpuid, 7).ebx == ~((1u << 2) | (1u << 25)));  // SGX, Intel PT
  CHECK(find(cpuid, 7).ecx == ~(1u << 30));                // SGX_LC
  CHECK(find(cpuid, 7).edx == ~((1u << 22) | (1u << 24) | (1u << 25)));  // AMX
  CHECK(find(cpuid, 0xd, 0).eax == ~((1u << 17) | (1u << 18)));
  CHECK(find(cpuid, 0xd, 1).eax == 0xffffffff);
  CHECK(find(cpuid, 0x80000001).ecx == ~(1u << 2));  // SVM
  CHECK(find(cpuid, 0x40000001).edx == ~1u);         // KVM_HINTS_REALTIME
  CHECK(find(cpuid, 0x40000001).eax == 0xffffffff);  // KVM's PV features stay
  for (auto [function, index] : {std::pair{0x12u, 0u},
                                 {0x1du, 0u},
                                 {0x1eu, 0u},
                                 {0x8000000au, 0u},
                                 {0xdu, 17u},
                                 {0xdu, 18u}})
    for (const auto& entry : cpuid)
      CHECK_FALSE((entry.function == function && entry.index == index));
}

TEST_CASE("README.md's CPU feature table names every hidden feature") {
  std::ifstream in(std::string(PROJECT_SOURCE_DIR) + "/README.md");
  std::string readme(std::istreambuf_iterator<char>(in), {});
  REQUIRE(readme.find("### CPU features") != std::string::npos);
  std::string section = readme.substr(readme.find("### CPU features"));
  for (const HiddenCpuFeature& feature : kHiddenCpuFeatures)
    CHECK(section.find(std::string("| ") + feature.name + " |") != std::string::npos);
}

TEST_CASE("README.md's MSR table names every denied range") {
  std::ifstream in(std::string(PROJECT_SOURCE_DIR) + "/README.md");
  std::string readme(std::istreambuf_iterator<char>(in), {});
  REQUIRE(readme.find("### CPU features") != std::string::npos);
  std::string section = readme.substr(readme.find("### CPU features"));
  for (const DeniedMsrRange& range : kDeniedMsrs) {
    std::string first = fmt::format("{:#x}", range.first);
    std::string last = fmt::format("{:#x}", range.first + range.count - 1);
    std::string row = fmt::format("| {} | {} | {} |", range.count == 1 ? first : first + "-" + last,
                                  range.name, range.feature);
    CHECK(section.find(row) != std::string::npos);
  }
}

TEST_CASE("a denied MSR is found in its range, and only there") {
  CHECK(find_denied_msr(0x480)->feature == std::string("VMX"));
  CHECK(find_denied_msr(0x491)->feature == std::string("VMX"));
  CHECK(find_denied_msr(0x492) == nullptr);
  CHECK(find_denied_msr(0x47f) == nullptr);
  CHECK(find_denied_msr(0xc0010114)->name == std::string("VM_CR"));
  CHECK(find_denied_msr(0x10) == nullptr);
}
