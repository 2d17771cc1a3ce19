/*
 * smp: every CPU checks in. The BSP prints "cpu <apic id> checked in", starts the APs
 * (smp_start_aps: INIT-SIPI-SIPI), each AP prints the same line; then the BSP waits until as
 * many CPUs as the number on the command line (default 1) have checked in, prints
 * "all <n> cpus checked in" and exits 0, or gives up after SMP_TIMEOUT_TSC_TICKS and exits 1.
 */
#include "kit.h"

#define SMP_TIMEOUT_TSC_TICKS 10000000000ull /* 2.5 s to 5 s at the TSC rates of today's CPUs */
#define EXIT_TIMEOUT 1

static volatile int serial_lock;
static volatile int checked_in;

static void check_in(void) {
  spin_lock(&serial_lock);
  serial_print("cpu ");
  serial_print_dec(cpu_apic_id());
  serial_print(" checked in\n");
  spin_unlock(&serial_lock);
  atomic_increment(&checked_in);
}

int guest_main(const char *cmdline) {
  uint64_t cpus = 1;
  parse_dec(cmdline, &cpus);
  check_in();
  smp_start_aps(check_in);
  uint64_t deadline = cpu_rdtsc() + SMP_TIMEOUT_TSC_TICKS;
  while ((uint64_t)checked_in < cpus && cpu_rdtsc() < deadline) cpu_pause();
  spin_lock(&serial_lock);
  int count = checked_in;
  if ((uint64_t)count < cpus) {
    serial_print("only ");
    serial_print_dec((uint64_t)count);
    serial_print(" of ");
    serial_print_dec(cpus);
    serial_print(" cpus checked in\n");
    return EXIT_TIMEOUT;
  }
  serial_print("all ");
  serial_print_dec(cpus);
  serial_print(" cpus checked in\n");
  return 0;
}
