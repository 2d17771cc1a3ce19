/*
 * triple_fault: loads an empty interrupt descriptor table and executes an undefined opcode. The
 * #UD cannot be delivered, nor the #GP or #DF that follow: the CPU shuts down (a triple fault).
 */
#include "bzimage_header.inc"
entry64:
	lidt	empty_idt(%rip)
	ud2
1:	hlt
	jmp	1b

empty_idt:
	.word 0					/* limit */
	.quad 0					/* base */
	.balign 16
image_end:
