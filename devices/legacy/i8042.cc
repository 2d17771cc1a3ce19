#include "devices/legacy/i8042.h"

#include <array>

#include "vmm/base/log.h"

namespace wisp {
namespace {

// Controller commands, written to 0x64 (PS/2 Technical Reference, keyboard controller;
// Linux's I8042_CMD_*).
constexpr uint8_t kReadCommandByte = 0x20;
constexpr uint8_t kWriteCommandByte = 0x60;
constexpr uint8_t kDisableAux = 0xa7;
constexpr uint8_t kEnableAux = 0xa8;
constexpr uint8_t kAuxInterfaceTest = 0xa9;
constexpr uint8_t kSelfTest = 0xaa;
constexpr uint8_t kKeyboardInterfaceTest = 0xab;
constexpr uint8_t kDisableKeyboard = 0xad;
constexpr uint8_t kEnableKeyboard = 0xae;
constexpr uint8_t kReadOutputPort = 0xd0;
constexpr uint8_t kWriteOutputPort = 0xd1;
constexpr uint8_t kWriteKeyboardOutput = 0xd2;
constexpr uint8_t kWriteAuxOutput = 0xd3;
constexpr uint8_t kWriteToAux = 0xd4;
constexpr uint8_t kPulseOutputLines = 0xf0;  // 0xf0-0xff: a clear low bit pulses that line
constexpr uint8_t kResetLine = 0x01;         // output line 0: the CPU reset

// Controller replies.
constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
constexpr uint8_t kInterfaceClockStuckLow = 0x01;

// Keyboard commands, written to 0x60 (PS/2 Technical Reference, keyboard; Linux's ATKBD_CMD_*).
constexpr uint8_t kSetLeds = 0xed;
constexpr uint8_t kEcho = 0xee;
constexpr uint8_t kScanCodeSet = 0xf0;
constexpr uint8_t kIdentify = 0xf2;
constexpr uint8_t kSetTypematic = 0xf3;
constexpr uint8_t kEnableScanning = 0xf4;
constexpr uint8_t kDefaultDisable = 0xf5;
constexpr uint8_t kSetDefault = 0xf6;
constexpr uint8_t kReset = 0xff;
constexpr uint8_t kFirstKeyboardCommand = kSetLeds;

// Keyboard replies (kAck is the class's).
constexpr uint8_t kResend = 0xfe;  // also the answer to an unknown command
constexpr uint8_t kSelfTestOk = 0xaa;
constexpr uint8_t kKeyboardId[] = {0xab, 0x83};  // an MF2 keyboard
// What the controller's translation makes of the ID's second byte and of set numbers 1-3.
constexpr uint8_t kTranslatedKeyboardId = 0x41;
constexpr uint8_t kTranslatedSetNumbers[] = {0x43, 0x41, 0x3f};

// Left Ctrl, left Alt, Delete pressed, then released in reverse order.
// Scan code set 2: make xx, break F0 xx; Delete is E0 71.
constexpr std::array<uint8_t, 11> kCtrlAltDelSet2 = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
                                                     0x71, 0xf0, 0x11, 0xf0, 0x14};
// Scan code set 1 (what the controller's translation makes of set 2): break is make | 0x80.
constexpr std::array<uint8_t, 8> kCtrlAltDelSet1 = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};

}  // namespace

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  uint8_t value = 0;
  if (offset == kCommandOffset) {
    value = status();
  } else if (offset == kDataOffset) {
    value = read_data();
  }
  store_le(data, value);
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mutex_);
  if (offset == kCommandOffset) {
    last_write_was_command_ = true;
    controller_command(data[0]);
  } else if (offset == kDataOffset) {
    last_write_was_command_ = false;
    data_write(data[0]);
  }
}

