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

class StringSink final : public ByteSink {
 public:
  void write(std::span<const uint8_t> bytes) override { text.append(bytes.begin(), bytes.end()); }
  std::string text;
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

TEST_CASE("FIFO control: enabled FIFOs show in IIR: clearing drops received bytes") {
  Uart uart;
  uart.out(uart::kIirFcr, uart::kFcrEnableFifo);
  CHECK((uart.in(uart::kIirFcr)&uart::kIirFifosEnabled) == uart::kIirFifosEnabled);
  uart.feed("abc");
  uart.out(uart::kIirFcr, uart::kFcrEnableFifo | uart::kFcrClearReceive);
  CHECK((uart.in(uart::kLsr)&uart::kLsrDataReady) == 0);
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
