#include "vmm/gdb/debug_controller.h"

#include "vmm/base/log.h"

namespace wisp::gdb {
namespace {

constexpr uint32_t kDebugException = 1;       // #DB
constexpr uint32_t kBreakpointException = 3;  // #BP
constexpr uint64_t kDr6SingleStep = 1 << 14;  // DR6.BS (SDM vol. 3, 18.2.3)
constexpr uint64_t kDr7GlobalExact = 1 << 9;  // DR7.GE, recommended with data breakpoints

// DR7's R/W field: 00 on execution, 01 on writes, 11 on reads or writes (x86 has no read-only).
uint64_t dr7_condition(BreakpointType type) {
  switch (type) {
    case BreakpointType::kWrite:
      return 1;
    case BreakpointType::kRead:
    case BreakpointType::kAccess:
      return 3;
    default:
      return 0;
  }
}

// DR7's LEN field for 1, 2, 4 or 8 bytes.
uint64_t dr7_length(uint64_t length) {
  switch (length) {
    case 2:
      return 1;
    case 8:
      return 2;
    case 4:
      return 3;
    default:
      return 0;
  }
}

}  // namespace

DebugController::DebugController(std::vector<Vcpu*> vcpus, bool held, uint32_t supported)
    : vcpus_(std::move(vcpus)), supported_(supported), hold_(held) {}

bool DebugController::hold_all() {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return false;
    hold_ = true;
  }
  for (Vcpu* vcpu : vcpus_) vcpu->kick();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return held_ == vcpus_.size() || shut_down_; });
  return !shut_down_;
}

Result<void> DebugController::release_all(std::optional<uint32_t> step) {
  std::unique_lock lock(mutex_);
  if (shut_down_) return {};
  stepping_ = step;
  for (Vcpu* vcpu : vcpus_) TRY(vcpu->set_guest_debug(settings(vcpu->index())));
  event_.reset();
  hold_ = false;
  changed_.notify_all();
  // Not waiting for the vCPUs to leave: one may hit a breakpoint and be held again before this
  // thread would see it gone. A vCPU still held at the next hold_all simply stays held.
  return {};
}

StopEvent DebugController::take_stop_event() {
  std::lock_guard lock(mutex_);
  StopEvent event = event_.value_or(StopEvent{});
  event_.reset();
  return event;
}

void DebugController::shut_down() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  changed_.notify_all();
}

bool DebugController::add_hardware(BreakpointType type, uint64_t address, uint64_t length) {
  bool execute = type == BreakpointType::kHardware;
  if (!execute && (dr7_length(length) == 0 && length != 1)) return false;
  if (!execute && address % length != 0) return false;  // the CPU watches aligned ranges only
  for (HardwareSlot& slot : slots_) {
    if (slot.used) continue;
    slot = {true, type, address, execute ? 1 : length};
    return true;
  }
  return false;
}

bool DebugController::remove_hardware(BreakpointType type, uint64_t address, uint64_t length) {
  for (HardwareSlot& slot : slots_) {
    bool same_length = type == BreakpointType::kHardware || slot.length == length;
    if (slot.used && slot.type == type && slot.address == address && same_length) {
      slot.used = false;
      return true;
    }
  }
  return false;
}

void DebugController::clear_breakpoints() {
  software_.clear();
  for (HardwareSlot& slot : slots_) slot.used = false;
}

kvm_guest_debug DebugController::settings(uint32_t vcpu) const {
  kvm_guest_debug debug{};
  bool hardware = false;
  uint64_t dr7 = 0;
  for (size_t i = 0; i < kHardwareSlots; ++i) {
    const HardwareSlot& slot = slots_[i];
    if (!slot.used) continue;
    hardware = true;
    debug.arch.debugreg[i] = slot.address;
    dr7 |= uint64_t{1} << (2 * i);  // L0..L3
    dr7 |= dr7_condition(slot.type) << (16 + 4 * i);
    dr7 |= dr7_length(slot.length) << (18 + 4 * i);
  }
  bool step = stepping_ == vcpu;
  if (!hardware && software_.empty() && !step) return debug;  // debugging off: all the guest's
  debug.control = KVM_GUESTDBG_ENABLE;
  if (!software_.empty()) debug.control |= KVM_GUESTDBG_USE_SW_BP;
  if (hardware) {
    debug.control |= KVM_GUESTDBG_USE_HW_BP;
    debug.arch.debugreg[7] = dr7 | kDr7GlobalExact;
  }
  // A step should not land in whatever interrupt came meanwhile, where KVM can say so.
  if (step) debug.control |= KVM_GUESTDBG_SINGLESTEP | (supported_ & KVM_GUESTDBG_BLOCKIRQ);
  return debug;
}

void DebugController::before_run(Vcpu& vcpu) {
  (void)vcpu;
  std::unique_lock lock(mutex_);
  if (!hold_ || shut_down_) return;
  ++held_;
  changed_.notify_all();
  changed_.wait(lock, [this] { return !hold_ || shut_down_; });
  --held_;
  changed_.notify_all();
}

void DebugController::debug_exit(Vcpu& vcpu, const kvm_debug_exit_arch& exit) {
  log::debug("gdb: vCPU {}: debug exit: exception {}, pc {:#x}, dr6 {:#x}, dr7 {:#x}", vcpu.index(),
             exit.exception, exit.pc, exit.dr6, exit.dr7);
  std::optional<StopEvent> event;
  kvm_guest_debug hand_back{};
  {
    std::lock_guard lock(mutex_);
    StopEvent found{vcpu.index()};
    if (exit.exception == kDebugException) {
      if (stepping_ == vcpu.index() && (exit.dr6 & kDr6SingleStep)) {
        found.cause = StopEvent::Cause::kStep;
        event = found;
      }
      for (size_t i = 0; i < kHardwareSlots && !event; ++i) {
        if (!(exit.dr6 & (uint64_t{1} << i)) || !slots_[i].used) continue;
        bool execute = slots_[i].type == BreakpointType::kHardware;
        found.cause =
            execute ? StopEvent::Cause::kHardwareBreakpoint : StopEvent::Cause::kWatchpoint;
        found.watch_type = slots_[i].type;
        found.watch_address = slots_[i].address;
        event = found;
      }
    } else if (exit.exception == kBreakpointException && software_.count(exit.pc)) {
      found.cause = StopEvent::Cause::kSoftwareBreakpoint;
      event = found;
    }
    if (event) {
      if (!event_) event_ = event;
      hold_ = true;
    } else {
      // The guest's own #BP or #DB: it gets the exception, as it would without a debugger.
      hand_back = settings(vcpu.index());
      hand_back.control |=
          exit.exception == kBreakpointException ? KVM_GUESTDBG_INJECT_BP : KVM_GUESTDBG_INJECT_DB;
    }
  }
  if (!event) {
    (void)vcpu.set_guest_debug(hand_back);
    return;
  }
  for (Vcpu* each : vcpus_) each->kick();
  if (on_stop_) on_stop_();
}

}  // namespace wisp::gdb
