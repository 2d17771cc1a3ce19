/* fw_cfg: learns the machine from QEMU's fw_cfg device through its legacy ports, as a tiny guest
 * written for QEMU does (QEMU's docs/specs/fw_cfg.rst): checks the "QEMU" signature and the ID's
 * traditional-interface bit, prints "fw_cfg: cpus=N ram=BYTES", the command line
 * ("fw_cfg: cmdline=TEXT", when there is one) and each entry of the file etc/e820, found through
 * the file directory ("fw_cfg: e820 address=0x... size=0x... type=N"); then "fw_cfg: ok" when the
 * RAM entries add up to the RAM size. Exits 0; 3 when a check failed; 5 without the signature. */
#include "kit.h"

#define FW_CFG_SELECTOR_PORT 0x510
#define FW_CFG_DATA_PORT 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_CMDLINE_SIZE 0x0014
#define FW_CFG_CMDLINE_DATA 0x0015
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_ID_TRADITIONAL 1u
#define FW_CFG_FILE_NAME_BYTES 56
#define E820_ENTRY_BYTES 20
#define E820_RAM 1

#define EXIT_CHECK_FAILED 3
#define EXIT_NO_FW_CFG 5

static void fw_cfg_select(uint16_t key) {
  outw(FW_CFG_SELECTOR_PORT, key);
}

/* The next n bytes of the selected item, with one string instruction (as SeaBIOS reads them). */
static void fw_cfg_read(void* buffer, size_t n) {
  __asm__ volatile("rep insb" : "+D"(buffer), "+c"(n) : "d"((uint16_t)FW_CFG_DATA_PORT) : "memory");
}

static uint64_t fw_cfg_read_le(unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; i++) value |= (uint64_t)inb(FW_CFG_DATA_PORT) << (8 * i);
  return value;
}

static uint64_t fw_cfg_read_be(unsigned bytes) {
  uint64_t value = 0;
  for (unsigned i = 0; i < bytes; i++) value = value << 8 | inb(FW_CFG_DATA_PORT);
  return value;
}

static bool string_equal(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* The key of the named file in the directory, 0 when it is not there. */
static uint16_t fw_cfg_find_file(const char* wanted, uint32_t* size) {
  fw_cfg_select(FW_CFG_FILE_DIR);
  uint32_t count = (uint32_t)fw_cfg_read_be(4);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t file_size = (uint32_t)fw_cfg_read_be(4);
    uint16_t key = (uint16_t)fw_cfg_read_be(2);
    fw_cfg_read_be(2); /* reserved */
    char name[FW_CFG_FILE_NAME_BYTES + 1];
    fw_cfg_read(name, FW_CFG_FILE_NAME_BYTES);
    name[FW_CFG_FILE_NAME_BYTES] = 0;
    if (string_equal(name, wanted)) {
      *size = file_size;
      return key;
    }
  }
  return 0;
}

int guest_main(const char* cmdline) {
  (void)cmdline;
  struct kit_checks checks = {"fw_cfg", 0};

  char signature[5] = {0};
  fw_cfg_select(FW_CFG_SIGNATURE);
  fw_cfg_read(signature, 4);
  if (!string_equal(signature, "QEMU")) {
    serial_print("fw_cfg: no \"QEMU\" signature at port 0x510\n");
    return EXIT_NO_FW_CFG;
  }
  fw_cfg_select(FW_CFG_ID);
  uint64_t id = fw_cfg_read_le(4);
  if (!(id & FW_CFG_ID_TRADITIONAL))
    kit_fail(&checks, "ID", "the traditional-interface bit is clear");

  fw_cfg_select(FW_CFG_NB_CPUS);
  uint64_t cpus = fw_cfg_read_le(2);
  fw_cfg_select(FW_CFG_RAM_SIZE);
  uint64_t ram = fw_cfg_read_le(8);
  serial_print("fw_cfg: cpus=");
  serial_print_dec(cpus);
  serial_print(" ram=");
  serial_print_dec(ram);
  serial_print("\n");

  fw_cfg_select(FW_CFG_CMDLINE_SIZE);
  uint64_t cmdline_size = fw_cfg_read_le(4);
  if (cmdline_size > 0) {
    fw_cfg_select(FW_CFG_CMDLINE_DATA);
    serial_print("fw_cfg: cmdline=");
    for (uint64_t i = 0; i + 1 < cmdline_size; i++) serial_putc((char)inb(FW_CFG_DATA_PORT));
    serial_print("\n");
    if (inb(FW_CFG_DATA_PORT) != 0) kit_fail(&checks, "cmdline", "no NUL at the size's end");
  }

  uint32_t size = 0;
  uint16_t e820 = fw_cfg_find_file("etc/e820", &size);
  if (!e820) {
    kit_fail(&checks, "etc/e820", "not in the file directory");
  } else {
    if (size % E820_ENTRY_BYTES) kit_fail(&checks, "etc/e820", "size not a multiple of 20 bytes");
    fw_cfg_select(e820);
    uint64_t total = 0;
    for (uint32_t i = 0; i < size / E820_ENTRY_BYTES; i++) {
      uint64_t address = fw_cfg_read_le(8);
      uint64_t length = fw_cfg_read_le(8);
      uint32_t type = (uint32_t)fw_cfg_read_le(4);
      serial_print("fw_cfg: e820 address=");
      serial_print_hex(address);
      serial_print(" size=");
      serial_print_hex(length);
      serial_print(" type=");
      serial_print_dec(type);
      serial_print("\n");
      if (type == E820_RAM) total += length;
    }
    if (total != ram) kit_fail_numbers(&checks, "etc/e820", "RAM", total, ram);
  }
  return kit_checks_passed(&checks) ? 0 : EXIT_CHECK_FAILED;
}
