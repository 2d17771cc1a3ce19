// An i8042 keyboard controller with a keyboard behind it: enough for Linux's i8042 and atkbd
// drivers to find the keyboard and take keys from it, so that the host can send Ctrl+Alt+Del, and
// the reset command (0xfe on the command port pulses the CPU reset line). No mouse (AUX) port.
// Registered over ports 0x60-0x64; port 0x61 (system control) is served by KVM's in-kernel PIT
// before it reaches us.
//
// Register and command names follow IBM's PS/2 Hardware Interface Technical Reference (keyboard
// controller, keyboard) as Linux's drivers/input/serio/i8042.h and keyboard/atkbd.c use them.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>

#include "vmm/base/bus.h"
#include "vmm/base/irq_line.h"
#include "vmm/base/result.h"
#include "vmm/base/vm_stop.h"

namespace wisp {

class I8042 final : public BusDevice {
 public:
  static constexpr uint64_t kDataOffset = 0;     // port 0x60
  static constexpr uint64_t kCommandOffset = 4;  // port 0x64 (status when read)
  static constexpr uint64_t kPortCount = 5;
  static constexpr uint8_t kPulseResetCommand = 0xfe;

  // Status register (read from 0x64).
  static constexpr uint8_t kStatusOutputFull = 0x01;    // OBF: a byte waits at 0x60
  static constexpr uint8_t kStatusSystemFlag = 0x04;    // SYS: mirrors the command byte's
  static constexpr uint8_t kStatusCommand = 0x08;       // A2: the last write went to 0x64
  static constexpr uint8_t kStatusNotInhibited = 0x10;  // the keylock is open
  // Command byte (controller commands 0x20 and 0x60).
  static constexpr uint8_t kCommandByteKeyboardInterrupt = 0x01;
  static constexpr uint8_t kCommandByteSystemFlag = 0x04;
  static constexpr uint8_t kCommandByteKeyboardDisabled = 0x10;
  static constexpr uint8_t kCommandByteAuxDisabled = 0x20;
  static constexpr uint8_t kCommandByteTranslate = 0x40;
  // The keyboard queues up to this many bytes; more are dropped, as a keyboard whose buffer
  // overflowed drops keys. The controller's own replies are bounded the same way.
  static constexpr size_t kOutputCapacity = 32;

  // `keyboard_irq` is ISA IRQ 1, raised while a keyboard byte waits and the command byte enables
  // the keyboard interrupt.
  I8042(VmStopper& stopper, IrqLine& keyboard_irq) : stopper_(stopper), irq_(keyboard_irq) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Presses and releases Ctrl, Alt and Delete, as Firecracker's SendCtrlAltDel does; fails when
  // the output queue has no room for the whole sequence. Thread-safe.
  Result<void> send_ctrl_alt_del();

 private:
  enum class Source : uint8_t { kController, kKeyboard };
  // What the next write to 0x60 is for.
  enum class DataTarget : uint8_t {
    kKeyboard,
    kCommandByte,     // after controller command 0x60
    kOutputPort,      // after 0xd1
    kKeyboardOutput,  // after 0xd2: the byte comes back as if the keyboard sent it
    kAuxOutput,       // after 0xd3: the byte comes back as if the mouse sent it
    kAux,             // after 0xd4: for the mouse, which is not there
  };

  uint8_t status() const;
  std::optional<Source> front() const;
  uint8_t read_data();
  void controller_command(uint8_t command);
  void data_write(uint8_t value);
  void keyboard_byte(uint8_t value);
  void keyboard_command(uint8_t command);
  void keyboard_argument(uint8_t command, uint8_t argument);
  void acknowledge() { push_keyboard(std::array{kAck}); }
  void push_keys(std::span<const uint8_t> set2, std::span<const uint8_t> set1);
  void push_keyboard(std::span<const uint8_t> bytes);
  void reply(uint8_t value);
  bool translating() const;
  void update_irq();
  void set_irq(bool high);

  static constexpr uint8_t kAck = 0xfa;

  VmStopper& stopper_;
  IrqLine& irq_;

  std::mutex mutex_;
  std::deque<uint8_t> controller_output_;  // replies to controller commands
  std::deque<uint8_t> keyboard_output_;    // what the keyboard sent: replies and scan codes
  uint8_t last_read_ = 0;                  // what 0x60 reads when nothing waits
  // The command byte as a BIOS leaves it: keyboard interrupt on, system flag set (POST passed),
  // no translation, as Firecracker's; Linux keeps translation off then and atkbd reads set 2.
  uint8_t command_byte_ = kCommandByteKeyboardInterrupt | kCommandByteSystemFlag;
  uint8_t output_port_ = 0x03;  // reset line not asserted, A20 on
  bool last_write_was_command_ = false;
  DataTarget data_target_ = DataTarget::kKeyboard;
  std::optional<uint8_t> pending_keyboard_command_;  // one that takes an argument byte
  bool keyboard_scanning_ = true;                    // 0xf4 enables, 0xf5 disables
  uint8_t scan_code_set_ = 2;
  bool irq_level_ = false;
};

}  // namespace wisp
