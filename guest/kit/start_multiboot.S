/*
 * The Multiboot v1 startup stub (Multiboot Specification 0.6.96): a header in the first 8 KiB of
 * the image, entered in 32-bit flat protected mode, paging off, with %eax = 0x2BADB002 and %ebx =
 * the physical address of the multiboot information (command line at mbi->cmdline when flags
 * bit 2 is set).
 *
 * Built twice: as is, for an ELF image (the loader reads the ELF program headers), and with
 * KIT_MULTIBOOT_AOUT defined, for a flat binary whose header carries the "a.out kludge"
 * addresses (flags bit 16, specification 3.1.3): the binary is loaded at load_addr.
 */
#include "boot_defs.h"

#define MULTIBOOT_HEADER_MAGIC 0x1badb002
#define MULTIBOOT_PAGE_ALIGN (1 << 0)		/* align modules on 4 KiB */
#define MULTIBOOT_MEMORY_INFO (1 << 1)		/* pass mem_* and the memory map */
#define MULTIBOOT_AOUT_KLUDGE (1 << 16)		/* the address fields below are valid */

#ifdef KIT_MULTIBOOT_AOUT
#define MULTIBOOT_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_AOUT_KLUDGE)
#define KIT_FORMAT KIT_FORMAT_MULTIBOOT_AOUT
#else
#define MULTIBOOT_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)
#define KIT_FORMAT KIT_FORMAT_MULTIBOOT
#endif

	.section .text.kit_entry, "ax"
	.balign 4
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)	/* checksum */
#ifdef KIT_MULTIBOOT_AOUT
	.long multiboot_header			/* header_addr */
	.long __image_start			/* load_addr: the first byte of the file */
	.long __load_end			/* load_end_addr: the end of .data */
	.long __image_end			/* bss_end_addr: .bss and the stacks */
	.long kit_multiboot_start		/* entry_addr */
#endif

	.code32
	.globl kit_multiboot_start
kit_multiboot_start:
	cli
	mov	%esp, kit_entry_stack_pointer	/* the loader's stack, for tests */
	mov	%eax, %esi			/* magic, checked in C */
	mov	$KIT_FORMAT, %ebp
	jmp	kit_enter_long_mode		/* %ebx: multiboot information */
