// One virtual CPU: its KVM fd and shared kvm_run page, its boot-time register state, and the
// exit loop. The vCPU knows no bus: I/O exits go to a VcpuExitHandler.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "firmware/boot_config.h"
#include "vmm/base/fd.h"
#include "vmm/base/mapping.h"
#include "vmm/base/result.h"
#include "vmm/base/vm_stop.h"
#include "vmm/vcpu_pause.h"

namespace wisp {

class VcpuExitHandler {
 public:
  virtual ~VcpuExitHandler() = default;
  virtual void port_read(uint16_t port, std::span<uint8_t> data) = 0;
  virtual void port_write(uint16_t port, std::span<const uint8_t> data) = 0;
  virtual void mmio_read(uint64_t address, std::span<uint8_t> data) = 0;
  virtual void mmio_write(uint64_t address, std::span<const uint8_t> data) = 0;
};

class Vcpu;

// What a debugger (the gdb stub) needs from a vCPU's exit loop.
class VcpuDebugHook {
 public:
  virtual ~VcpuDebugHook() = default;
  // Before every KVM_RUN: holds the thread while the debugger keeps the VM stopped.
  virtual void before_run(Vcpu& vcpu) = 0;
  // KVM_EXIT_DEBUG: a breakpoint, watchpoint or single step of the debugger's, or the guest's own
  // #BP or #DB, to be handed back to it.
  virtual void debug_exit(Vcpu& vcpu, const kvm_debug_exit_arch& exit) = 0;
};

class Vcpu {
 public:
  static Result<std::unique_ptr<Vcpu>> create(int vm_fd, uint32_t index, size_t run_size);

  uint32_t index() const { return index_; }
  int fd() const { return fd_.get(); }

  Result<void> set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
  // MSRs, FPU and local APIC LINT pins as a real machine's firmware leaves them.
  Result<void> set_boot_state();
  // The boot CPU's first instruction and registers (other vCPUs wait for INIT/SIPI).
  Result<void> set_entry(const CpuEntry& entry);

  // Runs the guest until the VM stops; returns why this vCPU stopped, if it was the cause.
  // `debug`, when a debugger is attached, sees every entry and debug exit; `pause`, if given,
  // holds the thread before an entry while the VM is paused.
  std::optional<StopReason> run(VcpuExitHandler& handler, const std::atomic<bool>& stopping,
                                VcpuDebugHook* debug = nullptr, VcpuPause* pause = nullptr);

  // The state a debugger reads and writes, on this vCPU while it is not running.
  Result<kvm_regs> registers() const;
  Result<void> set_registers(const kvm_regs& regs) const;
  Result<kvm_sregs> special_registers() const;
  Result<void> set_special_registers(const kvm_sregs& sregs) const;
  Result<kvm_fpu> fpu() const;
  Result<void> set_fpu(const kvm_fpu& fpu) const;
  // KVM_TRANSLATE: the guest-physical address of a linear one through this vCPU's page tables.
  Result<std::optional<uint64_t>> translate(uint64_t linear) const;
  Result<void> set_guest_debug(const kvm_guest_debug& debug) const;
  // KVM_KVMCLOCK_CTRL, while the vCPU is held: the guest's kvmclock learns that the VM was
  // stopped, so its soft-lockup watchdog does not count the pause. A guest without kvmclock
  // makes it fail, which is fine: nothing to tell.
  void tell_guest_it_was_paused() const;

  // Makes a running or about-to-run KVM_RUN return. Safe from any thread once run() started.
  void kick();
  void set_thread(pthread_t thread) { thread_.store(thread); }

  // The signal kick() uses; installed once per process with an empty handler.
  static void install_kick_signal();
  static int kick_signal();

 private:
  Vcpu(uint32_t index, Fd fd, Mapping run)
      : index_(index), fd_(std::move(fd)), run_(std::move(run)) {}
  kvm_run* shared() const { return reinterpret_cast<kvm_run*>(run_.data()); }
  std::optional<StopReason> handle_exit(VcpuExitHandler& handler);
  std::optional<StopReason> handle_io(VcpuExitHandler& handler);
  void refuse_msr_access();

  uint32_t index_;
  Fd fd_;
  Mapping run_;
  std::atomic<pthread_t> thread_{0};
};

}  // namespace wisp
