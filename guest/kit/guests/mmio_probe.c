/* mmio_probe: reads 32 bits from an address in the 32-bit MMIO hole with nothing behind it,
 * which must read as all ones, and writes to it; prints "mmio probe ok" and exits 0, or prints
 * what it read and exits 3. A decimal number on the command line replaces the expected value
 * (QEMU reads unassigned MMIO as 0: boot it there with "0"). */
#include "kit.h"

#define UNUSED_MMIO_ADDRESS 0xd0000000u
#define EXIT_NOT_ALL_ONES 3

int guest_main(const char *cmdline) {
  uint64_t expected = 0xffffffffu;
  parse_dec(cmdline, &expected);
  uint32_t value = mmio_read32(UNUSED_MMIO_ADDRESS);
  if (value != expected) {
    serial_print("mmio probe: read of ");
    serial_print_hex(UNUSED_MMIO_ADDRESS);
    serial_print(" gave ");
    serial_print_hex(value);
    serial_print("\n");
    return EXIT_NOT_ALL_ONES;
  }
  mmio_write32(UNUSED_MMIO_ADDRESS, 0x5a5a5a5a);
  serial_print("mmio probe ok\n");
  return 0;
}
