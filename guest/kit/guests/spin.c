/* spin: prints "spinning" and loops forever (for a VMM's timeout).
 *   "tick=MS"  instead prints "tick N" every MS milliseconds (LAPIC timer), forever: a guest whose
 *              output shows whether its vCPU runs (the pause tests). */
#include "kit.h"

static void tick_forever(uint64_t milliseconds) {
  for (uint64_t tick = 0;; ++tick) {
    serial_print("tick ");
    serial_print_dec(tick);
    serial_print("\n");
    uint32_t expirations = lapic_timer_expirations;
    lapic_timer_start((uint32_t)(milliseconds * 1000));
    while (lapic_timer_expirations == expirations) cpu_wait_for_interrupt();
  }
}

int guest_main(const char *cmdline) {
  uint64_t milliseconds = 0;
  const char *tick = cmdline_find(cmdline, "tick=");
  if (tick && parse_dec(tick, &milliseconds) && milliseconds > 0) tick_forever(milliseconds);
  serial_print("spinning\n");
  for (;;) cpu_pause();
}
