/*
 * virtio_devices: lists the virtio-mmio devices of the command line. For each
 * virtio_mmio.device=<size>@<base>:<irq>[:<id>] word it prints
 *     virtio-mmio: base=0x... size=0x... irq=N
 * and, after probing the window,
 *     device id N version 2
 * or what is wrong (a malformed word, no magic, legacy version 1, device id 0). Exits with the
 * number of words found.
 */
#include "virtio_mmio.h"

#define MAX_DEVICES 32

int guest_main(const char* cmdline) {
  static struct virtio_mmio_window windows[MAX_DEVICES];
  int found = virtio_mmio_parse_cmdline(cmdline, windows, MAX_DEVICES);
  for (int i = 0; i < found && i < MAX_DEVICES; i++) {
    const struct virtio_mmio_window* window = &windows[i];
    serial_print("virtio-mmio: ");
    if (window->error) {
      serial_print("bad entry: ");
      serial_print(window->error);
      serial_print("\n");
      continue;
    }
    serial_print("base=");
    serial_print_hex(window->base);
    serial_print(" size=");
    serial_print_hex(window->size);
    serial_print(" irq=");
    serial_print_dec(window->irq);
    if (window->id >= 0) {
      serial_print(" id=");
      serial_print_dec((uint64_t)window->id);
    }
    serial_print("\n");
    struct virtio_device dev;
    const char* error = virtio_mmio_probe(&dev, window);
    serial_print("  ");
    if (error) {
      serial_print(error);
    } else {
      serial_print("device id ");
      serial_print_dec(dev.device_id);
      serial_print(" version ");
      serial_print_dec(dev.version);
    }
    serial_print("\n");
  }
  if (found > MAX_DEVICES) serial_print("virtio-mmio: more entries than listed\n");
  if (found == 0) serial_print("virtio-mmio: no virtio_mmio.device= on the command line\n");
  return found;
}
