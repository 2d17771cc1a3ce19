/* pio_probe: reads ports with nothing behind them, which must read as all ones, and writes to
 * them; prints "pio probe ok" and exits 0, or names the port and exits 3. */
#include "kit.h"

#define EXIT_NOT_ALL_ONES 3

/* Not 0x510: QEMU puts fw_cfg there. 0x2f9 is COM2's IER, all ones when there is no COM2. */
static const uint16_t kUnusedPorts[] = {0xe0, 0x1234, 0x2f9};

static int fail(uint16_t port, const char *width, uint32_t value) {
  serial_print("pio probe: ");
  serial_print(width);
  serial_print(" read of port ");
  serial_print_hex(port);
  serial_print(" gave ");
  serial_print_hex(value);
  serial_print("\n");
  return EXIT_NOT_ALL_ONES;
}

int guest_main(const char *cmdline) {
  (void)cmdline;
  for (size_t i = 0; i < sizeof kUnusedPorts / sizeof kUnusedPorts[0]; i++) {
    uint16_t port = kUnusedPorts[i];
    uint8_t byte = inb(port);
    if (byte != 0xff) return fail(port, "8-bit", byte);
    uint16_t word = inw(port);
    if (word != 0xffff) return fail(port, "16-bit", word);
    uint32_t dword = inl(port);
    if (dword != 0xffffffff) return fail(port, "32-bit", dword);
    outb(port, 0x5a);
    outw(port, 0x5a5a);
    outl(port, 0x5a5a5a5a);
  }
  serial_print("pio probe ok\n");
  return 0;
}
