/*
 * The boot CPU's stack, in a section that the linker scripts place after .bss and the stubs do
 * not zero.
 */
#include "boot_defs.h"

	.section .kit_stack, "aw", @nobits
	.balign 16
	.skip KIT_STACK_SIZE
	.globl kit_stack_top
kit_stack_top:
