#include "vmm/cpuid.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace wisp {
namespace {

// Leaves and bits (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3, appendix E).
constexpr uint32_t kLeafFeatures = 0x1;
constexpr uint32_t kLeafExtendedTopology = 0xb;
constexpr uint32_t kLeafExtendedTopologyV2 = 0x1f;
constexpr uint32_t kLeafAmdSizeIdentifiers = 0x80000008;
constexpr uint32_t kLeafAmdExtendedApicId = 0x8000001e;

constexpr uint32_t kEcxHypervisor = 1u << 31;
constexpr uint32_t kEcxTscDeadlineTimer = 1u << 24;
constexpr uint32_t kEdxHyperThreading = 1u << 28;  // "more than one logical processor"

constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;

// Bits needed to number `count` things.
uint32_t id_bits(uint32_t count) {
  return count <= 1 ? 0 : std::bit_width(count - 1);
}

void set_extended_topology(kvm_cpuid_entry2& entry, uint32_t apic_id, uint32_t cpu_count) {
  entry.edx = apic_id;
  switch (entry.index) {
    case 0:  // threads: one per core
      entry.eax = 0;
      entry.ebx = 1;
      entry.ecx = (kTopologyLevelSmt << 8) | entry.index;
      break;
    case 1:  // cores in the package
      entry.eax = id_bits(cpu_count);
      entry.ebx = cpu_count;
      entry.ecx = (kTopologyLevelCore << 8) | entry.index;
      break;
    default:  // no further levels
      entry.eax = 0;
      entry.ebx = 0;
      entry.ecx = entry.index;
      break;
  }
}

void patch_entry(kvm_cpuid_entry2& entry, const CpuidOptions& options) {
  uint32_t apic_id = options.apic_id;
  uint32_t cpu_count = options.cpu_count;
  switch (entry.function) {
    case kLeafFeatures:
      entry.ebx = (entry.ebx & 0x0000ffff) | (apic_id << 24) | ((cpu_count & 0xff) << 16);
      entry.ecx |= kEcxHypervisor;
      if (options.tsc_deadline_timer) entry.ecx |= kEcxTscDeadlineTimer;
      if (cpu_count > 1) {
        entry.edx |= kEdxHyperThreading;
      } else {
        entry.edx &= ~kEdxHyperThreading;
      }
      break;
    case kLeafExtendedTopology:
    case kLeafExtendedTopologyV2:
      set_extended_topology(entry, apic_id, cpu_count);
      break;
    case kLeafAmdSizeIdentifiers:
      // ECX: NC (cores - 1) in bits 7:0, ApicIdCoreIdSize in bits 15:12.
      entry.ecx = (entry.ecx & ~0xf0ffu) | (id_bits(cpu_count) << 12) | ((cpu_count - 1) & 0xff);
      break;
    case kLeafAmdExtendedApicId:
      entry.eax = apic_id;
      entry.ebx = apic_id & 0xff;  // core id; one thread per core
      entry.ecx = 0;               // node 0, one node per package
      break;
    default:
      break;
  }
}

uint32_t& register_of(kvm_cpuid_entry2& entry, CpuidRegister reg) {
  switch (reg) {
    case CpuidRegister::kEax:
      return entry.eax;
    case CpuidRegister::kEbx:
      return entry.ebx;
    case CpuidRegister::kEcx:
      return entry.ecx;
    case CpuidRegister::kEdx:
      break;
  }
  return entry.edx;
}

void hide_features(kvm_cpuid_entry2& entry) {
  for (const HiddenCpuFeature& feature : kHiddenCpuFeatures)
    if (entry.function == feature.leaf && entry.index == feature.subleaf)
      register_of(entry, feature.reg) &= ~(1u << feature.bit);
}

bool hidden_leaf(const kvm_cpuid_entry2& entry) {
  return std::ranges::find(kHiddenCpuidLeaves, entry.function) != std::end(kHiddenCpuidLeaves) ||
         // XSAVE components 17 and 18: AMX's tile state.
         (entry.function == 0xd && (entry.index == 17 || entry.index == 18));
}

}  // namespace

std::vector<kvm_cpuid_entry2> vcpu_cpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                         const CpuidOptions& options) {
  std::vector<kvm_cpuid_entry2> entries;
  for (kvm_cpuid_entry2 entry : supported) {
    if (hidden_leaf(entry)) continue;
    hide_features(entry);
    patch_entry(entry, options);
    entries.push_back(entry);
  }
  return entries;
}

}  // namespace wisp
