/*
 * The 32-bit path into C, shared by the stubs entered in protected mode (PVH, multiboot, raw):
 * zero .bss, identity-map the first 4 GiB with 2 MiB pages, load the kit's flat GDT, enter long
 * mode (Intel SDM vol. 3, 10.8.5) and call kit_start(format, info, magic) on the kit's stack.
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

	/* Page directories: entry i maps 2 MiB page i. */
	mov	$kit_page_directories, %edi
	mov	$(KIT_PTE_PRESENT_WRITABLE | KIT_PDE_LARGE_PAGE), %eax
	mov	$(KIT_IDENTITY_MAPPED_GIB * 512), %ecx
1:	mov	%eax, (%edi)
	add	$(1 << KIT_LARGE_PAGE_SHIFT), %eax
	add	$8, %edi
	loop	1b
	/* The PDPT points at the four page directories, the PML4 at the PDPT. */
	mov	$kit_pdpt, %edi
	mov	$(kit_page_directories + KIT_PTE_PRESENT_WRITABLE), %eax
	mov	$KIT_IDENTITY_MAPPED_GIB, %ecx
2:	mov	%eax, (%edi)
	add	$KIT_PAGE_SIZE, %eax
	add	$8, %edi
	loop	2b
	movl	$(kit_pdpt + KIT_PTE_PRESENT_WRITABLE), kit_pml4

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

	.section .bss
	.balign KIT_PAGE_SIZE
kit_pml4:	.skip KIT_PAGE_SIZE
kit_pdpt:	.skip KIT_PAGE_SIZE
kit_page_directories: .skip KIT_IDENTITY_MAPPED_GIB * KIT_PAGE_SIZE
