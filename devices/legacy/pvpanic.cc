#include "devices/legacy/pvpanic.h"

#include "vmm/base/log.h"

namespace wisp {

void PvPanic::write(uint64_t, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t events = data[0];
  if ((events & kCrashLoaded) && !crash_kernel_logged_.exchange(true))
    log::info("pvpanic: the guest has a crash kernel loaded");
  if (events & kPanicked) on_panic_();
}

}  // namespace wisp
