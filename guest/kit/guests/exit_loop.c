/* exit_loop: the exit-cost benchmark's guest. The command line is "port N" or "mmio N": N writes
 * to port 0x80 (the POST-code port: nothing but a VM exit behind it) or to an unassigned address
 * in the MMIO hole, each one exit to the VMM; then prints "done" and exits 0. With N = 0 it
 * measures everything but the exits, for the benchmark to subtract. The loops are written in
 * assembly to be the same three instructions as those of the benchmark's bare KVM_RUN floor
 * (tools/bench/kvm_floor.cc): on a hypervisor that emulates kernel-mode instructions, every
 * extra instruction in the loop would be counted as exit cost. */
#include "kit.h"

#define POST_CODE_PORT 0x80
#define UNUSED_MMIO_ADDRESS 0xd0000000u

static void port_writes(uint64_t count) {
  if (!count) return;
  __asm__ volatile("1: outb %%al, %%dx\n\tdec %%rcx\n\tjnz 1b"
                   : "+c"(count)
                   : "a"(0), "d"(POST_CODE_PORT)
                   : "memory");
}

static void mmio_writes(uint64_t count) {
  if (!count) return;
  __asm__ volatile("1: movb %%al, (%%rsi)\n\tdec %%rcx\n\tjnz 1b"
                   : "+c"(count)
                   : "a"(0), "S"((uint64_t)UNUSED_MMIO_ADDRESS)
                   : "memory");
}

int guest_main(const char *cmdline) {
  int mmio = cmdline[0] == 'm';
  while (*cmdline && *cmdline != ' ') cmdline++;
  uint64_t count = 0;
  if (!parse_dec(cmdline, &count)) {
    serial_print("usage: port N | mmio N\n");
    return 2;
  }
  if (mmio)
    mmio_writes(count);
  else
    port_writes(count);
  serial_print("done\n");
  return 0;
}
