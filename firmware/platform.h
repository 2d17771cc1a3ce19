// What the machine has, as the firmware describes it to the guest: a plain list that the device
// manager fills. Firmware writes the ACPI DSDT, the MP table and command-line fragments from this
// list and knows no device class; COM1 is one more entry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"

namespace wisp {

enum class PlatformDeviceKind {
  kSerial8250,  // a 16550A UART: `address` is its first I/O port, `size` its port count
  kVirtioMmio,  // a virtio-mmio window: `address` is guest-physical, `size` its bytes (4 KiB)
  kPvPanic,     // QEMU's pvpanic: `address` is its I/O port, `size` 1; no interrupt
  kI8042,       // an i8042 keyboard controller: `address` its data port, the command port 4 above
};

struct PlatformDevice {
  PlatformDeviceKind kind;
  uint64_t address;
  uint32_t size;
  uint32_t gsi;  // edge-triggered, active high
};

struct PlatformDescription {
  std::vector<PlatformDevice> devices;
};

// Checks that firmware can describe every entry: a serial port's ports lie in the 16-bit I/O
// space (at most 255 of them, as an ACPI IO() descriptor holds), a virtio-mmio window is non-empty
// and below 4 GiB (an ACPI Memory32Fixed() and the MMIO hole), and every GSI is a pin of the I/O
// APIC (layout::kIoApicPinCount). The ACPI and MP table builders call it first.
Result<void> check_platform_description(const PlatformDescription& platform);

// The kernel command-line fragments that describe the virtio-mmio windows to a kernel built with
// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES (drivers/virtio/virtio_mmio.c): one
// "virtio_mmio.device=<size>@<base>:<gsi>" per kVirtioMmio entry, in order, separated by spaces,
// e.g. "virtio_mmio.device=4K@0xd0000000:5"; "" when there is none. The size is written for the
// kernel's memparse (a K, M or G suffix when it divides exactly).
//
// The rule for using them: append the fragments only when the command line disables ACPI
// (cmdline_disables_acpi). With ACPI on, the DSDT's LNRO0005 devices already describe every
// window, and a kernel that took both routes would probe each device twice.
std::string virtio_mmio_cmdline(const PlatformDescription& platform);

// True when a whole word of the kernel's own parameters is "acpi=off": words are separated by
// whitespace, double quotes keep a value with spaces in one word, and the words after a lone "--"
// are init's, not the kernel's (as the kernel's parse_args reads them).
bool cmdline_disables_acpi(std::string_view cmdline);

}  // namespace wisp
