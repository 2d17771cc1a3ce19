/*
 * hostile: one attack on the VMM per run, named by the command line word attack=NAME, against the
 * first virtio-blk device (virtio_mmio.device= words), the legacy ports and the MMIO space. Each
 * attack is a function below; where the VMM's answer is specified (DEVICE_NEEDS_RESET for a
 * broken ring, VIRTIO_BLK_S_IOERR for a write to a read-only disk, all ones from unassigned MMIO)
 * the guest checks it and prints "hostile: NAME: FAILED: ..." when it differs.
 *
 * After the attack, the liveness check: reset the device (write 0 to Status and wait until it
 * reads 0, also from DEVICE_NEEDS_RESET), initialise it again and read sector 0, which must start
 * with "WISPDISK" (the host's test image). Then "hostile: NAME: survived" and exit 0 (Wisp's
 * status 1); 1 when a check failed (status 3); 2 without a block device, 3 for an unknown attack.
 *
 * The guest assumes 64 MiB of RAM (buffers "past RAM" start at 64 MiB) and a disk of at least
 * 1 MiB.
 */
#include "virtio_blk.h"
#include "virtio_mmio.h"

/* Beyond the register block (virtio_mmio.h): config_every_width covers 0x000-0x1ff. */
#define REG_CONFIG_END 0x200

#define RAM_END 0x4000000ull /* 64 MiB: the test's --memory */
#define BIG_BYTES (1u << 20)
#define TABLE_ENTRIES (VIRTQ_MAX_SIZE + 16)
#define DISK_MAGIC "WISPDISK"

#define EXIT_FAILED 1
#define EXIT_NO_DEVICE 2
#define EXIT_UNKNOWN_ATTACK 3

static struct virtio_device blk;
static struct virtq queue;
static struct virtq_desc table[TABLE_ENTRIES] __attribute__((aligned(16)));
static struct virtq_desc inner_table[4] __attribute__((aligned(16)));
static struct virtio_blk_req_header header;
static volatile uint8_t status;
static uint8_t sector[VIRTIO_BLK_SECTOR_SIZE] __attribute__((aligned(512)));
KIT_NOINIT static uint8_t big[BIG_BYTES] __attribute__((aligned(4096)));
static const char* attack_name = "";
static int failures;

/* ---- Reporting ----------------------------------------------------------------------------- */

static void note(const char* text, uint64_t number, bool with_number) {
  serial_print("hostile: ");
  serial_print(attack_name);
  serial_print(": ");
  serial_print(text);
  if (with_number) {
    serial_print(" ");
    serial_print_hex(number);
  }
  serial_print("\n");
}

static void say(const char* text) {
  note(text, 0, false);
}

static void fail(const char* text) {
  serial_print("hostile: ");
  serial_print(attack_name);
  serial_print(": FAILED: ");
  serial_print(text);
  serial_print("\n");
  failures++;
}

static void fail_number(const char* text, uint64_t number) {
  serial_print("hostile: ");
  serial_print(attack_name);
  serial_print(": FAILED: ");
  serial_print(text);
  serial_print(" ");
  serial_print_hex(number);
  serial_print("\n");
  failures++;
}

static bool same_bytes(const void* a, const void* b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return false;
  return true;
}

/* ---- Registers and rings -------------------------------------------------------------------- */

static uint32_t reg_read(uint32_t offset) {
  return mmio_read32(blk.base + offset);
}
static void reg_write(uint32_t offset, uint32_t value) {
  mmio_write32(blk.base + offset, value);
}
static uint64_t physical(const volatile void* pointer) {
  return (uint64_t)(uintptr_t)pointer;
}

/* Polls until (Status & mask) == want, for at most the kit's time-out. */
static bool wait_status(uint32_t mask, uint32_t want) {
  uint64_t deadline = cpu_rdtsc() + VIRTIO_TIMEOUT_TSC_TICKS;
  while (cpu_rdtsc() < deadline) {
    if ((reg_read(REG_STATUS) & mask) == want) return true;
    cpu_pause();
  }
  return false;
}

