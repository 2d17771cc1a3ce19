/*
 * kit_start: the C side of every startup stub. It finds the command line in the structure the
 * loader handed over, checks that structure's magic, calls guest_main and exits with its value.
 *   PVH: struct hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h, docs/misc/pvh.pandoc)
 *   multiboot: the Multiboot information structure (Multiboot Specification 0.6.96, 3.3)
 *   elf64 and raw: Linux's boot_params, the "zero page" (Documentation/arch/x86/boot.rst)
 */
#include "kit.h"

/* Exit value when the loader's structure is wrong (status 0xff through debug-exit: 255). */
#define KIT_EXIT_BAD_BOOT 0x7f

/* struct hvm_start_info, the fields the kit reads (all versions have them). */
struct hvm_start_info {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
};
_Static_assert(sizeof(struct hvm_start_info) == 40, "hvm_start_info layout");

/* The start of the Multiboot information structure. */
struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower;
  uint32_t mem_upper;
  uint32_t boot_device;
  uint32_t cmdline;
};
#define MULTIBOOT_INFO_CMDLINE (1u << 2)

/* boot_params.hdr.cmd_line_ptr: a 32-bit physical address, 0 when there is no command line. */
#define BOOT_PARAMS_CMD_LINE_PTR 0x228

unsigned kit_boot_format;
const char* kit_boot_format_name;
uint64_t kit_boot_info;
/* In .data, not .bss: the entry stubs store it before .bss is cleared. */
uint32_t kit_entry_stack_pointer = 0xffffffff;

static const char* const format_names[] = {
    [KIT_FORMAT_PVH] = "pvh",
    [KIT_FORMAT_MULTIBOOT] = "multiboot",
    [KIT_FORMAT_MULTIBOOT_AOUT] = "multiboot-aout",
    [KIT_FORMAT_ELF64] = "elf64",
    [KIT_FORMAT_RAW_REAL] = "raw-real",
    [KIT_FORMAT_RAW_PROTECTED] = "raw-protected",
    [KIT_FORMAT_RAW_LONG] = "raw-long",
};

static _Noreturn void bad_boot(const char* what, uint64_t value) {
  serial_print("kit: ");
  serial_print(kit_boot_format_name);
  serial_print(": ");
  serial_print(what);
  serial_print(" ");
  serial_print_hex(value);
  serial_print("\n");
  guest_exit(KIT_EXIT_BAD_BOOT);
}

/* Returns the physical address of the command line, 0 when there is none. */
static uint64_t find_cmdline(unsigned format, uint64_t info, uint32_t magic) {
  switch (format) {
    case KIT_FORMAT_PVH: {
      const struct hvm_start_info* start_info = (const void*)info;
      if (start_info->magic != KIT_PVH_START_MAGIC)
        bad_boot("bad hvm_start_info magic", start_info->magic);
      return start_info->cmdline_paddr;
    }
    case KIT_FORMAT_MULTIBOOT:
    case KIT_FORMAT_MULTIBOOT_AOUT: {
      if (magic != KIT_MULTIBOOT_BOOTLOADER_MAGIC) bad_boot("bad multiboot magic in eax", magic);
      const struct multiboot_info* mbi = (const void*)info;
      return (mbi->flags & MULTIBOOT_INFO_CMDLINE) ? mbi->cmdline : 0;
    }
    default:
      return *(const uint32_t*)(info + BOOT_PARAMS_CMD_LINE_PTR);
  }
}

/* Called by the stubs in long mode: format is a KIT_FORMAT_*, info the physical address of the
 * loader's structure, magic the value of %eax at entry (multiboot only). */
_Noreturn void kit_start(unsigned format, uint64_t info, uint32_t magic) {
  kit_boot_format = format;
  kit_boot_format_name = format_names[format];
  kit_boot_info = info;
  uint64_t cmdline = find_cmdline(format, info, magic);
  guest_exit((unsigned)guest_main(cmdline ? (const char*)cmdline : ""));
}
