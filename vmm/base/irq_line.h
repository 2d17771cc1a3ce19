// An interrupt line as a device sees it: raised and lowered, level-style. The VMM decides how it
// reaches the guest (KVM_IRQ_LINE or an irqfd).
#pragma once

namespace wisp {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void set_level(bool high) = 0;
};

}  // namespace wisp