static void expect_needs_reset(const char* what) {
  if (wait_status(STATUS_DEVICE_NEEDS_RESET, STATUS_DEVICE_NEEDS_RESET)) {
    note(what, 0, false);
  } else {
    serial_print("hostile: ");
    serial_print(attack_name);
    serial_print(": FAILED: no DEVICE_NEEDS_RESET after ");
    serial_print(what);
    serial_print("\n");
    failures++;
  }
}

static void expect_no_needs_reset(const char* what) {
  if (reg_read(REG_STATUS) & STATUS_DEVICE_NEEDS_RESET) {
    serial_print("hostile: ");
    serial_print(attack_name);
    serial_print(": FAILED: DEVICE_NEEDS_RESET after ");
    serial_print(what);
    serial_print("\n");
    failures++;
  }
}

/* Reset, features (INDIRECT_DESC when offered, no EVENT_IDX: notifications stay simple), queue 0
 * of VIRTQ_MAX_SIZE entries, DRIVER_OK. */
static bool bring_up(void) {
  const char* error = virtio_negotiate(&blk, 0, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
  if (!error) error = virtq_setup(&blk, &queue, 0, VIRTQ_MAX_SIZE);
  if (error) {
    fail(error);
    return false;
  }
  virtio_driver_ok(&blk);
  return true;
}

/* Up to FEATURES_OK only, for attacks on queue setup. */
static bool negotiate(void) {
  const char* error = virtio_negotiate(&blk, 0, VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
  if (error) fail(error);
  return !error;
}

/* Queue 0 by hand: size, the three parts (the kit's queue unless told otherwise), ready. */
static void setup_queue_raw(uint32_t size, uint64_t desc, uint64_t driver, uint64_t device) {
  memset(&queue, 0, sizeof queue);
  queue.dev = &blk;
  queue.size = VIRTQ_MAX_SIZE;
  reg_write(REG_QUEUE_SEL, 0);
  reg_write(REG_QUEUE_NUM, size);
  reg_write(REG_QUEUE_DESC_LOW, (uint32_t)desc);
  reg_write(REG_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
  reg_write(REG_QUEUE_DRIVER_LOW, (uint32_t)driver);
  reg_write(REG_QUEUE_DRIVER_HIGH, (uint32_t)(driver >> 32));
  reg_write(REG_QUEUE_DEVICE_LOW, (uint32_t)device);
  reg_write(REG_QUEUE_DEVICE_HIGH, (uint32_t)(device >> 32));
  reg_write(REG_QUEUE_READY, 1);
}

static void set_desc(struct virtq_desc* desc, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next) {
  desc->addr = addr;
  desc->len = len;
  desc->flags = flags;
  desc->next = next;
}

/* A read of sector 0 as three descriptors at first, first + 1, first + 2 of descs, with the
 * data buffer at data_addr, data_len bytes. */
static void read_chain(struct virtq_desc* descs, uint16_t first, uint64_t data_addr,
                       uint32_t data_len) {
  header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN, .sector = 0};
  status = 0xff;
  set_desc(&descs[first], physical(&header), sizeof header, VIRTQ_DESC_F_NEXT,
           (uint16_t)(first + 1));
  set_desc(&descs[first + 1], data_addr, data_len, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
           (uint16_t)(first + 2));
  set_desc(&descs[first + 2], physical(&status), 1, VIRTQ_DESC_F_WRITE, 0);
}

/* Puts head in the available ring, moves avail.idx on, notifies queue 0. */
static void make_available(uint16_t head) {
  queue.avail.ring[queue.avail_idx % VIRTQ_MAX_SIZE] = head;
  queue.avail_idx++;
  cpu_memory_barrier();
  *(volatile uint16_t*)&queue.avail.idx = queue.avail_idx;
  cpu_memory_barrier();
  reg_write(REG_QUEUE_NOTIFY, 0);
}

/* A fresh device with a read of sector 0 whose data buffer is (addr, len): must break the ring. */
static void read_into(uint64_t addr, uint32_t len, const char* what) {
  if (!bring_up()) return;
  read_chain(queue.desc, 0, addr, len);
  make_available(0);
  expect_needs_reset(what);
}

/* Submits buffers through the kit's driver and waits; false (and a failure) on a time-out. */
static bool submit_and_wait(const struct virtq_buffer* buffers, unsigned count,
                            struct virtq_completion* done) {
  if (virtq_submit(&queue, buffers, count, NULL) < 0) {
    fail("no room in the queue");
    return false;
  }
  const char* error = virtq_wait(&queue, done);
  if (error) fail(error);
  return !error;
}

/* ---- The liveness check --------------------------------------------------------------------- */

static void liveness(void) {
  reg_write(REG_STATUS, 0);
  if (!wait_status(0xff, 0)) {
    fail_number("liveness: Status after a reset", reg_read(REG_STATUS));
    return;
  }
  if (!bring_up()) return;
  memset(sector, 0, sizeof sector);
  header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN, .sector = 0};
  status = 0xff;
  struct virtq_buffer buffers[] = {
      {&header, sizeof header, false}, {sector, sizeof sector, true}, {(void*)&status, 1, true}};
  struct virtq_completion done;
  if (!submit_and_wait(buffers, 3, &done)) return;
  if (status != VIRTIO_BLK_S_OK) fail_number("liveness: status of a read of sector 0", status);
  if (done.written != sizeof sector + 1)
    fail_number("liveness: used length of a read of sector 0", done.written);
  if (!same_bytes(sector, DISK_MAGIC, 8))
    fail("liveness: sector 0 does not start with " DISK_MAGIC);
}

/* ---- Descriptor chains ---------------------------------------------------------------------- */

static void desc_loop(void) {
  if (!bring_up()) return;
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  queue.desc[0].next = 0; /* the header's next is itself */
  make_available(0);
  expect_needs_reset("a descriptor whose next is itself");
}

static void long_chain(void) {
  if (!bring_up()) return;
  header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_OUT, .sector = 0};
  for (uint16_t i = 0; i < queue.size; i++)
    set_desc(&queue.desc[i], physical(&header), sizeof header, VIRTQ_DESC_F_NEXT,
             (uint16_t)((i + 1) % queue.size));
  make_available(0);
  expect_needs_reset("a chain through every descriptor back to its head");
}

