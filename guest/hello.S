/*
 * hello: prints a greeting and its kernel command line on COM1, then writes the command line's
 * first character minus '0' to the debug-exit port. "3 hello" therefore exits with status 7.
 */
#include "bzimage_header.inc"
entry64:
	mov	%rsi, %rbx			/* boot_params */
	mov	$0x3f8, %dx
	lea	greeting(%rip), %rsi
	mov	$(greeting_end - greeting), %ecx
	rep outsb				/* one string I/O exit */
	mov	0x228(%rbx), %esi		/* boot_params.hdr.cmd_line_ptr */
1:	lodsb
	test	%al, %al
	jz	2f
	out	%al, %dx
	jmp	1b
2:	mov	$'\n', %al
	out	%al, %dx
	mov	0x228(%rbx), %esi
	movzbl	(%rsi), %eax
	sub	$'0', %eax
	mov	$0xf4, %dx
	out	%al, %dx
3:	hlt
	jmp	3b

greeting:
	.ascii "hello from the tiny guest: "
greeting_end:
	.balign 16
image_end:
