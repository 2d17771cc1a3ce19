// The CPUID a vCPU sees: what KVM supports, less what Wisp cannot honour (kHiddenCpuFeatures),
// with this vCPU's APIC ID, the VM's topology (one thread per core, all cores in one package), the
// hypervisor bit and the TSC-deadline timer.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace wisp {

struct CpuidOptions {
  uint32_t apic_id;
  uint32_t cpu_count;
  // KVM emulates the local APIC's TSC-deadline mode (KVM_CAP_TSC_DEADLINE_TIMER) but leaves it
  // out of KVM_GET_SUPPORTED_CPUID: the VMM announces it. With it Linux needs no timer
  // calibration against another clock.
  bool tsc_deadline_timer;
};

// What KVM supports but the guest does not see: features that need support Wisp does not give.
// README.md's "CPU features" lists the same (a unit test holds it to this table).
enum class CpuidRegister { kEax, kEbx, kEcx, kEdx };
struct HiddenCpuFeature {
  uint32_t leaf;
  uint32_t subleaf;
  CpuidRegister reg;
  uint32_t bit;
  const char* name;
};
inline constexpr HiddenCpuFeature kHiddenCpuFeatures[] = {
    {0x1, 0, CpuidRegister::kEcx, 5, "VMX"},                        // nested virtualization
    {0x1, 0, CpuidRegister::kEcx, 6, "SMX"},                        // Trusted Execution
    {0x7, 0, CpuidRegister::kEbx, 2, "SGX"},                        // needs EPC sections
    {0x7, 0, CpuidRegister::kEbx, 25, "Intel PT"},                  // trace buffers and MSRs
    {0x7, 0, CpuidRegister::kEcx, 30, "SGX_LC"},                    // with SGX
    {0x7, 0, CpuidRegister::kEdx, 22, "AMX-BF16"},                  // the AMX state permission
    {0x7, 0, CpuidRegister::kEdx, 24, "AMX-TILE"},                  //   (arch_prctl) Wisp does
    {0x7, 0, CpuidRegister::kEdx, 25, "AMX-INT8"},                  //   not ask for
    {0xd, 0, CpuidRegister::kEax, 17, "XTILECFG"},                  // AMX's XSAVE components
    {0xd, 0, CpuidRegister::kEax, 18, "XTILEDATA"},                 //
    {0x80000001, 0, CpuidRegister::kEcx, 2, "SVM"},                 // nested virtualization
    {0x40000001, 0, CpuidRegister::kEdx, 0, "KVM_HINTS_REALTIME"},  // vCPUs are not pinned
};
// Leaves removed whole: SGX's (0x12), SVM's (0x8000000a), AMX's (0x1d, 0x1e).
inline constexpr uint32_t kHiddenCpuidLeaves[] = {0x12, 0x1d, 0x1e, 0x8000000a};

std::vector<kvm_cpuid_entry2> vcpu_cpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                         const CpuidOptions& options);

}  // namespace wisp
