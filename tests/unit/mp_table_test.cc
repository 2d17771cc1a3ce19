// Tests of the MP table. The bytes are read back through offsets written out here from the Intel
// MultiProcessor Specification 1.4 (chapter 4), independently of firmware/mp_table.cc, and walked
// the way Linux's mpparse walks them.
#include "firmware/mp_table.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "firmware/layout.h"
#include "firmware/platform.h"
#include "tests/unit/table_bytes.h"

namespace wisp::mp {
namespace {

using namespace wisp::test;  // the readers of table_bytes.h

using Bytes = std::vector<uint8_t>;

// MP Floating Pointer Structure (§4.1).
constexpr size_t kPointerSize = 16;
constexpr size_t kPointerAddress = 4;
constexpr size_t kPointerLength = 8;
constexpr size_t kPointerSpecRev = 9;
constexpr size_t kPointerFeature1 = 11;
constexpr size_t kPointerFeature2 = 12;

// MP Configuration Table Header (§4.2).
constexpr size_t kHeaderSize = 44;
constexpr size_t kHeaderBaseLength = 4;
constexpr size_t kHeaderSpecRev = 6;
constexpr size_t kHeaderOemId = 8;
constexpr size_t kHeaderProductId = 16;
constexpr size_t kHeaderOemTablePointer = 28;
constexpr size_t kHeaderEntryCount = 34;
constexpr size_t kHeaderLocalApic = 36;
constexpr size_t kHeaderExtendedLength = 40;

// Entry types and sizes (§4.3, Table 4-3).
constexpr uint8_t kProcessor = 0;
constexpr uint8_t kBus = 1;
constexpr uint8_t kIoApic = 2;
constexpr uint8_t kIoInterrupt = 3;
constexpr uint8_t kLocalInterrupt = 4;
constexpr size_t kProcessorSize = 20;
constexpr size_t kOtherEntrySize = 8;

// COM1 and one virtio-mmio window for every device GSI the layout hands out.
PlatformDescription full_platform() {
  PlatformDescription platform{{com1()}};
  size_t index = 0;
  for (uint32_t gsi : layout::kDeviceGsis) platform.devices.push_back(virtio_window(index++, gsi));
  return platform;
}

Bytes build(uint32_t cpu_count, const PlatformDescription& platform) {
  Result<Bytes> table = build_mp_table(cpu_count, platform);
  if (!table) FAIL(table.error().message());
  return std::move(*table);
}

// The table as Linux reads it from guest memory at layout::kMpTableAddress.
struct ParsedTable {
  std::span<const uint8_t> pointer, config;
  std::vector<std::span<const uint8_t>> processors, buses, io_apics, io_interrupts,
      local_interrupts;
  size_t entry_count = 0;
};

ParsedTable parse(std::span<const uint8_t> bytes) {
  ParsedTable parsed;
  REQUIRE(bytes.size() >= kPointerSize + kHeaderSize);
  parsed.pointer = bytes.first(kPointerSize);
  uint32_t config_address = u32(parsed.pointer, kPointerAddress);
  REQUIRE(config_address >= layout::kMpTableAddress);
  size_t config_offset = config_address - layout::kMpTableAddress;
  REQUIRE(config_offset + kHeaderSize <= bytes.size());
  uint16_t length = u16(bytes, config_offset + kHeaderBaseLength);
  REQUIRE(config_offset + length <= bytes.size());
  parsed.config = bytes.subspan(config_offset, length);

  size_t offset = kHeaderSize;
  uint8_t previous_type = 0;
  while (offset < parsed.config.size()) {
    uint8_t type = u8(parsed.config, offset);
    INFO("entry of type " << int(type) << " at offset " << offset);
    CHECK(type >= previous_type);  // §4.3: entries in ascending order of type
    previous_type = type;
    size_t size = type == kProcessor ? kProcessorSize : kOtherEntrySize;
    REQUIRE(offset + size <= parsed.config.size());
    std::span<const uint8_t> entry = parsed.config.subspan(offset, size);
    switch (type) {
      case kProcessor:
        parsed.processors.push_back(entry);
        break;
      case kBus:
        parsed.buses.push_back(entry);
        break;
      case kIoApic:
        parsed.io_apics.push_back(entry);
        break;
      case kIoInterrupt:
        parsed.io_interrupts.push_back(entry);
        break;
      case kLocalInterrupt:
        parsed.local_interrupts.push_back(entry);
        break;
      default:
        FAIL("unknown entry type " << int(type));
    }
    ++parsed.entry_count;
    offset += size;
  }
  CHECK(offset == parsed.config.size());
  return parsed;
}

// The I/O interrupt assignment entry (§4.3.4) for ISA IRQ `irq`, if there is exactly one.
std::span<const uint8_t> io_interrupt_for(const ParsedTable& parsed, uint8_t irq) {
  std::vector<std::span<const uint8_t>> found;
  for (std::span<const uint8_t> entry : parsed.io_interrupts) {
    if (u8(entry, 5) == irq) found.push_back(entry);
  }
  INFO("ISA IRQ " << int(irq));
  REQUIRE(found.size() == 1);
  return found[0];
}

TEST_CASE("the MP floating pointer comes first and points at the configuration table", "[mp]") {
  Bytes bytes = build(2, full_platform());
  ParsedTable parsed = parse(bytes);
  CHECK(text(parsed.pointer, 0, 4) == "_MP_");
  CHECK(u32(parsed.pointer, kPointerAddress) == layout::kMpTableAddress + kPointerSize);
  CHECK(u8(parsed.pointer, kPointerLength) == 1);
  CHECK(u8(parsed.pointer, kPointerSpecRev) == 4);
  CHECK(sum_mod_256(parsed.pointer) == 0);
  CHECK(u8(parsed.pointer, kPointerFeature1) == 0);  // a configuration table is present
  CHECK(u8(parsed.pointer, kPointerFeature2) == 0);  // virtual wire mode, no IMCR
  CHECK(layout::kMpTableAddress % 16 == 0);
}

TEST_CASE("the MP configuration table header is checksummed and counts its entries", "[mp]") {
  uint32_t cpus = GENERATE(1u, 2u, 255u);
  INFO("cpu_count = " << cpus);
  Bytes bytes = build(cpus, full_platform());
  ParsedTable parsed = parse(bytes);
  std::span<const uint8_t> config = parsed.config;
  CHECK(text(config, 0, 4) == "PCMP");
  CHECK(u8(config, kHeaderSpecRev) == 4);
  CHECK(sum_mod_256(config) == 0);
  CHECK(text(config, kHeaderOemId, 8) == "WISP    ");
  CHECK(text(config, kHeaderProductId, 12) == "WISPVM      ");
  CHECK(u32(config, kHeaderOemTablePointer) == 0);
  CHECK(u32(config, kHeaderLocalApic) == layout::kLocalApicAddress);
  CHECK(u16(config, kHeaderExtendedLength) == 0);
  CHECK(u16(config, kHeaderEntryCount) == parsed.entry_count);
  // Nothing follows the table.
  CHECK(bytes.size() == kPointerSize + config.size());
}

TEST_CASE("the MP table lists every CPU, with CPU 0 as the boot processor", "[mp]") {
  uint32_t cpus = GENERATE(1u, 2u, 255u);
  INFO("cpu_count = " << cpus);
  Bytes table = build(cpus, PlatformDescription{});  // outlives the spans parse() returns
  ParsedTable parsed = parse(table);
  REQUIRE(parsed.processors.size() == cpus);
  std::set<uint8_t> apic_ids;
  for (uint32_t i = 0; i < cpus; ++i) {
    std::span<const uint8_t> cpu = parsed.processors[i];
    INFO("CPU " << i);
    CHECK(u8(cpu, 1) == i);     // local APIC ID
    CHECK(u8(cpu, 2) == 0x14);  // local APIC version
    uint8_t flags = u8(cpu, 3);
    CHECK((flags & 1) == 1);                        // EN
    CHECK(((flags >> 1) & 1) == (i == 0 ? 1 : 0));  // BP only on CPU 0
    CHECK(((u32(cpu, 4) >> 8) & 0xf) != 0);         // a CPU family in the signature
    CHECK((u32(cpu, 8) & 1) == 1);                  // FPU
    CHECK(((u32(cpu, 8) >> 9) & 1) == 1);           // APIC
    apic_ids.insert(u8(cpu, 1));
  }
  CHECK(apic_ids.size() == cpus);
}

TEST_CASE("the MP table has the ISA bus and the I/O APIC", "[mp]") {
  uint32_t cpus = GENERATE(1u, 4u, 255u);
  INFO("cpu_count = " << cpus);
  Bytes table = build(cpus, full_platform());  // outlives the spans parse() returns
  ParsedTable parsed = parse(table);
  REQUIRE(parsed.buses.size() == 1);
  CHECK(u8(parsed.buses[0], 1) == 0);
  CHECK(text(parsed.buses[0], 2, 6) == "ISA   ");

  REQUIRE(parsed.io_apics.size() == 1);
  std::span<const uint8_t> io_apic = parsed.io_apics[0];
  CHECK(u8(io_apic, 1) == std::min(cpus, 0xfeu));  // the ID the MADT gives it
  CHECK(u8(io_apic, 2) == 0x11);
  CHECK((u8(io_apic, 3) & 1) == 1);  // EN
  CHECK(u32(io_apic, 4) == layout::kIoApicAddress);
}

TEST_CASE("the MP table routes the ISA IRQs and every device GSI to their pins", "[mp]") {
  PlatformDescription platform{{com1(), virtio_window(0, 5), virtio_window(1, 20)}};
  Bytes table = build(2, platform);  // outlives the spans parse() returns
  ParsedTable parsed = parse(table);
  REQUIRE(parsed.io_apics.size() == 1);
  uint8_t io_apic_id = u8(parsed.io_apics[0], 1);

  for (std::span<const uint8_t> entry : parsed.io_interrupts) {
    INFO("source IRQ " << int(u8(entry, 5)));
    CHECK(u8(entry, 1) == 0);  // INT
    CHECK(u8(entry, 4) == 0);  // the ISA bus
    CHECK(u8(entry, 6) == io_apic_id);
    CHECK(u8(entry, 7) == u8(entry, 5));  // pin n is IRQ n, as KVM routes GSI n
  }
  // ISA IRQs 0-15 but the cascade, then GSI 20 of the second window.
  std::set<uint8_t> irqs;
  for (std::span<const uint8_t> entry : parsed.io_interrupts) irqs.insert(u8(entry, 5));
  CHECK(irqs == std::set<uint8_t>{0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20});
  CHECK(irqs.size() == parsed.io_interrupts.size());

  // COM1's IRQ 4 and the devices' GSIs: edge-triggered, active high as the ISA bus defines.
  CHECK(u8(io_interrupt_for(parsed, 4), 7) == 4);
  CHECK(u16(io_interrupt_for(parsed, 4), 2) == 0);
  CHECK(u8(io_interrupt_for(parsed, 20), 7) == 20);
  CHECK(u16(io_interrupt_for(parsed, 20), 2) == 0);
  // The SCI: level-triggered, active high, as in the MADT's source override.
  CHECK(u16(io_interrupt_for(parsed, layout::kAcpiSciIrq), 2) == 0x000d);
}

TEST_CASE("every local APIC gets LINT0 as ExtINT and LINT1 as NMI", "[mp]") {
  Bytes table = build(4, PlatformDescription{});  // outlives the spans parse() returns
  ParsedTable parsed = parse(table);
  REQUIRE(parsed.local_interrupts.size() == 2);
  std::set<std::pair<uint8_t, uint8_t>> type_and_lint;
  for (std::span<const uint8_t> entry : parsed.local_interrupts) {
    CHECK(u8(entry, 6) == 0xff);  // every local APIC
    type_and_lint.insert({u8(entry, 1), u8(entry, 7)});
  }
  CHECK(type_and_lint == std::set<std::pair<uint8_t, uint8_t>>{{3, 0}, {1, 1}});
}

TEST_CASE("the MP table for 255 CPUs and 17 devices fits its area", "[mp]") {
  PlatformDescription platform = full_platform();
  REQUIRE(platform.devices.size() == 18);  // COM1 and 17 windows
  Bytes bytes = build(255, platform);
  CHECK(bytes.size() <= layout::kMpTableMaxBytes);
  CHECK(layout::kMpTableAddress + layout::kMpTableMaxBytes <= layout::kResetVectorAddress);
}

TEST_CASE("building the MP table fails cleanly on what it cannot describe", "[mp]") {
  SECTION("a CPU count out of range") {
    uint32_t cpus = GENERATE(0u, 256u);
    Result<Bytes> table = build_mp_table(cpus, PlatformDescription{});
    REQUIRE_FALSE(table);
    CHECK_THAT(table.error().message(), Catch::Contains("cpu count"));
  }
  SECTION("a GSI that is no I/O APIC pin") {
    Result<Bytes> table =
        build_mp_table(1, PlatformDescription{{virtio_window(0, layout::kIoApicPinCount)}});
    REQUIRE_FALSE(table);
    CHECK_THAT(table.error().message(), Catch::Contains("GSI 24"));
  }
}

}  // namespace
}  // namespace wisp::mp
