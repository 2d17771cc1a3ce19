/*
 * The test-guest kit: what a tiny guest written in C may call. A guest defines
 *
 *     int guest_main(const char *cmdline);
 *
 * and is linked with one of the startup stubs (start_*.S), which enter 64-bit long mode with the
 * first 4 GiB identity-mapped, zero .bss, find the command line ("" when there is none) and call
 * guest_main; its return value is written to the debug-exit port (see guest_exit). Everything
 * runs on one stack with interrupts off, except while a guest waits for an interrupt
 * (cpu_wait_for_interrupt); the serial port is polled.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot_defs.h"

/* Ports and addresses of the machine (Wisp's firmware/layout.h; QEMU's pc and microvm agree). */
#define KIT_COM1_PORT 0x3f8
#define KIT_DEBUG_EXIT_PORT 0xf4
#define KIT_LOCAL_APIC_ADDRESS 0xfee00000u
#define KIT_IO_APIC_ADDRESS 0xfec00000u

/* The guest's entry point, defined by each guest. */
int guest_main(const char* cmdline);

/* How the guest was booted: a KIT_FORMAT_* value, its name ("pvh", "multiboot",
 * "multiboot-aout", "elf64", "raw-real", "raw-protected", "raw-long"), and the physical address
 * of the structure the loader handed over (hvm_start_info, multiboot info or boot_params). */
extern unsigned kit_boot_format;
extern const char* kit_boot_format_name;
extern uint64_t kit_boot_info;
/* The stack pointer the loader started a Multiboot or raw protected-mode entry with (recorded
 * before the kit switches to its own stack); 0xffffffff for the other formats. */