Result<void> I8042::send_ctrl_alt_del() {
  std::lock_guard lock(mutex_);
  if (!keyboard_scanning_) {
    log::debug("i8042: Ctrl+Alt+Del dropped: the guest disabled the keyboard's scanning");
    return {};
  }
  if (kOutputCapacity - keyboard_output_.size() < kCtrlAltDelSet2.size())
    return fail("i8042: no room for Ctrl+Alt+Del: the guest has not read {} keyboard bytes",
                keyboard_output_.size());
  push_keys(kCtrlAltDelSet2, kCtrlAltDelSet1);
  return {};
}

uint8_t I8042::status() const {
  uint8_t value = kStatusNotInhibited;
  if (front()) value |= kStatusOutputFull;
  if (command_byte_ & kCommandByteSystemFlag) value |= kStatusSystemFlag;
  if (last_write_was_command_) value |= kStatusCommand;
  return value;
}

// The byte the guest reads at 0x60: the controller's own replies first, then the keyboard's,
// which it holds while the guest disables the keyboard interface (command byte bit 4).
std::optional<I8042::Source> I8042::front() const {
  if (!controller_output_.empty()) return Source::kController;
  if (!keyboard_output_.empty() && !(command_byte_ & kCommandByteKeyboardDisabled))
    return Source::kKeyboard;
  return std::nullopt;
}

uint8_t I8042::read_data() {
  std::optional<Source> source = front();
  if (!source) return last_read_;
  std::deque<uint8_t>& queue =
      *source == Source::kController ? controller_output_ : keyboard_output_;
  last_read_ = queue.front();
  queue.pop_front();
  // Reading empties the output buffer: the line drops, and rises again (a new edge) if another
  // keyboard byte moves in.
  set_irq(false);
  update_irq();
  return last_read_;
}

void I8042::controller_command(uint8_t command) {
  if (command >= kPulseOutputLines) {
    if (!(command & kResetLine)) stopper_.request_stop({StopKind::kReset});
    return;
  }
  switch (command) {
    case kReadCommandByte:
      return reply(command_byte_);
    case kWriteCommandByte:
      data_target_ = DataTarget::kCommandByte;
      return;
    case kDisableAux:
      command_byte_ |= kCommandByteAuxDisabled;
      return;
    case kEnableAux:
      command_byte_ &= static_cast<uint8_t>(~kCommandByteAuxDisabled);
      return;
    case kAuxInterfaceTest:
      // No mouse port: an error, so that Linux's probe without ACPI gives up on it at once.
      return reply(kInterfaceClockStuckLow);
    case kSelfTest:
      return reply(kSelfTestPassed);
    case kKeyboardInterfaceTest:
      return reply(kInterfaceTestPassed);
    case kDisableKeyboard:
      command_byte_ |= kCommandByteKeyboardDisabled;
      return update_irq();
    case kEnableKeyboard:
      command_byte_ &= static_cast<uint8_t>(~kCommandByteKeyboardDisabled);
      return update_irq();
    case kReadOutputPort:
      return reply(output_port_);
    case kWriteOutputPort:
      data_target_ = DataTarget::kOutputPort;
      return;
    case kWriteKeyboardOutput:
      data_target_ = DataTarget::kKeyboardOutput;
      return;
    case kWriteAuxOutput:
      data_target_ = DataTarget::kAuxOutput;
      return;
    case kWriteToAux:
      data_target_ = DataTarget::kAux;
      return;
    default:
      log::debug("i8042: controller command {:#x} ignored", command);
      return;
  }
}

void I8042::data_write(uint8_t value) {
  DataTarget target = data_target_;
  data_target_ = DataTarget::kKeyboard;
  switch (target) {
    case DataTarget::kKeyboard:
      return keyboard_byte(value);
    case DataTarget::kCommandByte:
      command_byte_ = value;
      return update_irq();
    case DataTarget::kOutputPort:
      // Bit 0 would hold the CPU in reset; guests reset through 0xfe, so it is only stored.
      output_port_ = value;
      return;
    case DataTarget::kKeyboardOutput:
      return push_keyboard({&value, 1});
    case DataTarget::kAuxOutput:
      // With a mouse the byte would come back marked as the mouse's (status bit 5). Without one
      // it comes back unmarked, which Linux's AUX loopback test (no ACPI) takes as "no mouse" at
      // once instead of waiting half a second for a reply.
      return reply(value);
    case DataTarget::kAux:
      return;  // no mouse to send it to
  }
}

