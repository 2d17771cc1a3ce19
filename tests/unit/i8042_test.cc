#include <catch2/catch.hpp>
#include <vector>

#include "devices/legacy/i8042.h"

using namespace wisp;

namespace {

class EdgeCountingIrq final : public IrqLine {
 public:
  void set_level(bool high) override {
    if (high && !level) ++rising_edges;
    level = high;
  }
  bool level = false;
  int rising_edges = 0;
};

class StopRecorder final : public VmStopper {
 public:
  void request_stop(StopReason reason) override { stops.push_back(reason.kind); }
  std::vector<StopKind> stops;
};

struct Controller {
  EdgeCountingIrq irq;
  StopRecorder stopper;
  I8042 i8042{stopper, irq};

  uint8_t status() { return in(I8042::kCommandOffset); }
  uint8_t data() { return in(I8042::kDataOffset); }
  uint8_t in(uint64_t offset) {
    uint8_t value = 0xa5;
    i8042.read(offset, std::span(&value, 1));
    return value;
  }
  void command(uint8_t value) { i8042.write(I8042::kCommandOffset, std::span(&value, 1)); }
  void out(uint8_t value) { i8042.write(I8042::kDataOffset, std::span(&value, 1)); }

  // Linux's i8042_command: the command, its parameter bytes, then polling OBF for each reply.
  std::vector<uint8_t> controller(uint8_t command, std::vector<uint8_t> parameters = {},
                                  size_t replies = 0) {
    REQUIRE_FALSE(status() & 0x02);  // input buffer empty: the write may go
    this->command(command);
    for (uint8_t parameter : parameters) out(parameter);
    std::vector<uint8_t> got;
    for (size_t i = 0; i < replies; ++i) {
      REQUIRE(status() & I8042::kStatusOutputFull);
      got.push_back(data());
    }
    return got;
  }

  // What the keyboard sends back, as Linux's interrupt handler takes it: one byte per rising
  // edge of IRQ 1, each read after the status says a byte waits.
  std::vector<uint8_t> interrupts() {
    std::vector<uint8_t> got;
    while (irq.level) {
      REQUIRE(status() & I8042::kStatusOutputFull);
      got.push_back(data());
    }
    return got;
  }
};

// The command byte Linux writes once its driver is set up (i8042_enable_kbd_port): keyboard
// interrupt on, system flag, no translation (the BIOS left it off).
constexpr uint8_t kLinuxCommandByte = 0x05;

}  // namespace

TEST_CASE("i8042: Linux's controller probe: flush, command byte, self-test", "[i8042]") {
  Controller c;
  // i8042_flush: nothing waits; the keylock is open (i8042_controller_init warns otherwise).
  CHECK(c.status() == (I8042::kStatusNotInhibited | I8042::kStatusSystemFlag));

  // i8042_controller_init: two equal reads of the command byte, as the BIOS left it.
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x05});
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x05});
  CHECK(c.status() & I8042::kStatusCommand);
  // Keyboard interface disabled and its interrupt off while the driver sets up.
  c.controller(0x60, {0x14});
  CHECK_FALSE(c.status() & I8042::kStatusCommand);
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x14});

  CHECK(c.controller(0xaa, {}, 1) == std::vector<uint8_t>{0x55});  // controller self-test
  CHECK(c.controller(0xab, {}, 1) == std::vector<uint8_t>{0x00});  // keyboard interface test
  c.controller(0xad);
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x14 | 0x10});
  c.controller(0xae);
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x04});
  c.controller(0x60, {kLinuxCommandByte});

  // The controller's replies are polled for: they raise no interrupt.
  CHECK(c.irq.rising_edges == 0);
  CHECK_FALSE(c.status() & I8042::kStatusOutputFull);
  CHECK(c.stopper.stops.empty());
}

TEST_CASE("i8042: without ACPI Linux's AUX probe fails at once: there is no mouse", "[i8042]") {
  Controller c;
  // AUX loopback (0xd3): the byte comes back, but not marked as the mouse's (status bit 5).
  CHECK(c.controller(0xd3, {0x5a}, 1) == std::vector<uint8_t>{0x5a});
  // AUX interface test: an error.
  CHECK(c.controller(0xa9, {}, 1) == std::vector<uint8_t>{0x01});
  // A byte for the mouse: dropped.
  c.controller(0xd4, {0xf4});
  CHECK_FALSE(c.status() & I8042::kStatusOutputFull);
  CHECK(c.irq.rising_edges == 0);
}

TEST_CASE("i8042: atkbd's probe gets its answers through IRQ 1", "[i8042]") {
  Controller c;
  c.controller(0x60, {kLinuxCommandByte});

  c.out(0xf2);  // ATKBD_CMD_GETID
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa, 0xab, 0x83});
  CHECK(c.irq.rising_edges == 3);  // one edge per byte

  c.out(0xed);  // ATKBD_CMD_SETLEDS, then its argument
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  c.out(0x00);
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  c.out(0xf3);  // ATKBD_CMD_SETREP
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  c.out(0x00);
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  c.out(0xf4);  // ATKBD_CMD_ENABLE
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  c.out(0xff);  // ATKBD_CMD_RESET_BAT
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa, 0xaa});
  c.out(0xee);  // echo
  CHECK(c.interrupts() == std::vector<uint8_t>{0xee});
  c.out(0xf0);  // scan code set: query, then set 2
  c.out(0x00);
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa, 0xfa, 0x02});
  c.out(0xf0);
  c.out(0x02);
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa, 0xfa});
  c.out(0x01);  // not a command
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfe});
  CHECK(c.stopper.stops.empty());
}

