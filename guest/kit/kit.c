/*
 * The kit's helpers: the polled 8250/16550 UART on COM1, the debug-exit port, a test's checks,
 * number parsing and the CPU's APIC ID. See kit.h for what each one promises.
 */
#include "kit.h"

/* 8250/16550 registers, as offsets from the port base, and line status bits. */
enum {
  kUartData = 0,        /* RBR on read, THR on write */
  kUartLineStatus = 5,  /* LSR */
  kLsrDataReady = 1 << 0,
  kLsrTransmitterEmpty = 1 << 5, /* THRE: THR can take a byte */
};

void serial_putc(char c) {
  while (!(inb(KIT_COM1_PORT + kUartLineStatus) & kLsrTransmitterEmpty)) cpu_pause();
  outb(KIT_COM1_PORT + kUartData, (uint8_t)c);
}

void serial_print(const char *s) {
  while (*s) serial_putc(*s++);
}

void serial_print_hex(uint64_t value) {
  char digits[16];
  int count = 0;
  do {
    digits[count++] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value);
  serial_print("0x");
  while (count) serial_putc(digits[--count]);
}

void serial_print_dec(uint64_t value) {
  char digits[20];
  int count = 0;
  do {
    digits[count++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  while (count) serial_putc(digits[--count]);
}

char serial_getc(void) {
  while (!(inb(KIT_COM1_PORT + kUartLineStatus) & kLsrDataReady)) cpu_pause();
  return (char)inb(KIT_COM1_PORT + kUartData);
}

_Noreturn void guest_exit(unsigned value) {
  outl(KIT_DEBUG_EXIT_PORT, value);
  for (;;) __asm__ volatile("cli; hlt");
}

bool parse_dec(const char *s, uint64_t *value) {
  while (*s == ' ') s++;
  if (*s < '0' || *s > '9') return false;
  uint64_t number = 0;
  while (*s >= '0' && *s <= '9') number = number * 10 + (uint64_t)(*s++ - '0');
  *value = number;
  return true;
}

const char* cmdline_find(const char* cmdline, const char* prefix) {
  for (const char* word = cmdline; *word;) {
    const char *s = word, *p = prefix;
    while (*p && *s == *p) s++, p++;
    if (!*p) return s;
    while (*word && *word != ' ') word++;
    while (*word == ' ') word++;
  }
  return NULL;
}

static void print_failure(const struct kit_checks* checks, const char* what) {
  serial_print(checks->name);
  serial_print(": FAILED: ");
  serial_print(what);
}

void kit_fail(struct kit_checks* checks, const char* what, const char* detail) {
  print_failure(checks, what);
  if (detail) {
    serial_print(": ");
    serial_print(detail);
  }
  serial_print("\n");
  checks->failures++;
}

void kit_fail_numbers(struct kit_checks* checks, const char* what, const char* got, uint64_t value,
                      uint64_t expected) {
  print_failure(checks, what);
  serial_print(": ");
  serial_print(got);
  serial_print(" ");
  serial_print_dec(value);
  serial_print(", expected ");
  serial_print_dec(expected);
  serial_print("\n");
  checks->failures++;
}

bool kit_checks_passed(const struct kit_checks* checks) {
  serial_print(checks->name);
  if (checks->failures) {
    serial_print(": ");
    serial_print_dec((uint64_t)checks->failures);
    serial_print(" checks failed\n");
    return false;
  }
  serial_print(": ok\n");
  return true;
}

unsigned cpu_apic_id(void) {
  uint32_t regs[4];
  cpu_cpuid(1, regs);
  return regs[1] >> 24;
}

/* memset and memcpy move eight bytes per iteration of a string instruction: where guest kernel
 * code is emulated one instruction at a time (PVM), a byte loop costs about 80 times as much
 * (140 ms against 2 ms for 32 KiB). The stubs clear the direction flag. */
void* memset(void* dest, int c, size_t n) {
  void* d = dest;
  size_t words = n / 8, bytes = n % 8;
  uint64_t pattern = 0x0101010101010101ull * (unsigned char)c;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(pattern) : "memory");
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(bytes) : "a"(pattern) : "memory");
  return dest;
}

void* memcpy(void* dest, const void* src, size_t n) {
  void* d = dest;
  const void* s = src;
  size_t words = n / 8, bytes = n % 8;
  __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(bytes) : : "memory");
  return dest;
}