extern uint32_t kit_entry_stack_pointer;

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t value) {
  __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
static inline uint16_t inw(uint16_t port) {
  uint16_t value;
  __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
static inline uint32_t inl(uint16_t port) {
  uint32_t value;
  __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

/* Memory-mapped I/O: one access of exactly 32 bits each. */
static inline uint32_t mmio_read32(uint64_t address) {
  return *(volatile uint32_t*)(uintptr_t)address;
}
static inline void mmio_write32(uint64_t address, uint32_t value) {
  *(volatile uint32_t*)(uintptr_t)address = value;
}

/* COM1, polled: putc waits for an empty transmit register, getc for a received byte. */
void serial_putc(char c);
void serial_print(const char* s);
void serial_print_hex(uint64_t value); /* 0x followed by lowercase digits, no leading zeros */
void serial_print_dec(uint64_t value);
char serial_getc(void);

/* A test guest's checks, reported on COM1 for the host's test to read: each failure as a line
 * "NAME: FAILED: what" (": detail" when there is one; kit_fail_numbers adds ": got VALUE, expected
 * EXPECTED"), and at the end "NAME: ok" or "NAME: N checks failed" (kit_checks_passed). A guest
 * that prints a failure of its own shape adds it to failures. */
struct kit_checks {
  const char* name; /* e.g. "virtio-blk" */
  int failures;
};
void kit_fail(struct kit_checks* checks, const char* what, const char* detail);
void kit_fail_numbers(struct kit_checks* checks, const char* what, const char* got, uint64_t value,
                      uint64_t expected);
bool kit_checks_passed(const struct kit_checks* checks);

/* Ends the VM: writes value to the debug-exit port, so that Wisp (and QEMU's isa-debug-exit)
 * exit with status (value << 1) | 1. Halts forever if nothing is behind the port. */
_Noreturn void guest_exit(unsigned value);

/* Finds the first word of cmdline (words are separated by spaces) that starts with prefix, e.g.
 * "seed=", and returns what follows the prefix in that word; NULL when there is none. */
const char* cmdline_find(const char* cmdline, const char* prefix);

/* Parses the decimal number at the start of s (after spaces) into *value. Returns false, and
 * leaves *value alone, when s does not start with a digit. */
bool parse_dec(const char* s, uint64_t* value);

/* Memory that the stubs do not zero, placed after the stacks (section .noinit): for large buffers,
 * which would cost milliseconds to zero where guest kernel code is emulated. */
#define KIT_NOINIT __attribute__((noinit))

/* The CPU. */
static inline void cpu_pause(void) {
  __asm__ volatile("pause");
}
static inline uint64_t cpu_rdtsc(void) {
  uint32_t low, high;
  __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
  return ((uint64_t)high << 32) | low;
}
static inline void cpu_cpuid(uint32_t leaf, uint32_t regs[4]) {
  __asm__ volatile("cpuid"
                   : "=a"(regs[0]), "=b"(regs[1]), "=c"(regs[2]), "=d"(regs[3])
                   : "a"(leaf), "c"(0));
}
/* The initial local APIC ID of this CPU: CPUID leaf 1, EBX bits 31:24. */
unsigned cpu_apic_id(void);

/* A spinlock on an int: 0 free, 1 held. Taken with `xchg` (implicitly locked). */
static inline void spin_lock(volatile int* lock) {
  for (;;) {
    int held = 1;
    __asm__ volatile("xchg %0, %1" : "+r"(held), "+m"(*lock) : : "memory");
    if (held == 0) return;
    while (*lock) cpu_pause();
  }
}
static inline void spin_unlock(volatile int* lock) {
  __asm__ volatile("" : : : "memory");
  *lock = 0;
}
/* Atomically adds one to *counter (`lock xadd`) and returns the old value. */
static inline int atomic_increment(volatile int* counter) {
  int old = 1;
  __asm__ volatile("lock xadd %0, %1" : "+r"(old), "+m"(*counter) : : "memory");
  return old;
}

/* SMP (smp.c, smp_trampoline.S): starts every other CPU with INIT-SIPI-SIPI broadcast through
 * the local APIC. Each AP runs through a real-mode trampoline at KIT_TRAMPOLINE_ADDRESS into long
 * mode on its own stack, calls ap_main, then halts forever. At most KIT_MAX_CPUS CPUs. */
void smp_start_aps(void (*ap_main)(void));

/* Interrupts (interrupts.c). A handler is a function with GCC's x86 interrupt attribute, entered
 * through a 64-bit interrupt gate (so with interrupts off) and ended with iretq:
 *
 *     __attribute__((interrupt)) static void isr(struct kit_interrupt_frame *frame) {...}
 *
 * The first idt_set_handler loads the kit's IDT, whose other vectors are not present (an exception
 * there ends in a triple fault). */
struct kit_interrupt_frame; /* what the CPU pushed: rip, cs, rflags, rsp, ss */
typedef void kit_isr(struct kit_interrupt_frame* frame);
void idt_set_handler(uint8_t vector, kit_isr* isr);

/* The vectors the kit itself uses (a guest may take any other from 0x20 to 0xfe). */
#define KIT_VECTOR_TIMER 0x30
#define KIT_VECTOR_SPURIOUS 0xff

/* The local xAPIC of this CPU (Intel SDM vol. 3, chapter 11), memory-mapped at
 * KIT_LOCAL_APIC_ADDRESS. lapic_enable sets the software-enable bit with the spurious vector
 * KIT_VECTOR_SPURIOUS (and a handler for it once the IDT is loaded); lapic_eoi ends the interrupt
 * being handled; lapic_interrupt_pending tells whether vector waits in the IRR (for interrupts to
 * be enabled, say). */
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t value);
void lapic_enable(void);
void lapic_eoi(void);
bool lapic_interrupt_pending(uint8_t vector);

/* The local APIC timer as a watchdog: one interrupt at KIT_VECTOR_TIMER after about microseconds
 * (counted at KVM's default APIC bus clock of 1 GHz, divided by 16; at most about 68 s), which
 * increments lapic_timer_expirations. lapic_timer_stop cancels it. */
extern volatile uint32_t lapic_timer_expirations;
void lapic_timer_start(uint32_t microseconds);
void lapic_timer_stop(void);

/* Routes I/O APIC pin gsi (82093AA datasheet, 3.2.4) to vector on the local APIC apic_id: fixed
 * delivery, physical destination, edge-triggered, active high, unmasked. Masks the 8259 PICs the
 * first time, so that nothing reaches the CPU through them. Returns false when the I/O APIC has
 * no such pin. */
bool ioapic_route(unsigned gsi, uint8_t vector, unsigned apic_id);

/* Enables interrupts, halts until one has been handled, disables them again. `sti` delays
 * interrupts by one instruction, so none that arrives before the `hlt` is missed: check the
 * condition with interrupts off, then wait. An interrupt already pending is taken at once (where
 * guest kernel code is emulated, as on PVM, a mere `sti; nop; cli` does not take it). */
static inline void cpu_wait_for_interrupt(void) {
  __asm__ volatile("sti; hlt; cli" : : : "memory");
}

/* A full barrier (loads and stores are not reordered across it, nor is the compiler's code). */
static inline void cpu_memory_barrier(void) {
  __asm__ volatile("mfence" : : : "memory");
}

/* The compiler may emit calls to these for plain loops and struct copies. */
void* memset(void* dest, int c, size_t n);
void* memcpy(void* dest, const void* src, size_t n);
