// A device that ignores writes and reads all-ones: for ports the guest pokes that have nothing
// behind them on this machine, such as the POST-code port 0x80 that Linux writes as an I/O delay.
// Registering it keeps those accesses out of the unhandled-access log.
#pragma once

#include "vmm/base/bus.h"

namespace wisp {

class NullDevice final : public BusDevice {
 public:
  void read(uint64_t, std::span<uint8_t> data) override { store_le(data, ~0ull); }
  void write(uint64_t, std::span<const uint8_t>) override {}
};

}  // namespace wisp
