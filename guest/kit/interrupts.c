/*
 * Interrupts, for the guests that wait for one: the IDT (Intel SDM vol. 3, 7.14.1 "64-Bit Mode
 * IDT"), the local xAPIC with its EOI register and timer (SDM vol. 3, chapter 11), the I/O APIC's
 * redirection table (82093AA I/O APIC datasheet, 3.2) and the mask registers of the 8259 PICs.
 */
#include "kit.h"

/* Local APIC registers, offsets from KIT_LOCAL_APIC_ADDRESS (SDM vol. 3, table 11-1). */
#define LAPIC_EOI 0x0b0
#define LAPIC_IRR 0x200 /* eight registers 0x10 apart, a bit per vector */
#define LAPIC_SPURIOUS_VECTOR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INITIAL_COUNT 0x380
#define LAPIC_TIMER_DIVIDE 0x3e0

#define LAPIC_SOFTWARE_ENABLE (1u << 8)
#define LAPIC_TIMER_DIVIDE_BY_16 0x3 /* SDM vol. 3, figure 11-10 */

/* The I/O APIC: an index register and a data window (82093AA datasheet, 3.1 and 3.2). */
#define IOAPIC_REGISTER_SELECT 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_VERSION 0x01                /* bits 23:16: the highest redirection entry */
#define IOAPIC_REDIRECTION_TABLE 0x10      /* entry n: low half 0x10 + 2n, high half 0x11 + 2n */
#define IOAPIC_DESTINATION_SHIFT (56 - 32) /* destination APIC ID, bits 63:56 */

/* The 8259 PICs' data ports: a write there outside initialization sets the mask (OCW1). */
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA 0xa1

/* A 64-bit interrupt gate: present, DPL 0, type 0xe (SDM vol. 3, figure 7-8). */
struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type;
  uint16_t offset_middle;
  uint32_t offset_high;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate");
#define IDT_INTERRUPT_GATE 0x8e

static struct idt_gate idt[256] __attribute__((aligned(16)));
static bool idt_loaded;
static bool pics_masked;
volatile uint32_t lapic_timer_expirations;

uint32_t lapic_read(uint32_t reg) {
  return mmio_read32(KIT_LOCAL_APIC_ADDRESS + reg);
}
void lapic_write(uint32_t reg, uint32_t value) {
  mmio_write32(KIT_LOCAL_APIC_ADDRESS + reg, value);
}
void lapic_eoi(void) {
  lapic_write(LAPIC_EOI, 0);
}
bool lapic_interrupt_pending(uint8_t vector) {
  return (lapic_read(LAPIC_IRR + vector / 32u * 0x10) >> (vector % 32)) & 1;
}

/* A spurious interrupt is not in service: no EOI (SDM vol. 3, 11.9). */
__attribute__((interrupt)) static void spurious_isr(struct kit_interrupt_frame* frame) {
  (void)frame;
}

__attribute__((interrupt)) static void timer_isr(struct kit_interrupt_frame* frame) {
  (void)frame;
  lapic_timer_expirations++;
  lapic_eoi();
}

void idt_set_handler(uint8_t vector, kit_isr* isr) {
  uint16_t code_selector;
  __asm__ volatile("mov %%cs, %0" : "=r"(code_selector));
  uint64_t offset = (uint64_t)(uintptr_t)isr;
  idt[vector] = (struct idt_gate){
      .offset_low = (uint16_t)offset,
      .selector = code_selector, /* the kit's GDT or the loader's */
      .type = IDT_INTERRUPT_GATE,
      .offset_middle = (uint16_t)(offset >> 16),
      .offset_high = (uint32_t)(offset >> 32),
  };
  if (idt_loaded) return;
  idt_loaded = true;
  const struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } pointer = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
  __asm__ volatile("lidt %0" : : "m"(pointer) : "memory");
  idt_set_handler(KIT_VECTOR_SPURIOUS, spurious_isr);
}

void lapic_enable(void) {
  lapic_write(LAPIC_SPURIOUS_VECTOR, LAPIC_SOFTWARE_ENABLE | KIT_VECTOR_SPURIOUS);
}

void lapic_timer_start(uint32_t microseconds) {
  static bool configured;
  if (!configured) {
    idt_set_handler(KIT_VECTOR_TIMER, timer_isr);
    lapic_enable();
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, KIT_VECTOR_TIMER); /* one-shot, unmasked */
    configured = true;
  }
  uint64_t ticks = (uint64_t)microseconds * 1000 / 16; /* a 1 GHz bus clock divided by 16 */
  lapic_write(LAPIC_TIMER_INITIAL_COUNT, ticks > 0xffffffffu ? 0xffffffffu : (uint32_t)ticks);
}

void lapic_timer_stop(void) {
  lapic_write(LAPIC_TIMER_INITIAL_COUNT, 0);
}

static uint32_t ioapic_read(uint32_t reg) {
  mmio_write32(KIT_IO_APIC_ADDRESS + IOAPIC_REGISTER_SELECT, reg);
  return mmio_read32(KIT_IO_APIC_ADDRESS + IOAPIC_WINDOW);
}

static void ioapic_write(uint32_t reg, uint32_t value) {
  mmio_write32(KIT_IO_APIC_ADDRESS + IOAPIC_REGISTER_SELECT, reg);
  mmio_write32(KIT_IO_APIC_ADDRESS + IOAPIC_WINDOW, value);
}

bool ioapic_route(unsigned gsi, uint8_t vector, unsigned apic_id) {
  if (!pics_masked) {
    outb(PIC_MASTER_DATA, 0xff);
    outb(PIC_SLAVE_DATA, 0xff);
    pics_masked = true;
  }
  unsigned pins = ((ioapic_read(IOAPIC_VERSION) >> 16) & 0xff) + 1;
  if (gsi >= pins) return false;
  uint32_t entry = IOAPIC_REDIRECTION_TABLE + 2 * gsi;
  /* Bits 7:0 vector; delivery mode 000 (fixed), destination mode 0 (physical), polarity 0 (high),
   * trigger mode 0 (edge) and mask 0 are all zero. The high half first: unmasked last. */
  ioapic_write(entry + 1, apic_id << IOAPIC_DESTINATION_SHIFT);
  ioapic_write(entry, vector);
  return true;
}
