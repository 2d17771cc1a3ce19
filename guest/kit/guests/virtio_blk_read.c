/*
 * virtio_blk_read: the read-throughput benchmark's guest. Reads mib=N MiB (default 64) from the
 * first virtio-blk device of the command line, sequentially from sector 0 (from 0 again at the
 * end of the disk), in requests of kib=N KiB (default 1024, at most 62 MiB and the buffer pool;
 * less when the device's size_max and seg_max say so), as segments of at most 1 MiB, with depth=N
 * requests in flight (default 4, at most MAX_DEPTH and as many requests as fit in the pool), each
 * through an indirect table when the device offers VIRTIO_F_INDIRECT_DESC, completed by
 * interrupt. The data is not looked at: the guest's own work is a few hundred instructions per
 * request. Prints "virtio-blk-read: N KiB requests, N in flight, indirect|direct" before the
 * first request and "read N MiB" after the last (the benchmark times the reads between the two
 * lines) and exits 0; exits 1 after printing what failed, 2 when there is no usable block device.
 * The requests' buffers are one 64 MiB KIT_NOINIT pool (the loader zeroes it, the stubs do not),
 * so the guest needs at least 66 MiB of RAM (it is loaded at 1 MiB).
 */
#include "virtio_blk.h"
#include "virtio_mmio.h"

#define MAX_SEGMENT_BYTES (1u << 20)
#define MAX_SEGMENTS (VIRTQ_MAX_SIZE - 2) /* an indirect table is at most the queue's size */
#define MAX_DEPTH 8
#define POOL_BYTES (64u << 20) /* the requests' buffers: depth * request bytes at most */
#define DEFAULT_MIB 64
#define DEFAULT_DEPTH 4
#define DEFAULT_REQUEST_KIB 1024

#define EXIT_FAILED 1
#define EXIT_NO_DEVICE 2

struct slot {
  struct virtq_desc table[MAX_SEGMENTS + 2] __attribute__((aligned(16)));
  struct virtio_blk_req_header header;
  uint8_t status;
  int head; /* of the request in flight, -1 when idle */
  uint32_t bytes;
  /* The chain: the header, the slot's part of the pool, the status byte. Built again only when
   * the request's size changes (the last one may be shorter): every instruction of the guest's
   * kernel-mode code is emulated on PVM, and this loop was a third of a request's. */
  struct virtq_buffer parts[MAX_SEGMENTS + 2];
  unsigned part_count;
  uint32_t part_bytes;
};

static struct virtio_device blk;
static struct virtq requestq;
static struct slot slots[MAX_DEPTH];
KIT_NOINIT static uint8_t pool[POOL_BYTES] __attribute__((aligned(4096)));

/* The request geometry: bytes per request and per segment. */
static uint32_t request_bytes, segment_bytes;
static uint64_t disk_bytes, next_offset;

static int failed(const char* what, const char* detail) {
  serial_print("virtio-blk-read: ");
  serial_print(what);
  if (detail) {
    serial_print(": ");
    serial_print(detail);
  }
  serial_print("\n");
  return EXIT_FAILED;
}

static uint64_t number_option(const char* cmdline, const char* prefix, uint64_t otherwise) {
  const char* value = cmdline_find(cmdline, prefix);
  uint64_t number = otherwise;
  if (value) parse_dec(value, &number);
  return number;
}

