/* console: the serial console under stress, for the test engine's tests.
 *   "print=N"     prints N bytes, lines of 63 letters and a newline ('a' for the first line, 'b'
 *                 for the next, ...), waiting on THRE as a driver does, then exits with 0. With
 *                 "burst" too, it writes 16 bytes (a 16550A's transmit FIFO) per THRE with one
 *                 `rep outsb`, as Linux's 8250 driver fills the FIFO: the console benchmark.
 *   "reset-echo"  waits until input arrives, then does what a driver does at start-up: clears the
 *                 FIFOs, checks loopback with one byte, leaves loopback, clears the FIFOs again;
 *                 then prints "ready" and echoes its input until a 'q', and exits with 0.
 *   "com2"        prints "to com2" on COM2 (0x2f8), then "to com1" on COM1, and exits with 0. */
#include "kit.h"

#define COM2_PORT 0x2f8

enum {
  kUartData = 0,
  kUartFifoControl = 2,
  kUartModemControl = 4,
  kUartLineStatus = 5,
  kFcrEnableAndClear = 0x07,
  kMcrDtrRts = 0x03,
  kMcrLoopback = 0x10,
  kLsrDataReady = 0x01,
  kLsrTransmitterEmpty = 0x20,
  kLineLength = 64,
};

static char line_byte(uint64_t i) {
  return i % kLineLength == kLineLength - 1 ? '\n' : (char)('a' + i / kLineLength % 26);
}

static void print_lines(uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) serial_putc(line_byte(i));
}

static void print_lines_in_bursts(uint64_t count) {
  enum { kFifoDepth = 16 };
  char burst[kFifoDepth];
  for (uint64_t i = 0; i < count;) {
    uint64_t n = count - i < kFifoDepth ? count - i : kFifoDepth;
    for (uint64_t k = 0; k < n; ++k) burst[k] = line_byte(i + k);
    while (!(inb(KIT_COM1_PORT + kUartLineStatus) & kLsrTransmitterEmpty)) cpu_pause();
    const char* from = burst;
    __asm__ volatile("rep outsb" : "+S"(from), "+c"(n) : "d"(KIT_COM1_PORT + kUartData) : "memory");
    i += kFifoDepth;
  }
}

static void wait_for_input(void) {
  while (!(inb(KIT_COM1_PORT + kUartLineStatus) & kLsrDataReady)) cpu_pause();
}

static int reset_then_echo(void) {
  wait_for_input();
  outb(KIT_COM1_PORT + kUartFifoControl, kFcrEnableAndClear);
  outb(KIT_COM1_PORT + kUartModemControl, kMcrLoopback);
  outb(KIT_COM1_PORT + kUartData, 'L');
  wait_for_input();
  char looped = (char)inb(KIT_COM1_PORT + kUartData);
  outb(KIT_COM1_PORT + kUartModemControl, kMcrDtrRts);
  outb(KIT_COM1_PORT + kUartFifoControl, kFcrEnableAndClear);
  if (looped != 'L') {
    serial_print("console: loopback returned another byte\n");
    return 2;
  }
  serial_print("ready\n");
  for (char c = serial_getc(); c != 'q'; c = serial_getc()) serial_putc(c);
  return 0;
}

static void print_on_com2(const char* text) {
  for (; *text; ++text) {
    while (!(inb(COM2_PORT + kUartLineStatus) & kLsrTransmitterEmpty)) cpu_pause();
    outb(COM2_PORT + kUartData, (uint8_t)*text);
  }
}

int guest_main(const char* cmdline) {
  uint64_t count;
  const char* print = cmdline_find(cmdline, "print=");
  if (print && parse_dec(print, &count)) {
    if (cmdline_find(cmdline, "burst")) {
      print_lines_in_bursts(count);
    } else {
      print_lines(count);
    }
    return 0;
  }
  if (cmdline_find(cmdline, "reset-echo")) return reset_then_echo();
  if (cmdline_find(cmdline, "com2")) {
    print_on_com2("to com2\n");
    serial_print("to com1\n");
    return 0;
  }
  serial_print("console: say print=N, reset-echo or com2\n");
  return 1;
}