void I8042::keyboard_byte(uint8_t value) {
  // A command byte where an argument was expected starts a new command.
  if (pending_keyboard_command_ && value < kFirstKeyboardCommand) {
    uint8_t command = *pending_keyboard_command_;
    pending_keyboard_command_.reset();
    return keyboard_argument(command, value);
  }
  pending_keyboard_command_.reset();
  keyboard_command(value);
}

void I8042::keyboard_command(uint8_t command) {
  switch (command) {
    case kSetLeds:
    case kScanCodeSet:
    case kSetTypematic:
      pending_keyboard_command_ = command;
      return acknowledge();
    case kEcho:
      return push_keyboard(std::array{kEcho});
    case kIdentify: {
      uint8_t id[] = {kAck, kKeyboardId[0], translating() ? kTranslatedKeyboardId : kKeyboardId[1]};
      return push_keyboard(id);
    }
    case kEnableScanning:
      keyboard_scanning_ = true;
      return acknowledge();
    case kDefaultDisable:
      scan_code_set_ = 2;
      keyboard_scanning_ = false;
      return acknowledge();
    case kSetDefault:
      scan_code_set_ = 2;
      return acknowledge();
    case kReset:
      scan_code_set_ = 2;
      keyboard_scanning_ = true;
      return push_keyboard(std::array{kAck, kSelfTestOk});
    default:
      // 0xf7-0xfd (scan code set 3's key types) and 0xfe (resend) change nothing here.
      if (command >= kFirstKeyboardCommand) return acknowledge();
      return push_keyboard(std::array{kResend});
  }
}

void I8042::keyboard_argument(uint8_t command, uint8_t argument) {
  if (command != kScanCodeSet) return acknowledge();  // LEDs and typematic rate: nothing to do
  if (argument == 0) {
    uint8_t set = translating() ? kTranslatedSetNumbers[scan_code_set_ - 1] : scan_code_set_;
    return push_keyboard(std::array{kAck, set});
  }
  if (argument > 3) return push_keyboard(std::array{kResend});
  scan_code_set_ = argument;
  acknowledge();
}

// Scan codes leave the keyboard in its set; with translation on, the controller turns set 2 into
// set 1. Set 3 is not modelled: its keys are sent as set 2's.
void I8042::push_keys(std::span<const uint8_t> set2, std::span<const uint8_t> set1) {
  bool as_set1 = scan_code_set_ == 1 || translating();
  std::span<const uint8_t> codes = as_set1 ? set1 : set2;
  push_keyboard(codes);
}

void I8042::push_keyboard(std::span<const uint8_t> bytes) {
  for (uint8_t byte : bytes)
    if (keyboard_output_.size() < kOutputCapacity) keyboard_output_.push_back(byte);
  update_irq();
}

void I8042::reply(uint8_t value) {
  if (controller_output_.size() < kOutputCapacity) controller_output_.push_back(value);
  update_irq();
}

bool I8042::translating() const {
  return command_byte_ & kCommandByteTranslate;
}

// IRQ 1 follows the output buffer while it holds a keyboard byte and the command byte enables
// the keyboard interrupt. Linux polls for the controller's own replies, so they raise nothing.
void I8042::update_irq() {
  set_irq(front() == Source::kKeyboard && (command_byte_ & kCommandByteKeyboardInterrupt));
}

void I8042::set_irq(bool high) {
  if (irq_level_ == high) return;
  irq_level_ = high;
  irq_.set_level(high);
}

}  // namespace wisp