static const char* set_up(const char* cmdline, uint64_t wanted_request_bytes) {
  if (!virtio_mmio_find(&blk, cmdline, VIRTIO_ID_BLOCK))
    return "no virtio-mmio block device on the command line";
  const char* error =
      virtio_negotiate(&blk, 0,
                       VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                           VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
  if (!error) error = virtq_setup(&blk, &requestq, 0, VIRTQ_MAX_SIZE);
  if (!error) error = virtio_route_interrupt(&blk);
  if (error) return error;
  virtio_driver_ok(&blk);
  virtq_set_wait(&requestq, VIRTQ_WAIT_INTERRUPT);

  /* §5.2.6.1 and §5.2.4: no segment above size_max, no more than seg_max of them. */
  disk_bytes = virtio_config_read64(&blk, VIRTIO_BLK_CONFIG_CAPACITY) * VIRTIO_BLK_SECTOR_SIZE;
  segment_bytes = MAX_SEGMENT_BYTES;
  if (virtio_has_feature(&blk, VIRTIO_BLK_F_SIZE_MAX)) {
    uint32_t size_max = virtio_config_read32(&blk, VIRTIO_BLK_CONFIG_SIZE_MAX);
    if (size_max < segment_bytes) segment_bytes = size_max & ~(VIRTIO_BLK_SECTOR_SIZE - 1);
  }
  uint32_t segments = requestq.size - 2u < MAX_SEGMENTS ? requestq.size - 2u : MAX_SEGMENTS;
  if (virtio_has_feature(&blk, VIRTIO_BLK_F_SEG_MAX)) {
    uint32_t seg_max = virtio_config_read32(&blk, VIRTIO_BLK_CONFIG_SEG_MAX);
    if (seg_max && seg_max < segments) segments = seg_max;
  }
  uint64_t wanted = wanted_request_bytes & ~(uint64_t)(VIRTIO_BLK_SECTOR_SIZE - 1);
  if (wanted > POOL_BYTES) wanted = POOL_BYTES;
  if ((uint64_t)segment_bytes * segments < wanted) wanted = (uint64_t)segment_bytes * segments;
  if (wanted > disk_bytes) wanted = disk_bytes;
  request_bytes = (uint32_t)wanted;
  if (segment_bytes == 0 || request_bytes == 0) return "the disk or its size_max is too small";
  return NULL;
}

/* Puts the next request of at most `remaining` bytes in flight in slots[index], into its part of
 * the pool. */
static const char* submit(unsigned index, uint64_t remaining) {
  struct slot* slot = &slots[index];
  if (next_offset + request_bytes > disk_bytes) next_offset = 0;
  slot->bytes = remaining < request_bytes ? (uint32_t)remaining : request_bytes;
  slot->header = (struct virtio_blk_req_header){.type = VIRTIO_BLK_T_IN,
                                                .sector = next_offset / VIRTIO_BLK_SECTOR_SIZE};
  slot->status = 0xff;
  next_offset += slot->bytes;
  if (slot->part_bytes != slot->bytes) {
    uint8_t* buffer = pool + (uint64_t)index * request_bytes;
    unsigned count = 0;
    slot->parts[count++] = (struct virtq_buffer){&slot->header, sizeof slot->header, false};
    for (uint32_t done = 0; done < slot->bytes; done += segment_bytes) {
      uint32_t left = slot->bytes - done;
      slot->parts[count++] =
          (struct virtq_buffer){buffer + done, left < segment_bytes ? left : segment_bytes, true};
    }
    slot->parts[count++] = (struct virtq_buffer){&slot->status, 1, true};
    slot->part_count = count;
    slot->part_bytes = slot->bytes;
  }
  bool indirect = virtio_has_feature(&blk, VIRTIO_F_INDIRECT_DESC);
  slot->head =
      virtq_submit(&requestq, slot->parts, slot->part_count, indirect ? slot->table : NULL);
  return slot->head < 0 ? "no room in the queue" : NULL;
}

int guest_main(const char* cmdline) {
  uint64_t mib = number_option(cmdline, "mib=", DEFAULT_MIB);
  uint64_t depth = number_option(cmdline, "depth=", DEFAULT_DEPTH);
  uint64_t request_kib = number_option(cmdline, "kib=", DEFAULT_REQUEST_KIB);
  if (depth < 1) depth = 1;
  if (depth > MAX_DEPTH) depth = MAX_DEPTH;
  if (request_kib > (POOL_BYTES >> 10)) request_kib = POOL_BYTES >> 10;
  const char* error = set_up(cmdline, request_kib << 10);
  if (error) {
    failed(error, NULL);
    return EXIT_NO_DEVICE;
  }
  /* A direct chain takes a descriptor per segment, and two; an indirect one takes one. */
  unsigned per_request = (request_bytes + segment_bytes - 1) / segment_bytes + 2;
  if (virtio_has_feature(&blk, VIRTIO_F_INDIRECT_DESC)) per_request = 1;
  if (depth > requestq.size / per_request) depth = requestq.size / per_request;
  if (depth > POOL_BYTES / request_bytes) depth = POOL_BYTES / request_bytes;
  serial_print("virtio-blk-read: ");
  serial_print_dec(request_bytes >> 10);
  serial_print(" KiB requests, ");
  serial_print_dec(depth);
  serial_print(" in flight, ");
  serial_print(virtio_has_feature(&blk, VIRTIO_F_INDIRECT_DESC) ? "indirect" : "direct");
  serial_print("\n");

  uint64_t total = mib << 20, submitted = 0, completed = 0;
  for (unsigned i = 0; i < depth; i++) {
    slots[i].head = -1;
    if (submitted == total) continue;
    if ((error = submit(i, total - submitted))) return failed("submit", error);
    submitted += slots[i].bytes;
  }
  while (completed < total) {
    struct virtq_completion done;
    if ((error = virtq_wait(&requestq, &done))) return failed("wait", error);
    do {
      unsigned i = 0;
      while (i < depth && slots[i].head != done.head) i++;
      if (i == depth) return failed("the device completed a request never made", NULL);
      if (slots[i].status != VIRTIO_BLK_S_OK)
        return failed("a read did not end VIRTIO_BLK_S_OK", NULL);
      completed += slots[i].bytes;
      slots[i].head = -1;
      if (submitted < total) {
        if ((error = submit(i, total - submitted))) return failed("submit", error);
        submitted += slots[i].bytes;
      }
    } while (virtq_take_used(&requestq, &done));
  }
  serial_print("read ");
  serial_print_dec(mib);
  serial_print(" MiB\n");
  return 0;
}