static bool has_indirect(void) {
  if (virtio_has_feature(&blk, VIRTIO_F_INDIRECT_DESC)) return true;
  fail("VIRTIO_F_INDIRECT_DESC not negotiated");
  return false;
}

static void indirect_in_indirect(void) {
  if (!bring_up() || !has_indirect()) return;
  read_chain(inner_table, 0, physical(sector), sizeof sector);
  set_desc(&table[0], physical(inner_table), 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT,
           0);
  set_desc(&queue.desc[0], physical(table), sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
  make_available(0);
  expect_needs_reset("an indirect descriptor inside an indirect table");
}

static void indirect_bad_length(void) {
  static const uint32_t lengths[] = {15, 0, (VIRTQ_MAX_SIZE + 1) * sizeof(struct virtq_desc)};
  for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    if (!bring_up() || !has_indirect()) return;
    /* A well-formed read at the start of the table, the rest of it chained reads too. */
    for (uint16_t entry = 0; entry + 3 <= TABLE_ENTRIES; entry += 3)
      read_chain(table, entry, physical(sector), sizeof sector);
    set_desc(&queue.desc[0], physical(table), lengths[i], VIRTQ_DESC_F_INDIRECT, 0);
    make_available(0);
    note("indirect table length", lengths[i], true);
    expect_needs_reset("a bad indirect table length");
  }
}

/* ---- Buffers -------------------------------------------------------------------------------- */

static void buffer_past_ram(void) {
  read_into(RAM_END - 256, sizeof sector, "a buffer across the end of RAM");
  read_into(RAM_END, sizeof sector, "a buffer at the end of RAM");
  read_into(0x80000000ull, sizeof sector, "a buffer at 2 GiB");
}

static void buffer_in_mmio_hole(void) {
  read_into(blk.base, sizeof sector, "a buffer on the device's own registers");
  read_into(KIT_IO_APIC_ADDRESS, sizeof sector, "a buffer on the I/O APIC");
  read_into(0xc0000000ull, sizeof sector, "a buffer at the start of the MMIO hole");
}

