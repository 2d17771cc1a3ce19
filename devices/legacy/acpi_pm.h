// The ACPI hardware-reduced sleep and reset registers that the FADT points at (ACPI 6.4,
// sections 4.8.3.7 "Sleep Control and Status Registers" and 4.8.3.6 "Reset Register").
// Three byte-wide ports: sleep control, sleep status, reset.
#pragma once

#include "vmm/base/bus.h"
#include "vmm/base/vm_stop.h"

namespace wisp {

class AcpiPowerManagement final : public BusDevice {
 public:
  static constexpr uint64_t kSleepControlOffset = 0;
  static constexpr uint64_t kSleepStatusOffset = 1;
  static constexpr uint64_t kResetOffset = 2;
  static constexpr uint64_t kPortCount = 3;

  // Sleep Control Register fields: SLP_TYPx in bits 2-4, SLP_EN in bit 5.
  static constexpr uint8_t kSleepTypeShift = 2;
  static constexpr uint8_t kSleepTypeMask = 0x7;
  static constexpr uint8_t kSleepEnable = 0x20;

  AcpiPowerManagement(VmStopper& stopper, uint8_t s5_sleep_type, uint8_t reset_value)
      : stopper_(stopper), s5_sleep_type_(s5_sleep_type), reset_value_(reset_value) {}

  // The guest never sleeps here, so the wake status stays clear.
  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, 0); }
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  VmStopper& stopper_;
  uint8_t s5_sleep_type_;
  uint8_t reset_value_;
};

}  // namespace wisp
