/* hello: prints "hello from <format>: <command line>" and exits with value 0 (status 1). With a
 * word "stack" on the command line it first prints the stack pointer the loader started a 32-bit
 * entry with: "entry stack: 0x...". */
#include "kit.h"

int guest_main(const char *cmdline) {
  const char *stack = cmdline_find(cmdline, "stack");
  if (stack && (*stack == 0 || *stack == ' ')) {
    serial_print("entry stack: ");
    serial_print_hex(kit_entry_stack_pointer);
    serial_print("\n");
  }
  serial_print("hello from ");
  serial_print(kit_boot_format_name);
  serial_print(": ");
  serial_print(cmdline);
  serial_print("\n");
  return 0;
}
