/*
 * The kit's virtio-mmio driver (virtio_mmio.h). Section numbers are those of "Virtual I/O Device
 * (VIRTIO) Version 1.1". Everything is little-endian, as is x86.
 */
#include "virtio_mmio.h"

/* How many reads of Status a reset may take. */
#define RESET_MAX_READS 100000

static uint32_t reg_read(const struct virtio_device* dev, uint32_t offset) {
  return mmio_read32(dev->base + offset);
}
static void reg_write(const struct virtio_device* dev, uint32_t offset, uint32_t value) {
  mmio_write32(dev->base + offset, value);
}
static void reg_write64(const struct virtio_device* dev, uint32_t low, uint64_t value) {
  reg_write(dev, low, (uint32_t)value);
  reg_write(dev, low + 4, (uint32_t)(value >> 32));
}
static void add_status(const struct virtio_device* dev, uint32_t bits) {
  reg_write(dev, REG_STATUS, reg_read(dev, REG_STATUS) | bits);
}

/* Messages with a number in them: "<text> 0x<value>" in one static buffer. */
static const char* message_hex(const char* text, uint64_t value) {
  static char message[80];
  size_t length = 0;
  while (*text && length < sizeof message - 20) message[length++] = *text++;
  message[length++] = ' ';
  message[length++] = '0';
  message[length++] = 'x';
  int shift = 60;
  while (shift > 0 && !(value >> shift)) shift -= 4;
  for (; shift >= 0; shift -= 4) message[length++] = "0123456789abcdef"[(value >> shift) & 0xf];
  message[length] = 0;
  return message;
}

/* ---- The command line ------------------------------------------------------------------- */

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

/* Parses a number at s (decimal, or hex after 0x) into *value; returns the first character
 * after it, or NULL when there is no digit at s. */
