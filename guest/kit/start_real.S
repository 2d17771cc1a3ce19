/*
 * The raw real-mode startup stub: a flat binary linked at 0x8000 whose first byte is the entry
 * point, entered in real mode with CS:IP pointing at it (CS = 0, IP = 0x8000; CS = 0x800, IP = 0
 * works as well: the stub reloads CS with 0) and %esi = the physical address of a Linux
 * boot_params (Documentation/arch/x86/boot.rst; the command line pointer is hdr.cmd_line_ptr).
 * Interrupts off; the stub needs no stack, A20 enabled (as it always is under KVM).
 * It loads the kit's GDT, enters 32-bit protected mode, and goes on as the other 32-bit stubs.
 */
#include "long_mode.inc"

	.section .text.kit_entry, "ax"
	.code16
	.globl kit_real_start
kit_real_start:
	cli
	ljmp	$0, $1f				/* CS = 0: this code sits below 64 KiB */
1:	xor	%ax, %ax
	mov	%ax, %ds
	ENTER_PROTECTED_MODE kit_gdt_pointer, protected_mode

	.code32
protected_mode:
	mov	$KIT_DATA_SELECTOR, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%esi, %ebx			/* boot_params */
	mov	$KIT_FORMAT_RAW_REAL, %ebp
	jmp	kit_enter_long_mode
