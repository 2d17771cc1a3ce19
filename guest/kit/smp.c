/*
 * smp_start_aps: starts the other CPUs with the INIT-SIPI-SIPI sequence through the local xAPIC
 * (Intel SDM vol. 3, 9.4.4 and 11.6.1), broadcast to all CPUs but this one. The APs run the
 * trampoline of smp_trampoline.S and then ap_main.
 */
#include "kit.h"

/* Local APIC registers (xAPIC, memory-mapped), offsets from KIT_LOCAL_APIC_ADDRESS. */
#define APIC_ICR_LOW 0x300
#define APIC_ICR_HIGH 0x310

#define ICR_DELIVERY_INIT (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_ALL_EXCLUDING_SELF (3u << 18)

extern const char kit_trampoline_start[], kit_trampoline_end[];
extern uint32_t kit_ap_cr3;
static void (*volatile ap_entry)(void);

static void send_ipi(uint32_t command) {
  lapic_write(APIC_ICR_HIGH, 0);
  lapic_write(APIC_ICR_LOW, ICR_ALL_EXCLUDING_SELF | command);
  while (lapic_read(APIC_ICR_LOW) & ICR_DELIVERY_PENDING) cpu_pause();
}

/* Called by each AP in long mode on its own stack (smp_trampoline.S). */
void kit_ap_start(void) { ap_entry(); }

void smp_start_aps(void (*ap_main)(void)) {
  uint64_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  kit_ap_cr3 = (uint32_t)cr3; /* the kit's or the loader's tables: both below 4 GiB */
  ap_entry = ap_main;
  memcpy((void *)KIT_TRAMPOLINE_ADDRESS, kit_trampoline_start,
         (size_t)(kit_trampoline_end - kit_trampoline_start));
  lapic_enable();
  /* KVM's in-kernel local APIC needs none of the 10 ms and 200 us waits of real hardware. */
  send_ipi(ICR_DELIVERY_INIT | ICR_LEVEL_ASSERT);
  send_ipi(ICR_DELIVERY_STARTUP | (KIT_TRAMPOLINE_ADDRESS >> 12));
  send_ipi(ICR_DELIVERY_STARTUP | (KIT_TRAMPOLINE_ADDRESS >> 12));
}
