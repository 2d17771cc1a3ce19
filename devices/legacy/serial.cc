#include "devices/legacy/serial.h"

#include <algorithm>

#include "devices/legacy/uart_registers.h"

namespace wisp {

using namespace uart;

// Host input and FIFO clears. A guest clears its receive FIFO while it (re)initialises the port:
// Linux's 8250 driver does so at probe and again when the console is opened, and reads RBR
// unconditionally before it enables the received-data interrupt. Input the host sent early would be
// lost on real hardware; here the clear hands the host's bytes back, and host input waits until the
// guest listens again: it enables the received-data interrupt, or polls LSR (kPollsToListen reads
// in a row; Linux's start-up reads it twice in a row, then RBR regardless).
constexpr int kPollsToListen = 8;

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  bool wants_input;
  uint8_t value;
  {
    std::lock_guard lock(mutex_);
    consecutive_lsr_reads_ =
        offset == kLsr ? std::min(consecutive_lsr_reads_ + 1, kPollsToListen) : 0;
    if (consecutive_lsr_reads_ >= kPollsToListen && input_held_) {
      input_held_ = false;
      take_returned_input();
    }
    value = read_register(offset);
    update_irq();
    wants_input = wants_host_input();
  }
  store_le(data, value);
  if (wants_input && on_receive_space_) on_receive_space_();
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  bool wants_input;
  {
    std::lock_guard lock(mutex_);
    consecutive_lsr_reads_ = 0;
    write_register(offset, data[0]);
    update_irq();
    wants_input = wants_host_input();
  }
  if (wants_input && on_receive_space_) on_receive_space_();
}

size_t Serial::receive(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  take_returned_input();
  size_t taken = 0;
  if (takes_host_input() && returned_input_.empty()) {
    while (taken < bytes.size() && receive_fifo_.size() < kFifoDepth)
      receive_fifo_.push_back({bytes[taken++], true});
  }
  if (taken < bytes.size()) host_input_refused_ = true;
  update_irq();
  return taken;
}

void Serial::set_receive_space_callback(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_receive_space_ = std::move(callback);
}

void Serial::transmit_room_available() {
  std::lock_guard lock(mutex_);
  if (!waiting_for_transmit_room_ || !transmitter_ready()) return;
  waiting_for_transmit_room_ = false;
  transmitter_interrupt_pending_ = true;
  update_irq();
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
    case kLsr:
      return line_status();
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
        break;
      }
      // Enabling the transmitter interrupt while THR is empty raises it at once, as on the chip.
      if ((value & kIerTransmitterEmpty) && !(ier_ & kIerTransmitterEmpty)) {
        if (transmitter_ready()) {
          transmitter_interrupt_pending_ = true;
        } else {
          waiting_for_transmit_room_ = true;
        }
      }
      ier_ = value & kIerMask;
      if (ier_ & kIerReceivedData) {
        input_held_ = false;
        take_returned_input();
      }
      break;
    case kIirFcr:
      fcr_ = value;
      if (value & kFcrClearReceive) clear_receive_fifo();
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & kMcrMask;
      take_returned_input();  // leaving loopback reconnects the host
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
  uint8_t byte = receive_fifo_.front().byte;
  receive_fifo_.pop_front();
  take_returned_input();
  return byte;
}

uint8_t Serial::line_status() {
  uint8_t lsr = 0;
  // THR and the shift register look empty while a FIFO's worth of bytes fits in the sink.
  if (transmitter_ready()) lsr |= kLsrTransmitHoldingEmpty | kLsrTransmitterEmpty;
  if (!receive_fifo_.empty()) lsr |= kLsrDataReady;
  return lsr;
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

bool Serial::transmitter_ready() const {
  return (mcr_ & kMcrLoopback) || output_.room() >= kFifoDepth;
}

void Serial::transmit(uint8_t byte) {
  if (mcr_ & kMcrLoopback) {
    if (receive_fifo_.size() < kFifoDepth) receive_fifo_.push_back({byte, false});
  } else {
    output_.write(std::span(&byte, 1));
  }
  if (transmitter_ready()) {
    transmitter_interrupt_pending_ = true;
  } else {
    // THR stays full until the host side has room: transmit_room_available().
    transmitter_interrupt_pending_ = false;
    waiting_for_transmit_room_ = true;
  }
}

// Loopback bytes go; the host's go back, ahead of any it still holds, and wait for the guest.
void Serial::clear_receive_fifo() {
  for (auto entry = receive_fifo_.rbegin(); entry != receive_fifo_.rend(); ++entry)
    if (entry->from_host) returned_input_.push_front(entry->byte);
  receive_fifo_.clear();
  input_held_ = true;
}

bool Serial::takes_host_input() const {
  return !(mcr_ & kMcrLoopback) && !input_held_;
}

void Serial::take_returned_input() {
  while (!returned_input_.empty() && receive_fifo_.size() < kFifoDepth && takes_host_input()) {
    receive_fifo_.push_back({returned_input_.front(), true});
    returned_input_.pop_front();
  }
}

// Whether input the host was refused can come in now (the caller tells the host, unlocked).
bool Serial::wants_host_input() {
  if (!host_input_refused_ || !takes_host_input() || !returned_input_.empty() ||
      receive_fifo_.size() >= kFifoDepth)
    return false;
  host_input_refused_ = false;
  return true;
}

void Serial::update_irq() {
  bool level = !(interrupt_identification() & kIirNoInterrupt);
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

}  // namespace wisp
