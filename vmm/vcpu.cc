#include "vmm/vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "firmware/layout.h"
#include "firmware/long_mode.h"
#include "vmm/base/log.h"
#include "vmm/kvm.h"
#include "vmm/kvm_list.h"
#include "vmm/msr_policy.h"

namespace wisp {
namespace {

// MSR indices (Intel SDM vol. 4) and the values firmware leaves in them.
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

constexpr uint64_t kMiscEnableFastStrings = 1;
constexpr uint64_t kMtrrEnabledWriteBack = (1u << 11) | 6;  // MTRRs on, default type WB

// Control register bits (Intel SDM vol. 3, 2.5).
constexpr uint64_t kCr0ProtectionEnable = 1ull << 0;
constexpr uint64_t kCr0ExtensionType = 1ull << 4;
constexpr uint64_t kCr0Paging = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLongModeEnable = 1ull << 8;
constexpr uint64_t kEferLongModeActive = 1ull << 10;
constexpr uint64_t kRflagsReserved = 1ull << 1;

// Local APIC LVT registers and delivery modes (Intel SDM vol. 3, 11.5.1).
constexpr size_t kApicLvtLint0 = 0x350;
constexpr size_t kApicLvtLint1 = 0x360;
constexpr uint32_t kDeliveryModeMask = 0x700;
constexpr uint32_t kDeliveryModeExtInt = 0x700;
constexpr uint32_t kDeliveryModeNmi = 0x400;

constexpr uint16_t kFpuControlWord = 0x37f;  // FNINIT's value
constexpr uint32_t kMxcsrDefault = 0x1f80;

kvm_segment segment_from_gdt(uint16_t selector) {
  long_mode::Segment s = long_mode::decode_descriptor(long_mode::kGdt[selector / 8]);
  kvm_segment seg{};
  seg.base = s.base;
  seg.limit = s.limit;
  seg.selector = selector;
  seg.type = s.type;
  seg.present = s.present;
  seg.dpl = s.dpl;
  seg.db = s.default_big;
  seg.s = s.code_or_data;
  seg.l = s.long_mode;
  seg.g = s.granularity;
  return seg;
}

void set_delivery_mode(kvm_lapic_state& lapic, size_t reg, uint32_t mode) {
  uint32_t value;
  std::memcpy(&value, lapic.regs + reg, sizeof(value));
  value = (value & ~kDeliveryModeMask) | mode;
  std::memcpy(lapic.regs + reg, &value, sizeof(value));
}

void ignore_signal(int) {}

// Flat segments from Wisp's boot GDT, with `code_selector` in CS.
void set_flat_segments(kvm_sregs& sregs, uint16_t code_selector) {
  sregs.cs = segment_from_gdt(code_selector);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment_from_gdt(long_mode::kDataSelector);
  sregs.tr = segment_from_gdt(long_mode::kTssSelector);
  sregs.gdt.base = layout::kGdtAddress;
  sregs.gdt.limit = static_cast<uint16_t>(long_mode::kGdt.size() * 8 - 1);
}

}  // namespace

Result<std::unique_ptr<Vcpu>> Vcpu::create(int vm_fd, uint32_t index, size_t run_size) {
  int fd = TRY(
      checked_ioctl(vm_fd, KVM_CREATE_VCPU, static_cast<unsigned long>(index), "KVM_CREATE_VCPU"));
  Fd vcpu_fd(fd);
  Mapping run = TRY_CONTEXT(Mapping::shared_fd(vcpu_fd.get(), run_size), "mapping kvm_run");
  return std::unique_ptr<Vcpu>(new Vcpu(index, std::move(vcpu_fd), std::move(run)));
}

Result<void> Vcpu::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  KvmList<kvm_cpuid_entry2> cpuid(static_cast<uint32_t>(entries.size()));
  std::copy(entries.begin(), entries.end(), cpuid.entries());
  TRY(checked_ioctl(fd_.get(), kKvmSetCpuid2, cpuid.data(), "KVM_SET_CPUID2"));
  return {};
}

