/* exit_code: exits with the decimal number at the start of its command line ("7" exits with
 * status 15); with no number there, prints why and exits with 0x7e. "reset" instead of a number
 * prints "resetting" and resets the machine through the i8042 (a reboot, exit status 4).
 * "panic" reads the pvpanic port's events, reports a panic there (exit status 14), and if it is
 * still running after that (--on-panic continue) prints so and exits with 0. */
#include "kit.h"

#define EXIT_NO_NUMBER 0x7e
#define I8042_COMMAND_PORT 0x64
#define I8042_PULSE_RESET 0xfe
#define PVPANIC_PORT 0x505
#define PVPANIC_PANICKED 1

int guest_main(const char* cmdline) {
  if (cmdline[0] == 'r' && cmdline[1] == 'e' && cmdline[2] == 's' && cmdline[3] == 'e' &&
      cmdline[4] == 't') {
    serial_print("resetting\n");
    outb(I8042_COMMAND_PORT, I8042_PULSE_RESET);
  }
  if (cmdline_find(cmdline, "panic")) {
    serial_print("pvpanic events ");
    serial_print_hex(inb(PVPANIC_PORT));
    serial_print("\n");
    outb(PVPANIC_PORT, PVPANIC_PANICKED);
    serial_print("still running after the panic report\n");
    return 0;
  }
  uint64_t value;
  if (!parse_dec(cmdline, &value)) {
    serial_print("exit_code: no number at the start of the command line\n");
    return EXIT_NO_NUMBER;
  }
  return (int)value;
}
