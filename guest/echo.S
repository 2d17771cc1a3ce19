/*
 * echo: copies every byte received on COM1 back to COM1, polling the line status register, until
 * it receives 'q'; then writes 0 to the debug-exit port (status 1). Used to test console input,
 * its back-pressure, and the Ctrl-A escape.
 */
#include "bzimage_header.inc"
entry64:
	mov	$0x3f8, %dx
	lea	ready(%rip), %rsi
	mov	$(ready_end - ready), %ecx
	rep outsb
1:	mov	$0x3fd, %dx			/* LSR */
	in	%dx, %al
	test	$1, %al				/* data ready */
	jz	1b
	mov	$0x3f8, %dx
	in	%dx, %al
	cmp	$'q', %al
	je	2f
	out	%al, %dx
	jmp	1b
2:	xor	%eax, %eax
	mov	$0xf4, %dx
	out	%al, %dx
3:	hlt
	jmp	3b

ready:
	.ascii "echo ready\n"
ready_end:
	.balign 16
image_end:
