/* debuggee: something for gdb to stop in. tick() adds each step to `counter` five times, then the
 * guest prints the total ("debuggee: counter 10") and exits with 0. The tests break in tick(),
 * read `counter`, step, and watch it change. */
#include "kit.h"

volatile uint64_t counter;

__attribute__((noinline)) void tick(uint64_t step) {
  counter += step;
  __asm__ volatile("" ::: "memory");
}

int guest_main(const char* cmdline) {
  (void)cmdline;
  for (uint64_t step = 0; step < 5; ++step) tick(step);
  serial_print("debuggee: counter ");
  serial_print_dec(counter);
  serial_print("\n");
  return 0;
}
