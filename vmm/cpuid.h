// The CPUID a vCPU sees: what KVM supports, with this vCPU's APIC ID, the VM's topology (one
// thread per core, all cores in one package), the hypervisor bit and the TSC-deadline timer.
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

std::vector<kvm_cpuid_entry2> vcpu_cpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                         const CpuidOptions& options);

}  // namespace wisp
