// QEMU's pvpanic ISA device: one I/O port (0x505) through which a guest says it panicked. Linux's
// pvpanic-mmio driver finds it in the DSDT (_HID "QEMU0001") and, from its panic notifier, writes
// PANICKED; a kdump kernel's loading is announced with CRASH_LOADED. Reading the port gives the
// events the device takes.
#pragma once

#include <atomic>
#include <functional>

#include "vmm/base/bus.h"

namespace wisp {

class PvPanic final : public BusDevice {
 public:
  static constexpr uint8_t kPanicked = 1 << 0;
  static constexpr uint8_t kCrashLoaded = 1 << 1;
  static constexpr uint8_t kEvents = kPanicked | kCrashLoaded;

  // `on_panic` runs on the vCPU thread that wrote PANICKED.
  explicit PvPanic(std::function<void()> on_panic) : on_panic_(std::move(on_panic)) {}

  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, kEvents); }
  void write(uint64_t, std::span<const uint8_t> data) override;

 private:
  std::function<void()> on_panic_;
  std::atomic<bool> crash_kernel_logged_{false};
};

}  // namespace wisp
