// The ACPI tables of the Wisp x86_64 machine (ACPI Specification 6.x, chapter 5): an RSDP, an
// XSDT, a hardware-reduced FADT, a DSDT that names \_S5 (power off through the sleep control
// register) and describes the platform's devices, and a MADT describing the local APICs and the
// I/O APIC.
//
// build_acpi_tables is a pure function: it returns the bytes to copy into guest memory at
// layout::kAcpiTablesAddress, and touches nothing else.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/platform.h"
#include "vmm/base/result.h"

namespace wisp::acpi {

struct AcpiConfig {
  uint32_t cpu_count;  // 1..255; the CPUs' local APIC IDs (and ACPI processor UIDs) are 0..n-1
  // The devices the DSDT describes under \_SB, one Device each, in order: a kSerial8250 entry as
  // COM1, COM2... (PNP0501), a kVirtioMmio entry as VR00, VR01... (LNRO0005, the _HID that
  // Linux's virtio_mmio driver matches). _UID is the entry's index among those of its kind.
  PlatformDescription platform;
};

// One table as placed in guest memory.
struct AcpiTable {
  std::string signature;  // "RSD PTR " for the RSDP, else the 4-character table signature
  uint64_t address;       // guest-physical address of bytes[0]
  std::vector<uint8_t> bytes;
};

struct AcpiTables {
  uint64_t base;                  // guest-physical address of bytes[0] (layout::kAcpiTablesAddress)
  uint64_t rsdp_address;          // == base: the RSDP comes first
  std::vector<uint8_t> bytes;     // every table, ready to copy into guest memory at base
  std::vector<AcpiTable> tables;  // RSDP, DSDT, FADT, MADT, XSDT, in the order they are placed
};

// Builds the tables for `config`. Fails if cpu_count is 0 or above 255 (the MADT's Processor
// Local APIC entry has 8-bit IDs, and 0xff is the broadcast ID), if check_platform_description
// rejects the platform, if there are more devices of a kind than 4-character names hold (9 serial
// ports, 256 virtio-mmio windows), or if the tables would not fit in layout::kAcpiTablesMaxBytes.
Result<AcpiTables> build_acpi_tables(const AcpiConfig& config);

// A System Description Table (ACPI 6.x §5.2.6): the standard header with Wisp's OEM identity,
// then `body`, with the length and checksum filled in. `signature` must be 4 characters.
std::vector<uint8_t> make_table(std::string_view signature, uint8_t revision,
                                std::span<const uint8_t> body);

// The sum of `bytes` modulo 256: zero over a table (or the RSDP's checksummed part) when its
// checksum is right.
uint8_t byte_sum(std::span<const uint8_t> bytes);

}  // namespace wisp::acpi
