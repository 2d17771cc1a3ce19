/*
 * The smallest guest that boots through Wisp's real Linux path: a flat file laid out as a
 * bzImage (Linux boot protocol 2.15 setup header, Documentation/arch/x86/boot.rst) whose 64-bit
 * entry prints a greeting and its kernel command line on COM1, then writes the command line's
 * first character minus '0' to the debug-exit port. "3 hello" therefore exits with status 7.
 */
	.code64
	.text
	.globl _start
_start:
	.org 0x1f1
setup_sects:	.byte 1				/* setup is 2 sectors: 0x400 bytes */
root_flags:	.word 0
syssize:	.long (image_end - protected_mode + 15) / 16
ram_size:	.word 0
vid_mode:	.word 0
root_dev:	.word 0
boot_flag:	.word 0xaa55
jump:		.byte 0xeb, header_end - jump - 2
header:		.ascii "HdrS"
version:	.word 0x020f
realmode_swtch:	.long 0
start_sys_seg:	.word 0
kernel_version:	.word 0
type_of_loader:	.byte 0
loadflags:	.byte 0x01			/* LOADED_HIGH */
setup_move_size: .word 0
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x1000
relocatable_kernel: .byte 0
min_alignment:	.byte 12
xloadflags:	.word 0x0001			/* XLF_KERNEL_64 */
cmdline_size:	.long 2047
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
pref_address:	.quad 0x100000
init_size:	.long 0x10000
handover_offset: .long 0
kernel_info_offset: .long 0
header_end:

	.org 0x400
protected_mode:
	.org 0x600				/* the 64-bit entry: load address + 0x200 */
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
