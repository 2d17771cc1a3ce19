/* spin: prints "spinning" and loops forever (for a VMM's timeout). */
#include "kit.h"

int guest_main(const char *cmdline) {
  (void)cmdline;
  serial_print("spinning\n");
  for (;;) cpu_pause();
}