static const char* parse_number(const char* s, uint64_t* value) {
  unsigned base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  const char* start = s;
  uint64_t number = 0;
  for (;; s++) {
    unsigned digit;
    if (*s >= '0' && *s <= '9')
      digit = (unsigned)(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      digit = (unsigned)(*s - 'a' + 10);
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      digit = (unsigned)(*s - 'A' + 10);
    else
      break;
    number = number * base + digit;
  }
  *value = number;
  return s == start ? NULL : s;
}

/* Does the word at s start with the parameter name, where '-' and '_' are the same character
 * (as for Linux's parse_args)? Returns what follows the name, or NULL. */
static const char* match_parameter(const char* s, const char* name) {
  for (; *name; s++, name++) {
    bool same = *s == *name || ((*s == '-' || *s == '_') && (*name == '-' || *name == '_'));
    if (!same) return NULL;
  }
  return s;
}

/* Parses "<size>@<base>:<irq>[:<id>]" at s, which ends at the next space. */
static const char* parse_window(const char* s, struct virtio_mmio_window* window) {
  uint64_t value;
  window->id = -1;
  if (!(s = parse_number(s, &window->size))) return "no size";
  switch (*s) {
    case 'K':
    case 'k':
      window->size <<= 10;
      s++;
      break;
    case 'M':
    case 'm':
      window->size <<= 20;
      s++;
      break;
    case 'G':
    case 'g':
      window->size <<= 30;
      s++;
      break;
  }
  if (window->size == 0) return "size 0";
  if (*s++ != '@') return "no '@' after the size";
  if (!(s = parse_number(s, &window->base))) return "no base address after '@'";
  if (*s++ != ':') return "no ':' and irq after the base address";
  if (!(s = parse_number(s, &value))) return "no irq after ':'";
  window->irq = (uint32_t)value;
  if (*s == ':') {
    if (!(s = parse_number(s + 1, &value))) return "no id after the second ':'";
    window->id = (int32_t)value;
  }
  if (*s && !is_space(*s)) return "junk after the entry";
  return NULL;
}

int virtio_mmio_parse_cmdline(const char* cmdline, struct virtio_mmio_window* windows, int max) {
  int found = 0;
  const char* s = cmdline;
  for (;;) {
    while (is_space(*s)) s++;
    if (!*s) return found;
    const char* value = match_parameter(s, "virtio_mmio.device=");
    if (value) {
      if (found < max) {
        windows[found] = (struct virtio_mmio_window){0};
        windows[found].error = parse_window(value, &windows[found]);
      }
      found++;
    }
    while (*s && !is_space(*s)) s++;
  }
}

/* ---- Device initialization -------------------------------------------------------------- */

const char* virtio_mmio_probe(struct virtio_device* dev, const struct virtio_mmio_window* window) {
  *dev = (struct virtio_device){.base = window->base, .irq = window->irq};
  if (window->error) return window->error;
  if (window->size < REG_CONFIG)
    return message_hex("window smaller than the registers:", window->size);
  uint32_t magic = reg_read(dev, REG_MAGIC_VALUE);
  if (magic != VIRTIO_MMIO_MAGIC) return message_hex("no virtio-mmio magic: MagicValue", magic);
  dev->version = reg_read(dev, REG_VERSION);
  dev->device_id = reg_read(dev, REG_DEVICE_ID);
  dev->vendor_id = reg_read(dev, REG_VENDOR_ID);
  if (dev->version == 1) return "version 1 (legacy virtio-mmio), not 2";
  if (dev->version != VIRTIO_MMIO_VERSION) return message_hex("unknown version", dev->version);
  if (dev->device_id == 0) return "device id 0: no device behind the window"; /* §4.2.3.1.1 */
  return NULL;
}

bool virtio_mmio_find(struct virtio_device* dev, const char* cmdline, uint32_t device_id) {
  static struct virtio_mmio_window windows[VIRTIO_MMIO_MAX_WINDOWS];
  int found = virtio_mmio_parse_cmdline(cmdline, windows, VIRTIO_MMIO_MAX_WINDOWS);
  for (int i = 0; i < found && i < VIRTIO_MMIO_MAX_WINDOWS; i++)
    if (!virtio_mmio_probe(dev, &windows[i]) && dev->device_id == device_id) return true;
  return false;
}

const char* virtio_reset(struct virtio_device* dev) {
  reg_write(dev, REG_STATUS, 0);
  for (int reads = 0; reads < RESET_MAX_READS; reads++)
    if (reg_read(dev, REG_STATUS) == 0) return NULL;
  return "Status stays non-zero after a reset";
}

const char* virtio_negotiate(struct virtio_device* dev, uint64_t required, uint64_t optional) {
  const char* error = virtio_reset(dev);
  if (error) return error;
  add_status(dev, STATUS_ACKNOWLEDGE);
  add_status(dev, STATUS_DRIVER);
  reg_write(dev, REG_DEVICE_FEATURES_SEL, 0);
  uint64_t offered = reg_read(dev, REG_DEVICE_FEATURES);
  reg_write(dev, REG_DEVICE_FEATURES_SEL, 1);
  offered |= (uint64_t)reg_read(dev, REG_DEVICE_FEATURES) << 32;
  dev->device_features = offered;

  required |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
  uint64_t missing = required & ~offered;
  if (missing) {
    add_status(dev, STATUS_FAILED);
    return message_hex("the device does not offer the required features", missing);
  }
  dev->features = required | (optional & offered);
  reg_write(dev, REG_DRIVER_FEATURES_SEL, 0);
  reg_write(dev, REG_DRIVER_FEATURES, (uint32_t)dev->features);
  reg_write(dev, REG_DRIVER_FEATURES_SEL, 1);
  reg_write(dev, REG_DRIVER_FEATURES, (uint32_t)(dev->features >> 32));
  add_status(dev, STATUS_FEATURES_OK);
  if (!(reg_read(dev, REG_STATUS) & STATUS_FEATURES_OK)) { /* §3.1.1 step 6 */
    add_status(dev, STATUS_FAILED);
    return message_hex("the device did not keep FEATURES_OK for the features", dev->features);
  }
  return NULL;
}

void virtio_driver_ok(struct virtio_device* dev) {
  add_status(dev, STATUS_DRIVER_OK);
}

uint8_t virtio_config_read8(const struct virtio_device* dev, uint32_t offset) {
  return *(volatile uint8_t*)(uintptr_t)(dev->base + REG_CONFIG + offset);
}

uint16_t virtio_config_read16(const struct virtio_device* dev, uint32_t offset) {
  return *(volatile uint16_t*)(uintptr_t)(dev->base + REG_CONFIG + offset);
}

uint32_t virtio_config_read32(const struct virtio_device* dev, uint32_t offset) {
  return reg_read(dev, REG_CONFIG + offset);
}

uint64_t virtio_config_read64(const struct virtio_device* dev, uint32_t offset) {
  uint32_t generation, low, high;
  do {
    generation = reg_read(dev, REG_CONFIG_GENERATION);
    low = virtio_config_read32(dev, offset);
    high = virtio_config_read32(dev, offset + 4);
  } while (generation != reg_read(dev, REG_CONFIG_GENERATION));
  return ((uint64_t)high << 32) | low;
}

/* ---- Interrupts ------------------------------------------------------------------------- */

static struct virtio_device* routed_devices;

__attribute__((interrupt)) static void virtio_isr(struct kit_interrupt_frame* frame) {
  (void)frame;
  for (struct virtio_device* dev = routed_devices; dev; dev = dev->next_routed) {
    uint32_t status = reg_read(dev, REG_INTERRUPT_STATUS);
    if (!status) continue;
    reg_write(dev, REG_INTERRUPT_ACK, status);
    dev->interrupt_status |= status;
    dev->interrupts++;
  }
  lapic_eoi();
}

const char* virtio_route_interrupt(struct virtio_device* dev) {
  idt_set_handler(VIRTIO_VECTOR, virtio_isr);
  lapic_enable();
  bool listed = false;
  for (struct virtio_device* other = routed_devices; other; other = other->next_routed)
    listed |= other == dev;
  if (!listed) {
    dev->next_routed = routed_devices;
    routed_devices = dev;
  }
  if (!ioapic_route(dev->irq, VIRTIO_VECTOR, cpu_apic_id()))
    return message_hex("the I/O APIC has no pin for irq", dev->irq);
  return NULL;
}

/* ---- Virtqueues ------------------------------------------------------------------------- */

static uint64_t physical(const volatile void* pointer) {
  return (uint64_t)(uintptr_t)pointer;
}

/* used_event and avail_event (§2.6.7, §2.6.10): right after the ring of the queue's size. */
static volatile uint16_t* used_event(struct virtq* q) {
  return &q->avail.ring[q->size];
}
static volatile uint16_t* avail_event(struct virtq* q) {
  return (volatile uint16_t*)&q->used.ring[q->size];
}

const char* virtq_setup(struct virtio_device* dev, struct virtq* q, uint16_t index,
                        uint16_t max_size) {
  reg_write(dev, REG_QUEUE_SEL, index);
  if (reg_read(dev, REG_QUEUE_READY)) return message_hex("already live: queue", index);
  uint32_t limit = reg_read(dev, REG_QUEUE_NUM_MAX);
  if (limit == 0) return message_hex("no such queue:", index);
  if (limit > max_size) limit = max_size;
  if (limit > VIRTQ_MAX_SIZE) limit = VIRTQ_MAX_SIZE;
  uint16_t size = 1;
  while (size * 2u <= limit) size *= 2; /* §2.6: a power of 2 */

  memset(q, 0, sizeof *q);
  q->dev = dev;
  q->index = index;
  q->size = size;
  q->free_count = size;
  for (uint16_t i = 0; i < size; i++) q->desc[i].next = (uint16_t)(i + 1);
  virtq_set_wait(q, VIRTQ_WAIT_POLL);
  reg_write(dev, REG_QUEUE_NUM, size);
  reg_write64(dev, REG_QUEUE_DESC_LOW, physical(q->desc));
  reg_write64(dev, REG_QUEUE_DRIVER_LOW, physical(&q->avail));
  reg_write64(dev, REG_QUEUE_DEVICE_LOW, physical(&q->used));
  reg_write(dev, REG_QUEUE_READY, 1);
  return NULL;
}

static void fill_descriptor(struct virtq_desc* desc, const struct virtq_buffer* buffer, bool last) {
  desc->addr = physical(buffer->addr);
  desc->len = buffer->len;
  desc->flags = (uint16_t)((buffer->device_writable ? VIRTQ_DESC_F_WRITE : 0) |
                           (last ? 0 : VIRTQ_DESC_F_NEXT));
}

/* §2.6.10.2 (vring_need_event): has the new avail.idx passed the index in avail_event? */
static bool device_wants_notification(struct virtq* q) {
  cpu_memory_barrier(); /* avail.idx is visible before the device's wishes are read */
  uint16_t old = q->kicked_idx, now = q->avail_idx;
  q->kicked_idx = now;
  if (virtio_has_feature(q->dev, VIRTIO_F_EVENT_IDX))
    return (uint16_t)(now - *avail_event(q) - 1) < (uint16_t)(now - old);
  return !(*(volatile uint16_t*)&q->used.flags & VIRTQ_USED_F_NO_NOTIFY);
}

int virtq_submit(struct virtq* q, const struct virtq_buffer* buffers, unsigned count,
                 struct virtq_desc* indirect_table) {
  unsigned needed = indirect_table ? 1 : count;
  if (count == 0 || count > q->size || needed > q->free_count) return -1;
  uint16_t head = q->free_head, last = head;
  if (indirect_table) {
    for (unsigned i = 0; i < count; i++) {
      fill_descriptor(&indirect_table[i], &buffers[i], i + 1 == count);
      indirect_table[i].next = (uint16_t)(i + 1);
    }
    q->desc[head].addr = physical(indirect_table);
    q->desc[head].len = count * sizeof *indirect_table;
    q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
  } else {
    /* The free list is already chained through next: take its first count entries. */
    for (unsigned i = 0; i < count; i++) {
      if (i) last = q->desc[last].next;
      fill_descriptor(&q->desc[last], &buffers[i], i + 1 == count);
    }
  }
  q->free_head = q->desc[last].next;
  q->free_count = (uint16_t)(q->free_count - needed);

  /* §2.6.13: the head goes into the ring, then (after a barrier) the index moves on. */
  q->avail.ring[q->avail_idx % q->size] = head;
  q->avail_idx++;
  __asm__ volatile("" : : : "memory"); /* x86 keeps stores in order; the compiler must too */
  *(volatile uint16_t*)&q->avail.idx = q->avail_idx;
  if (device_wants_notification(q)) reg_write(q->dev, REG_QUEUE_NOTIFY, q->index);
  return head;
}

/* §2.6.7: with VIRTIO_F_EVENT_IDX the device interrupts when used.idx passes used_event, so
 * used_event = used_idx asks for an interrupt at the next used entry, and one behind it for none
 * until 65536 entries later (it moves on with every entry taken); without it, a flag. */
static void update_used_event(struct virtq* q) {
  bool want = q->wait == VIRTQ_WAIT_INTERRUPT;
  if (virtio_has_feature(q->dev, VIRTIO_F_EVENT_IDX))
    *used_event(q) = want ? q->used_idx : (uint16_t)(q->used_idx - 1);
  else
    *(volatile uint16_t*)&q->avail.flags = want ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
}

void virtq_set_wait(struct virtq* q, enum virtq_wait how) {
  q->wait = how;
  update_used_event(q);
}

bool virtq_take_used(struct virtq* q, struct virtq_completion* done) {
  if (*(volatile uint16_t*)&q->used.idx == q->used_idx) return false;
  __asm__ volatile("" : : : "memory"); /* the entry is read after the index */
  volatile struct virtq_used_elem* elem = &q->used.ring[q->used_idx % q->size];
  uint32_t id = elem->id;
  done->head = (uint16_t)id;
  done->written = elem->len;
  q->used_idx++;
  update_used_event(q);
  if (id >= q->size) {
    done->head = 0xffff; /* virtq_wait reports it; nothing to free */
    return true;
  }
  uint16_t last = done->head, freed = 1;
  while (q->desc[last].flags & VIRTQ_DESC_F_NEXT) {
    last = q->desc[last].next;
    freed++;
  }
  q->desc[last].next = q->free_head;
  q->free_head = done->head;
  q->free_count = (uint16_t)(q->free_count + freed);
  return true;
}

const char* virtq_wait(struct virtq* q, struct virtq_completion* done) {
  bool taken = false;
  cpu_memory_barrier(); /* used_event is visible before used.idx is read (§2.6.7.1) */
  if (q->wait == VIRTQ_WAIT_POLL) {
    uint64_t deadline = cpu_rdtsc() + VIRTIO_TIMEOUT_TSC_TICKS;
    while (!(taken = virtq_take_used(q, done)) && cpu_rdtsc() < deadline) cpu_pause();
  } else {
    uint32_t expirations = lapic_timer_expirations;
    lapic_timer_start(VIRTIO_TIMEOUT_MICROSECONDS);
    while (!(taken = virtq_take_used(q, done)) && lapic_timer_expirations == expirations) {
      cpu_wait_for_interrupt();
    }
    lapic_timer_stop();
    /* The entry may have come before its interrupt was taken: take a pending one now, so that
     * the handler's count does not depend on that race (hlt returns at once). */
    if (lapic_interrupt_pending(VIRTIO_VECTOR)) cpu_wait_for_interrupt();
  }
  if (!taken) return "time-out waiting for a used buffer";
  if (done->head == 0xffff) return "the device used a descriptor id beyond the queue";
  return NULL;
}
