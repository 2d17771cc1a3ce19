/*
 * virtio_blk: a functional test of the first virtio-blk device on the command line
 * (virtio_mmio.device= words), through the kit's virtio-mmio driver.
 *
 *  1. negotiates VIRTIO_F_VERSION_1 and VIRTIO_BLK_F_FLUSH (both required), and
 *     VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX when offered; prints the capacity;
 *  2. writes TEST_SECTORS sectors from sector 0 with a pattern (below) in two requests, the first
 *     a direct chain, the second through an indirect table when offered; FLUSH;
 *  3. reads them back into a zeroed buffer (indirect first half, direct second half), compares;
 *  4. GET_ID, printed as "serial: ...";
 *  5. a read at sector = capacity must end VIRTIO_BLK_S_IOERR, an unknown request type
 *     VIRTIO_BLK_S_UNSUPP;
 *  6. some requests complete polled, the others by interrupt: at least one interrupt must have
 *     been handled.
 * Prints "virtio-blk: ok" and exits 0, or prints each check that failed and exits 1 (2 when there
 * is no usable block device).
 *
 * The pattern, for the host to check the image after the run: the seed is the number of the
 * command line word seed=N (default 0); the 64-bit little-endian word i (0..63) of sector s
 * (0..TEST_SECTORS-1), at byte offset 512 * s + 8 * i of the disk, is
 *     (seed << 32) | (s << 8) | i
 */
#include "virtio_blk.h"
#include "virtio_mmio.h"

#define TEST_SECTORS 64
#define WORDS_PER_SECTOR (VIRTIO_BLK_SECTOR_SIZE / 8)
#define TEST_WORDS (TEST_SECTORS * WORDS_PER_SECTOR)
#define HALF_BYTES (TEST_SECTORS / 2 * VIRTIO_BLK_SECTOR_SIZE)
#define MAX_SEGMENTS 8
#define VIRTIO_BLK_T_UNKNOWN 0xfe /* no request type of §5.2.6 */
#define STATUS_NOT_WRITTEN 0xff

#define EXIT_FAILED 1
#define EXIT_NO_DEVICE 2

static struct virtio_device blk;
static struct virtq requestq;
KIT_NOINIT static uint64_t written_data[TEST_WORDS] __attribute__((aligned(4096)));
KIT_NOINIT static uint64_t read_data[TEST_WORDS] __attribute__((aligned(4096)));
static struct virtq_desc indirect_table[MAX_SEGMENTS + 2] __attribute__((aligned(16)));
static struct virtio_blk_req_header header;
static volatile uint8_t status;
static struct kit_checks checks = {"virtio-blk", 0};

/* One request of the test and what must come of it. */
struct step {
  const char* name;
  uint32_t type;
  uint64_t sector;
  void* data;
  uint32_t bytes;    /* of data: none when 0 */
  unsigned segments; /* the data goes in this many equal buffers */
  bool indirect;     /* through indirect_table, when VIRTIO_F_INDIRECT_DESC was negotiated */
  enum virtq_wait wait;
  uint8_t expected; /* status; VIRTIO_BLK_S_OK is 0 */
};

/* Submits the request (header, data buffers, status byte), waits for it, checks its status and,
 * for a read, the used length. */
static void run(const struct step* step) {
  struct virtq_buffer buffers[MAX_SEGMENTS + 2];
  unsigned count = 0;
  header = (struct virtio_blk_req_header){.type = step->type, .sector = step->sector};
  status = STATUS_NOT_WRITTEN;
  buffers[count++] = (struct virtq_buffer){&header, sizeof header, false};
  bool device_writes = step->type == VIRTIO_BLK_T_IN || step->type == VIRTIO_BLK_T_GET_ID;
  uint32_t piece = step->segments ? step->bytes / step->segments : 0;
  for (unsigned i = 0; step->bytes && i < step->segments; i++)
    buffers[count++] = (struct virtq_buffer){(char*)step->data + i * piece, piece, device_writes};
  buffers[count++] = (struct virtq_buffer){(void*)&status, 1, true};
  bool indirect = step->indirect && virtio_has_feature(&blk, VIRTIO_F_INDIRECT_DESC);
  virtq_set_wait(&requestq, step->wait);
  struct virtq_completion done;
  const char* error = "no room in the queue";
  if (virtq_submit(&requestq, buffers, count, indirect ? indirect_table : NULL) >= 0)
    error = virtq_wait(&requestq, &done);
  if (error)
    kit_fail(&checks, step->name, error);
  else if (status != step->expected)
    kit_fail_numbers(&checks, step->name, "status", status, step->expected);
  /* §2.6.8: the used length counts the bytes written, data and status. */
  else if (step->type == VIRTIO_BLK_T_IN && status == VIRTIO_BLK_S_OK &&
           done.written != step->bytes + 1)
    kit_fail_numbers(&checks, step->name, "used length", done.written, step->bytes + 1);
}

