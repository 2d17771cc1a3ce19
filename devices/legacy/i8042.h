// Just enough of the i8042 keyboard controller for the reset command: writing 0xfe to the command
// port pulses the CPU reset line. No keyboard or mouse sits behind it. Registered over ports
// 0x60-0x64; port 0x61 (system control) is served by KVM's in-kernel PIT before it reaches us.
#pragma once

#include "vmm/base/bus.h"
#include "vmm/base/vm_stop.h"

namespace wisp {

class I8042 final : public BusDevice {
 public:
  static constexpr uint64_t kDataOffset = 0;     // port 0x60
  static constexpr uint64_t kCommandOffset = 4;  // port 0x64 (status when read)
  static constexpr uint64_t kPortCount = 5;
  static constexpr uint8_t kPulseResetCommand = 0xfe;

  explicit I8042(VmStopper& stopper) : stopper_(stopper) {}

  // Nothing to read: an empty output buffer and a clear status register.
  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, 0); }
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
};

}  // namespace wisp
