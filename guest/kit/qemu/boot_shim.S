/*
 * A 64 KiB BIOS ROM for QEMU (-M pc -bios) that enters a kit guest the way Wisp does, for the
 * formats QEMU cannot boot itself (elf64, raw-real, raw-protected, raw-long). run.sh loads the
 * guest and the command line with QEMU's generic loader (-device loader) and fills a mailbox:
 *   0x6000  mode: 1 real, 2 protected, 3 long      0x6004  entry address
 *   0x6008  command line address (0: none)
 * The shim writes a zeroed boot_params at 0x7000 with hdr.cmd_line_ptr (offset 0x228) set, then
 *   real:      CS = 0, IP = entry, %esi = 0x7000
 *   protected: 32-bit flat (CS 0x08, DS 0x18), paging off, %esi = 0x7000
 *   long:      4 GiB identity-mapped with 2 MiB pages (tables at 0x9000), CS 0x10, DS 0x18,
 *              %rsi = 0x7000 (the Linux 64-bit boot protocol, as Wisp's loaders)
 * Linked at 0xf0000, where the ROM's last 64 KiB appear below 1 MiB; reset enters at 0xffff0.
 */
#include "long_mode.inc"

#define MAILBOX_MODE 0x6000
#define MAILBOX_ENTRY 0x6004
#define MAILBOX_CMDLINE 0x6008
#define MAILBOX_FAR_POINTER 0x600c		/* offset, segment: for the real-mode far jump */
#define MODE_REAL 1
#define MODE_PROTECTED 2
#define BOOT_PARAMS 0x7000
#define BOOT_PARAMS_CMD_LINE_PTR 0x228
#define PML4 0x9000
#define PDPT 0xa000
#define PAGE_DIRECTORIES 0xb000
#define ROM_SEGMENT 0xf000
#define ROM_BASE 0xf0000

	.code16
	.text
shim_start:
	cli
	cld
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$BOOT_PARAMS, %di		/* zero boot_params */
	mov	$(KIT_PAGE_SIZE / 2), %cx
	rep stosw
	mov	MAILBOX_CMDLINE, %eax
	mov	%eax, BOOT_PARAMS + BOOT_PARAMS_CMD_LINE_PTR
	mov	$BOOT_PARAMS, %esi
	cmpl	$MODE_REAL, MAILBOX_MODE
	jne	1f
	mov	MAILBOX_ENTRY, %ax
	mov	%ax, MAILBOX_FAR_POINTER
	movw	$0, MAILBOX_FAR_POINTER + 2
	ljmp	*MAILBOX_FAR_POINTER

1:	ENTER_PROTECTED_MODE %cs:(gdt_pointer-ROM_BASE), protected_mode

	.code32
protected_mode:
	mov	$KIT_DATA_SELECTOR, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	cmpl	$MODE_PROTECTED, MAILBOX_MODE
	jne	2f
	jmp	*MAILBOX_ENTRY

2:	mov	$PML4, %edi			/* zero the PML4 and the PDPT */
	xor	%eax, %eax
	mov	$(2 * KIT_PAGE_SIZE / 4), %ecx
	rep stosl
	mov	$PAGE_DIRECTORIES, %edi		/* identity-map 4 GiB with 2 MiB pages */
	mov	$(KIT_PTE_PRESENT_WRITABLE | KIT_PDE_LARGE_PAGE), %eax
	mov	$(KIT_IDENTITY_MAPPED_GIB * 512), %ecx
3:	mov	%eax, (%edi)
	movl	$0, 4(%edi)
	add	$(1 << KIT_LARGE_PAGE_SHIFT), %eax
	add	$8, %edi
	loop	3b
	mov	$PDPT, %edi
	mov	$(PAGE_DIRECTORIES + KIT_PTE_PRESENT_WRITABLE), %eax
	mov	$KIT_IDENTITY_MAPPED_GIB, %ecx
4:	mov	%eax, (%edi)
	add	$KIT_PAGE_SIZE, %eax
	add	$8, %edi
	loop	4b
	movl	$(PDPT + KIT_PTE_PRESENT_WRITABLE), PML4
	mov	$PML4, %edi
	ENABLE_LONG_MODE %edi, long_mode

	.code64
long_mode:
	mov	$KIT_DATA_SELECTOR, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	MAILBOX_ENTRY, %eax
	jmp	*%rax

/* The accessed bits are set: the CPU would otherwise write them, and this GDT is in ROM. */
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff		/* 0x08: code, 32-bit */
	.quad 0x00af9b000000ffff		/* 0x10: code, 64-bit */
	.quad 0x00cf93000000ffff		/* 0x18: data */
gdt_end:
gdt_pointer:
	.word gdt_end - gdt - 1
	.long gdt

	.code16
	.org 0xfff0				/* the reset vector: 0xffff0 */
	ljmp	$ROM_SEGMENT, $(shim_start - ROM_BASE)
	.org 0x10000
