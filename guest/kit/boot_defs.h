/*
 * Numbers shared by the kit's startup assembly and its C code: the boot formats, the memory
 * layout of the 32-bit to 64-bit switch, and the fields the stubs read from the boot structures.
 * Plain #defines only, so that both the assembler and the C compiler can include this file.
 */
#pragma once

/* The boot formats, passed by each startup stub to kit_start(). */
#define KIT_FORMAT_PVH 1
#define KIT_FORMAT_MULTIBOOT 2
#define KIT_FORMAT_MULTIBOOT_AOUT 3
#define KIT_FORMAT_ELF64 4
#define KIT_FORMAT_RAW_REAL 5
#define KIT_FORMAT_RAW_PROTECTED 6
#define KIT_FORMAT_RAW_LONG 7

/* Selectors of the kit's flat GDT (long_mode.S), the same as Wisp's 64-bit boot GDT. */
#define KIT_CODE32_SELECTOR 0x08
#define KIT_CODE64_SELECTOR 0x10
#define KIT_DATA_SELECTOR 0x18

/* Control registers and the EFER MSR (Intel SDM vol. 3, 2.5 and 2.2.1). */
#define KIT_CR0_PE (1 << 0)
#define KIT_CR0_PG (1 << 31)
#define KIT_CR4_PAE (1 << 5)
#define KIT_MSR_EFER 0xc0000080
#define KIT_EFER_LME (1 << 8)

/* Page table entries: present, writable, and for a page-directory entry a 2 MiB page. */
#define KIT_PTE_PRESENT_WRITABLE 0x3
#define KIT_PDE_LARGE_PAGE 0x80
#define KIT_LARGE_PAGE_SHIFT 21
#define KIT_IDENTITY_MAPPED_GIB 4
#define KIT_PAGE_SIZE 4096
#define KIT_STACK_SIZE 16384

/* Entry magics. PVH: xen/include/public/arch-x86/hvm/start_info.h. Multiboot 0.6.96, 3.2. */
#define KIT_PVH_START_MAGIC 0x336ec578
#define KIT_MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002

/* SMP: the trampoline is a page below 1 MiB, entered by the APs at the SIPI vector page; each of
 * at most KIT_MAX_CPUS - 1 APs gets a stack of KIT_AP_STACK_SIZE. */
#define KIT_TRAMPOLINE_ADDRESS 0x8000
#define KIT_MAX_CPUS 16
#define KIT_AP_STACK_SIZE 4096
