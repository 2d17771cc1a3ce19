// A 16550A UART. Output goes to a host byte sink whose bounded room is shown to the guest as a busy
// transmitter, so a slow reader slows the guest instead of blocking a vCPU. Input is offered by the
// host side and taken as far as the receive FIFO has room, so a slow guest applies back-pressure
// instead of losing bytes; a guest that clears its FIFO gives the host's bytes back (see .cc).
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
  // Takes the bytes; what does not fit in room() is dropped (a guest that ignores THRE).
  virtual void write(std::span<const uint8_t> bytes) = 0;
  // How many bytes the sink can take now without dropping any.
  virtual size_t room() const { return SIZE_MAX; }
};

class Serial final : public BusDevice {
 public:
  Serial(IrqLine& irq, ByteSink& output) : irq_(irq), output_(output) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Offers host input; returns how many bytes the receive FIFO took.
  size_t receive(std::span<const uint8_t> bytes);
  // Called (outside the device lock) when the UART can take host input it refused before.
  void set_receive_space_callback(std::function<void()> callback);
  // The host side calls this when its sink has room again: THR empties and may interrupt.
  void transmit_room_available();

 private:
  // A byte in the receive FIFO, and whether it came from the host (not from loopback).
  struct Received {
    uint8_t byte;
    bool from_host;
  };

  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  uint8_t read_receive_buffer();
  uint8_t line_status();
  uint8_t interrupt_identification() const;
  uint8_t modem_status() const;
  bool transmitter_ready() const;
  void transmit(uint8_t byte);
  void clear_receive_fifo();
  bool takes_host_input() const;
  void take_returned_input();
  bool wants_host_input();
  void update_irq();

  IrqLine& irq_;
  ByteSink& output_;
  std::function<void()> on_receive_space_;

  std::mutex mutex_;
  std::deque<Received> receive_fifo_;
  // Host bytes a FIFO clear took back: they go in again first, once the guest listens.
  std::deque<uint8_t> returned_input_;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t fcr_ = 0;
  uint8_t divisor_low_ = 0x0c;  // 9600 baud until the guest sets its own
  uint8_t divisor_high_ = 0;
  bool transmitter_interrupt_pending_ = false;
  bool waiting_for_transmit_room_ = false;
  bool irq_level_ = false;
  bool host_input_refused_ = false;  // receive() left bytes with the host
  bool input_held_ = false;          // since a FIFO clear, until the guest listens again
  int consecutive_lsr_reads_ = 0;    // a guest that polls for input
};

}  // namespace wisp
