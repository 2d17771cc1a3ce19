// A 16550A UART. Output goes to a host byte sink; input is offered by the host side and taken as
// far as the receive FIFO has room, so a slow guest applies back-pressure instead of losing bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "vmm/base/bus.h"
#include "vmm/base/irq_line.h"

namespace wisp {

// Where transmitted bytes go (the terminal, a file, nowhere).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::span<const uint8_t> bytes) = 0;
};

class Serial final : public BusDevice {
 public:
  Serial(IrqLine& irq, ByteSink& output) : irq_(irq), output_(output) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Offers host input; returns how many bytes the receive FIFO took.
  size_t receive(std::span<const uint8_t> bytes);
  // Called (outside the device lock) when the guest frees room in the receive FIFO.
  void set_receive_space_callback(std::function<void()> callback);

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  uint8_t read_receive_buffer();
  uint8_t interrupt_identification() const;
  uint8_t modem_status() const;
  void transmit(uint8_t byte);
  void update_irq();

  IrqLine& irq_;
  ByteSink& output_;
  std::function<void()> on_receive_space_;

  std::mutex mutex_;
  std::deque<uint8_t> receive_fifo_;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t fcr_ = 0;
  uint8_t divisor_low_ = 0x0c;  // 9600 baud until the guest sets its own
  uint8_t divisor_high_ = 0;
  bool transmitter_interrupt_pending_ = false;
  bool irq_level_ = false;
  bool receive_was_full_ = false;
};

}  // namespace wisp