Result<void> Vcpu::set_boot_state() {
  constexpr std::pair<uint32_t, uint64_t> kMsrs[] = {
      {kMsrSysenterCs, 0},
      {kMsrSysenterEsp, 0},
      {kMsrSysenterEip, 0},
      {kMsrStar, 0},
      {kMsrCstar, 0},
      {kMsrKernelGsBase, 0},
      {kMsrSyscallMask, 0},
      {kMsrLstar, 0},
      {kMsrTsc, 0},
      {kMsrMiscEnable, kMiscEnableFastStrings},
      {kMsrMtrrDefType, kMtrrEnabledWriteBack},
  };
  constexpr size_t kCount = std::size(kMsrs);
  KvmList<kvm_msr_entry> msrs(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    msrs.entries()[i].index = kMsrs[i].first;
    msrs.entries()[i].data = kMsrs[i].second;
  }
  int set = TRY(checked_ioctl(fd_.get(), kKvmSetMsrs, msrs.data(), "KVM_SET_MSRS"));
  if (set != static_cast<int>(kCount))
    return fail("KVM_SET_MSRS: KVM refused MSR {:#x}", msrs.entries()[set].index);

  kvm_fpu fpu{};
  fpu.fcw = kFpuControlWord;
  fpu.mxcsr = kMxcsrDefault;
  TRY(checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU"));

  // LINT0 receives the 8259's interrupts (virtual wire), LINT1 the NMI, as on a PC.
  kvm_lapic_state lapic{};
  TRY(checked_ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC"));
  set_delivery_mode(lapic, kApicLvtLint0, kDeliveryModeExtInt);
  set_delivery_mode(lapic, kApicLvtLint1, kDeliveryModeNmi);
  TRY(checked_ioctl(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC"));
  return {};
}

Result<void> Vcpu::set_entry(const CpuEntry& entry) {
  kvm_sregs sregs{};
  TRY(checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"));
  uint64_t rip = entry.rip;
  switch (entry.mode) {
    case EntryMode::kLong:
      set_flat_segments(sregs, long_mode::kCodeSelector);
      sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType | kCr0Paging;
      sregs.cr3 = layout::kPml4Address;
      sregs.cr4 = kCr4Pae;
      sregs.efer = kEferLongModeEnable | kEferLongModeActive;
      break;
    case EntryMode::kProtected:
      set_flat_segments(sregs, long_mode::kCode32Selector);
      sregs.cr0 = kCr0ProtectionEnable | kCr0ExtensionType;
      sregs.cr3 = 0;
      sregs.cr4 = 0;
      sregs.efer = 0;
      break;
    case EntryMode::kReal: {
      // KVM's reset state is real mode already; only CS:IP moves to the entry.
      uint16_t segment = static_cast<uint16_t>((entry.rip >> 4) & 0xf000);
      sregs.cs.selector = segment;
      sregs.cs.base = uint64_t{segment} << 4;
      rip = entry.rip - sregs.cs.base;
      for (kvm_segment* data : {&sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
        data->selector = 0;
        data->base = 0;
      }
      break;
    }
  }
  TRY(checked_ioctl(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS"));

  kvm_regs regs{};
  regs.rflags = kRflagsReserved;
  regs.rip = rip;
  regs.rax = entry.rax;
  regs.rbx = entry.rbx;
  regs.rsi = entry.rsi;
  regs.rsp = entry.rsp;
  TRY(checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS"));
  return {};
}

void Vcpu::install_kick_signal() {
  struct sigaction action {};
  action.sa_handler = ignore_signal;  // no SA_RESTART: KVM_RUN must return EINTR
  sigemptyset(&action.sa_mask);
  sigaction(kick_signal(), &action, nullptr);
}

int Vcpu::kick_signal() {
  return SIGRTMIN;
}

void Vcpu::kick() {
  // immediate_exit covers a kick that lands just before KVM_RUN is entered.
  __atomic_store_n(&shared()->immediate_exit, 1, __ATOMIC_SEQ_CST);
  pthread_t thread = thread_.load();
  if (thread) pthread_kill(thread, kick_signal());
}

std::optional<StopReason> Vcpu::run(VcpuExitHandler& handler, const std::atomic<bool>& stopping,
                                    VcpuDebugHook* debug, VcpuPause* pause) {
  while (!stopping.load(std::memory_order_acquire)) {
    if (debug || pause) {
      // A kick to hold this vCPU (a debugger's, a pause) must not keep KVM_RUN returning once it
      // is let go: clear it, then look for a hold. A kick after the look still ends the next
      // KVM_RUN.
      __atomic_store_n(&shared()->immediate_exit, 0, __ATOMIC_SEQ_CST);
      if (pause) pause->hold_if_paused(stopping);
      if (debug) debug->before_run(*this);
      if (stopping.load(std::memory_order_acquire)) break;
    }
    if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return StopReason{StopKind::kError, 0,
                        fmt::format("vCPU {}: KVM_RUN: {}", index_, std::strerror(errno))};
    }
    if (debug && shared()->exit_reason == KVM_EXIT_DEBUG) {
      debug->debug_exit(*this, shared()->debug.arch);
      continue;
    }
    if (std::optional<StopReason> stop = handle_exit(handler)) return stop;
  }
  return std::nullopt;
}

Result<kvm_regs> Vcpu::registers() const {
  kvm_regs regs{};
  TRY(checked_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS"));
  return regs;
}

Result<void> Vcpu::set_registers(const kvm_regs& regs) const {
  TRY(checked_ioctl(fd_.get(), KVM_SET_REGS, const_cast<kvm_regs*>(&regs), "KVM_SET_REGS"));
  return {};
}

Result<kvm_sregs> Vcpu::special_registers() const {
  kvm_sregs sregs{};
  TRY(checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"));
  return sregs;
}

Result<void> Vcpu::set_special_registers(const kvm_sregs& sregs) const {
  TRY(checked_ioctl(fd_.get(), KVM_SET_SREGS, const_cast<kvm_sregs*>(&sregs), "KVM_SET_SREGS"));
  return {};
}

Result<kvm_fpu> Vcpu::fpu() const {
  kvm_fpu fpu{};
  TRY(checked_ioctl(fd_.get(), KVM_GET_FPU, &fpu, "KVM_GET_FPU"));
  return fpu;
}

Result<void> Vcpu::set_fpu(const kvm_fpu& fpu) const {
  TRY(checked_ioctl(fd_.get(), KVM_SET_FPU, const_cast<kvm_fpu*>(&fpu), "KVM_SET_FPU"));
  return {};
}

Result<std::optional<uint64_t>> Vcpu::translate(uint64_t linear) const {
  kvm_translation translation{};
  translation.linear_address = linear;
  TRY(checked_ioctl(fd_.get(), KVM_TRANSLATE, &translation, "KVM_TRANSLATE"));
  if (!translation.valid) return std::optional<uint64_t>();
  return std::optional<uint64_t>(translation.physical_address);
}

void Vcpu::tell_guest_it_was_paused() const {
  ::ioctl(fd_.get(), KVM_KVMCLOCK_CTRL, 0);
}

Result<void> Vcpu::set_guest_debug(const kvm_guest_debug& debug) const {
  TRY(checked_ioctl(fd_.get(), KVM_SET_GUEST_DEBUG, const_cast<kvm_guest_debug*>(&debug),
                    "KVM_SET_GUEST_DEBUG"));
  return {};
}

std::optional<StopReason> Vcpu::handle_exit(VcpuExitHandler& handler) {
  kvm_run* run = shared();
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      return handle_io(handler);
    case KVM_EXIT_MMIO: {
      std::span<uint8_t> data(run->mmio.data, std::min<uint32_t>(run->mmio.len, 8));
      if (run->mmio.is_write) {
        handler.mmio_write(run->mmio.phys_addr, data);
      } else {
        handler.mmio_read(run->mmio.phys_addr, data);
      }
      return std::nullopt;
    }
    case KVM_EXIT_INTR:
      return std::nullopt;
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      refuse_msr_access();
      return std::nullopt;
    case KVM_EXIT_SHUTDOWN:
      return StopReason{StopKind::kTripleFault, 0, fmt::format("vCPU {}: triple fault", index_)};
    case KVM_EXIT_SYSTEM_EVENT:
      if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
        return StopReason{StopKind::kPowerOff};
      if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) return StopReason{StopKind::kReset};
      return StopReason{StopKind::kError, 0,
                        fmt::format("vCPU {}: system event {}", index_, run->system_event.type)};
    case KVM_EXIT_INTERNAL_ERROR:
      return StopReason{
          StopKind::kError, 0,
          fmt::format("vCPU {}: KVM internal error, suberror {}", index_, run->internal.suberror)};
    case KVM_EXIT_FAIL_ENTRY:
      return StopReason{StopKind::kError, 0,
                        fmt::format("vCPU {}: VM entry failed, reason {:#x}", index_,
                                    run->fail_entry.hardware_entry_failure_reason)};
    case KVM_EXIT_HLT:
      return StopReason{StopKind::kError, 0, fmt::format("vCPU {}: halted", index_)};
    default:
      return StopReason{StopKind::kError, 0,
                        fmt::format("vCPU {}: unexpected KVM exit {}", index_, run->exit_reason)};
  }
}

// Only the MSR filter sends these (Vm::restrict_msrs): the access fails with #GP. The first few
// are logged (-v): a guest that probes in a loop must not flood the log.
void Vcpu::refuse_msr_access() {
  kvm_run* run = shared();
  run->msr.error = 1;
  constexpr int kMaxLogged = 16;
  static std::atomic<int> logged{0};
  int count = logged.fetch_add(1, std::memory_order_relaxed);
  if (count >= kMaxLogged) return;
  const DeniedMsrRange* range = find_denied_msr(run->msr.index);
  log::info("vCPU {}: the guest's {} of MSR {:#x} ({}, {}) is refused with #GP{}", index_,
            run->exit_reason == KVM_EXIT_X86_RDMSR ? "read" : "write", run->msr.index,
            range ? range->name : "?", range ? range->feature : "?",
            count + 1 == kMaxLogged ? "; further ones are not logged" : "");
}

std::optional<StopReason> Vcpu::handle_io(VcpuExitHandler& handler) {
  kvm_run* run = shared();
  uint64_t size = run->io.size;
  uint64_t bytes = size * run->io.count;
  if (size == 0 || size > 4 || run->io.data_offset > run_.size() ||
      bytes > run_.size() - run->io.data_offset)
    return StopReason{StopKind::kError, 0, fmt::format("vCPU {}: malformed I/O exit", index_)};
  uint8_t* data = run_.data() + run->io.data_offset;
  // A string instruction (rep outs/ins) arrives as `count` accesses of `size` bytes.
  for (uint32_t i = 0; i < run->io.count; ++i) {
    std::span<uint8_t> access(data + i * size, size);
    if (run->io.direction == KVM_EXIT_IO_OUT) {
      handler.port_write(run->io.port, access);
    } else {
      handler.port_read(run->io.port, access);
    }
  }
  return std::nullopt;
}

}  // namespace wisp
