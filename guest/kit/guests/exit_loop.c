/* exit_loop: the exit-cost benchmark's guest. The command line is "port N" or "mmio N": N writes
 * to port 0x80 (the POST-code port: nothing but a VM exit behind it) or to an unassigned address
 * in the MMIO hole, each one exit to the VMM; then prints "done" and exits 0. With N = 0 it
 * measures everything but the exits, for the benchmark to subtract. */
#include "kit.h"

#define POST_CODE_PORT 0x80
#define UNUSED_MMIO_ADDRESS 0xd0000000u

int guest_main(const char *cmdline) {
  int mmio = cmdline[0] == 'm';
  while (*cmdline && *cmdline != ' ') cmdline++;
  uint64_t count = 0;
  if (!parse_dec(cmdline, &count)) {
    serial_print("usage: port N | mmio N\n");
    return 2;
  }
  for (uint64_t i = 0; i < count; i++) {
    if (mmio)
      mmio_write32(UNUSED_MMIO_ADDRESS, 0);
    else
      outb(POST_CODE_PORT, 0);
  }
  serial_print("done\n");
  return 0;
}