static bool set_up(const char* cmdline) {
  if (!virtio_mmio_find(&blk, cmdline, VIRTIO_ID_BLOCK)) {
    serial_print("virtio-blk: no virtio-mmio block device on the command line\n");
    return false;
  }
  serial_print("virtio-blk: device at ");
  serial_print_hex(blk.base);
  serial_print(" irq ");
  serial_print_dec(blk.irq);
  serial_print("\n");
  const char* error =
      virtio_negotiate(&blk, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH),
                       VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
  if (!error) error = virtq_setup(&blk, &requestq, 0, VIRTQ_MAX_SIZE);
  if (!error) error = virtio_route_interrupt(&blk);
  if (error) {
    serial_print("virtio-blk: ");
    serial_print(error);
    serial_print("\n");
    return false;
  }
  virtio_driver_ok(&blk);
  serial_print("virtio-blk: device features ");
  serial_print_hex(blk.device_features);
  serial_print(", negotiated ");
  serial_print_hex(blk.features);
  serial_print(", queue size ");
  serial_print_dec(requestq.size);
  serial_print("\n");
  return true;
}

/* Word i of sector s: see the header comment. */
static uint64_t pattern(uint64_t seed, uint64_t sector, uint64_t word) {
  return (seed << 32) | (sector << 8) | word;
}

static void check_read_back(uint64_t seed) {
  for (uint64_t sector = 0; sector < TEST_SECTORS; sector++) {
    for (uint64_t word = 0; word < WORDS_PER_SECTOR; word++) {
      uint64_t got = read_data[sector * WORDS_PER_SECTOR + word];
      if (got == pattern(seed, sector, word)) continue;
      serial_print("virtio-blk: FAILED: read back: sector ");
      serial_print_dec(sector);
      serial_print(" word ");
      serial_print_dec(word);
      serial_print(": ");
      serial_print_hex(got);
      serial_print(", wrote ");
      serial_print_hex(pattern(seed, sector, word));
      serial_print("\n");
      checks.failures++;
      return;
    }
  }
}

static void get_id(void) {
  static char id[VIRTIO_BLK_ID_BYTES + 1]; /* id[VIRTIO_BLK_ID_BYTES] stays 0 */
  run(&(struct step){.name = "GET_ID",
                     .type = VIRTIO_BLK_T_GET_ID,
                     .data = id,
                     .bytes = VIRTIO_BLK_ID_BYTES,
                     .segments = 1,
                     .wait = VIRTQ_WAIT_POLL});
  serial_print("serial: ");
  serial_print(id);
  serial_print("\n");
}

int guest_main(const char* cmdline) {
  if (!set_up(cmdline)) return EXIT_NO_DEVICE;
  uint64_t capacity = virtio_config_read64(&blk, VIRTIO_BLK_CONFIG_CAPACITY);
  serial_print("capacity: ");
  serial_print_dec(capacity);
  serial_print(" sectors\n");
  if (capacity < TEST_SECTORS) {
    kit_fail(&checks, "the disk is smaller than the 64 sectors the test writes", NULL);
    return EXIT_FAILED;
  }

  uint64_t seed = 0;
  const char* seed_word = cmdline_find(cmdline, "seed=");
  if (seed_word) parse_dec(seed_word, &seed);
  seed &= 0xffffffff;
  for (uint64_t i = 0; i < TEST_WORDS; i++)
    written_data[i] = pattern(seed, i / WORDS_PER_SECTOR, i % WORDS_PER_SECTOR);
  char* written = (char*)written_data;
  char* read = (char*)read_data;

  run(&(struct step){.name = "write, direct",
                     .type = VIRTIO_BLK_T_OUT,
                     .data = written,
                     .bytes = HALF_BYTES,
                     .segments = 4,
                     .wait = VIRTQ_WAIT_POLL});
  run(&(struct step){.name = "write, indirect",
                     .type = VIRTIO_BLK_T_OUT,
                     .sector = TEST_SECTORS / 2,
                     .data = written + HALF_BYTES,
                     .bytes = HALF_BYTES,
                     .segments = 4,
                     .indirect = true,
                     .wait = VIRTQ_WAIT_INTERRUPT});
  run(&(struct step){.name = "FLUSH", .type = VIRTIO_BLK_T_FLUSH, .wait = VIRTQ_WAIT_INTERRUPT});
  memset(read_data, 0, sizeof read_data);
  run(&(struct step){.name = "read, indirect",
                     .type = VIRTIO_BLK_T_IN,
                     .data = read,
                     .bytes = HALF_BYTES,
                     .segments = MAX_SEGMENTS,
                     .indirect = true,
                     .wait = VIRTQ_WAIT_INTERRUPT});
  run(&(struct step){.name = "read, direct",
                     .type = VIRTIO_BLK_T_IN,
                     .sector = TEST_SECTORS / 2,
                     .data = read + HALF_BYTES,
                     .bytes = HALF_BYTES,
                     .segments = 1,
                     .wait = VIRTQ_WAIT_POLL});
  check_read_back(seed);
  get_id();
  run(&(struct step){.name = "read past the capacity",
                     .type = VIRTIO_BLK_T_IN,
                     .sector = capacity,
                     .data = read,
                     .bytes = VIRTIO_BLK_SECTOR_SIZE,
                     .segments = 1,
                     .wait = VIRTQ_WAIT_INTERRUPT,
                     .expected = VIRTIO_BLK_S_IOERR});
  run(&(struct step){.name = "unknown request type",
                     .type = VIRTIO_BLK_T_UNKNOWN,
                     .wait = VIRTQ_WAIT_POLL,
                     .expected = VIRTIO_BLK_S_UNSUPP});

  serial_print("interrupts: ");
  serial_print_dec(blk.interrupts);
  serial_print("\n");
  if (blk.interrupts == 0) kit_fail(&checks, "no interrupt was handled", NULL);
  return kit_checks_passed(&checks) ? 0 : EXIT_FAILED;
}
