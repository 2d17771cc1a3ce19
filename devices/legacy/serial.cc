#include "devices/legacy/serial.h"

#include "devices/legacy/uart_registers.h"

namespace wisp {

using namespace uart;

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  bool freed_space = false;
  uint8_t value;
  {
    std::lock_guard lock(mutex_);
    size_t before = receive_fifo_.size();
    value = read_register(offset);
    freed_space = receive_was_full_ && receive_fifo_.size() < before;
    if (freed_space) receive_was_full_ = false;
    update_irq();
  }
  store_le(data, value);
  if (freed_space && on_receive_space_) on_receive_space_();
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mutex_);
  write_register(offset, data[0]);
  update_irq();
}

size_t Serial::receive(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  size_t taken = 0;
  // In loopback mode the line is disconnected from the host.
  if (!(mcr_ & kMcrLoopback)) {
    while (taken < bytes.size() && receive_fifo_.size() < kFifoDepth)
      receive_fifo_.push_back(bytes[taken++]);
  }
  if (taken < bytes.size()) receive_was_full_ = true;
  update_irq();
  return taken;
}

void Serial::set_receive_space_callback(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_receive_space_ = std::move(callback);
}

uint8_t Serial::read_register(uint64_t offset) {
  bool divisor_latch = lcr_ & kLcrDivisorLatch;
  switch (offset) {
    case kRbrThrDll:
      return divisor_latch ? divisor_low_ : read_receive_buffer();
    case kIerDlm:
      return divisor_latch ? divisor_high_ : ier_;
    case kIirFcr: {
      uint8_t iir = interrupt_identification();
      // Reading IIR acknowledges a transmitter-empty interrupt (datasheet, Table 4).
      if ((iir & 0x0f) == kIirTransmitterEmpty) transmitter_interrupt_pending_ = false;
      return iir;
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t lsr = kLsrTransmitHoldingEmpty | kLsrTransmitterEmpty;
      if (!receive_fifo_.empty()) lsr |= kLsrDataReady;
      return lsr;
    }
    case kMsr:
      return modem_status();
    case kScr:
      return scr_;
    default:
      return 0xff;
  }
}

void Serial::write_register(uint64_t offset, uint8_t value) {
  bool divisor_latch = lcr_ & kLcrDivisorLatch;
  switch (offset) {
    case kRbrThrDll:
      if (divisor_latch) {
        divisor_low_ = value;
      } else {
        transmit(value);
      }
      break;
    case kIerDlm:
      if (divisor_latch) {
        divisor_high_ = value;
      } else {
        // Enabling the transmitter interrupt while THR is empty raises it at once, as on the chip.
        if ((value & kIerTransmitterEmpty) && !(ier_ & kIerTransmitterEmpty))
          transmitter_interrupt_pending_ = true;
        ier_ = value & kIerMask;
      }
      break;
    case kIirFcr:
      fcr_ = value;
      if (value & kFcrClearReceive) receive_fifo_.clear();
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & kMcrMask;
      break;
    case kScr:
      scr_ = value;
      break;
    default:  // LSR and MSR are read-only
      break;
  }
}

uint8_t Serial::read_receive_buffer() {
  if (receive_fifo_.empty()) return 0;
  uint8_t byte = receive_fifo_.front();
  receive_fifo_.pop_front();
  return byte;
}

uint8_t Serial::interrupt_identification() const {
  uint8_t fifo_bits = (fcr_ & kFcrEnableFifo) ? kIirFifosEnabled : 0;
  if ((ier_ & kIerReceivedData) && !receive_fifo_.empty()) return fifo_bits | kIirReceivedData;
  if ((ier_ & kIerTransmitterEmpty) && transmitter_interrupt_pending_)
    return fifo_bits | kIirTransmitterEmpty;
  return fifo_bits | kIirNoInterrupt;
}

uint8_t Serial::modem_status() const {
  if (!(mcr_ & kMcrLoopback)) return kMsrDcd | kMsrDsr | kMsrCts;
  // Loopback wires the modem control outputs back to the status inputs.
  uint8_t msr = 0;
  if (mcr_ & kMcrRts) msr |= kMsrCts;
  if (mcr_ & kMcrDtr) msr |= kMsrDsr;
  if (mcr_ & kMcrOut1) msr |= kMsrRi;
  if (mcr_ & kMcrOut2) msr |= kMsrDcd;
  return msr;
}

void Serial::transmit(uint8_t byte) {
  if (mcr_ & kMcrLoopback) {
    if (receive_fifo_.size() < kFifoDepth) receive_fifo_.push_back(byte);
  } else {
    output_.write(std::span(&byte, 1));
  }
  // The byte leaves at once, so THR is empty again.
  transmitter_interrupt_pending_ = true;
}

void Serial::update_irq() {
  bool level = !(interrupt_identification() & kIirNoInterrupt);
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

}  // namespace wisp
