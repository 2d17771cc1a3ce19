// Thin wrappers over the KVM file descriptors: the system (/dev/kvm), a VM, a vCPU. Each call
// names the ioctl that failed. Nothing here knows about devices or the guest's layout.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/mapping.h"
#include "vmm/base/result.h"

namespace wisp {

// ioctl with EINTR retried and failure turned into an error naming `what`.
Result<int> checked_ioctl(int fd, unsigned long request, unsigned long argument,
                          std::string_view what);
template <typename T>
Result<int> checked_ioctl(int fd, unsigned long request, T* argument, std::string_view what) {
  return checked_ioctl(fd, request, reinterpret_cast<unsigned long>(argument), what);
}

// The VM's descriptor and the ioctls on it that the device manager uses.
class KvmVm {
 public:
  explicit KvmVm(Fd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }

  // KVM_IOEVENTFD: a guest write of `length` bytes holding `value` to MMIO `address` signals
  // `event_fd` inside KVM, without an exit to the VMM.
  Result<void> register_ioeventfd(uint64_t address, uint32_t length, uint64_t value,
                                  int event_fd) const;
  // KVM_IRQFD: each write to `event_fd` gives GSI `gsi` one edge (raised and lowered).
  Result<void> register_irqfd(uint32_t gsi, int event_fd) const;
  // KVM_IRQ_LINE: holds GSI `gsi` at a level.
  Result<void> set_irq_line(uint32_t gsi, bool high) const;
  // KVM_X86_SET_MSR_FILTER: the guest's reads and writes of these MSRs (first, count) are refused
  // (#GP), the rest left to KVM. At most 16 ranges.
  Result<void> deny_msrs(std::span<const std::pair<uint32_t, uint32_t>> ranges) const;
  // KVM_CAP_X86_USER_SPACE_MSR: a refused MSR access exits to the VMM (KVM_EXIT_X86_RDMSR or
  // _WRMSR) before the #GP.
  Result<void> exit_on_denied_msrs() const;

 private:
  Fd fd_;
};

class KvmSystem {
 public:
  static Result<KvmSystem> open(const char* path = "/dev/kvm");

  // Fails with the capability's name when KVM lacks it.
  Result<void> require(long capability, std::string_view name) const;
  int check(long capability) const;
  Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
  Result<size_t> vcpu_mmap_size() const;
  Result<Fd> create_vm() const;
  int fd() const { return fd_.get(); }

 private:
  explicit KvmSystem(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace wisp
