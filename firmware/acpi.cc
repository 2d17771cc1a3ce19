#include "firmware/acpi.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>

#include "firmware/aml.h"
#include "firmware/layout.h"

namespace wisp::acpi {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the tables are laid out as little-endian structs, as ACPI requires");

// The Wisp identity in every table header (§5.2.6) and in the RSDP (§5.2.5.3).
constexpr char kOemId[] = "WISP  ";
constexpr char kOemTableId[] = "WISPVM  ";
constexpr uint32_t kOemRevision = 1;
constexpr char kCreatorId[] = "WISP";
constexpr uint32_t kCreatorRevision = 1;

// The RSDP and every table start on a 16-byte boundary (§5.2.5.1 asks it of the RSDP).
constexpr uint64_t kTableAlignment = 16;

// ACPI 6.0: FADT major version 6, minor 0; the MADT revision of ACPI 6.0 Errata A is 4.
constexpr uint8_t kRsdpRevision = 2;  // ACPI 2.0 and later: the XSDT is used
constexpr uint8_t kXsdtRevision = 1;
constexpr uint8_t kFadtRevision = 6;
constexpr uint8_t kFadtMinorVersion = 0;
constexpr uint8_t kDsdtRevision = 2;  // 2 and above: the AML interpreter uses 64-bit integers
constexpr uint8_t kMadtRevision = 4;

// FADT Fixed Feature Flags (§5.2.9, Table "Fixed ACPI Description Table Fixed Feature Flags").
constexpr uint32_t kFadtResetRegSupported = 1u << 10;  // RESET_REG_SUP
constexpr uint32_t kFadtHardwareReduced = 1u << 20;    // HW_REDUCED_ACPI

// FADT IA-PC Boot Architecture Flags (§5.2.9.3). Bit 1 (8042) is set when the platform has an
// i8042 (Linux's acpi_parse_fadt takes a clear bit as "no controller" and then probes for one only
// through ACPI PNP0303 devices). Bit 0 (LEGACY_DEVICES) stays clear: the DSDT describes every
// device (COM1 among them), so the OS need not probe for ISA devices of its own.
constexpr uint16_t kBootArch8042 = 1u << 1;
constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

// The FADT Hypervisor Vendor Identity (§5.2.9, ACPI 6.0): eight bytes chosen by the vendor.
constexpr char kHypervisorVendorId[] = "WISP    ";

// Generic Address Structure (§5.2.3.2).
constexpr uint8_t kAddressSpaceSystemIo = 1;
constexpr uint8_t kAccessSizeByte = 1;

// MADT (§5.2.12).
constexpr uint32_t kMadtPcatCompat = 1u << 0;   // MADT flags: dual 8259 PICs are installed
constexpr uint8_t kMadtTypeLocalApic = 0;       // §5.2.12.2
constexpr uint8_t kMadtTypeIoApic = 1;          // §5.2.12.3
constexpr uint8_t kMadtTypeSourceOverride = 2;  // §5.2.12.5
constexpr uint32_t kLocalApicEnabled = 1u << 0;
constexpr uint8_t kIsaBus = 0;
// MPS INTI flags (§5.2.12.5): polarity in bits 0-1 (01 = active high), trigger mode in bits
// 2-3 (11 = level). An SCI is level-triggered, active high.
constexpr uint16_t kIntiActiveHigh = 0b01;
constexpr uint16_t kIntiLevelTriggered = 0b11 << 2;

// The DSDT's devices: 4-character names hold COM1..COM9 and VR00..VRFF.
constexpr size_t kMaxSerialDevices = 9;
constexpr size_t kMaxVirtioMmioDevices = 256;
// The _HID of a virtio-mmio device, as Linux's virtio_mmio driver matches it (its
// acpi_match_table): a string, not an EISA ID.
constexpr char kVirtioMmioHid[] = "LNRO0005";

constexpr uint32_t kMaxCpus = 255;  // 8-bit APIC IDs 0..254; 0xff is the broadcast ID
constexpr uint8_t kMaxIoApicId = 0xfe;

#pragma pack(push, 1)

// Root System Description Pointer (§5.2.5.3).
struct Rsdp {
  char signature[8];
  uint8_t checksum;  // over the first 20 bytes (the ACPI 1.0 structure)
  char oem_id[6];
  uint8_t revision;
  uint32_t rsdt_address;
  uint32_t length;
  uint64_t xsdt_address;
  uint8_t extended_checksum;  // over the whole structure
  uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);
constexpr size_t kRsdpV1Length = offsetof(Rsdp, length);
static_assert(kRsdpV1Length == 20);

// System Description Table Header (§5.2.6).
struct SdtHeader {
  char signature[4];
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  char creator_id[4];
  uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);
constexpr size_t kLengthOffset = offsetof(SdtHeader, length);
constexpr size_t kChecksumOffset = offsetof(SdtHeader, checksum);

// Generic Address Structure (§5.2.3.2).
struct GenericAddress {
  uint8_t address_space_id;
  uint8_t register_bit_width;
  uint8_t register_bit_offset;
  uint8_t access_size;
  uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);

// Fixed ACPI Description Table, revision 6 (§5.2.9). A hardware-reduced platform leaves every
// fixed-hardware block (PM1, PM2, PM timer, GPE, SMI command) zero.
struct Fadt {
  SdtHeader header;
  uint32_t firmware_ctrl;
  uint32_t dsdt;
  uint8_t reserved0;
  uint8_t preferred_pm_profile;
  uint16_t sci_int;
  uint32_t smi_cmd;
  uint8_t acpi_enable;
  uint8_t acpi_disable;
  uint8_t s4bios_req;
  uint8_t pstate_cnt;
  uint32_t pm1a_evt_blk;
  uint32_t pm1b_evt_blk;
  uint32_t pm1a_cnt_blk;
  uint32_t pm1b_cnt_blk;
  uint32_t pm2_cnt_blk;
  uint32_t pm_tmr_blk;
  uint32_t gpe0_blk;
  uint32_t gpe1_blk;
  uint8_t pm1_evt_len;
  uint8_t pm1_cnt_len;
  uint8_t pm2_cnt_len;
  uint8_t pm_tmr_len;
  uint8_t gpe0_blk_len;
  uint8_t gpe1_blk_len;
  uint8_t gpe1_base;
  uint8_t cst_cnt;
  uint16_t p_lvl2_lat;
  uint16_t p_lvl3_lat;
  uint16_t flush_size;
  uint16_t flush_stride;
  uint8_t duty_offset;
  uint8_t duty_width;
  uint8_t day_alrm;
  uint8_t mon_alrm;
  uint8_t century;
  uint16_t iapc_boot_arch;
  uint8_t reserved1;
  uint32_t flags;
  GenericAddress reset_reg;
  uint8_t reset_value;
  uint16_t arm_boot_arch;
  uint8_t fadt_minor_version;
  uint64_t x_firmware_ctrl;
  uint64_t x_dsdt;
  GenericAddress x_pm1a_evt_blk;
  GenericAddress x_pm1b_evt_blk;
  GenericAddress x_pm1a_cnt_blk;
  GenericAddress x_pm1b_cnt_blk;
  GenericAddress x_pm2_cnt_blk;
  GenericAddress x_pm_tmr_blk;
  GenericAddress x_gpe0_blk;
  GenericAddress x_gpe1_blk;
  GenericAddress sleep_control_reg;
  GenericAddress sleep_status_reg;
  char hypervisor_vendor_identity[8];
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);
static_assert(offsetof(Fadt, hypervisor_vendor_identity) == 268);

// Multiple APIC Description Table (§5.2.12): this fixed part, then interrupt controller entries.
struct Madt {
  SdtHeader header;
  uint32_t local_apic_address;
  uint32_t flags;
};
static_assert(sizeof(Madt) == 44);

// Processor Local APIC Structure (§5.2.12.2).
struct MadtLocalApic {
  uint8_t type;
  uint8_t length;
  uint8_t acpi_processor_uid;
  uint8_t apic_id;
  uint32_t flags;
};
static_assert(sizeof(MadtLocalApic) == 8);

// I/O APIC Structure (§5.2.12.3).
struct MadtIoApic {
  uint8_t type;
  uint8_t length;
  uint8_t io_apic_id;
  uint8_t reserved;
  uint32_t io_apic_address;
  uint32_t global_system_interrupt_base;
};
static_assert(sizeof(MadtIoApic) == 12);

// Interrupt Source Override Structure (§5.2.12.5).
struct MadtSourceOverride {
  uint8_t type;
  uint8_t length;
  uint8_t bus;
  uint8_t source;
  uint32_t global_system_interrupt;
  uint16_t flags;
};
static_assert(sizeof(MadtSourceOverride) == 10);

#pragma pack(pop)

[[noreturn]] void invariant_failed(std::string_view what) {
  fmt::print(stderr, "wisp: ACPI tables: {}\n", what);
  std::abort();
}

// Copies an identifier of exactly N characters (the string literal's size minus its NUL).
template <size_t N>
void set_id(char (&field)[N], const char (&value)[N + 1]) {
  std::memcpy(field, value, N);
}

template <typename T>
void append_struct(std::vector<uint8_t>& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  size_t offset = out.size();
  out.resize(offset + sizeof(T));
  std::memcpy(out.data() + offset, &value, sizeof(T));
}

template <typename T>
std::vector<uint8_t> struct_bytes(const T& value) {
  std::vector<uint8_t> out;
  append_struct(out, value);
  return out;
}

uint8_t checksum_for(std::span<const uint8_t> bytes) {
  return static_cast<uint8_t>(0x100 - byte_sum(bytes));
}

uint32_t low_address(uint64_t address) {
  if (address > UINT32_MAX) invariant_failed(fmt::format("address {:#x} above 4 GiB", address));
  return static_cast<uint32_t>(address);
}

SdtHeader make_header(const char (&signature)[5], uint8_t revision) {
  SdtHeader header{};
  set_id(header.signature, signature);
  header.revision = revision;
  set_id(header.oem_id, kOemId);
  set_id(header.oem_table_id, kOemTableId);
  header.oem_revision = kOemRevision;
  set_id(header.creator_id, kCreatorId);
  header.creator_revision = kCreatorRevision;
  return header;
}

// Fills in the header's length and checksum once the whole table is in `table`.
void finish_table(std::vector<uint8_t>& table) {
  if (table.size() < sizeof(SdtHeader) || table.size() > UINT32_MAX) {
    invariant_failed(fmt::format("table of {} bytes", table.size()));
  }
  uint32_t length = static_cast<uint32_t>(table.size());
  std::memcpy(table.data() + kLengthOffset, &length, sizeof(length));
  table[kChecksumOffset] = 0;
  table[kChecksumOffset] = checksum_for(table);
}

GenericAddress io_port_register(uint16_t port) {
  return GenericAddress{.address_space_id = kAddressSpaceSystemIo,
                        .register_bit_width = 8,
                        .register_bit_offset = 0,
                        .access_size = kAccessSizeByte,
                        .address = port};
}

// A 16550A UART as a PNP0501 device, named COM1, COM2... In hardware-reduced mode Linux has no
// legacy PIC and so no ISA IRQ mappings of its own: the _CRS here is what maps the port's IRQ to
// its I/O APIC pin for the 8250 driver.
aml::Bytes serial_device(const PlatformDevice& port, size_t index) {
  const std::array resources{
      aml::io_port(static_cast<uint16_t>(port.address), static_cast<uint8_t>(port.size)),
      aml::interrupt(port.gsi, aml::Trigger::kEdge, aml::Polarity::kActiveHigh,
                     aml::Sharing::kExclusive)};
  aml::Bytes terms = aml::name("_HID", aml::eisa_id("PNP0501"));
  aml::append(terms, aml::name("_UID", aml::integer(index)));
  aml::append(terms, aml::name("_CRS", aml::resource_template(resources)));
  return aml::device(fmt::format("COM{}", index + 1), terms);
}

// A virtio-mmio window (virtio 1.x §4.2) as Linux's virtio_mmio driver matches it through ACPI:
// _HID "LNRO0005", a _CRS with the register window and its edge-triggered interrupt. Named VR00,
// VR01... (the index in hex).
aml::Bytes virtio_mmio_device(const PlatformDevice& window, size_t index) {
  const std::array resources{
      aml::memory32_fixed(aml::Access::kReadWrite, low_address(window.address), window.size),
      aml::interrupt(window.gsi, aml::Trigger::kEdge, aml::Polarity::kActiveHigh,
                     aml::Sharing::kExclusive)};
  aml::Bytes terms = aml::name("_HID", aml::string(kVirtioMmioHid));
  aml::append(terms, aml::name("_UID", aml::integer(index)));
  aml::append(terms, aml::name("_CRS", aml::resource_template(resources)));
  return aml::device(fmt::format("VR{:02X}", index), terms);
}

// QEMU's pvpanic ISA device as Linux's pvpanic-mmio driver matches it: _HID "QEMU0001" and its
// one I/O port. Named PEVT, as QEMU names it.
aml::Bytes pvpanic_device(const PlatformDevice& device) {
  const std::array resources{
      aml::io_port(static_cast<uint16_t>(device.address), static_cast<uint8_t>(device.size))};
  aml::Bytes terms = aml::name("_HID", aml::string("QEMU0001"));
  aml::append(terms, aml::name("_CRS", aml::resource_template(resources)));
  return aml::device("PEVT", terms);
}

// An i8042 with its keyboard as a PNP0303 device, which Linux's i8042 driver matches through
// ACPI PNP (drivers/input/serio/i8042-acpipnpio.h): the data port, the command port, the
// keyboard's IRQ. No PNP0F13 (mouse) device: Linux then leaves the AUX port alone. Named PS2K.
aml::Bytes i8042_device(const PlatformDevice& device) {
  const auto data_port = static_cast<uint16_t>(device.address);
  const std::array resources{aml::io_port(data_port, 1),
                             aml::io_port(static_cast<uint16_t>(data_port + 4), 1),
                             aml::interrupt(device.gsi, aml::Trigger::kEdge,
                                            aml::Polarity::kActiveHigh, aml::Sharing::kExclusive)};
  aml::Bytes terms = aml::name("_HID", aml::eisa_id("PNP0303"));
  aml::append(terms, aml::name("_CRS", aml::resource_template(resources)));
  return aml::device("PS2K", terms);
}

// One Device per entry of the (already checked) description, in its order.
Result<aml::Bytes> platform_devices(const PlatformDescription& platform) {
  aml::Bytes devices;
  size_t serial_count = 0;
  size_t virtio_mmio_count = 0;
  for (const PlatformDevice& device : platform.devices) {
    switch (device.kind) {
      case PlatformDeviceKind::kSerial8250:
        if (serial_count == kMaxSerialDevices)
          return fail("the DSDT names at most {} serial ports", kMaxSerialDevices);
        aml::append(devices, serial_device(device, serial_count++));
        break;
      case PlatformDeviceKind::kVirtioMmio:
        if (virtio_mmio_count == kMaxVirtioMmioDevices)
          return fail("the DSDT names at most {} virtio-mmio devices", kMaxVirtioMmioDevices);
        aml::append(devices, virtio_mmio_device(device, virtio_mmio_count++));
        break;
      case PlatformDeviceKind::kPvPanic:
        aml::append(devices, pvpanic_device(device));
        break;
      case PlatformDeviceKind::kI8042:
        aml::append(devices, i8042_device(device));
        break;
    }
  }
  return devices;
}

// Differentiated System Description Table (§5.2.11.1). \_S5 gives the SLP_TYP that the guest
// writes, with SLP_EN, to the FADT's SLEEP_CONTROL_REG to power off (§16, Waking and Sleeping).
// The platform's devices sit under \_SB, the System Bus (§5.3.1).
Result<std::vector<uint8_t>> build_dsdt(const PlatformDescription& platform) {
  const std::array s5_package{aml::integer(layout::kAcpiS5SleepType),  // SLP_TYPa
                              aml::integer(layout::kAcpiS5SleepType),  // SLP_TYPb
                              aml::integer(0), aml::integer(0)};       // reserved
  aml::Bytes definition_block = aml::name("_S5", aml::package(s5_package));
  aml::Bytes devices = TRY(platform_devices(platform));
  aml::append(definition_block, aml::scope("\\_SB", devices));
  return make_table("DSDT", kDsdtRevision, definition_block);
}

bool has_i8042(const PlatformDescription& platform) {
  return std::ranges::any_of(platform.devices, [](const PlatformDevice& device) {
    return device.kind == PlatformDeviceKind::kI8042;
  });
}

std::vector<uint8_t> build_fadt(uint64_t dsdt_address, const PlatformDescription& platform) {
  Fadt fadt{};
  fadt.header = make_header("FACP", kFadtRevision);
  fadt.dsdt = low_address(dsdt_address);
  fadt.sci_int = static_cast<uint16_t>(layout::kAcpiSciIrq);
  fadt.iapc_boot_arch = kBootArchVgaNotPresent | kBootArchCmosRtcNotPresent;
  if (has_i8042(platform)) fadt.iapc_boot_arch |= kBootArch8042;
  fadt.flags = kFadtHardwareReduced | kFadtResetRegSupported;
  fadt.reset_reg = io_port_register(layout::kAcpiResetPort);
  fadt.reset_value = layout::kAcpiResetValue;
  fadt.fadt_minor_version = kFadtMinorVersion;
  fadt.x_dsdt = dsdt_address;
  fadt.sleep_control_reg = io_port_register(layout::kAcpiSleepControlPort);
  fadt.sleep_status_reg = io_port_register(layout::kAcpiSleepStatusPort);
  set_id(fadt.hypervisor_vendor_identity, kHypervisorVendorId);
  std::vector<uint8_t> table = struct_bytes(fadt);
  finish_table(table);
  return table;
}

MadtLocalApic local_apic_entry(uint8_t apic_id) {
  return MadtLocalApic{.type = kMadtTypeLocalApic,
                       .length = sizeof(MadtLocalApic),
                       .acpi_processor_uid = apic_id,
                       .apic_id = apic_id,
                       .flags = kLocalApicEnabled};
}

// The I/O APIC gets an ID that no CPU uses (only 255 CPUs leave none free below 0xff).
MadtIoApic io_apic_entry(uint32_t cpu_count) {
  return MadtIoApic{.type = kMadtTypeIoApic,
                    .length = sizeof(MadtIoApic),
                    .io_apic_id = static_cast<uint8_t>(std::min<uint32_t>(cpu_count, kMaxIoApicId)),
                    .reserved = 0,
                    .io_apic_address = low_address(layout::kIoApicAddress),
                    .global_system_interrupt_base = 0};
}

// KVM routes GSI n to I/O APIC pin n, so ISA IRQs need no overrides, except that the SCI is
// declared level-triggered, active high.
MadtSourceOverride sci_override_entry() {
  return MadtSourceOverride{.type = kMadtTypeSourceOverride,
                            .length = sizeof(MadtSourceOverride),
                            .bus = kIsaBus,
                            .source = static_cast<uint8_t>(layout::kAcpiSciIrq),
                            .global_system_interrupt = layout::kAcpiSciIrq,
                            .flags = kIntiActiveHigh | kIntiLevelTriggered};
}

std::vector<uint8_t> build_madt(uint32_t cpu_count) {
  Madt madt{};
  madt.header = make_header("APIC", kMadtRevision);
  madt.local_apic_address = low_address(layout::kLocalApicAddress);
  madt.flags = kMadtPcatCompat;
  std::vector<uint8_t> table = struct_bytes(madt);
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
    append_struct(table, local_apic_entry(static_cast<uint8_t>(cpu)));
  }
  append_struct(table, io_apic_entry(cpu_count));
  append_struct(table, sci_override_entry());
  finish_table(table);
  return table;
}