static void buffer_wraps(void) {
  read_into(0xffffffffffffff00ull, sizeof sector, "a buffer wrapping around 2^64");
  read_into(0xfffffffffffffe00ull, sizeof sector, "a buffer ending at 2^64");
}

static void huge_length(void) {
  read_into(physical(big), 0xffffffffu, "a data buffer of 0xffffffff bytes");
  if (!bring_up()) return;
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  queue.desc[0].len = 0xffffffffu; /* the header */
  make_available(0);
  expect_needs_reset("a header of 0xffffffff bytes");
}

/* ---- Rings ---------------------------------------------------------------------------------- */

static void avail_index_jump(void) {
  if (!bring_up()) return;
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++) queue.avail.ring[i] = 0;
  cpu_memory_barrier();
  *(volatile uint16_t*)&queue.avail.idx = 1000;
  cpu_memory_barrier();
  reg_write(REG_QUEUE_NOTIFY, 0);
  expect_needs_reset("avail.idx 1000 ahead of used.idx");
}

static void bad_head(void) {
  static const uint16_t heads[] = {VIRTQ_MAX_SIZE, 0xffff};
  for (unsigned i = 0; i < 2; i++) {
    if (!bring_up()) return;
    read_chain(queue.desc, 0, physical(sector), sizeof sector);
    make_available(heads[i]);
    note("available ring entry", heads[i], true);
    expect_needs_reset("an available ring entry beyond the queue");
  }
}

static void queue_size(uint32_t size) {
  if (!negotiate()) return;
  setup_queue_raw(size, physical(queue.desc), physical(&queue.avail), physical(&queue.used));
  virtio_driver_ok(&blk);
  note("QueueNum", size, true);
  expect_needs_reset("DRIVER_OK with that queue size");
}

static void queue_size_zero(void) {
  queue_size(0);
}

static void queue_size_huge(void) {
  queue_size(65535);
}

static void used_ring_at(uint64_t address, const char* what) {
  if (!negotiate()) return;
  setup_queue_raw(VIRTQ_MAX_SIZE, physical(queue.desc), physical(&queue.avail), address);
  virtio_driver_ok(&blk);
  expect_needs_reset(what);
}

static void used_ring_outside(void) {
  used_ring_at(0x80000000ull, "a used ring at 2 GiB");
  used_ring_at(RAM_END - 8, "a used ring across the end of RAM");
  used_ring_at(blk.base, "a used ring on the device's own registers");
}

static void ring_in_mmio(void) {
  if (!negotiate()) return;
  setup_queue_raw(VIRTQ_MAX_SIZE, blk.base, physical(&queue.avail), physical(&queue.used));
  virtio_driver_ok(&blk);
  expect_needs_reset("a descriptor table on the device's own registers");
  if (!negotiate()) return;
  setup_queue_raw(VIRTQ_MAX_SIZE, physical(queue.desc), KIT_IO_APIC_ADDRESS, physical(&queue.used));
  virtio_driver_ok(&blk);
  expect_needs_reset("an available ring on the I/O APIC");
}

static void notify_unknown_queue(void) {
  if (!bring_up()) return;
  static const uint32_t queues[] = {7, 1, 0xffff, 0x10000, 0xffffffffu};
  for (unsigned i = 0; i < sizeof queues / sizeof queues[0]; i++)
    reg_write(REG_QUEUE_NOTIFY, queues[i]);
  expect_no_needs_reset("notifications of queues the device lacks");

  /* Queue 0 notified with a request in it before DRIVER_OK: nothing may happen until then. */
  if (!negotiate()) return;
  const char* error = virtq_setup(&blk, &queue, 0, VIRTQ_MAX_SIZE);
  if (error) return fail(error);
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  queue.free_head = 3; /* the kit's bookkeeping: descriptors 0-2 are in use */
  queue.free_count = (uint16_t)(queue.size - 3);
  make_available(0);
  reg_write(REG_QUEUE_NOTIFY, 7);
  for (int i = 0; i < 100000; i++) cpu_pause();
  if (*(volatile uint16_t*)&queue.used.idx != 0) fail("a request was served before DRIVER_OK");
  virtio_driver_ok(&blk);
  reg_write(REG_QUEUE_NOTIFY, 0);
  struct virtq_completion done;
  error = virtq_wait(&queue, &done);
  if (error)
    fail(error);
  else if (status != VIRTIO_BLK_S_OK)
    fail_number("status of the request notified before DRIVER_OK", status);
  else
    say("the request notified before DRIVER_OK was served after it");
  expect_no_needs_reset("a notification before DRIVER_OK");
}

