/*
 * The test-guest kit: what a tiny guest written in C may call. A guest defines
 *
 *     int guest_main(const char *cmdline);
 *
 * and is linked with one of the startup stubs (start_*.S), which enter 64-bit long mode with the
 * first 4 GiB identity-mapped, zero .bss, find the command line ("" when there is none) and call
 * guest_main; its return value is written to the debug-exit port (see guest_exit). Everything
 * runs with interrupts off on one stack; the serial port is polled.
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

/* The guest's entry point, defined by each guest. */
int guest_main(const char *cmdline);

/* How the guest was booted: a KIT_FORMAT_* value, its name ("pvh", "multiboot",
 * "multiboot-aout", "elf64", "raw-real", "raw-protected", "raw-long"), and the physical address
 * of the structure the loader handed over (hvm_start_info, multiboot info or boot_params). */
extern unsigned kit_boot_format;
extern const char *kit_boot_format_name;
extern uint64_t kit_boot_info;

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
  return *(volatile uint32_t *)(uintptr_t)address;
}
static inline void mmio_write32(uint64_t address, uint32_t value) {
  *(volatile uint32_t *)(uintptr_t)address = value;
}

/* COM1, polled: putc waits for an empty transmit register, getc for a received byte. */
void serial_putc(char c);
void serial_print(const char *s);
void serial_print_hex(uint64_t value); /* 0x followed by lowercase digits, no leading zeros */
void serial_print_dec(uint64_t value);
char serial_getc(void);

/* Ends the VM: writes value to the debug-exit port, so that Wisp (and QEMU's isa-debug-exit)
 * exit with status (value << 1) | 1. Halts forever if nothing is behind the port. */
_Noreturn void guest_exit(unsigned value);

/* Parses the decimal number at the start of s (after spaces) into *value. Returns false, and
 * leaves *value alone, when s does not start with a digit. */
bool parse_dec(const char *s, uint64_t *value);

/* The CPU. */
static inline void cpu_pause(void) { __asm__ volatile("pause"); }
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
static inline void spin_lock(volatile int *lock) {
  for (;;) {
    int held = 1;
    __asm__ volatile("xchg %0, %1" : "+r"(held), "+m"(*lock) : : "memory");
    if (held == 0) return;
    while (*lock) cpu_pause();
  }
}
static inline void spin_unlock(volatile int *lock) {
  __asm__ volatile("" : : : "memory");
  *lock = 0;
}
/* Atomically adds one to *counter (`lock xadd`) and returns the old value. */
static inline int atomic_increment(volatile int *counter) {
  int old = 1;
  __asm__ volatile("lock xadd %0, %1" : "+r"(old), "+m"(*counter) : : "memory");
  return old;
}

/* SMP (smp.c, smp_trampoline.S): starts every other CPU with INIT-SIPI-SIPI broadcast through
 * the local APIC. Each AP runs through a real-mode trampoline at KIT_TRAMPOLINE_ADDRESS into long
 * mode on its own stack, calls ap_main, then halts forever. At most KIT_MAX_CPUS CPUs. */
void smp_start_aps(void (*ap_main)(void));

/* The compiler may emit calls to these for plain loops and struct copies. */
void *memset(void *dest, int c, size_t n);
void *memcpy(void *dest, const void *src, size_t n);
