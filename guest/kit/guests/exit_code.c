/* exit_code: exits with the decimal number at the start of its command line ("7" exits with
 * status 15); with no number there, prints why and exits with 0x7e. */
#include "kit.h"

#define EXIT_NO_NUMBER 0x7e

int guest_main(const char *cmdline) {
  uint64_t value;
  if (!parse_dec(cmdline, &value)) {
    serial_print("exit_code: no number at the start of the command line\n");
    return EXIT_NO_NUMBER;
  }
  return (int)value;
}