static void reset_mid_request(void) {
  for (int round = 0; round < 16; round++) {
    if (!bring_up()) return;
    header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN, .sector = 0};
    status = 0xff;
    struct virtq_buffer buffers[] = {{&header, sizeof header, false},
                                     {big, BIG_BYTES / 2, true},
                                     {big + BIG_BYTES / 2, BIG_BYTES / 2, true},
                                     {(void*)&status, 1, true}};
    if (virtq_submit(&queue, buffers, 4, NULL) < 0) return fail("no room in the queue");
    if (round % 2) cpu_pause();
    reg_write(REG_STATUS, 0);
    if (!wait_status(0xff, 0)) return fail_number("Status after a reset", reg_read(REG_STATUS));
  }
  say("16 resets with a 1 MiB read in flight");
}

/* The head of a request in flight made available again at once: the device either finished the
 * first (then the second is a new request) or must refuse the ring; either way it survives. */
static void head_reused_in_flight(void) {
  for (int round = 0; round < 8; round++) {
    if (!bring_up()) return;
    header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN, .sector = 0};
    status = 0xff;
    set_desc(&queue.desc[0], physical(&header), sizeof header, VIRTQ_DESC_F_NEXT, 1);
    set_desc(&queue.desc[1], physical(big), BIG_BYTES / 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
             2);
    set_desc(&queue.desc[2], physical(big + BIG_BYTES / 2), BIG_BYTES / 2,
             VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    set_desc(&queue.desc[3], physical(&status), 1, VIRTQ_DESC_F_WRITE, 0);
    make_available(0);
    make_available(0);
    make_available(0);
    for (int i = 0; i < 10000; i++) cpu_pause();
  }
  say("8 rounds of a 1 MiB read's head made available three times");
}

static void readonly_write(void) {
  if (!bring_up()) return;
  if (!(blk.device_features & VIRTIO_BIT(VIRTIO_BLK_F_RO)))
    fail("the device does not offer VIRTIO_BLK_F_RO: is the disk read-only?");
  memset(sector, 'H', sizeof sector);
  header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_OUT, .sector = 0};
  status = 0xff;
  struct virtq_buffer buffers[] = {
      {&header, sizeof header, false}, {sector, sizeof sector, false}, {(void*)&status, 1, true}};
  struct virtq_completion done;
  if (!submit_and_wait(buffers, 3, &done)) return;
  if (status != VIRTIO_BLK_S_IOERR)
    fail_number("status of a write to a read-only disk (want IOERR, 1)", status);
  else
    say("a write to the read-only disk ended VIRTIO_BLK_S_IOERR");
}

static void status_not_writable(void) {
  /* Header and status both device-readable: the chain comes back untouched. */
  if (!bring_up()) return;
  header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN, .sector = 0};
  status = 0xee;
  struct virtq_buffer buffers[] = {{&header, sizeof header, false}, {(void*)&status, 1, false}};
  struct virtq_completion done;
  if (!submit_and_wait(buffers, 2, &done)) return;
  if (status != 0xee) fail_number("the device wrote into a device-readable status byte", status);
  if (done.written != 0)
    fail_number("used length of a chain without writable buffers", done.written);
  expect_no_needs_reset("a request without a writable status byte");
  say("a request without a writable status byte came back untouched");

  /* A device-readable status after a writable data buffer: the chain is malformed. */
  if (!bring_up()) return;
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  queue.desc[2].flags = 0;
  make_available(0);
  expect_needs_reset("a device-readable status byte after a writable buffer");
}