// Extended System Description Table (§5.2.8): 64-bit addresses of the other tables (the DSDT is
// reached through the FADT).
std::vector<uint8_t> build_xsdt(std::span<const uint64_t> table_addresses) {
  std::vector<uint8_t> table = struct_bytes(make_header("XSDT", kXsdtRevision));
  for (uint64_t address : table_addresses) append_struct(table, address);
  finish_table(table);
  return table;
}

std::vector<uint8_t> build_rsdp(uint64_t xsdt_address) {
  Rsdp rsdp{};
  set_id(rsdp.signature, "RSD PTR ");
  set_id(rsdp.oem_id, kOemId);
  rsdp.revision = kRsdpRevision;
  rsdp.rsdt_address = 0;  // no RSDT: ACPI 2.0+ guests use the XSDT
  rsdp.length = sizeof(Rsdp);
  rsdp.xsdt_address = xsdt_address;
  std::vector<uint8_t> bytes = struct_bytes(rsdp);
  bytes[offsetof(Rsdp, checksum)] = checksum_for(std::span(bytes).first(kRsdpV1Length));
  bytes[offsetof(Rsdp, extended_checksum)] = checksum_for(bytes);
  return bytes;
}

// Lays the tables out one after another in one buffer, each 16-byte aligned, the RSDP first.
class TableArea {
 public:
  explicit TableArea(uint64_t base) : base_(base) {
    bytes_.resize(sizeof(Rsdp));  // the RSDP, written last, once the XSDT's address is known
  }

