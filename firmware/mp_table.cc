#include "firmware/mp_table.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <set>
#include <span>
#include <type_traits>

#include "firmware/layout.h"

namespace wisp::mp {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the table is laid out as little-endian structs, as the MP specification requires");

// Signatures and identity (§4.1, §4.2).
constexpr char kFloatingPointerSignature[] = "_MP_";
constexpr char kConfigTableSignature[] = "PCMP";
constexpr uint8_t kSpecRevision1_4 = 4;
constexpr char kOemId[] = "WISP    ";
constexpr char kProductId[] = "WISPVM      ";
constexpr uint8_t kFloatingPointerParagraphs = 1;  // its length in 16-byte units
// MP feature byte 1 (§4.1, Table 4-1): zero means a configuration table is present, not one of
// the default configurations of chapter 5. Feature byte 2 bit 7 (IMCRP) stays clear: the
// machine starts in virtual wire mode, without an IMCR.
constexpr uint8_t kConfigTablePresent = 0;

// Entry types, in the order the base table lists them (§4.3, Table 4-3).
enum class EntryType : uint8_t {
  kProcessor = 0,
  kBus = 1,
  kIoApic = 2,
  kIoInterruptAssignment = 3,
  kLocalInterruptAssignment = 4,
};

// Processor entries (§4.3.1, Table 4-5).
constexpr uint8_t kCpuEnabled = 1u << 0;            // CPU FLAGS: EN
constexpr uint8_t kCpuBootProcessor = 1u << 1;      // CPU FLAGS: BP
constexpr uint8_t kLocalApicVersion = 0x14;         // an integrated APIC, as KVM's reports
constexpr uint32_t kCpuSignatureFamily6 = 6u << 8;  // stepping bits 0-3, model 4-7, family 8-11
constexpr uint32_t kFeatureFpu = 1u << 0;           // feature flags as CPUID.01H:EDX
constexpr uint32_t kFeatureApic = 1u << 9;

// Bus entries (§4.3.2, Table 4-8 "Bus Type String Values").
constexpr uint8_t kIsaBusId = 0;
constexpr char kIsaBusType[] = "ISA   ";

// I/O APIC entries (§4.3.3).
constexpr uint8_t kIoApicVersion = 0x11;  // KVM's in-kernel I/O APIC
constexpr uint8_t kIoApicEnabled = 1u << 0;
constexpr uint8_t kMaxIoApicId = 0xfe;

// Interrupt types of the interrupt assignment entries (§4.3.4, Table 4-11).
enum class InterruptType : uint8_t { kInt = 0, kNmi = 1, kSmi = 2, kExtInt = 3 };

// Interrupt assignment flags (§4.3.4, Table 4-10): polarity (PO) in bits 0-1, trigger mode (EL)
// in bits 2-3; zero in either means "conforms to the bus" (edge, active high on ISA).
constexpr uint16_t kConformsToBus = 0;
constexpr uint16_t kActiveHigh = 0b01;
constexpr uint16_t kLevelTriggered = 0b11 << 2;

constexpr uint8_t kAllLocalApics = 0xff;  // §4.3.5: DESTINATION LOCAL APIC ID 0xff
constexpr uint8_t kLint0 = 0;
constexpr uint8_t kLint1 = 1;

// The ISA IRQs wired one to one to I/O APIC pins: KVM's default routing sends GSI n to pin n.
// IRQ 2 is the PICs' cascade, which no device raises; like Linux's own default MP configuration
// (construct_default_ioirq_mptable: "IRQ2 is never connected"), the table leaves it out.
constexpr uint32_t kIsaIrqCount = 16;
constexpr uint32_t kCascadeIrq = 2;

constexpr uint32_t kMaxCpus = 255;  // 8-bit APIC IDs 0..254; 0xff is the broadcast ID

#pragma pack(push, 1)

// MP Floating Pointer Structure (§4.1, Figure 4-2).
struct FloatingPointer {
  char signature[4];
  uint32_t config_table_address;
  uint8_t length;  // in paragraphs
  uint8_t spec_revision;
  uint8_t checksum;  // over the whole structure
  uint8_t feature1;
  uint8_t feature2;
  uint8_t feature3_5[3];
};
static_assert(sizeof(FloatingPointer) == 16);

// MP Configuration Table Header (§4.2, Figure 4-3).
struct ConfigTableHeader {
  char signature[4];
  uint16_t base_table_length;  // the header and every base entry
  uint8_t spec_revision;
  uint8_t checksum;  // over the base table
  char oem_id[8];
  char product_id[12];
  uint32_t oem_table_address;
  uint16_t oem_table_size;
  uint16_t entry_count;
  uint32_t local_apic_address;
  uint16_t extended_table_length;
  uint8_t extended_table_checksum;
  uint8_t reserved;
};
static_assert(sizeof(ConfigTableHeader) == 44);

// Processor Entry (§4.3.1, Figure 4-4).
struct ProcessorEntry {
  EntryType type;
  uint8_t local_apic_id;
  uint8_t local_apic_version;
  uint8_t cpu_flags;
  uint32_t cpu_signature;
  uint32_t feature_flags;
  uint32_t reserved[2];
};
static_assert(sizeof(ProcessorEntry) == 20);

// Bus Entry (§4.3.2, Figure 4-5).
struct BusEntry {
  EntryType type;
  uint8_t bus_id;
  char bus_type[6];
};
static_assert(sizeof(BusEntry) == 8);

// I/O APIC Entry (§4.3.3, Figure 4-6).
struct IoApicEntry {
  EntryType type;
  uint8_t io_apic_id;
  uint8_t io_apic_version;
  uint8_t flags;
  uint32_t address;
};
static_assert(sizeof(IoApicEntry) == 8);

// I/O Interrupt Assignment Entry (§4.3.4, Figure 4-7).
struct IoInterruptEntry {
  EntryType type;
  InterruptType interrupt_type;
  uint16_t flags;
  uint8_t source_bus_id;
  uint8_t source_bus_irq;
  uint8_t destination_io_apic_id;
  uint8_t destination_io_apic_pin;  // INTIN#
};
static_assert(sizeof(IoInterruptEntry) == 8);

// Local Interrupt Assignment Entry (§4.3.5, Figure 4-8).
struct LocalInterruptEntry {
  EntryType type;
  InterruptType interrupt_type;
  uint16_t flags;
  uint8_t source_bus_id;
  uint8_t source_bus_irq;
  uint8_t destination_local_apic_id;
  uint8_t destination_local_apic_lint;  // LINTIN#
};
static_assert(sizeof(LocalInterruptEntry) == 8);

#pragma pack(pop)

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

// The byte that makes `bytes` (with the checksum byte itself zero) sum to zero modulo 256.
uint8_t checksum_for(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t byte : bytes) sum = static_cast<uint8_t>(sum + byte);
  return static_cast<uint8_t>(0x100 - sum);
}

