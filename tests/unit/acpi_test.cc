// Tests of the ACPI tables and the AML builder. The tables are read back through offsets written
// out here from the ACPI 6.x specification, independently of firmware/acpi.cc, and then handed to
// the ACPICA tools (iasl) as a second opinion.
#include "firmware/acpi.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "firmware/aml.h"
#include "firmware/layout.h"
#include "firmware/platform.h"
#include "tests/unit/table_bytes.h"
#include "tests/unit/temp_file.h"

namespace wisp::acpi {
namespace {

using namespace wisp::test;  // the readers of table_bytes.h

using Bytes = std::vector<uint8_t>;

// Offsets from the ACPI 6.x specification.
constexpr size_t kHeaderSize = 36;  // §5.2.6
constexpr size_t kHeaderLength = 4;
constexpr size_t kHeaderRevision = 8;
constexpr size_t kHeaderOemId = 10;
constexpr size_t kHeaderOemTableId = 16;

constexpr size_t kRsdpChecksum = 8;  // §5.2.5.3
constexpr size_t kRsdpOemId = 9;
constexpr size_t kRsdpRevision = 15;
constexpr size_t kRsdpRsdtAddress = 16;
constexpr size_t kRsdpV1Size = 20;
constexpr size_t kRsdpLength = 20;
constexpr size_t kRsdpXsdtAddress = 24;
constexpr size_t kRsdpSize = 36;

constexpr size_t kFadtFirmwareCtrl = 36;  // §5.2.9
constexpr size_t kFadtDsdt = 40;
constexpr size_t kFadtSciInt = 46;
constexpr size_t kFadtSmiCmd = 48;
constexpr size_t kFadtCentury = 108;
constexpr size_t kFadtIapcBootArch = 109;
constexpr size_t kFadtFlags = 112;
constexpr size_t kFadtResetReg = 116;
constexpr size_t kFadtResetValue = 128;
constexpr size_t kFadtMinorVersion = 131;
constexpr size_t kFadtXFirmwareCtrl = 132;
constexpr size_t kFadtXDsdt = 140;
constexpr size_t kFadtXPm1aEvtBlk = 148;
constexpr size_t kFadtXGpe1BlkEnd = 244;
constexpr size_t kFadtSleepControlReg = 244;
constexpr size_t kFadtSleepStatusReg = 256;
constexpr size_t kFadtHypervisorId = 268;
constexpr size_t kFadtSize = 276;

constexpr size_t kMadtLocalApicAddress = 36;  // §5.2.12
constexpr size_t kMadtFlags = 40;
constexpr size_t kMadtEntries = 44;

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

AcpiTables build(uint32_t cpu_count, PlatformDescription platform) {
  Result<AcpiTables> tables =
      build_acpi_tables(AcpiConfig{.cpu_count = cpu_count, .platform = std::move(platform)});
  if (!tables) FAIL(tables.error().message());
  return std::move(*tables);
}

// The machine as Vm builds it today: COM1 only.
AcpiTables build(uint32_t cpu_count) {
  return build(cpu_count, PlatformDescription{{com1()}});
}

const AcpiTable& find_table(const AcpiTables& tables, std::string_view signature) {
  auto matches = [&](const AcpiTable& t) { return t.signature == signature; };
  REQUIRE(std::count_if(tables.tables.begin(), tables.tables.end(), matches) == 1);
  return *std::find_if(tables.tables.begin(), tables.tables.end(), matches);
}

// The table whose header is at guest-physical `address`, read from the blob the guest sees, with
// the length its header claims.
std::span<const uint8_t> table_at(const AcpiTables& tables, uint64_t address) {
  REQUIRE(address >= tables.base);
  size_t offset = address - tables.base;
  std::span<const uint8_t> blob(tables.bytes);
  REQUIRE(offset + kHeaderSize <= blob.size());
  uint32_t length = u32(blob, offset + kHeaderLength);
  REQUIRE(offset + length <= blob.size());
  return blob.subspan(offset, length);
}

// A Generic Address Structure (§5.2.3.2) for a byte-wide I/O port.
void check_io_port_register(std::span<const uint8_t> fadt, size_t offset, uint16_t port) {
  INFO("Generic Address Structure at FADT offset " << offset);
  CHECK(u8(fadt, offset) == 1);      // Address Space ID: System I/O
  CHECK(u8(fadt, offset + 1) == 8);  // Register Bit Width
  CHECK(u8(fadt, offset + 2) == 0);  // Register Bit Offset
  CHECK(u8(fadt, offset + 3) == 1);  // Access Size: byte
  CHECK(u64(fadt, offset + 4) == port);
}

TEST_CASE("ACPI tables are laid out in one blob at the layout's address", "[acpi]") {
  uint32_t cpus = GENERATE(1u, 2u, 8u, 255u);
  INFO("cpu_count = " << cpus);
  AcpiTables tables = build(cpus);

  CHECK(tables.base == layout::kAcpiTablesAddress);
  CHECK(tables.rsdp_address == tables.base);
  CHECK(tables.bytes.size() <= layout::kAcpiTablesMaxBytes);

  std::multiset<std::string> signatures;
  for (const AcpiTable& t : tables.tables) signatures.insert(t.signature);
  CHECK(signatures == std::multiset<std::string>{"RSD PTR ", "XSDT", "FACP", "DSDT", "APIC"});
  REQUIRE(tables.tables.front().signature == "RSD PTR ");
  CHECK(tables.tables.front().address == tables.rsdp_address);

  std::vector<AcpiTable> by_address = tables.tables;
  std::sort(by_address.begin(), by_address.end(),
            [](const AcpiTable& a, const AcpiTable& b) { return a.address < b.address; });
  for (size_t i = 0; i < by_address.size(); ++i) {
    const AcpiTable& t = by_address[i];
    INFO(t.signature << " at " << std::hex << t.address);
    CHECK(t.address % 16 == 0);
    size_t offset = t.address - tables.base;
    REQUIRE(offset + t.bytes.size() <= tables.bytes.size());
    CHECK(std::equal(t.bytes.begin(), t.bytes.end(), tables.bytes.begin() + offset));
    if (i + 1 < by_address.size()) CHECK(t.address + t.bytes.size() <= by_address[i + 1].address);
  }
}

TEST_CASE("every ACPI table has its length, checksum and Wisp's OEM identity", "[acpi]") {
  AcpiTables tables = build(4);
  for (const AcpiTable& t : tables.tables) {
    if (t.signature == "RSD PTR ") continue;
    INFO(t.signature);
    REQUIRE(t.bytes.size() >= kHeaderSize);
    CHECK(text(t.bytes, 0, 4) == t.signature);
    CHECK(u32(t.bytes, kHeaderLength) == t.bytes.size());
    CHECK(sum_mod_256(t.bytes) == 0);
    CHECK(byte_sum(t.bytes) == 0);
    CHECK(text(t.bytes, kHeaderOemId, 6) == "WISP  ");
    CHECK(text(t.bytes, kHeaderOemTableId, 8) == "WISPVM  ");
  }
}

TEST_CASE("the RSDP is revision 2, checksummed twice, and points at the XSDT", "[acpi]") {
  AcpiTables tables = build(2);
  std::span<const uint8_t> rsdp = std::span(tables.bytes).first(kRsdpSize);
  CHECK(text(rsdp, 0, 8) == "RSD PTR ");
  CHECK(sum_mod_256(rsdp.first(kRsdpV1Size)) == 0);
  CHECK(sum_mod_256(rsdp) == 0);
  CHECK(u8(rsdp, kRsdpChecksum) != 0);  // a zero checksum would also mean an unsummed RSDP
  CHECK(text(rsdp, kRsdpOemId, 6) == "WISP  ");
  CHECK(u8(rsdp, kRsdpRevision) == 2);
  CHECK(u32(rsdp, kRsdpRsdtAddress) == 0);
  CHECK(u32(rsdp, kRsdpLength) == kRsdpSize);
  CHECK(u64(rsdp, kRsdpXsdtAddress) == find_table(tables, "XSDT").address);
  CHECK(std::equal(rsdp.begin(), rsdp.end(), find_table(tables, "RSD PTR ").bytes.begin()));
}

TEST_CASE("the XSDT lists the FADT and the MADT", "[acpi]") {
  AcpiTables tables = build(2);
  std::span<const uint8_t> xsdt = table_at(tables, find_table(tables, "XSDT").address);
  CHECK(u8(xsdt, kHeaderRevision) == 1);
  REQUIRE((xsdt.size() - kHeaderSize) % 8 == 0);
  std::multiset<std::string> listed;
  for (size_t offset = kHeaderSize; offset < xsdt.size(); offset += 8) {
    std::span<const uint8_t> table = table_at(tables, u64(xsdt, offset));
    CHECK(sum_mod_256(table) == 0);
    listed.insert(text(table, 0, 4));
  }
  CHECK(listed == std::multiset<std::string>{"FACP", "APIC"});
}

TEST_CASE("the FADT is hardware-reduced with sleep and reset registers", "[acpi]") {
  AcpiTables tables = build(2);
  std::span<const uint8_t> fadt = table_at(tables, find_table(tables, "FACP").address);
  REQUIRE(fadt.size() == kFadtSize);
  CHECK(u8(fadt, kHeaderRevision) == 6);
  CHECK(u8(fadt, kFadtMinorVersion) <= 1);

  uint64_t dsdt_address = find_table(tables, "DSDT").address;
  CHECK(u32(fadt, kFadtDsdt) == dsdt_address);
  CHECK(u64(fadt, kFadtXDsdt) == dsdt_address);
  CHECK(text(table_at(tables, u64(fadt, kFadtXDsdt)), 0, 4) == "DSDT");

  // Fixed Feature Flags: exactly HW_REDUCED_ACPI (bit 20) and RESET_REG_SUP (bit 10).
  CHECK(u32(fadt, kFadtFlags) == ((1u << 20) | (1u << 10)));
  // IA-PC boot architecture: VGA Not Present (bit 2), CMOS RTC Not Present (bit 5); neither
  // LEGACY_DEVICES (bit 0) nor 8042 (bit 1).
  CHECK(u16(fadt, kFadtIapcBootArch) == ((1u << 2) | (1u << 5)));
  CHECK(u16(fadt, kFadtSciInt) == layout::kAcpiSciIrq);

  // No fixed hardware: no FACS, SMI command port, PM1/PM2/PM timer/GPE blocks or their
  // lengths, C-state latencies or RTC alarm indices.
  CHECK(u32(fadt, kFadtFirmwareCtrl) == 0);
  CHECK(u64(fadt, kFadtXFirmwareCtrl) == 0);
  CHECK(all_zero(fadt.subspan(kFadtSmiCmd, kFadtCentury + 1 - kFadtSmiCmd)));
  CHECK(all_zero(fadt.subspan(kFadtXPm1aEvtBlk, kFadtXGpe1BlkEnd - kFadtXPm1aEvtBlk)));

  check_io_port_register(fadt, kFadtResetReg, layout::kAcpiResetPort);
  CHECK(u8(fadt, kFadtResetValue) == layout::kAcpiResetValue);
  check_io_port_register(fadt, kFadtSleepControlReg, layout::kAcpiSleepControlPort);
  check_io_port_register(fadt, kFadtSleepStatusReg, layout::kAcpiSleepStatusPort);
  CHECK(text(fadt, kFadtHypervisorId, 8) == "WISP    ");
}

TEST_CASE("the FADT says an 8042 is present when the platform has one", "[acpi]") {
  PlatformDevice i8042{PlatformDeviceKind::kI8042, layout::kI8042DataPort, 5,
                       layout::kI8042KeyboardIrq};
  AcpiTables tables = build(1, PlatformDescription{{com1(), i8042}});
  std::span<const uint8_t> fadt = table_at(tables, find_table(tables, "FACP").address);
  // IA-PC boot architecture bit 1 (8042) beside VGA and CMOS RTC Not Present.
  CHECK(u16(fadt, kFadtIapcBootArch) == ((1u << 1) | (1u << 2) | (1u << 5)));
}

TEST_CASE("the DSDT defines _S5 with the layout's sleep type", "[acpi]") {
  AcpiTables tables = build(1);
  std::span<const uint8_t> dsdt = table_at(tables, find_table(tables, "DSDT").address);
  CHECK(u8(dsdt, kHeaderRevision) == 2);  // 64-bit AML integers
  const uint8_t slp_typ = layout::kAcpiS5SleepType;
  REQUIRE(slp_typ > 1);  // encoded as BytePrefix data below, not ZeroOp/OneOp
  // Name(_S5, Package(4){slp_typ, slp_typ, 0, 0}), hand-assembled per §20.2.
  const Bytes expected{0x08, '_',     'S',  '5',     '_',  // NameOp "_S5_"
                       0x12, 0x08,    0x04,                // PackageOp, PkgLength 8, NumElements 4
                       0x0a, slp_typ, 0x0a, slp_typ, 0x00, 0x00};
  REQUIRE(dsdt.size() >= kHeaderSize + expected.size());
  CHECK(Bytes(dsdt.begin() + kHeaderSize, dsdt.begin() + kHeaderSize + expected.size()) ==
        expected);
}

struct MadtEntries {
  std::vector<std::span<const uint8_t>> local_apics, io_apics, overrides, others;
};

MadtEntries walk_madt(std::span<const uint8_t> madt) {
  MadtEntries entries;
  size_t offset = kMadtEntries;
  while (offset < madt.size()) {
    REQUIRE(offset + 2 <= madt.size());
    uint8_t type = madt[offset];
    uint8_t length = madt[offset + 1];
    REQUIRE(length >= 2);
    REQUIRE(offset + length <= madt.size());
    std::span<const uint8_t> entry = madt.subspan(offset, length);
    switch (type) {
      case 0:
        entries.local_apics.push_back(entry);
        break;
      case 1:
        entries.io_apics.push_back(entry);
        break;
      case 2:
        entries.overrides.push_back(entry);
        break;
      default:
        entries.others.push_back(entry);
        break;
    }
    offset += length;
  }
  CHECK(offset == madt.size());
  return entries;
}

TEST_CASE("the MADT describes each CPU's local APIC, the I/O APIC and the SCI", "[acpi]") {
  uint32_t cpus = GENERATE(1u, 2u, 4u, 254u, 255u);
  INFO("cpu_count = " << cpus);
  AcpiTables tables = build(cpus);
  std::span<const uint8_t> madt = table_at(tables, find_table(tables, "APIC").address);
  CHECK(u8(madt, kHeaderRevision) >= 4);
  CHECK(u32(madt, kMadtLocalApicAddress) == layout::kLocalApicAddress);
  CHECK(u32(madt, kMadtFlags) == 1);  // PCAT_COMPAT

  MadtEntries entries = walk_madt(madt);
  CHECK(entries.others.empty());

  // Processor Local APIC (§5.2.12.2): UID = APIC ID = index, Enabled.
  REQUIRE(entries.local_apics.size() == cpus);
  std::set<uint8_t> cpu_apic_ids;
  for (uint32_t i = 0; i < cpus; ++i) {
    std::span<const uint8_t> entry = entries.local_apics[i];
    INFO("CPU " << i);
    REQUIRE(entry.size() == 8);
    CHECK(u8(entry, 2) == i);
    CHECK(u8(entry, 3) == i);
    CHECK(u32(entry, 4) == 1);
    cpu_apic_ids.insert(u8(entry, 3));
  }

  // I/O APIC (§5.2.12.3).
  REQUIRE(entries.io_apics.size() == 1);
  std::span<const uint8_t> io_apic = entries.io_apics[0];
  REQUIRE(io_apic.size() == 12);
  if (cpus < 255) CHECK(cpu_apic_ids.count(u8(io_apic, 2)) == 0);
  CHECK(u8(io_apic, 2) <= 0xfe);
  CHECK(u32(io_apic, 4) == layout::kIoApicAddress);
  CHECK(u32(io_apic, 8) == 0);  // Global System Interrupt Base

  // Interrupt Source Override (§5.2.12.5): only the SCI, level-triggered, active high.
  REQUIRE(entries.overrides.size() == 1);
  std::span<const uint8_t> sci = entries.overrides[0];
  REQUIRE(sci.size() == 10);
  CHECK(u8(sci, 2) == 0);  // bus: ISA
  CHECK(u8(sci, 3) == layout::kAcpiSciIrq);
  CHECK(u32(sci, 4) == layout::kAcpiSciIrq);
  CHECK(u16(sci, 8) == 0x000d);
}

TEST_CASE("building ACPI tables fails cleanly for an out-of-range CPU count", "[acpi]") {
  uint32_t cpus = GENERATE(0u, 256u, 100000u);
  Result<AcpiTables> tables = build_acpi_tables(AcpiConfig{.cpu_count = cpus, .platform = {}});
  REQUIRE_FALSE(tables);
  CHECK_THAT(tables.error().message(),
             Catch::Contains("cpu count") && Catch::Contains(std::to_string(cpus)));
}

TEST_CASE("building ACPI tables fails cleanly on a platform it cannot describe", "[acpi]") {
  SECTION("a GSI that is no I/O APIC pin") {
    Result<AcpiTables> tables = build_acpi_tables(
        AcpiConfig{.cpu_count = 1,
                   .platform = PlatformDescription{{virtio_window(0, layout::kIoApicPinCount)}}});
    REQUIRE_FALSE(tables);
    CHECK_THAT(tables.error().message(), Catch::Contains("GSI 24"));
  }
  SECTION("more virtio-mmio windows than VR00..VRFF name") {
    PlatformDescription platform;
    for (size_t i = 0; i <= 256; ++i) platform.devices.push_back(virtio_window(i, 5));
    Result<AcpiTables> tables = build_acpi_tables(AcpiConfig{.cpu_count = 1, .platform = platform});
    REQUIRE_FALSE(tables);
    CHECK_THAT(tables.error().message(), Catch::Contains("256 virtio-mmio"));
  }
  SECTION("more serial ports than COM1..COM9 name") {
    PlatformDescription platform;
    for (size_t i = 0; i < 10; ++i) platform.devices.push_back(com1());
    Result<AcpiTables> tables = build_acpi_tables(AcpiConfig{.cpu_count = 1, .platform = platform});
    REQUIRE_FALSE(tables);
    CHECK_THAT(tables.error().message(), Catch::Contains("9 serial ports"));
  }
}

TEST_CASE("the DSDT of 256 virtio-mmio windows and 9 serial ports fits", "[acpi]") {
  PlatformDescription platform;
  for (size_t i = 0; i < 9; ++i) platform.devices.push_back(com1());
  for (size_t i = 0; i < 256; ++i) platform.devices.push_back(virtio_window(i, 5));
  AcpiTables tables = build(255, platform);
  CHECK(tables.bytes.size() <= layout::kAcpiTablesMaxBytes);
}

TEST_CASE("make_table fills in the header of an arbitrary table", "[acpi]") {
  const Bytes body{1, 2, 3};
  Bytes table = make_table("SSDT", 2, body);
  REQUIRE(table.size() == kHeaderSize + body.size());
  CHECK(text(table, 0, 4) == "SSDT");
  CHECK(u32(table, kHeaderLength) == table.size());
  CHECK(u8(table, kHeaderRevision) == 2);
  CHECK(sum_mod_256(table) == 0);
  CHECK(Bytes(table.begin() + kHeaderSize, table.end()) == body);
}

// --- The AML builder --------------------------------------------------------------------------

TEST_CASE("AML PkgLength uses the shortest encoding that holds its own length", "[acpi][aml]") {
  // One byte: the total (contents + 1) up to 63.
  CHECK(aml::pkg_length(0) == Bytes{0x01});
  CHECK(aml::pkg_length(62) == Bytes{0x3f});
  // Two bytes: total = contents + 2, low nibble in the lead byte, bits 4-11 in the next.
  CHECK(aml::pkg_length(63) == Bytes{0x41, 0x04});     // 65
  CHECK(aml::pkg_length(0xffd) == Bytes{0x4f, 0xff});  // 0xfff
  // Three bytes from 4096, four bytes from 2^20.
  CHECK(aml::pkg_length(0xffe) == Bytes{0x81, 0x00, 0x01});  // 0x1001
  CHECK(aml::pkg_length(0xffffc) == Bytes{0x8f, 0xff, 0xff});
  CHECK(aml::pkg_length(0xffffd) == Bytes{0xc1, 0x00, 0x00, 0x01});  // 0x100001
  CHECK(aml::pkg_length(0xffffffb) == Bytes{0xcf, 0xff, 0xff, 0xff});
}

TEST_CASE("AML integers use the shortest constant", "[acpi][aml]") {
  CHECK(aml::integer(0) == Bytes{0x00});
  CHECK(aml::integer(1) == Bytes{0x01});
  CHECK(aml::integer(2) == Bytes{0x0a, 0x02});
  CHECK(aml::integer(0xff) == Bytes{0x0a, 0xff});
  CHECK(aml::integer(0x100) == Bytes{0x0b, 0x00, 0x01});
  CHECK(aml::integer(0x12345678) == Bytes{0x0c, 0x78, 0x56, 0x34, 0x12});
  CHECK(aml::integer(0x100000000) == Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0});
}

TEST_CASE("AML names, strings and named objects", "[acpi][aml]") {
  CHECK(aml::name_string("_S5") == Bytes{'_', 'S', '5', '_'});
  CHECK(aml::name_string("VR00") == Bytes{'V', 'R', '0', '0'});
  CHECK(aml::name_string("\\_SB") == Bytes{'\\', '_', 'S', 'B', '_'});
  CHECK(aml::name_string("\\_SB.VR0") == Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '_'});
  CHECK(aml::name_string("^^A.B.C") ==
        Bytes{'^', '^', 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_'});
  CHECK(aml::string("AB") == Bytes{0x0d, 'A', 'B', 0x00});
  CHECK(aml::name("_UID", aml::integer(0)) == Bytes{0x08, '_', 'U', 'I', 'D', 0x00});

  const std::array elements{aml::integer(1), aml::string("A")};
  CHECK(aml::package(elements) == Bytes{0x12, 0x06, 0x02, 0x01, 0x0d, 'A', 0x00});
  const Bytes data{0xaa, 0xbb};
  CHECK(aml::buffer(data) == Bytes{0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb});

  const Bytes terms = aml::name("_UID", aml::integer(0));
  Bytes device{0x5b, 0x82, 0x0b, 'V', 'R', '0', '0'};  // ExtOp DeviceOp, PkgLength 11
  aml::append(device, terms);
  CHECK(aml::device("VR00", terms) == device);
  // ScopeOp, PkgLength (itself, the name and the device), "\\_SB_".
  Bytes scope{0x10, static_cast<uint8_t>(1 + 5 + device.size()), '\\', '_', 'S', 'B', '_'};
  aml::append(scope, device);
  CHECK(aml::scope("\\_SB", device) == scope);
}

TEST_CASE("AML package elements may push a PkgLength past one byte", "[acpi][aml]") {
  std::vector<Bytes> elements(40, aml::integer(0x1234));  // 3 bytes each: 120 bytes of contents
  Bytes package = aml::package(elements);
  REQUIRE(package.size() == 1 + 2 + 1 + 120);
  CHECK(package[0] == 0x12);
  CHECK(package[1] == (0x40 | ((2 + 1 + 120) & 0x0f)));
  CHECK(package[2] == ((2 + 1 + 120) >> 4));
  CHECK(package[3] == 40);
}

TEST_CASE("AML resource descriptors for a virtio-mmio _CRS", "[acpi][aml]") {
  CHECK(aml::memory32_fixed(aml::Access::kReadWrite, 0xd0000000, 0x1000) ==
        Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00});
  CHECK(aml::memory32_fixed(aml::Access::kReadOnly, 0, 0)[3] == 0x00);
  CHECK(aml::interrupt(5, aml::Trigger::kEdge, aml::Polarity::kActiveHigh,
                       aml::Sharing::kExclusive) ==
        Bytes{0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00});
  CHECK(aml::interrupt(5, aml::Trigger::kLevel, aml::Polarity::kActiveLow,
                       aml::Sharing::kShared)[3] == 0x0d);
  const std::array descriptors{
      aml::interrupt(7, aml::Trigger::kEdge, aml::Polarity::kActiveHigh, aml::Sharing::kExclusive)};
  Bytes expected{0x11, 0x0e, 0x0a, 0x0b};  // BufferOp, PkgLength 14, BufferSize 11
  aml::append(expected, descriptors[0]);
  aml::append(expected, Bytes{0x79, 0x00});  // End Tag
  CHECK(aml::resource_template(descriptors) == expected);
}

// --- A second opinion from ACPICA's iasl ------------------------------------------------------

std::string find_in_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::string candidate = fmt::format("{}/{}", dir, program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string require_iasl() {
  std::string iasl = find_in_path("iasl");
  if (iasl.empty()) {
    FAIL(
        "iasl was not found in PATH; these tests need ACPICA's iasl: install acpica-tools "
        "(apt-get install acpica-tools)");
  }
  return iasl;
}

void write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_text_file(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return "";
  std::string contents;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0)
    contents.append(chunk.data(), n);
  std::fclose(file);
  return contents;
}

Bytes read_binary_file(const std::filesystem::path& path) {
  std::string contents = read_text_file(path);
  return Bytes(contents.begin(), contents.end());
}

std::string shell_quote(std::string_view s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

struct CommandResult {
  int exit_status;     // -1 if the command did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `iasl args...` in `dir`.
CommandResult run_iasl(const std::string& iasl, const TempDir& dir, std::string_view args) {
  std::string command =
      fmt::format("cd {} && {} {} 2>&1", shell_quote(dir.path().string()), shell_quote(iasl), args);
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  CommandResult result{-1, ""};
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

// Lines in which iasl reports a problem: a warning, an error, an incorrect checksum, a table too
// long for its file.
std::vector<std::string> complaints(const std::string& output) {
  std::vector<std::string> found;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (std::string_view word :
         {"warning", "error", "incorrect", "invalid", "too long", "does not contain"}) {
      if (lower.find(word) != std::string::npos) {
        found.push_back(line);
        break;
      }
    }
  }
  return found;
}

struct Disassembly {
  CommandResult run;
  std::string dsl;  // the disassembled source iasl wrote
};

Disassembly disassemble(const std::string& iasl, const TempDir& dir, std::string_view name,
                        std::span<const uint8_t> table) {
  write_file(dir.path() / fmt::format("{}.dat", name), table);
  Disassembly result{run_iasl(iasl, dir, fmt::format("-d {}.dat", name)), ""};
  result.dsl = read_text_file(dir.path() / fmt::format("{}.dsl", name));
  return result;
}

void check_clean_disassembly(const Disassembly& d) {
  INFO("iasl output:\n" << d.run.output);
  CHECK(d.run.exit_status == 0);
  CHECK(complaints(d.run.output).empty());
  CHECK(complaints(d.dsl).empty());
  CHECK_FALSE(d.dsl.empty());
}

TEST_CASE("iasl disassembles every ACPI table without complaint", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  uint32_t cpus = GENERATE(1u, 255u);
  INFO("cpu_count = " << cpus);
  AcpiTables tables = build(cpus);
  TempDir dir("acpi");
  for (const AcpiTable& t : tables.tables) {
    if (t.signature == "RSD PTR ") continue;  // not an SDT: iasl -d rejects it; see below
    INFO(t.signature);
    Disassembly d = disassemble(iasl, dir, t.signature, t.bytes);
    check_clean_disassembly(d);
    if (t.signature == "DSDT") {
      CHECK_THAT(d.dsl, Catch::Contains("Name (_S5, Package"));
      // COM1 with its port range and IRQ: hardware-reduced Linux maps IRQ 4 from this _CRS.
      CHECK_THAT(d.dsl, Catch::Contains("Device (COM1)"));
      CHECK_THAT(d.dsl, Catch::Contains("EisaId (\"PNP0501\")"));
      CHECK_THAT(d.dsl, Catch::Contains("0x03F8,             // Range Minimum"));
      CHECK_THAT(d.dsl, Catch::Contains("0x00000004,"));
      CHECK_THAT(d.dsl, Catch::Contains(fmt::format("0x{:02X}, ", layout::kAcpiS5SleepType)));
    }
    if (t.signature == "FACP") {
      CHECK_THAT(d.dsl, Catch::Contains("Hardware Reduced (V5) : 1"));
      CHECK_THAT(d.dsl,
                 Catch::Contains(fmt::format("Address : {:016X}", layout::kAcpiSleepControlPort)));
    }
    if (t.signature == "APIC") {
      CHECK_THAT(d.dsl, Catch::Contains(fmt::format("Processor ID : {:02X}", cpus - 1)));
    }
  }
}

// The text of `device`'s block in a disassembled DSDT: from "Device (NAME)" to the next Device.
std::string device_block(const std::string& dsl, std::string_view device) {
  std::string opening = fmt::format("Device ({})", device);
  size_t start = dsl.find(opening);
  if (start == std::string::npos) return "";
  size_t end = dsl.find("Device (", start + opening.size());
  return dsl.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

size_t occurrences(const std::string& text, std::string_view what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST_CASE("the DSDT describes COM1 and each virtio-mmio window from the list", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  AcpiTables tables =
      build(2, PlatformDescription{{com1(), virtio_window(0, 5), virtio_window(1, 20)}});
  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "DSDT", find_table(tables, "DSDT").bytes);
  check_clean_disassembly(d);
  INFO(d.dsl);
  CHECK(occurrences(d.dsl, "EisaId (\"PNP0501\")") == 1);
  CHECK(occurrences(d.dsl, "Name (_HID, \"LNRO0005\")") == 2);

  std::string serial = device_block(d.dsl, "COM1");
  CHECK_THAT(serial, Catch::Contains("EisaId (\"PNP0501\")"));
  CHECK_THAT(serial, Catch::Contains("Name (_UID, Zero)"));
  CHECK_THAT(serial, Catch::Contains("0x03F8,             // Range Minimum"));
  CHECK_THAT(serial, Catch::Contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
  CHECK_THAT(serial, Catch::Contains("0x00000004,"));

  struct Expected {
    std::string name, uid, base, length, gsi;
  };
  for (const Expected& window :
       {Expected{"VR00", "Zero", "0xD0000000", "0x00001000", "0x00000005"},
        Expected{"VR01", "One", "0xD0001000", "0x00001000", "0x00000014"}}) {
    std::string block = device_block(d.dsl, window.name);
    INFO(window.name);
    CHECK_THAT(block, Catch::Contains("Name (_HID, \"LNRO0005\")"));
    CHECK_THAT(block, Catch::Contains(fmt::format("Name (_UID, {})", window.uid)));
    CHECK_THAT(block, Catch::Contains("Memory32Fixed (ReadWrite,"));
    CHECK_THAT(block, Catch::Contains(fmt::format("{},         // Address Base", window.base)));
    CHECK_THAT(block, Catch::Contains(fmt::format("{},         // Address Length", window.length)));
    CHECK_THAT(block, Catch::Contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
    CHECK_THAT(block, Catch::Contains(fmt::format("{},", window.gsi)));
  }
}

TEST_CASE("the DSDT describes the pvpanic port as QEMU does", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  AcpiTables tables =
      build(1, PlatformDescription{{{PlatformDeviceKind::kPvPanic, layout::kPvPanicPort, 1, 0}}});
  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "DSDT", find_table(tables, "DSDT").bytes);
  check_clean_disassembly(d);
  INFO(d.dsl);
  std::string block = device_block(d.dsl, "PEVT");
  CHECK_THAT(block, Catch::Contains("Name (_HID, \"QEMU0001\")"));
  CHECK_THAT(block, Catch::Contains("0x0505,             // Range Minimum"));
  CHECK_THAT(block, Catch::Contains("0x01,               // Length"));
  CHECK_THAT(block, !Catch::Contains("Interrupt"));
}

TEST_CASE("the DSDT describes the i8042 as a PNP0303 keyboard controller", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  PlatformDevice i8042{PlatformDeviceKind::kI8042, layout::kI8042DataPort, 5,
                       layout::kI8042KeyboardIrq};
  AcpiTables tables = build(1, PlatformDescription{{com1(), i8042}});
  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "DSDT", find_table(tables, "DSDT").bytes);
  check_clean_disassembly(d);
  INFO(d.dsl);
  std::string block = device_block(d.dsl, "PS2K");
  CHECK_THAT(block, Catch::Contains("EisaId (\"PNP0303\")"));
  CHECK_THAT(block, Catch::Contains("0x0060,             // Range Minimum"));
  CHECK_THAT(block, Catch::Contains("0x0064,             // Range Minimum"));
  CHECK(occurrences(block, "0x01,               // Length") == 2);
  CHECK_THAT(block, Catch::Contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
  CHECK_THAT(block, Catch::Contains("0x00000001,"));
  // No mouse: Linux leaves the AUX port alone when no PNP0F13 device is described.
  CHECK_THAT(d.dsl, !Catch::Contains("PNP0F13"));
}

TEST_CASE("the DSDT of an empty platform describes no device", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  AcpiTables tables = build(1, PlatformDescription{});
  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "DSDT", find_table(tables, "DSDT").bytes);
  check_clean_disassembly(d);
  INFO(d.dsl);
  CHECK_THAT(d.dsl, Catch::Contains("Name (_S5, Package"));
  CHECK_THAT(d.dsl, !Catch::Contains("COM1"));
  CHECK_THAT(d.dsl, !Catch::Contains("PNP0501"));
  CHECK_THAT(d.dsl, !Catch::Contains("Device ("));
}

// iasl's disassembler only takes tables with a standard header, so the RSDP is checked the other
// way round: iasl's data-table compiler builds an RSDP from the same field values, computing both
// checksums itself, and the result must match Wisp's byte for byte.
TEST_CASE("iasl compiles the same RSDP, checksums included", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  AcpiTables tables = build(2);
  std::span<const uint8_t> rsdp = std::span(tables.bytes).first(kRsdpSize);
  std::string source = fmt::format(
      "[0008] Signature : \"RSD PTR \"\n"
      "[0001] Checksum : 00\n"
      "[0006] Oem ID : \"{}\"\n"
      "[0001] Revision : {:02X}\n"
      "[0004] RSDT Address : {:08X}\n"
      "[0004] Length : {:08X}\n"
      "[0008] XSDT Address : {:016X}\n"
      "[0001] Extended Checksum : 00\n"
      "[0003] Reserved : 000000\n",
      text(rsdp, kRsdpOemId, 6), u8(rsdp, kRsdpRevision), u32(rsdp, kRsdpRsdtAddress),
      u32(rsdp, kRsdpLength), u64(rsdp, kRsdpXsdtAddress));
  TempDir dir("acpi");
  std::ofstream(dir.path() / "rsdp.asl") << source;
  CommandResult run = run_iasl(iasl, dir, "rsdp.asl");
  INFO("iasl output:\n" << run.output);
  REQUIRE(run.exit_status == 0);
  CHECK_THAT(run.output, Catch::Contains("0 Errors, 0 Warnings"));
  CHECK(read_binary_file(dir.path() / "rsdp.aml") == Bytes(rsdp.begin(), rsdp.end()));
}

TEST_CASE("iasl decodes a virtio-mmio Device built with the AML helpers", "[acpi][iasl][aml]") {
  std::string iasl = require_iasl();
  const std::array resources{
      aml::memory32_fixed(aml::Access::kReadWrite, 0xd0000000, 0x1000),
      aml::interrupt(5, aml::Trigger::kEdge, aml::Polarity::kActiveHigh, aml::Sharing::kExclusive)};
  aml::Bytes device_body = aml::name("_HID", aml::string("LNRO0005"));
  aml::append(device_body, aml::name("_UID", aml::integer(0)));
  aml::append(device_body, aml::name("_CRS", aml::resource_template(resources)));
  Bytes ssdt = make_table("SSDT", 2, aml::scope("\\_SB", aml::device("VR00", device_body)));

  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "SSDT", ssdt);
  check_clean_disassembly(d);
  INFO(d.dsl);
  CHECK_THAT(d.dsl, Catch::Contains("Scope (\\_SB)"));
  CHECK_THAT(d.dsl, Catch::Contains("Device (VR00)"));
  CHECK_THAT(d.dsl, Catch::Contains("Name (_HID, \"LNRO0005\")"));
  CHECK_THAT(d.dsl, Catch::Contains("Name (_UID, Zero)"));
  CHECK_THAT(d.dsl, Catch::Contains("Memory32Fixed (ReadWrite,"));
  CHECK_THAT(d.dsl, Catch::Contains("0xD0000000,"));
  CHECK_THAT(d.dsl, Catch::Contains("0x00001000,"));
  CHECK_THAT(d.dsl, Catch::Contains("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
  CHECK_THAT(d.dsl, Catch::Contains("0x00000005,"));
}

// The complaint check above would pass vacuously if iasl worded its warnings differently: show
// that it catches a table with a broken checksum.
TEST_CASE("the iasl complaint check catches a bad checksum", "[acpi][iasl]") {
  std::string iasl = require_iasl();
  AcpiTables tables = build(1);
  Bytes fadt = find_table(tables, "FACP").bytes;
  fadt[9] ^= 0x5a;
  TempDir dir("acpi");
  Disassembly d = disassemble(iasl, dir, "FACP", fadt);
  INFO("iasl output:\n" << d.run.output);
  CHECK_FALSE(complaints(d.run.output).empty());
  CHECK_FALSE(complaints(d.dsl).empty());
}

}  // namespace
TEST_CASE("EISA IDs and I/O port descriptors encode as ASL's EisaId() and IO()", "[acpi]") {
  // EisaId("PNP0501") is 0x0105d041, a DWordConst.
  CHECK(aml::eisa_id("PNP0501") == Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01});
  // IO(Decode16, 0x3f8, 0x3f8, 1, 8)
  CHECK(aml::io_port(0x3f8, 8) == Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08});
}

}  // namespace wisp::acpi
