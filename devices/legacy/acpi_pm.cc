#include "devices/legacy/acpi_pm.h"

namespace wisp {

void AcpiPowerManagement::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t value = data[0];
  if (offset == kSleepControlOffset && (value & kSleepEnable)) {
    uint8_t sleep_type = (value >> kSleepTypeShift) & kSleepTypeMask;
    // Only S5 (soft off) is offered in the DSDT; other sleep states are not entered.
    if (sleep_type == s5_sleep_type_) stopper_.request_stop({StopKind::kPowerOff});
  } else if (offset == kResetOffset && value == reset_value_) {
    stopper_.request_stop({StopKind::kReset});
  }
}

}  // namespace wisp
