/*
 * The 64-bit startup stub, for a plain ELF64 (format elf64) or a flat binary whose first byte
 * is the entry point (format raw-long). The loader enters it as Linux's 64-bit boot protocol does
 * (Documentation/arch/x86/boot.rst, "64-bit boot protocol"; Firecracker's vmlinux boot): long
 * mode, the first 4 GiB identity-mapped, a flat GDT (CS 0x10, DS 0x18), interrupts off, and %rsi
 * = the physical address of boot_params (the command line pointer is hdr.cmd_line_ptr).
 * The stub keeps the loader's page tables and GDT.
 */
#include "boot_defs.h"

#ifndef KIT_FORMAT
#define KIT_FORMAT KIT_FORMAT_ELF64
#endif

	.section .text.kit_entry, "ax"
	.code64
	.globl kit_long_start
kit_long_start:
	cli
	cld
	mov	%rsi, %rbx			/* boot_params */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$3, %ecx
	xor	%eax, %eax
	rep stosq
	mov	$kit_stack_top, %esp
	mov	$KIT_FORMAT, %edi
	mov	%rbx, %rsi
	xor	%edx, %edx
	call	kit_start
	ud2					/* kit_start does not return */
