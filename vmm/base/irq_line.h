// An interrupt line as a device sees it. The VMM decides how it reaches the guest (KVM_IRQ_LINE
// or an irqfd).
#pragma once

namespace wisp {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  // Holds the line high or low (a level-triggered source such as the UART).
  virtual void set_level(bool high) = 0;
  // One edge: the line goes high and low again (an edge-triggered source such as virtio-mmio).
  virtual void pulse() {
    set_level(true);
    set_level(false);
  }
};

}  // namespace wisp
