/*
 * The 32-bit path into C, shared by the stubs entered in protected mode (PVH, multiboot, raw):
 * zero .bss, load the kit's flat GDT, enter long mode (Intel SDM vol. 3, 10.8.5) on page tables
 * that identity-map the first 4 GiB with 2 MiB pages, and call kit_start(format, info, magic) on
 * the kit's stack. The page tables are built by the assembler into .data rather than by a loop at
 * run time: a hypervisor that emulates kernel-mode instructions one by one would spend
 * milliseconds on the loop.
 *
 * kit_enter_long_mode, jumped to in 32-bit flat protected mode, paging off, with
 *   %ebp = KIT_FORMAT_*, %ebx = physical address of the loader's structure, %esi = entry %eax.
 */
#include "long_mode.inc"

	.section .text
	.code32
	.globl kit_enter_long_mode
kit_enter_long_mode:
	cld
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl

	lgdt	kit_gdt_pointer			/* the loader's GDT may be anywhere */
	mov	$kit_pml4, %edi
	ENABLE_LONG_MODE %edi, kit_long_mode64

	.code64
kit_long_mode64:
	mov	$KIT_DATA_SELECTOR, %eax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs
	mov	$kit_stack_top, %esp
	mov	%esi, %edx			/* magic */
	mov	%ebx, %esi			/* info */
	mov	%ebp, %edi			/* format */
	call	kit_start
	ud2					/* kit_start does not return */

/* The flat GDT: 32-bit code, 64-bit code, data (the same selectors as Wisp's boot GDT). */
	.section .rodata
	.balign 8
	.globl kit_gdt
kit_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff		/* 0x08: code, 32-bit, base 0, limit 4 GiB */
	.quad 0x00af9a000000ffff		/* 0x10: code, 64-bit */
	.quad 0x00cf92000000ffff		/* 0x18: data, base 0, limit 4 GiB */
kit_gdt_end:
	.balign 8
	.globl kit_gdt_pointer
kit_gdt_pointer:
	.word kit_gdt_end - kit_gdt - 1
	.long kit_gdt

/* The identity map: the PML4 points at the PDPT, whose first KIT_IDENTITY_MAPPED_GIB entries
 * point at page directories; page-directory entry i maps the 2 MiB page i. Entries are two .longs
 * (low and high halves) so that the 32-bit assembler can build them; every address is below 4 GiB. */
	.section .data
	.balign KIT_PAGE_SIZE
kit_pml4:
	.long kit_pdpt + KIT_PTE_PRESENT_WRITABLE, 0
	.balign KIT_PAGE_SIZE
kit_pdpt:
	.set kit_directory, 0
	.rept KIT_IDENTITY_MAPPED_GIB
	.long kit_page_directories + kit_directory * KIT_PAGE_SIZE + KIT_PTE_PRESENT_WRITABLE, 0
	.set kit_directory, kit_directory + 1
	.endr
	.balign KIT_PAGE_SIZE
kit_page_directories:
	.set kit_large_page, 0
	.rept KIT_IDENTITY_MAPPED_GIB * 512
	.long (kit_large_page << KIT_LARGE_PAGE_SHIFT) | KIT_PTE_PRESENT_WRITABLE | KIT_PDE_LARGE_PAGE, 0
	.set kit_large_page, kit_large_page + 1
	.endr