  uint64_t place(std::string signature, std::vector<uint8_t> table) {
    bytes_.resize((bytes_.size() + kTableAlignment - 1) / kTableAlignment * kTableAlignment);
    uint64_t address = base_ + bytes_.size();
    bytes_.insert(bytes_.end(), table.begin(), table.end());
    tables_.push_back(AcpiTable{std::move(signature), address, std::move(table)});
    return address;
  }

  void place_rsdp(std::vector<uint8_t> rsdp) {
    if (rsdp.size() != sizeof(Rsdp)) invariant_failed("RSDP of the wrong size");
    std::copy(rsdp.begin(), rsdp.end(), bytes_.begin());
    tables_.insert(tables_.begin(), AcpiTable{"RSD PTR ", base_, std::move(rsdp)});
  }

  Result<AcpiTables> finish() && {
    if (bytes_.size() > layout::kAcpiTablesMaxBytes) {
      return fail("ACPI tables take {} bytes, more than the {} reserved at {:#x}", bytes_.size(),
                  layout::kAcpiTablesMaxBytes, base_);
    }
    return AcpiTables{.base = base_,
                      .rsdp_address = base_,
                      .bytes = std::move(bytes_),
                      .tables = std::move(tables_)};
  }

 private:
  uint64_t base_;
  std::vector<uint8_t> bytes_;
  std::vector<AcpiTable> tables_;
};

}  // namespace

