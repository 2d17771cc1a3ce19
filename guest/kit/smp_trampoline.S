/*
 * The application processors' way into C. An AP leaves wait-for-SIPI in real mode at CS:IP =
 * (vector << 8):0 (Intel SDM vol. 3, 9.4.4 "MP Initialization Example"); smp.c copies the
 * 16-bit trampoline below to KIT_TRAMPOLINE_ADDRESS (vector KIT_TRAMPOLINE_ADDRESS >> 12). The
 * trampoline only addresses itself CS-relative, so it runs from its copy; it loads the kit's GDT
 * and jumps to kit_ap_protected32 in the image, which enters long mode with the BSP's cr3
 * (kit_ap_cr3), takes the next AP stack and calls kit_ap_start(). An AP never returns.
 */
#include "long_mode.inc"

#define KIT_MAX_APS (KIT_MAX_CPUS - 1)

	.section .rodata
	.code16
	.globl kit_trampoline_start, kit_trampoline_end
kit_trampoline_start:
	cli
	cld
	ENTER_PROTECTED_MODE %cs:(trampoline_gdt_pointer-kit_trampoline_start), kit_ap_protected32
	.balign 8
trampoline_gdt_pointer:				/* a copy of kit_gdt_pointer */
	.word 4 * 8 - 1				/* four descriptors */
	.long kit_gdt
kit_trampoline_end:

	.section .text
	.code32
kit_ap_protected32:
	mov	$KIT_DATA_SELECTOR, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	kit_ap_cr3, %edi
	ENABLE_LONG_MODE %edi, kit_ap_long_mode64

	.code64
kit_ap_long_mode64:
	mov	$KIT_DATA_SELECTOR, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$1, %eax
	lock xadd %eax, kit_ap_count		/* %eax = this AP's index */
	cmp	$KIT_MAX_APS, %eax
	jae	2f				/* no stack left: park */
	inc	%eax
	imul	$KIT_AP_STACK_SIZE, %eax, %esp
	add	$kit_ap_stacks, %esp
	call	kit_ap_start
2:	cli
	hlt
	jmp	2b

	.section .data
	.balign 4
	.globl kit_ap_cr3, kit_ap_count
kit_ap_cr3:	.long 0				/* written by smp_start_aps */
kit_ap_count:	.long 0				/* APs that reached long mode */

	.section .kit_stack, "aw", @nobits
	.balign 16
kit_ap_stacks:
	.skip KIT_MAX_APS * KIT_AP_STACK_SIZE
