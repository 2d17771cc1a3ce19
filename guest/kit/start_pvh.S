/*
 * The PVH startup stub (xen's docs/misc/pvh.pandoc): an ELF note XEN_ELFNOTE_PHYS32_ENTRY gives
 * the 32-bit physical entry point. The loader enters it in 32-bit flat protected mode, paging
 * off, with %ebx = the physical address of struct hvm_start_info (magic 0x336ec578); the command
 * line is at its cmdline_paddr.
 */
#include "boot_defs.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f				/* namesz */
	.long 4f - 3f				/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY		/* type */
1:	.asciz "Xen"
2:	.balign 4
3:	.long kit_pvh_start
4:	.balign 4

	.section .text.kit_entry, "ax"
	.code32
	.globl kit_pvh_start
kit_pvh_start:
	cli
	mov	$KIT_FORMAT_PVH, %ebp
	xor	%esi, %esi
	jmp	kit_enter_long_mode		/* %ebx: hvm_start_info */
