#include <catch2/catch.hpp>
#include <string>

#include "devices/legacy/serial.h"
#include "devices/legacy/uart_registers.h"

using namespace wisp;

namespace {

class FakeIrq final : public IrqLine {
 public:
  void set_level(bool high) override {
    level = high;
    ++changes;
  }
  bool level = false;
  int changes = 0;
};

// A sink with a settable amount of room, as a console output with a slow reader.
class StringSink final : public ByteSink {
 public:
  void write(std::span<const uint8_t> bytes) override {
    text.append(bytes.begin(), bytes.end());
    if (free_space != SIZE_MAX) free_space -= std::min(free_space, bytes.size());
  }
  size_t room() const override { return free_space; }
  std::string text;
  size_t free_space = SIZE_MAX;
};

struct Uart {
  FakeIrq irq;
  StringSink sink;
  Serial serial{irq, sink};

  uint8_t in(uint64_t offset) {
    uint8_t value = 0;
    serial.read(offset, std::span(&value, 1));
    return value;
  }
  void out(uint64_t offset, uint8_t value) { serial.write(offset, std::span(&value, 1)); }
  size_t feed(const std::string& text) {
    return serial.receive(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
};

}  // namespace

TEST_CASE("transmitted bytes reach the sink: the line is always ready") {
  Uart uart;
  uart.out(uart::kRbrThrDll, 'h');
  uart.out(uart::kRbrThrDll, 'i');
  CHECK(uart.sink.text == "hi");
  CHECK((uart.in(uart::kLsr)&0x60) == 0x60);
  CHECK(uart.in(uart::kIirFcr) == uart::kIirNoInterrupt);
  CHECK_FALSE(uart.irq.level);
}

TEST_CASE("the divisor latch hides THR and IER while DLAB is set") {
  Uart uart;
  uart.out(uart::kLcr, 0x83);
  uart.out(uart::kRbrThrDll, 0x01);
  uart.out(uart::kIerDlm, 0x00);
  CHECK(uart.in(uart::kRbrThrDll) == 0x01);
  CHECK(uart.sink.text.empty());
  uart.out(uart::kLcr, 0x03);
  CHECK(uart.in(uart::kIerDlm) == 0);
  CHECK(uart.in(uart::kLcr) == 0x03);
  uart.out(uart::kScr, 0x5a);
  CHECK(uart.in(uart::kScr) == 0x5a);
}

TEST_CASE("received bytes raise the data interrupt until read") {
  Uart uart;
  uart.out(uart::kIerDlm, uart::kIerReceivedData);
  CHECK_FALSE(uart.irq.level);
  CHECK(uart.feed("ab") == 2);
  CHECK(uart.irq.level);
  CHECK((uart.in(uart::kIirFcr)&0x0f) == uart::kIirReceivedData);
  CHECK((uart.in(uart::kLsr)&uart::kLsrDataReady) != 0);
  CHECK(uart.in(uart::kRbrThrDll) == 'a');
  CHECK(uart.irq.level);
  CHECK(uart.in(uart::kRbrThrDll) == 'b');
  CHECK_FALSE(uart.irq.level);
  CHECK((uart.in(uart::kLsr)&uart::kLsrDataReady) == 0);
}

TEST_CASE("the transmitter-empty interrupt follows the 16550A rules") {
  Uart uart;
  // Enabling it with THR empty raises it at once; reading IIR acknowledges it.
  uart.out(uart::kIerDlm, uart::kIerTransmitterEmpty);
  CHECK(uart.irq.level);
  CHECK((uart.in(uart::kIirFcr)&0x0f) == uart::kIirTransmitterEmpty);
  CHECK_FALSE(uart.irq.level);
  CHECK(uart.in(uart::kIirFcr) == uart::kIirNoInterrupt);
  // Each transmitted byte empties THR again.
  uart.out(uart::kRbrThrDll, 'x');
  CHECK(uart.irq.level);
  // Received data takes priority.
  uart.out(uart::kIerDlm, uart::kIerTransmitterEmpty | uart::kIerReceivedData);
  uart.feed("z");
  CHECK((uart.in(uart::kIirFcr)&0x0f) == uart::kIirReceivedData);
}

TEST_CASE("the receive FIFO holds 16 bytes and asks for more when drained") {
  Uart uart;
  int space_signals = 0;
  uart.serial.set_receive_space_callback([&] { ++space_signals; });
  std::string input(40, 'k');
  CHECK(uart.feed(input) == uart::kFifoDepth);
  CHECK(uart.feed("more") == 0);
  CHECK(space_signals == 0);
  uart.in(uart::kRbrThrDll);
  CHECK(space_signals == 1);
  CHECK(uart.feed("more") == 1);
}

TEST_CASE("FIFO control: enabled FIFOs show in IIR") {
  Uart uart;
  uart.out(uart::kIirFcr, uart::kFcrEnableFifo);
  CHECK((uart.in(uart::kIirFcr)&uart::kIirFifosEnabled) == uart::kIirFifosEnabled);
}

TEST_CASE("a FIFO clear gives the host's bytes back until the guest listens again") {
  Uart uart;
  uart.feed("abc");
  uart.out(uart::kIirFcr, uart::kFcrEnableFifo | uart::kFcrClearReceive);
  // As Linux's driver does before it enables the received-data interrupt: LSR twice, then RBR
  // regardless.
  CHECK((uart.in(uart::kLsr)&uart::kLsrDataReady) == 0);
  CHECK((uart.in(uart::kLsr)&uart::kLsrDataReady) == 0);
  CHECK(uart.in(uart::kRbrThrDll) == 0);
  CHECK(uart.feed("def") == 0);  // held with the host too

  SECTION("enabling the received-data interrupt") {
    uart.out(uart::kIerDlm, uart::kIerReceivedData);
    CHECK(uart.irq.level);
  }
  SECTION("polling LSR") {
    int polls = 1;
    while (!(uart.in(uart::kLsr)&uart::kLsrDataReady)) ++polls;
    CHECK(polls == 8);
  }
  std::string received;
  while (uart.in(uart::kLsr)&uart::kLsrDataReady) received += char(uart.in(uart::kRbrThrDll));
  CHECK(received == "abc");
  CHECK(uart.feed("def") == 3);
}

TEST_CASE("host input refused while held flows again when the guest listens") {
  Uart uart;
  int space_signals = 0;
  uart.serial.set_receive_space_callback([&] { ++space_signals; });
  uart.out(uart::kIirFcr, uart::kFcrClearReceive);
  CHECK(uart.feed("x") == 0);
  uart.out(uart::kIerDlm, uart::kIerReceivedData);
  CHECK(space_signals == 1);
  CHECK(uart.feed("x") == 1);
}

TEST_CASE("the returned bytes come before newer host input, and a clear drops loopback bytes") {
  Uart uart;
  std::string input(20, 'a');
  input[15] = 'p';
  input[16] = 'q';
  CHECK(uart.feed(input) == uart::kFifoDepth);
  uart.in(uart::kRbrThrDll);                // takes one 'a'
  CHECK(uart.feed(input.substr(16)) == 1);  // 'q' joins the FIFO behind 'p'
  uart.out(uart::kMcr, uart::kMcrLoopback);
  uart.out(uart::kIirFcr, uart::kFcrClearReceive);
  uart.out(uart::kRbrThrDll, 'L');  // loopback: into the (now empty) FIFO
  uart.out(uart::kIirFcr, uart::kFcrClearReceive);
  uart.out(uart::kMcr, 0);
  uart.out(uart::kIerDlm, uart::kIerReceivedData);
  std::string received;
  while (uart.in(uart::kLsr)&uart::kLsrDataReady) received += char(uart.in(uart::kRbrThrDll));
  CHECK(received == std::string(14, 'a') + "pq");
}

TEST_CASE("leaving loopback mode lets refused host input in") {
  Uart uart;
  int space_signals = 0;
  uart.serial.set_receive_space_callback([&] { ++space_signals; });
  uart.out(uart::kMcr, uart::kMcrLoopback);
  CHECK(uart.feed("h") == 0);
  uart.out(uart::kMcr, 0);
  CHECK(space_signals == 1);
  CHECK(uart.feed("h") == 1);
}

TEST_CASE("a sink without room shows a busy transmitter until the host side drains it") {
  Uart uart;
  uart.sink.free_space = uart::kFifoDepth + 1;
  uart.out(uart::kIerDlm, uart::kIerTransmitterEmpty);
  CHECK(uart.in(uart::kIirFcr) == uart::kIirTransmitterEmpty);  // acknowledged
  uart.out(uart::kRbrThrDll, 'a');
  CHECK((uart.in(uart::kLsr)&0x60) == 0x60);
  CHECK(uart.irq.level);
  CHECK(uart.in(uart::kIirFcr) == uart::kIirTransmitterEmpty);
  uart.out(uart::kRbrThrDll, 'b');  // leaves 15: less than a FIFO's worth
  CHECK((uart.in(uart::kLsr)&0x60) == 0);
  CHECK_FALSE(uart.irq.level);
  uart.serial.transmit_room_available();  // nothing drained yet: still busy
  CHECK_FALSE(uart.irq.level);
  uart.sink.free_space = 100;
  uart.serial.transmit_room_available();
  CHECK((uart.in(uart::kLsr)&0x60) == 0x60);
  CHECK(uart.irq.level);
  CHECK(uart.sink.text == "ab");
}

TEST_CASE("enabling the transmitter interrupt while the sink is full waits for room") {
  Uart uart;
  uart.sink.free_space = 3;
  uart.out(uart::kIerDlm, uart::kIerTransmitterEmpty);
  CHECK_FALSE(uart.irq.level);
  uart.sink.free_space = 64;
  uart.serial.transmit_room_available();
  CHECK(uart.irq.level);
}

TEST_CASE("loopback mode wires output to input and modem control to status") {
  Uart uart;
  CHECK(uart.in(uart::kMsr) == (uart::kMsrDcd | uart::kMsrDsr | uart::kMsrCts));
  uart.out(uart::kMcr, uart::kMcrLoopback | uart::kMcrRts | uart::kMcrOut2);
  CHECK(uart.in(uart::kMsr) == (uart::kMsrCts | uart::kMsrDcd));
  uart.out(uart::kRbrThrDll, 'L');
  CHECK(uart.sink.text.empty());
  CHECK(uart.in(uart::kRbrThrDll) == 'L');
  CHECK(uart.feed("host") == 0);  // the host side is disconnected in loopback
}
