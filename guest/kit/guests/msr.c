/* msr: reads a few MSRs, and writes one, under a #GP handler, printing each outcome:
 *     rdmsr 0x10: ok             (the TSC: KVM's)
 *     rdmsr 0x480: #GP           (IA32_VMX_BASIC: Wisp's MSR policy refuses it)
 * then exits with 0. Which MSRs and why: vmm/msr_policy.h. */
#include "kit.h"

#define GP_VECTOR 13
#define RDMSR_BYTES 2 /* 0f 32, as wrmsr's 0f 30 */

struct fault_frame {
  uint64_t rip, cs, rflags, rsp, ss;
};

static volatile bool faulted;

/* A #GP from rdmsr or wrmsr: note it and go on after the instruction. */
__attribute__((interrupt)) static void gp_isr(struct fault_frame* frame, uint64_t error_code) {
  (void)error_code;
  faulted = true;
  frame->rip += RDMSR_BYTES;
}

static void report(const char* what, uint32_t index) {
  serial_print(what);
  serial_print(" ");
  serial_print_hex(index);
  serial_print(faulted ? ": #GP\n" : ": ok\n");
}

static void try_read(uint32_t index) {
  uint32_t low, high;
  faulted = false;
  __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index) : "memory");
  report("rdmsr", index);
}

static void try_write(uint32_t index, uint64_t value) {
  faulted = false;
  __asm__ volatile("wrmsr"
                   :
                   : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
  report("wrmsr", index);
}

int guest_main(const char* cmdline) {
  (void)cmdline;
  idt_set_handler(GP_VECTOR, (kit_isr*)(void*)gp_isr);
  try_read(0x10);           /* IA32_TIME_STAMP_COUNTER */
  try_read(0x1b);           /* IA32_APIC_BASE */
  try_read(0x480);          /* IA32_VMX_BASIC */
  try_read(0x491);          /* IA32_VMX_VMFUNC */
  try_read(0x570);          /* IA32_RTIT_CTL */
  try_read(0xc0010114);     /* VM_CR */
  try_write(0x570, 0);      /* IA32_RTIT_CTL */
  try_write(0xc0010117, 0); /* VM_HSAVE_PA */
  return 0;
}
