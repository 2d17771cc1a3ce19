// The debug-exit port, compatible with QEMU's isa-debug-exit: writing value v ends the VMM with
// status (v << 1) | 1, so a test guest can report its result through the exit status.
#pragma once

#include "vmm/base/bus.h"
#include "vmm/base/vm_stop.h"

namespace wisp {

class DebugExit final : public BusDevice {
 public:
  explicit DebugExit(VmStopper& stopper) : stopper_(stopper) {}

  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, ~0ull); }
  void write(uint64_t, std::span<const uint8_t> data) override {
    stopper_.request_stop({StopKind::kDebugExit, static_cast<uint32_t>(load_le(data))});
  }

 private:
  VmStopper& stopper_;
};

}  // namespace wisp