static void live_queue_change(void) {
  if (!bring_up()) return;
  uint32_t before = reg_read(REG_QUEUE_DESC_LOW);
  reg_write(REG_QUEUE_DESC_LOW, (uint32_t)physical(table));
  if (reg_read(REG_QUEUE_DESC_LOW) != before) fail("QueueDescLow of a live queue changed");
  expect_needs_reset("QueueDesc written while the queue is live");
  if (!bring_up()) return;
  reg_write(REG_QUEUE_NUM, 8);
  expect_needs_reset("QueueNum written while the queue is live");
  if (!bring_up()) return;
  reg_write(REG_QUEUE_READY, 0);
  expect_needs_reset("QueueReady cleared while the queue is live");
}

static void driver_ok_without_features_ok(void) {
  if (virtio_reset(&blk)) return fail("Status stays non-zero after a reset");
  reg_write(REG_STATUS, STATUS_ACKNOWLEDGE);
  reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  setup_queue_raw(VIRTQ_MAX_SIZE, physical(queue.desc), physical(&queue.avail),
                  physical(&queue.used));
  reg_write(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  uint32_t got = reg_read(REG_STATUS);
  if (got & STATUS_DRIVER_OK) fail_number("DRIVER_OK kept without FEATURES_OK: Status", got);
  read_chain(queue.desc, 0, physical(sector), sizeof sector);
  make_available(0);
  for (int i = 0; i < 100000; i++) cpu_pause();
  if (*(volatile uint16_t*)&queue.used.idx != 0) fail("a request was served without FEATURES_OK");
  note("Status after DRIVER_OK without FEATURES_OK", got, true);
}

static void status_garbage(void) {
  if (virtio_reset(&blk)) return fail("Status stays non-zero after a reset");
  reg_write(REG_STATUS, 0xff);
  note("Status 0xff on a reset device reads back", reg_read(REG_STATUS), true);
  if (!bring_up()) return;
  reg_write(REG_STATUS, 0xff);
  note("Status 0xff on a live device reads back", reg_read(REG_STATUS), true);
  reg_write(REG_STATUS, 0xffffffffu);
  reg_write(REG_STATUS, STATUS_DEVICE_NEEDS_RESET);
  reg_write(REG_STATUS, 0x100);
  note("and after 0xffffffff, 0x40, 0x100", reg_read(REG_STATUS), true);
}

/* ---- Register windows and ports ------------------------------------------------------------- */

static uint64_t read_width(uint64_t address, unsigned width) {
  switch (width) {
    case 1:
      return *(volatile uint8_t*)(uintptr_t)address;
    case 2:
      return *(volatile uint16_t*)(uintptr_t)address;
    case 4:
      return *(volatile uint32_t*)(uintptr_t)address;
    default:
      return *(volatile uint64_t*)(uintptr_t)address;
  }
}

static void write_width(uint64_t address, unsigned width, uint64_t value) {
  switch (width) {
    case 1:
      *(volatile uint8_t*)(uintptr_t)address = (uint8_t)value;
      break;
    case 2:
      *(volatile uint16_t*)(uintptr_t)address = (uint16_t)value;
      break;
    case 4:
      *(volatile uint32_t*)(uintptr_t)address = (uint32_t)value;
      break;
    default:
      *(volatile uint64_t*)(uintptr_t)address = value;
      break;
  }
}

static void config_every_width(void) {
  if (!bring_up()) return;
  uint64_t accesses = 0;
  for (unsigned width = 1; width <= 8; width *= 2) {
    for (uint32_t offset = 0; offset < REG_CONFIG_END; offset++) {
      uint64_t address = blk.base + offset;
      uint64_t value = read_width(address, width);
      write_width(address, width, value);
      write_width(address, width, ~0ull);
      write_width(address, width, 0);
      accesses += 4;
    }
  }
  note("accesses to the device's window", accesses, true);
}

/* Values that are safe to write anywhere: no i8042 reset (0xfe), no ACPI reset (1), no S5
 * sleep (SLP_EN with SLP_TYP 5). */
static const uint8_t safe_bytes[] = {0x00, 0xff, 0x55, 0xaa};

static void string_out(uint16_t port, const uint8_t* bytes, uint32_t count) {
  __asm__ volatile("rep outsb" : "+S"(bytes), "+c"(count) : "d"(port) : "memory");
}
static void string_in(uint16_t port, uint8_t* bytes, uint32_t count) {
  __asm__ volatile("rep insb" : "+D"(bytes), "+c"(count) : "d"(port) : "memory");
}

static void ports_every_width(void) {
  static const uint16_t ranges[][2] = {
      {0x3f8, 8},               /* COM1 */
      {0x2f8, 8},               /* COM2: unassigned */
      {0x60, 1},  {0x64, 1},    /* i8042 */
      {0x61, 3},  {0x65, 3},    /* unassigned (0x61: KVM's PIT), 0x62-0x63 */
      {0x510, 3},               /* fw_cfg and 0x512, unassigned */
      {0x600, 4},               /* ACPI PM and 0x603, unassigned */
      {0x80, 1},                /* POST code */
      {0xe0, 1},  {0x1234, 1}}; /* unassigned */
  static uint8_t out_bytes[16], in_bytes[16];
  for (unsigned i = 0; i < sizeof out_bytes; i++) out_bytes[i] = safe_bytes[i % 4];
  uint64_t accesses = 0;
  for (unsigned r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
    for (uint16_t port = ranges[r][0]; port < ranges[r][0] + ranges[r][1]; port++) {
      for (unsigned v = 0; v < sizeof safe_bytes; v++) {
        uint32_t value = safe_bytes[v] * 0x01010101u;
        (void)inb(port);
        (void)inw(port);
        (void)inl(port);
        outb(port, (uint8_t)value);
        outw(port, (uint16_t)value);
        outl(port, value);
        accesses += 6;
      }
      string_in(port, in_bytes, sizeof in_bytes);
      string_out(port, out_bytes, sizeof out_bytes);
      accesses += 2 * sizeof out_bytes;
    }
  }
  /* COM1 back to the state Wisp starts it in: LCR 0 (no divisor latch), no interrupts, no
   * loopback, FIFOs off. */
  outb(KIT_COM1_PORT + 3, 0);
  outb(KIT_COM1_PORT + 1, 0);
  outb(KIT_COM1_PORT + 4, 0);
  outb(KIT_COM1_PORT + 2, 0);
  note("port accesses", accesses, true);
}

static void mmio_unassigned(void) {
  if (!bring_up()) return;
  const uint64_t addresses[] = {
      RAM_END,           /* the first byte past RAM */
      0x10000000ull,     /* between RAM and the MMIO hole */
      0xbffffff8ull,     /* just below the hole */
      0xc0000000ull,     /* the start of the hole */
      blk.base + 0x1000, /* after the only virtio window */
      0xd00ff000ull,     /* the last window slot */
      0xd0100000ull,     /* past the virtio windows */
      0xe0000000ull,     0xfeb00000ull, 0xfed00000ull, 0xfef00000ull,
  };
  uint64_t accesses = 0;
  for (unsigned a = 0; a < sizeof addresses / sizeof addresses[0]; a++) {
    for (unsigned width = 1; width <= 8; width *= 2) {
      for (unsigned misalign = 0; misalign < 2; misalign++) {
        uint64_t address = addresses[a] + misalign * 3;
        uint64_t all_ones = width == 8 ? ~0ull : (1ull << (8 * width)) - 1;
        uint64_t got = read_width(address, width);
        if (got != all_ones) fail_number("an unassigned read was not all ones, at", address);
        write_width(address, width, 0x5555555555555555ull);
        write_width(address, width, ~0ull);
        accesses += 3;
      }
    }
  }
  /* Straddling the end of the device's window: no device holds the whole access. */
  for (unsigned width = 2; width <= 8; width *= 2) {
    uint64_t address = blk.base + 0x1000 - width / 2;
    (void)read_width(address, width);
    write_width(address, width, 0);
    accesses += 2;
  }
  note("MMIO accesses", accesses, true);
}

static void uart_flood(void) {
  uint32_t bytes = 256 * 1024;
  for (uint32_t i = 0; i < bytes; i++)
    outb(KIT_COM1_PORT, (i % 128 == 127) ? '\n' : (uint8_t)('a' + i % 26));
  serial_print("\n");
  note("bytes written without waiting for THRE", bytes, true);
}

static void exit_storm(void) {
  if (!bring_up()) return;
  uint32_t exits = 100000;
  for (uint32_t i = 0; i < exits; i++) {
    switch (i % 10) {
      case 0:
        (void)inb(KIT_COM1_PORT + 5); /* LSR */
        break;
      case 1:
        outb(KIT_COM1_PORT + 7, (uint8_t)i); /* scratch */
        break;
      case 2:
        (void)inb(0x64); /* i8042 status */
        break;
      case 3:
        outw(0x510, 0); /* fw_cfg: the signature */
        break;
      case 4:
        (void)inb(0x511);
        break;
      case 5:
        (void)inb(0x601); /* ACPI sleep status */
        break;
      case 6:
        outb(0x80, (uint8_t)i); /* POST code */
        break;
      case 7:
        (void)inb(0x2f8 + i % 8); /* unassigned */
        break;
      case 8:
        (void)reg_read(0); /* virtio MagicValue */
        break;
      case 9:
        reg_write(REG_QUEUE_NOTIFY, 0); /* an empty ring */
        break;
    }
  }
  expect_no_needs_reset("the exit storm");
  note("exits", exits, true);
}

/* ---- The attacks ---------------------------------------------------------------------------- */

struct attack {
  const char* name;
  void (*run)(void);
};

static const struct attack attacks[] = {
    {"desc_loop", desc_loop},
    {"long_chain", long_chain},
    {"indirect_in_indirect", indirect_in_indirect},
    {"indirect_bad_length", indirect_bad_length},
    {"buffer_past_ram", buffer_past_ram},
    {"buffer_in_mmio_hole", buffer_in_mmio_hole},
    {"buffer_wraps", buffer_wraps},
    {"huge_length", huge_length},
    {"avail_index_jump", avail_index_jump},
    {"bad_head", bad_head},
    {"queue_size_zero", queue_size_zero},
    {"queue_size_huge", queue_size_huge},
    {"notify_unknown_queue", notify_unknown_queue},
    {"reset_mid_request", reset_mid_request},
    {"head_reused_in_flight", head_reused_in_flight},
    {"readonly_write", readonly_write},
    {"status_not_writable", status_not_writable},
    {"used_ring_outside", used_ring_outside},
    {"ring_in_mmio", ring_in_mmio},
    {"live_queue_change", live_queue_change},
    {"driver_ok_without_features_ok", driver_ok_without_features_ok},
    {"status_garbage", status_garbage},
    {"config_every_width", config_every_width},
    {"ports_every_width", ports_every_width},
    {"mmio_unassigned", mmio_unassigned},
    {"uart_flood", uart_flood},
    {"exit_storm", exit_storm},
};

/* The word after "attack=", up to a space, compared with name. */
static bool is_attack(const char* word, const char* name) {
  while (*name && *word == *name) word++, name++;
  return !*name && (!*word || *word == ' ');
}

int guest_main(const char* cmdline) {
  const char* word = cmdline_find(cmdline, "attack=");
  const struct attack* attack = NULL;
  for (unsigned i = 0; word && i < sizeof attacks / sizeof attacks[0]; i++)
    if (is_attack(word, attacks[i].name)) attack = &attacks[i];
  if (!attack) {
    serial_print("hostile: no attack=NAME on the command line, or an unknown one\n");
    return EXIT_UNKNOWN_ATTACK;
  }
  attack_name = attack->name;
  if (!virtio_mmio_find(&blk, cmdline, VIRTIO_ID_BLOCK)) {
    say("no virtio-mmio block device on the command line");
    return EXIT_NO_DEVICE;
  }
  say("attacking");
  attack->run();
  liveness();
  if (failures) {
    note("checks failed:", (uint64_t)failures, true);
    return EXIT_FAILED;
  }
  say("survived");
  return 0;
}
