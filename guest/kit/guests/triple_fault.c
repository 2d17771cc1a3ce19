/* triple_fault: loads an empty IDT and executes ud2. The #UD cannot be delivered, nor the #GP or
 * #DF that follow: the CPU shuts down (a triple fault). */
#include "kit.h"

int guest_main(const char *cmdline) {
  (void)cmdline;
  static const struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } empty_idt = {0, 0};
  __asm__ volatile("lidt %0; ud2" : : "m"(empty_idt));
  return 0x7f; /* not reached */
}