// The base table's entries, counted as they are added.
class EntryList {
 public:
  template <typename T>
  void add(const T& entry) {
    append_struct(bytes_, entry);
    ++count_;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t count() const { return count_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t count_ = 0;
};

ProcessorEntry processor_entry(uint8_t apic_id) {
  uint8_t flags = kCpuEnabled;
  if (apic_id == 0) flags |= kCpuBootProcessor;
  return ProcessorEntry{.type = EntryType::kProcessor,
                        .local_apic_id = apic_id,
                        .local_apic_version = kLocalApicVersion,
                        .cpu_flags = flags,
                        .cpu_signature = kCpuSignatureFamily6,
                        .feature_flags = kFeatureFpu | kFeatureApic,
                        .reserved = {}};
}

BusEntry isa_bus_entry() {
  BusEntry bus{.type = EntryType::kBus, .bus_id = kIsaBusId, .bus_type = {}};
  set_id(bus.bus_type, kIsaBusType);
  return bus;
}

// The I/O APIC gets the ID the MADT gives it (firmware/acpi.cc): one that no CPU uses, when 255
// CPUs leave one free below 0xff.
uint8_t io_apic_id(uint32_t cpu_count) {
  return static_cast<uint8_t>(std::min<uint32_t>(cpu_count, kMaxIoApicId));
}

IoApicEntry io_apic_entry(uint8_t id) {
  return IoApicEntry{.type = EntryType::kIoApic,
                     .io_apic_id = id,
                     .io_apic_version = kIoApicVersion,
                     .flags = kIoApicEnabled,
                     .address = static_cast<uint32_t>(layout::kIoApicAddress)};
}

// The pins that carry an interrupt: the ISA IRQs but the cascade, and every device's GSI.
std::set<uint32_t> connected_pins(const PlatformDescription& platform) {
  std::set<uint32_t> pins;
  for (uint32_t irq = 0; irq < kIsaIrqCount; ++irq) {
    if (irq != kCascadeIrq) pins.insert(irq);
  }
  for (const PlatformDevice& device : platform.devices) pins.insert(device.gsi);
  return pins;
}

// Pin n is ISA IRQ n: KVM routes GSI n to pin n, and Linux numbers an ISA-bus interrupt by its
// source IRQ. The SCI is level-triggered, active high, as the MADT's source override says; the
// others are edge-triggered, active high, as ISA defines them.
IoInterruptEntry io_interrupt_entry(uint8_t apic_id, uint32_t pin) {
  uint16_t flags = pin == layout::kAcpiSciIrq ? kActiveHigh | kLevelTriggered : kConformsToBus;
  return IoInterruptEntry{.type = EntryType::kIoInterruptAssignment,
                          .interrupt_type = InterruptType::kInt,
                          .flags = flags,
                          .source_bus_id = kIsaBusId,
                          .source_bus_irq = static_cast<uint8_t>(pin),
                          .destination_io_apic_id = apic_id,
                          .destination_io_apic_pin = static_cast<uint8_t>(pin)};
}

// Every local APIC's LINT0 takes the PIC's ExtINT (virtual wire mode) and LINT1 the NMI.
LocalInterruptEntry local_interrupt_entry(InterruptType type, uint8_t lint) {
  return LocalInterruptEntry{.type = EntryType::kLocalInterruptAssignment,
                             .interrupt_type = type,
                             .flags = kConformsToBus,
                             .source_bus_id = kIsaBusId,
                             .source_bus_irq = 0,
                             .destination_local_apic_id = kAllLocalApics,
                             .destination_local_apic_lint = lint};
}

EntryList base_table_entries(uint32_t cpu_count, const PlatformDescription& platform) {
  EntryList entries;
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu)
    entries.add(processor_entry(static_cast<uint8_t>(cpu)));
  entries.add(isa_bus_entry());
  uint8_t apic_id = io_apic_id(cpu_count);
  entries.add(io_apic_entry(apic_id));
  for (uint32_t pin : connected_pins(platform)) entries.add(io_interrupt_entry(apic_id, pin));
  entries.add(local_interrupt_entry(InterruptType::kExtInt, kLint0));
  entries.add(local_interrupt_entry(InterruptType::kNmi, kLint1));
  return entries;
}

// The header, then the entries, checksummed. The caller has checked that the size fits.
std::vector<uint8_t> config_table(const EntryList& entries) {
  ConfigTableHeader header{};
  set_id(header.signature, kConfigTableSignature);
  header.base_table_length =
      static_cast<uint16_t>(sizeof(ConfigTableHeader) + entries.bytes().size());
  header.spec_revision = kSpecRevision1_4;
  set_id(header.oem_id, kOemId);
  set_id(header.product_id, kProductId);
  header.entry_count = static_cast<uint16_t>(entries.count());
  header.local_apic_address = static_cast<uint32_t>(layout::kLocalApicAddress);
  std::vector<uint8_t> table;
  append_struct(table, header);
  table.insert(table.end(), entries.bytes().begin(), entries.bytes().end());
  table[offsetof(ConfigTableHeader, checksum)] = checksum_for(table);
  return table;
}

std::vector<uint8_t> floating_pointer(uint64_t config_table_address) {
  FloatingPointer pointer{};
  set_id(pointer.signature, kFloatingPointerSignature);
  pointer.config_table_address = static_cast<uint32_t>(config_table_address);
  pointer.length = kFloatingPointerParagraphs;
  pointer.spec_revision = kSpecRevision1_4;
  pointer.feature1 = kConfigTablePresent;
  std::vector<uint8_t> bytes;
  append_struct(bytes, pointer);
  bytes[offsetof(FloatingPointer, checksum)] = checksum_for(bytes);
  return bytes;
}

}  // namespace

