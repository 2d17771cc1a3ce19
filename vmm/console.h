// The serial console's input on the host side: the terminal in raw mode (always restored), host
// input fed to the guest's UART with back-pressure, and the Ctrl-A escape. (Output:
// console_output.h.)
#pragma once

#include <termios.h>

#include <memory>
#include <vector>

#include "devices/legacy/serial.h"
#include "vmm/base/fd.h"
#include "vmm/base/vm_stop.h"
#include "vmm/event_loop.h"

namespace wisp {

// Puts a terminal in raw mode and restores it when destroyed, or when the process dies of a
// fatal signal.
class RawTerminal {
 public:
  // Does nothing (and returns an inert guard) when `fd` is not a terminal.
  static std::unique_ptr<RawTerminal> enter(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  RawTerminal() = default;
  int fd_ = -1;
  termios saved_{};
};

// Puts the terminal back as it was before RawTerminal::enter, if it is raw; safe in a signal
// handler (a fatal signal, a seccomp violation).
void restore_terminal_after_fatal_error();

// Reads host input and offers it to the UART. Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A.
class ConsoleInput {
 public:
  static constexpr uint8_t kEscape = 0x01;  // Ctrl-A
  static constexpr uint8_t kQuit = 'x';

  ConsoleInput(int fd, Serial& serial, VmStopper& stopper, EventLoop& loop, EventFd space)
      : fd_(fd), serial_(serial), stopper_(stopper), loop_(loop), space_(std::move(space)) {}
  Result<void> start();

 private:
  bool read_input();
  void on_readable();
  void on_space();
  void deliver();
  void translate(std::span<const uint8_t> input);

  int fd_;
  Serial& serial_;
  VmStopper& stopper_;
  EventLoop& loop_;
  EventFd space_;
  std::vector<uint8_t> pending_;  // read from the host, not yet taken by the UART
  size_t pending_offset_ = 0;
  bool after_escape_ = false;
  bool watching_input_ = false;
  bool input_closed_ = false;
  bool pollable_ = true;
};

}  // namespace wisp
