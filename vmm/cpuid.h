// The CPUID a vCPU sees: what KVM supports, with this vCPU's APIC ID, the VM's topology (one
// thread per core, all cores in one package) and the hypervisor bit.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace wisp {

std::vector<kvm_cpuid_entry2> vcpu_cpuid(const std::vector<kvm_cpuid_entry2>& supported,
                                         uint32_t apic_id, uint32_t cpu_count);

}  // namespace wisp
