/*
 * The raw protected-mode startup stub: a flat binary whose first byte is the entry point, entered
 * in 32-bit flat protected mode, paging off, with %esi = the physical address of a Linux
 * boot_params (Documentation/arch/x86/boot.rst; the command line pointer is hdr.cmd_line_ptr).
 */
#include "boot_defs.h"

	.section .text.kit_entry, "ax"
	.code32
	.globl kit_raw_protected_start
kit_raw_protected_start:
	cli
	mov	%esp, kit_entry_stack_pointer	/* the loader's stack, for tests */
	mov	%esi, %ebx			/* boot_params */
	mov	$KIT_FORMAT_RAW_PROTECTED, %ebp
	jmp	kit_enter_long_mode
