#include "firmware/platform.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>

#include "firmware/layout.h"

namespace wisp {
namespace {

constexpr uint64_t kIoPortSpaceEnd = 0x10000;
constexpr uint32_t kMaxIoPortCount = 255;  // the length byte of an ACPI IO() descriptor
constexpr uint64_t kFourGiB = uint64_t{1} << 32;

// `what` at I/O ports `device.address` (+ `device.size`), which an ACPI IO() descriptor can hold.
Result<void> check_io_ports(const PlatformDevice& device, std::string_view what) {
  if (device.size == 0 || device.size > kMaxIoPortCount)
    return fail("{} with {} I/O ports (1..{})", what, device.size, kMaxIoPortCount);
  if (device.address >= kIoPortSpaceEnd || device.size > kIoPortSpaceEnd - device.address)
    return fail("{} at I/O port {:#x} (+{}) is outside the 16-bit port space", what, device.address,
                device.size);
  return {};
}

Result<void> check_virtio_mmio(const PlatformDevice& device) {
  if (device.size == 0) return fail("a virtio-mmio window at {:#x} is empty", device.address);
  if (device.address >= kFourGiB || device.size > kFourGiB - device.address)
    return fail("a virtio-mmio window at {:#x} (+{:#x}) is not below 4 GiB", device.address,
                device.size);
  return {};
}

Result<void> check_device(const PlatformDevice& device) {
  if (device.gsi >= layout::kIoApicPinCount)
    return fail("GSI {} is not a pin of the I/O APIC (0..{})", device.gsi,
                layout::kIoApicPinCount - 1);
  switch (device.kind) {
    case PlatformDeviceKind::kSerial8250:
      return check_io_ports(device, "a serial port");
    case PlatformDeviceKind::kPvPanic:
      return check_io_ports(device, "a pvpanic device");
    case PlatformDeviceKind::kI8042:
      return check_io_ports(device, "an i8042");
    case PlatformDeviceKind::kVirtioMmio:
      return check_virtio_mmio(device);
  }
  return fail("unknown device kind {}", static_cast<int>(device.kind));
}

// A size as the kernel's memparse reads it: the largest binary suffix that divides it exactly.
std::string memparse_size(uint64_t bytes) {
  constexpr std::pair<uint64_t, char> kSuffixes[] = {
      {1ull << 30, 'G'}, {1ull << 20, 'M'}, {1ull << 10, 'K'}};
  for (auto [unit, suffix] : kSuffixes) {
    if (bytes % unit == 0) return fmt::format("{}{}", bytes / unit, suffix);
  }
  return fmt::format("{}", bytes);
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Splits off the next word of `rest`, as the kernel's next_arg does: leading whitespace skipped,
// whitespace inside double quotes kept in the word.
std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  bool in_quotes = false;
  size_t end = 0;
  for (; end < rest.size(); ++end) {
    if (rest[end] == '"') in_quotes = !in_quotes;
    if (!in_quotes && is_space(rest[end])) break;
  }
  std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end);
  return word;
}

}  // namespace

Result<void> check_platform_description(const PlatformDescription& platform) {
  for (size_t index = 0; index < platform.devices.size(); ++index)
    TRY_CONTEXT(check_device(platform.devices[index]), fmt::format("platform device {}", index));
  return {};
}

std::string virtio_mmio_cmdline(const PlatformDescription& platform) {
  std::string cmdline;
  for (const PlatformDevice& device : platform.devices) {
    if (device.kind != PlatformDeviceKind::kVirtioMmio) continue;
    if (!cmdline.empty()) cmdline += ' ';
    // Linux's format: virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>].
    cmdline += fmt::format("virtio_mmio.device={}@{:#x}:{}", memparse_size(device.size),
                           device.address, device.gsi);
  }
  return cmdline;
}

bool cmdline_disables_acpi(std::string_view cmdline) {
  std::string_view rest = cmdline;
  while (true) {
    std::string_view word = next_word(rest);
    if (word.empty() || word == "--") return false;
    if (word == "acpi=off") return true;
  }
}

}  // namespace wisp
