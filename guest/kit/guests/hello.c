/* hello: prints "hello from <format>: <command line>" and exits with value 0 (status 1). */
#include "kit.h"

int guest_main(const char *cmdline) {
  serial_print("hello from ");
  serial_print(kit_boot_format_name);
  serial_print(": ");
  serial_print(cmdline);
  serial_print("\n");
  return 0;
}
