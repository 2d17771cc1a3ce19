// The MSRs a guest may not touch: those of the features that the CPUID policy (cpuid.h) hides.
// KVM's own handlers refuse most of them already once the feature is out of the guest's CPUID;
// the filter makes the refusal Wisp's, the same on every host and kernel, and visible: with
// user-space MSR exits a denied access comes to Wisp, which logs it (-v) and has KVM raise #GP.
// README.md's "CPU features" lists the same (a unit test holds it to this table).
#pragma once

#include <cstdint>

namespace wisp {

struct DeniedMsrRange {
  uint32_t first;
  uint32_t count;
  const char* name;     // the range's MSRs, by the SDM's or the APM's names
  const char* feature;  // the hidden feature they belong to
};

inline constexpr DeniedMsrRange kDeniedMsrs[] = {
    {0x8c, 4, "IA32_SGXLEPUBKEYHASH0-3", "SGX_LC"},
    {0x480, 18, "IA32_VMX_BASIC to IA32_VMX_VMFUNC", "VMX"},
    {0x560, 2, "IA32_RTIT_OUTPUT_BASE, IA32_RTIT_OUTPUT_MASK_PTRS", "Intel PT"},
    {0x570, 3, "IA32_RTIT_CTL, IA32_RTIT_STATUS, IA32_RTIT_CR3_MATCH", "Intel PT"},
    {0x580, 8, "IA32_RTIT_ADDR0_A to IA32_RTIT_ADDR3_B", "Intel PT"},
    {0xc0010114, 1, "VM_CR", "SVM"},
    {0xc0010117, 1, "VM_HSAVE_PA", "SVM"},
};

// The denied range that holds `index`, or nullptr.
constexpr const DeniedMsrRange* find_denied_msr(uint32_t index) {
  for (const DeniedMsrRange& range : kDeniedMsrs)
    if (index >= range.first && index - range.first < range.count) return &range;
  return nullptr;
}

}  // namespace wisp