TEST_CASE("i8042: Ctrl+Alt+Del arrives as scan code set 2 with an edge per byte", "[i8042]") {
  Controller c;
  c.controller(0x60, {kLinuxCommandByte});
  REQUIRE(c.i8042.send_ctrl_alt_del());
  // Ctrl, Alt, Delete (E0 71) pressed; Delete, Alt, Ctrl released (F0 prefix).
  std::vector<uint8_t> expected{0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14};
  CHECK(c.interrupts() == expected);
  CHECK(c.irq.rising_edges == static_cast<int>(expected.size()));
  CHECK_FALSE(c.status() & I8042::kStatusOutputFull);
}

TEST_CASE("i8042: with translation on, Ctrl+Alt+Del arrives as scan code set 1", "[i8042]") {
  Controller c;
  c.controller(0x60, {kLinuxCommandByte | I8042::kCommandByteTranslate});
  REQUIRE(c.i8042.send_ctrl_alt_del());
  CHECK(c.interrupts() == std::vector<uint8_t>{0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d});
  c.out(0xf2);  // the ID as the translation gives it
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa, 0xab, 0x41});
}

TEST_CASE("i8042: keys wait while the guest masks the interrupt or the interface", "[i8042]") {
  Controller c;
  c.controller(0x60, {0x14});  // interface disabled, interrupt off, as during Linux's set-up
  REQUIRE(c.i8042.send_ctrl_alt_del());
  CHECK_FALSE(c.status() & I8042::kStatusOutputFull);  // held by the keyboard
  CHECK(c.irq.rising_edges == 0);
  // The controller's own replies still come through.
  CHECK(c.controller(0x20, {}, 1) == std::vector<uint8_t>{0x14});

  c.controller(0x60, {0x04});  // interface on, interrupt still off: polled
  CHECK(c.status() & I8042::kStatusOutputFull);
  CHECK(c.irq.rising_edges == 0);
  CHECK(c.data() == 0x14);
  c.controller(0x60, {kLinuxCommandByte});  // interrupt on: the next byte raises IRQ 1
  CHECK(c.irq.level);
  CHECK(c.interrupts().size() == 10);
}

TEST_CASE("i8042: Ctrl+Alt+Del fails when the keyboard's queue is full", "[i8042]") {
  Controller c;
  REQUIRE(c.i8042.send_ctrl_alt_del());
  REQUIRE(c.i8042.send_ctrl_alt_del());
  auto third = c.i8042.send_ctrl_alt_del();
  REQUIRE_FALSE(third);
  CHECK_THAT(third.error().message(), Catch::Contains("no room for Ctrl+Alt+Del"));
  c.controller(0x60, {kLinuxCommandByte});
  CHECK(c.interrupts().size() == 22);  // both whole sequences, nothing of the third
  CHECK(c.i8042.send_ctrl_alt_del());
}

TEST_CASE("i8042: a keyboard whose scanning is disabled sends no keys", "[i8042]") {
  Controller c;
  c.controller(0x60, {kLinuxCommandByte});
  c.out(0xf5);  // ATKBD_CMD_RESET_DIS, as atkbd sends at shutdown
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  CHECK(c.i8042.send_ctrl_alt_del());
  CHECK_FALSE(c.status() & I8042::kStatusOutputFull);
  c.out(0xf4);
  CHECK(c.interrupts() == std::vector<uint8_t>{0xfa});
  CHECK(c.i8042.send_ctrl_alt_del());
  CHECK(c.interrupts().size() == 11);
}

TEST_CASE("i8042: pulsing output line 0 resets, and nothing else does", "[i8042]") {
  Controller c;
  c.command(0xfe);  // what Linux (reboot=k) and Wisp's reset-vector stub write
  CHECK(c.stopper.stops == std::vector<StopKind>{StopKind::kReset});
  c.stopper.stops.clear();
  c.command(0xf0);  // pulses all four lines, the reset line among them
  CHECK(c.stopper.stops == std::vector<StopKind>{StopKind::kReset});
  c.stopper.stops.clear();

  c.command(0xff);  // pulses no line
  c.out(0xfe);      // to the keyboard: "resend"
  c.command(0xd1);  // the output port, written as a parameter
  c.out(0xfe);
  uint8_t wide[2] = {0xfe, 0xfe};
  c.i8042.write(I8042::kCommandOffset + 1, wide);  // beyond the command port
  c.i8042.write(I8042::kCommandOffset, {});        // an empty access
  CHECK(c.stopper.stops.empty());
}