Result<std::vector<uint8_t>> build_mp_table(uint32_t cpu_count,
                                            const PlatformDescription& platform) {
  if (cpu_count == 0 || cpu_count > kMaxCpus)
    return fail("MP table: cpu count {} is out of range (1..{})", cpu_count, kMaxCpus);
  TRY_CONTEXT(check_platform_description(platform), "MP table");
  EntryList entries = base_table_entries(cpu_count, platform);
  size_t size = sizeof(FloatingPointer) + sizeof(ConfigTableHeader) + entries.bytes().size();
  if (size > layout::kMpTableMaxBytes)
    return fail("MP table takes {} bytes, more than the {} reserved at {:#x}", size,
                layout::kMpTableMaxBytes, layout::kMpTableAddress);
  // The configuration table follows the floating pointer, which sits on a 16-byte boundary (§4.1).
  static_assert(layout::kMpTableAddress % 16 == 0);
  static_assert(layout::kMpTableAddress + layout::kMpTableMaxBytes <= (uint64_t{1} << 32));
  static_assert(layout::kMpTableMaxBytes <= UINT16_MAX);  // BASE TABLE LENGTH is 16 bits
  std::vector<uint8_t> bytes = floating_pointer(layout::kMpTableAddress + sizeof(FloatingPointer));
  std::vector<uint8_t> table = config_table(entries);
  bytes.insert(bytes.end(), table.begin(), table.end());
  return bytes;
}

}  // namespace wisp::mp
