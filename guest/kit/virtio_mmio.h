/*
 * A minimal virtio 1.x driver over the virtio-mmio transport, version 2 ("Virtual I/O Device
 * (VIRTIO) Version 1.1", OASIS; the § numbers below are its sections): find devices on the
 * kernel command line, probe and initialize one, drive split virtqueues (§2.6) with polled or
 * interrupt-driven completion. Everything lives in memory the caller provides (static: the kit
 * has no allocator); a pointer is its own guest-physical address (the kit's identity map).
 * Functions that can fail return NULL on success, else a message saying what is wrong.
 *
 *     struct virtio_mmio_window windows[4];
 *     int found = virtio_mmio_parse_cmdline(cmdline, windows, 4);
 *     static struct virtio_device dev;
 *     static struct virtq queue;
 *     const char* error = virtio_mmio_probe(&dev, &windows[0]);
 *     if (!error) error = virtio_negotiate(&dev, required_features, optional_features);
 *     if (!error) error = virtq_setup(&dev, &queue, 0, VIRTQ_MAX_SIZE);
 *     if (!error) error = virtio_route_interrupt(&dev);  // for VIRTQ_WAIT_INTERRUPT
 *     if (!error) virtio_driver_ok(&dev);
 *     virtq_set_wait(&queue, VIRTQ_WAIT_INTERRUPT);      // or stay with VIRTQ_WAIT_POLL
 *     struct virtq_buffer buffers[] = {{&request, sizeof request, false}, {&status, 1, true}};
 *     virtq_submit(&queue, buffers, 2, NULL);
 *     struct virtq_completion done;
 *     error = virtq_wait(&queue, &done);
 */
#pragma once

#include "kit.h"

/* The virtio-mmio register block (§4.2.2, table "MMIO Device Register Layout"). */
#define REG_MAGIC_VALUE 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_VENDOR_ID 0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2

/* Device status bits (§2.1). */
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_DEVICE_NEEDS_RESET 64
#define STATUS_FAILED 128

/* Feature bits (§6 "Reserved Feature Bits"; a device type's own in §5), as bit numbers:
 * VIRTIO_BIT makes the mask. */
#define VIRTIO_BIT(bit) (1ull << (bit))
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device IDs (§5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3

/* The interrupt vector of every device routed by virtio_route_interrupt. */
#define VIRTIO_VECTOR 0x40

/* A wait gives up after this long: a device that never answers fails a test, it does not hang
 * it. Polled waits count TSC ticks (5 s to 10 s at TSC rates of 2 to 4 GHz). */
#define VIRTIO_TIMEOUT_MICROSECONDS 10000000u
#define VIRTIO_TIMEOUT_TSC_TICKS 20000000000ull

/* One virtio_mmio.device=<size>@<base>:<irq>[:<id>] word of the kernel command line (the format
 * of Linux's drivers/virtio/virtio_mmio.c: size with an optional K, M or G suffix; numbers in
 * decimal, or in hex after 0x). error is NULL for a well-formed word, else what is wrong with it
 * (and the other fields are unreliable). */
struct virtio_mmio_window {
  uint64_t base;
  uint64_t size;
  uint32_t irq;
  int32_t id; /* the platform device id after a second colon, -1 when there is none */
  const char* error;
};

/* Finds the virtio_mmio.device= words of cmdline, in order (virtio-mmio.device= too: Linux
 * accepts both), and stores the first max of them in windows. Returns how many there are. */
int virtio_mmio_parse_cmdline(const char* cmdline, struct virtio_mmio_window* windows, int max);

/* A device, from probe on. */
struct virtio_device {
  uint64_t base; /* of its register window */
  uint32_t irq;  /* the GSI of its interrupt */
  uint32_t version;
  uint32_t device_id;
  uint32_t vendor_id;
  uint64_t device_features;           /* what it offers (§2.2), read by virtio_negotiate */
  uint64_t features;                  /* what was negotiated */
  volatile uint32_t interrupts;       /* handled, with a non-zero InterruptStatus */
  volatile uint32_t interrupt_status; /* every InterruptStatus bit seen: 1 used buffer, 2 config */
  struct virtio_device* next_routed;  /* the interrupt handler's list */
};

/* Reads MagicValue, Version and DeviceID (§4.2.2; §4.2.3.1.1): the window must hold a version 2
 * register block with a device behind it (ID not 0). Fills dev and returns NULL, or says what
 * is there instead. */
const char* virtio_mmio_probe(struct virtio_device* dev, const struct virtio_mmio_window* window);

/* Probes the virtio_mmio.device= windows of cmdline in order (the first VIRTIO_MMIO_MAX_WINDOWS)
 * and fills dev from the first that holds a device of device_id (VIRTIO_ID_*): what a test guest
 * that wants "the first block device" does. Returns false when there is none. */
#define VIRTIO_MMIO_MAX_WINDOWS 16
bool virtio_mmio_find(struct virtio_device* dev, const char* cmdline, uint32_t device_id);

/* Device initialization up to FEATURES_OK (§3.1.1 steps 1 to 6): reset, ACKNOWLEDGE, DRIVER,
 * read both halves of the device features, accept VIRTIO_F_VERSION_1, all of required and what
 * the device offers of optional, set FEATURES_OK and check that the device kept it. On failure
 * sets FAILED and says why (a required feature not offered, FEATURES_OK refused). */
const char* virtio_negotiate(struct virtio_device* dev, uint64_t required, uint64_t optional);
static inline bool virtio_has_feature(const struct virtio_device* dev, unsigned bit) {
  return (dev->features >> bit) & 1;
}

/* Resets the device: writes 0 to Status (§4.2.2) and waits until it reads 0. */
const char* virtio_reset(struct virtio_device* dev);

/* Sets DRIVER_OK (§3.1.1 step 8): the device is live. */
void virtio_driver_ok(struct virtio_device* dev);

/* The device-specific configuration space (§4.2.2: from offset 0x100), read with the access
 * widths of §4.2.2.2; a 64-bit field as two 32-bit halves, again until ConfigGeneration says
 * that nothing changed in between (§2.4.1). */
uint8_t virtio_config_read8(const struct virtio_device* dev, uint32_t offset);
uint16_t virtio_config_read16(const struct virtio_device* dev, uint32_t offset);
uint32_t virtio_config_read32(const struct virtio_device* dev, uint32_t offset);
uint64_t virtio_config_read64(const struct virtio_device* dev, uint32_t offset);

/* Routes the device's interrupt to VIRTIO_VECTOR on this CPU: the IDT entry, the local APIC,
 * the I/O APIC pin dev->irq. The handler reads InterruptStatus of every routed device, writes
 * what it read to InterruptACK (§4.2.3.4), counts the interrupt and sends the EOI. */
const char* virtio_route_interrupt(struct virtio_device* dev);

/* A split virtqueue (§2.6) of at most VIRTQ_MAX_SIZE entries, its three parts aligned as §2.6
 * asks (descriptor table 16, driver area 2, device area 4 bytes). The rings are laid out for the
 * queue's size: used_event is avail.ring[size], avail_event follows used.ring[size - 1]. */
#define VIRTQ_MAX_SIZE 64

#define VIRTQ_DESC_F_NEXT 1          /* §2.6.5: the chain goes on at next */
#define VIRTQ_DESC_F_WRITE 2         /* §2.6.5: device-writable */
#define VIRTQ_DESC_F_INDIRECT 4      /* §2.6.5.3: the buffer is a table of descriptors */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* §2.6.7 */
#define VIRTQ_USED_F_NO_NOTIFY 1     /* §2.6.10 */

struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "§2.6.5 virtq_desc");