uint8_t byte_sum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t byte : bytes) sum = static_cast<uint8_t>(sum + byte);
  return sum;
}

std::vector<uint8_t> make_table(std::string_view signature, uint8_t revision,
                                std::span<const uint8_t> body) {
  if (signature.size() != 4) invariant_failed(fmt::format("bad signature \"{}\"", signature));
  char signature_z[5] = {};
  std::memcpy(signature_z, signature.data(), 4);
  std::vector<uint8_t> table = struct_bytes(make_header(signature_z, revision));
  table.insert(table.end(), body.begin(), body.end());
  finish_table(table);
  return table;
}

Result<AcpiTables> build_acpi_tables(const AcpiConfig& config) {
  if (config.cpu_count == 0 || config.cpu_count > kMaxCpus) {
    return fail("ACPI tables: cpu count {} is out of range (1..{})", config.cpu_count, kMaxCpus);
  }
  TRY_CONTEXT(check_platform_description(config.platform), "ACPI tables");
  TableArea area(layout::kAcpiTablesAddress);
  uint64_t dsdt = area.place("DSDT", TRY_CONTEXT(build_dsdt(config.platform), "ACPI tables"));
  uint64_t fadt = area.place("FACP", build_fadt(dsdt, config.platform));
  uint64_t madt = area.place("APIC", build_madt(config.cpu_count));
  uint64_t xsdt = area.place("XSDT", build_xsdt(std::array{fadt, madt}));
  area.place_rsdp(build_rsdp(xsdt));
  return std::move(area).finish();
}

}  // namespace wisp::acpi