struct virtq_used_elem {
  uint32_t id; /* the head of the chain */
  uint32_t len;
};

/* How the driver learns of used entries: see virtq_set_wait. */
enum virtq_wait { VIRTQ_WAIT_POLL, VIRTQ_WAIT_INTERRUPT };

struct virtq {
  struct virtq_desc desc[VIRTQ_MAX_SIZE] __attribute__((aligned(16)));
  struct {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[VIRTQ_MAX_SIZE + 1]; /* and used_event (§2.6.6) */
  } avail __attribute__((aligned(16)));
  struct {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[VIRTQ_MAX_SIZE + 1]; /* and avail_event (§2.6.8) */
  } used __attribute__((aligned(16)));
  /* The driver's own state. */
  struct virtio_device* dev;
  uint16_t index;     /* for QueueSel and QueueNotify */
  uint16_t size;      /* QueueNum */
  uint16_t free_head; /* free descriptors, chained through next */
  uint16_t free_count;
  uint16_t avail_idx;  /* avail.idx as this driver last wrote it */
  uint16_t kicked_idx; /* avail.idx when the device was last considered for a notification */
  uint16_t used_idx;   /* the next used entry to take */
  enum virtq_wait wait;
};

/* Queue setup (§4.2.3.2): selects queue index, checks it is not live, uses the largest power of
 * two within max_size, VIRTQ_MAX_SIZE and QueueNumMax, writes the addresses of q's three parts,
 * sets QueueReady. Between virtio_negotiate and virtio_driver_ok. */
const char* virtq_setup(struct virtio_device* dev, struct virtq* q, uint16_t index,
                        uint16_t max_size);

/* One buffer of a request; device_writable for what the device fills in. */
struct virtq_buffer {
  void* addr;
  uint32_t len;
  bool device_writable;
};

/* Makes buffers[0..count) available as one descriptor chain (§2.6.13) and notifies the device
 * unless it asked not to be notified (§2.6.10: avail_event with VIRTIO_F_EVENT_IDX, else the used
 * ring's NO_NOTIFY flag). With an indirect_table (VIRTIO_F_INDIRECT_DESC negotiated; 16-byte
 * aligned, count <= the queue size entries) the chain is written there and takes one descriptor
 * of the queue (§2.6.5.3); the table must stay as it is until the request completes. Returns the
 * chain's head, or -1 when the queue has too few free descriptors. */
int virtq_submit(struct virtq* q, const struct virtq_buffer* buffers, unsigned count,
                 struct virtq_desc* indirect_table);

/* A used entry (§2.6.8): the head virtq_submit returned, and the number of bytes the device says
 * it wrote into the chain's device-writable buffers. */
struct virtq_completion {
  uint16_t head;
  uint32_t written;
};

/* How the driver learns of used entries: VIRTQ_WAIT_POLL (after virtq_setup) with the device's
 * interrupts suppressed (§2.6.7), spinning on used.idx; VIRTQ_WAIT_INTERRUPT (after
 * virtio_route_interrupt) with an interrupt asked for at every used entry, halting until one has
 * been handled. Set it before submitting the requests it is for: an entry can be used at once. */
void virtq_set_wait(struct virtq* q, enum virtq_wait how);

/* Takes the next used entry if there is one (§2.6.14) and frees its descriptors. */
bool virtq_take_used(struct virtq* q, struct virtq_completion* done);

/* Waits for the next used entry as virtq_set_wait says and takes it. Returns NULL, or a message
 * when nothing came within the time-out or the device used a descriptor id beyond the queue. */
const char* virtq_wait(struct virtq* q, struct virtq_completion* done);
