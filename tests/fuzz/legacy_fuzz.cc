// libFuzzer target: a hostile guest's register sequences against the legacy devices, and a host
// side that types, stalls and drains at any moment.
//
// The input is a script of steps: a read or write of width 1, 2, 4 or 8 at an offset of the 16550A
// UART (devices/legacy/serial.*), the i8042, the ACPI power-management ports, the debug-exit port,
// fw_cfg (devices/legacy/fw_cfg.*) or pvpanic, as the bus hands them (inside the device's ports),
// and host-side events: the host types bytes (offered with receive()), the event loop runs (the
// host offers what the UART refused, once the UART asked for it), the console output drains
// (room() grows and transmit_room_available() is called), the guest drains its receive FIFO.
//
// Checks:
//   - UART receive: the receive FIFO never holds more than 16 bytes; the bytes the host typed come
//     out of RBR in order, none duplicated and none lost (host bytes have the top bit set, the
//     guest's own have it clear, so loopback bytes and reads of an empty FIFO are told apart);
//     every host byte the UART took is in its FIFO, or given back by a FIFO clear, or read. At the
//     end the guest leaves loopback, listens and reads until the host has nothing left: input the
//     UART refused must be asked for again (the receive-space callback), never stranded.
//   - UART transmit: each byte the guest writes to THR (divisor latch and loopback off) reaches the
//     sink once, and nothing else does.
//   - UART interrupt: on every IIR read, the IRQ line's level equals "IIR says an interrupt is
//     pending", and IIR is one of the 16550A's values; wide reads give the register in byte 0.
//   - i8042, ACPI PM, debug-exit, pvpanic: a stop (or a panic) is reported exactly for the writes
//     that ask for one (0xf0-0xfe with bit 0 clear to the command port; SLP_EN with S5's SLP_TYP,
//     or the reset value; any debug-exit write, with its value; PANICKED); reads give the
//     documented constants (the i8042's reads stop nothing).
//   - fw_cfg: whatever the selector, a byte read gives the selected item's next byte (from a model
//     written from QEMU's fw_cfg.rst) or 0 past its end and for undefined keys; other widths read
//     0.
// A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (Linux's UART probe and console start-up, loopback tests, a full console, typing floods and
// FIFO clears, fw_cfg walks, resets and power-off) into the directory it is given.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/fw_cfg.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/pvpanic.h"
#include "devices/legacy/serial.h"
#include "devices/legacy/uart_registers.h"
#include "firmware/layout.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/base/bus.h"
#include "vmm/base/irq_line.h"
#include "vmm/base/log.h"
#include "vmm/base/vm_stop.h"

// The UART's receive FIFO and the input a FIFO clear gave back are private. The target checks
// them through pointers to members named in an explicit instantiation, where access checking does
// not apply ([temp.spec.general]): the usual way to reach private state without changing the class.
namespace wisp::fuzz {
template <auto Member, typename Tag>
struct Expose {
  friend auto member(Tag) { return Member; }
};
struct ReceiveFifo {};
struct ReturnedInput {};
auto member(ReceiveFifo);
auto member(ReturnedInput);
template struct Expose<&Serial::receive_fifo_, ReceiveFifo>;
template struct Expose<&Serial::returned_input_, ReturnedInput>;
}  // namespace wisp::fuzz

namespace {

using namespace wisp;
using namespace wisp::fuzz;

// ---- The input format ----
// [0]       flags (below)
// [1]       the console output's capacity: value bytes (255: unbounded)
// [2]       fw_cfg: the command line's length
// [3..4]    fw_cfg: the memory size in MiB, le16 (+ 1)
// [5]       fw_cfg: the CPU count (+ 1)
// then      steps, 6 bytes each: kind, access, value (le32)
//   kind % kStepKinds (below); access: bits 0-2 the offset (modulo the device's ports), bits 3-4
//   the width (1, 2, 4, 8; halved until it fits the device's ports), bit 7 a read
constexpr uint8_t kFlagEagerHost = 1 << 0;  // the host offers input at every event-loop step
constexpr size_t kHeaderBytes = 6;
[[maybe_unused]] constexpr size_t kStepBytes = 6;
[[maybe_unused]] constexpr size_t kMaxSteps = 256;
constexpr uint8_t kAccessRead = 0x80;

enum StepKind : uint8_t {
  kUart,          // a register access
  kI8042,         // a register access
  kAcpiPm,        // a register access
  kDebugExit,     // a register access
  kFwCfg,         // a register access
  kHostTypes,     // the host has value % 48 more bytes and offers them
  kEventLoop,     // the host offers refused input, if the UART asked (or always: kFlagEagerHost)
  kOutputDrains,  // the console writes out value % 64 bytes and tells the UART
  kRoomSpurious,  // transmit_room_available() with nothing changed
  kGuestDrains,   // the guest reads LSR, then RBR while data is ready (up to value % 32 times)
  kPvPanic,       // a register access
  kStepKinds
};

// ---- The host side ----
class FuzzIrq final : public IrqLine {
 public:
  void set_level(bool high) override { level = high; }
  bool level = false;
};

// The console output: `capacity` bytes buffered until drained; what does not fit is dropped.
class FuzzSink final : public ByteSink {
 public:
  explicit FuzzSink(size_t capacity) : capacity_(capacity) {}
  void write(std::span<const uint8_t> bytes) override {
    written.insert(written.end(), bytes.begin(), bytes.end());
    buffered_ = std::min(capacity_, buffered_ + bytes.size());
  }
  size_t room() const override { return capacity_ == SIZE_MAX ? SIZE_MAX : capacity_ - buffered_; }
  // Writes out up to `count` bytes; true if any went.
  bool drain(size_t count) {
    size_t out = std::min(count, buffered_);
    buffered_ -= out;
    return out > 0;
  }

  std::vector<uint8_t> written;  // since the harness last looked

 private:
  size_t capacity_;
  size_t buffered_ = 0;
};

class StopRecorder final : public VmStopper {
 public:
  void request_stop(StopReason reason) override { requests.push_back(reason); }
  std::vector<StopReason> requests;  // since the harness last looked
};

// What fw_cfg should hold, from QEMU's docs/specs/fw_cfg.rst: the model the reads are checked
// against.
std::map<uint16_t, std::vector<uint8_t>> fw_cfg_model(const FwCfgMachine& machine) {
  auto le = [](uint64_t value, size_t bytes) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return out;
  };
  auto be = [](std::vector<uint8_t>& out, uint64_t value, size_t bytes) {
    for (size_t i = bytes; i-- > 0;) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  };
  std::map<uint16_t, std::vector<uint8_t>> items;
  items[0x00] = {'Q', 'E', 'M', 'U'};
  items[0x01] = le(1, 4);  // traditional interface, no DMA
  items[0x02] = std::vector<uint8_t>(16, 0);
  items[0x03] = le(machine.memory_bytes, 8);
  items[0x04] = le(1, 2);
  items[0x05] = le(machine.cpus, 2);
  items[0x0f] = le(machine.cpus, 2);
  items[0x14] = le(machine.cmdline.size() + 1, 4);
  items[0x15].assign(machine.cmdline.begin(), machine.cmdline.end());
  items[0x15].push_back(0);
  std::vector<uint8_t> e820;
  for (const RamRange& range : machine.ram) {
    std::vector<uint8_t> start = le(range.start, 8), size = le(range.size, 8), type = le(1, 4);
    e820.insert(e820.end(), start.begin(), start.end());
    e820.insert(e820.end(), size.begin(), size.end());
    e820.insert(e820.end(), type.begin(), type.end());
  }
  std::vector<uint8_t>& directory = items[0x19];
  be(directory, 1, 4);
  be(directory, e820.size(), 4);
  be(directory, 0x20, 2);
  be(directory, 0, 2);
  std::string name = "etc/e820";
  name.resize(56, '\0');
  directory.insert(directory.end(), name.begin(), name.end());
  items[0x20] = std::move(e820);
  return items;
}

// Fits an access into a device's `ports`: the width halved until it fits, the offset moved down.
struct Access {
  uint64_t offset;
  size_t width;
  bool read;
};
Access fit(uint8_t access, uint64_t ports) {
  size_t width = size_t{1} << ((access >> 3) & 3);
  while (width > ports) width /= 2;
  uint64_t offset = std::min<uint64_t>((access & 7u) % ports, ports - width);
  return {offset, width, (access & kAccessRead) != 0};
}

class Harness {
 public:
  Harness(uint8_t flags, size_t capacity, const FwCfgMachine& machine)
      : eager_host_(flags & kFlagEagerHost),
        sink_(capacity),
        uart_(irq_, sink_),
        i8042_(stopper_, i8042_irq_),
        acpi_(stopper_, layout::kAcpiS5SleepType, layout::kAcpiResetValue),
        debug_exit_(stopper_),
        fw_cfg_(machine),
        pvpanic_([this] { ++panics_; }),
        fw_cfg_items_(fw_cfg_model(machine)) {
    uart_.set_receive_space_callback([this] { space_signalled_ = true; });
  }

  void step(const uint8_t* step) {
    uint8_t kind = step[0] % kStepKinds;
    uint32_t value = le32(step + 2);
    switch (kind) {
      case kUart:
        uart_access(fit(step[1], layout::kUartPortCount), value);
        break;
      case kI8042:
        i8042_access(fit(step[1], I8042::kPortCount), value);
        break;
      case kAcpiPm:
        acpi_access(fit(step[1], AcpiPowerManagement::kPortCount), value);
        break;
      case kDebugExit:
        debug_exit_access(fit(step[1], layout::kDebugExitPortCount), value);
        break;
      case kFwCfg:
        fw_cfg_access(fit(step[1], layout::kFwCfgPortCount), value);
        break;
      case kPvPanic:
        pvpanic_access(fit(step[1], 1), value);
        break;
      case kHostTypes:
        for (uint32_t i = 0; i < value % 48; ++i) pending_.push_back(host_byte(typed_++));
        deliver();
        break;
      case kEventLoop:
        if (space_signalled_ || eager_host_) {
          space_signalled_ = false;
          deliver();
        }
        break;
      case kOutputDrains:
        if (sink_.drain(value % 64)) uart_.transmit_room_available();
        break;
      case kRoomSpurious:
        uart_.transmit_room_available();
        break;
      case kGuestDrains:
        for (uint32_t i = 0; i < value % 32 && (uart_read(uart::kLsr) & uart::kLsrDataReady); ++i)
          uart_read(uart::kRbrThrDll);
        break;
      default:
        break;
    }
    check_uart_state();
  }

  // The guest leaves loopback and the divisor latch, listens, and reads until the host has
  // nothing left; every byte the UART took must have come out.
  void finish() {
    uart_write(uart::kLcr, 0);
    uart_write(uart::kMcr, 0);
    uart_write(uart::kIerDlm, uart::kIerReceivedData);
    size_t limit = 4 * (pending_.size() + typed_ - read_ + 64);
    for (size_t i = 0; i < limit; ++i) {
      if (space_signalled_) {
        space_signalled_ = false;
        deliver();
      }
      (void)uart_read(uart::kIirFcr);  // checks the IRQ line
      if (uart_read(uart::kLsr) & uart::kLsrDataReady) {
        uart_read(uart::kRbrThrDll);
        continue;
      }
      if (pending_.empty()) break;
      if (!space_signalled_)
        finding("host input waits while the guest listens, and the UART never asks for it");
    }
    check_uart_state();
    if (!pending_.empty()) finding("host input never delivered");
    if (read_ != accepted_) finding("host bytes the UART took were never read");
  }

 private:
  // Host bytes have the top bit set and count up; the guest's own (THR, DLL) have it clear.
  static uint8_t host_byte(uint64_t index) { return static_cast<uint8_t>(0x80 | (index & 0x7f)); }

  void deliver() {
    std::vector<uint8_t> offered(pending_.begin(), pending_.end());
    size_t taken = uart_.receive(offered);
    if (taken > offered.size()) finding("the UART took more than it was offered");
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(taken));
    accepted_ += taken;
  }

  // ---- The UART ----
  uint8_t uart_read(uint64_t offset) {
    uint8_t value;
    uart_access({offset, 1, true}, 0, &value);
    return value;
  }
  void uart_write(uint64_t offset, uint8_t value) { uart_access({offset, 1, false}, value); }

  void uart_access(Access access, uint32_t value, uint8_t* result = nullptr) {
    uint8_t data[8];
    std::span<uint8_t> bytes(data, access.width);
    if (access.read) {
      bool irq_level = irq_.level;
      std::memset(data, 0xa5, sizeof(data));
      uart_.read(access.offset, bytes);
      for (size_t i = 1; i < access.width; ++i)
        if (data[i] != 0) finding("a wide UART read with more than the register");
      if (access.offset == uart::kIirFcr) check_iir(data[0], irq_level);
      if (access.offset == uart::kRbrThrDll && !(lcr_ & uart::kLcrDivisorLatch))
        check_received(data[0]);
      if (result) *result = data[0];
      return;
    }
    store_le(bytes, uint64_t{value} | uint64_t{value} << 32);
    if (access.offset == uart::kRbrThrDll) data[0] &= 0x7f;  // the guest's bytes: top bit clear
    bool transmits = access.offset == uart::kRbrThrDll && !(lcr_ & uart::kLcrDivisorLatch) &&
                     !(mcr_ & uart::kMcrLoopback);
    if (access.offset == uart::kLcr) lcr_ = data[0];
    if (access.offset == uart::kMcr) mcr_ = data[0];
    sink_.written.clear();
    uart_.write(access.offset, bytes);
    if (transmits ? sink_.written != std::vector<uint8_t>{data[0]} : !sink_.written.empty())
      finding("the sink got something else than the byte the guest wrote to THR");
  }

  void check_iir(uint8_t iir, bool irq_level) {
    uint8_t cause = iir & 0x0f;
    if (cause != uart::kIirNoInterrupt && cause != uart::kIirTransmitterEmpty &&
        cause != uart::kIirReceivedData)
      finding("an IIR cause the UART never raises");
    if ((iir & 0x30) || ((iir & 0xc0) != 0 && (iir & 0xc0) != uart::kIirFifosEnabled))
      finding("IIR's reserved or FIFO bits wrong");
    if (irq_level != !(iir & uart::kIirNoInterrupt))
      finding("the IRQ line's level is not what IIR says");
  }

  void check_received(uint8_t byte) {
    if (!(byte & 0x80)) return;  // a loopback byte, or an empty FIFO's 0
    if (read_ >= accepted_) finding("RBR gave a host byte the UART never took");
    if (byte != host_byte(read_)) finding("host bytes out of order, duplicated or lost");
    ++read_;
  }

  void check_uart_state() {
    const auto& fifo = uart_.*member(ReceiveFifo{});
    const auto& returned = uart_.*member(ReturnedInput{});
    if (fifo.size() > uart::kFifoDepth) finding("the receive FIFO holds more than 16 bytes");
    uint64_t held = returned.size();
    for (const auto& entry : fifo) held += entry.from_host;
    if (accepted_ - read_ != held) finding("host bytes the UART took are neither held nor read");
  }

  // ---- The other devices ----
  void check_stops(std::initializer_list<StopReason> expected) {
    if (stopper_.requests.size() != expected.size()) finding("a stop requested wrongly");
    size_t i = 0;
    for (const StopReason& reason : expected) {
      const StopReason& got = stopper_.requests[i++];
      if (got.kind != reason.kind || got.debug_exit_value != reason.debug_exit_value)
        finding("a stop of the wrong kind");
    }
    stopper_.requests.clear();
  }

  // A read must give `expected` in every byte; a write the stops `expected_stops` says.
  template <typename Device>
  void simple_access(Device& device, Access access, uint32_t value, uint8_t expected_read,
                     bool stops, StopReason stop) {
    uint8_t data[8];
    std::span<uint8_t> bytes(data, access.width);
    if (access.read) {
      std::memset(data, 0xa5, sizeof(data));
      device.read(access.offset, bytes);
      for (size_t i = 0; i < access.width; ++i)
        if (data[i] != expected_read) finding("a read that is not the device's constant");
      check_stops({});
      return;
    }
    store_le(bytes, uint64_t{value} | uint64_t{value} << 32);
    device.write(access.offset, bytes);
    if (stops) {
      check_stops({stop});
    } else {
      check_stops({});
    }
  }

  void i8042_access(Access access, uint32_t value) {
    if (access.read) {
      uint8_t data[8];
      i8042_.read(access.offset, std::span(data, access.width));
      check_stops({});
      return;
    }
    auto byte = static_cast<uint8_t>(value);
    bool reset = access.offset == I8042::kCommandOffset && byte >= 0xf0 && !(byte & 1);
    simple_access(i8042_, access, value, 0, reset, StopReason(StopKind::kReset));
  }

  void acpi_access(Access access, uint32_t value) {
    auto byte = static_cast<uint8_t>(value);
    bool power_off = access.offset == AcpiPowerManagement::kSleepControlOffset &&
                     (byte & AcpiPowerManagement::kSleepEnable) &&
                     ((byte >> 2) & 7) == layout::kAcpiS5SleepType;
    bool reset =
        access.offset == AcpiPowerManagement::kResetOffset && byte == layout::kAcpiResetValue;
    simple_access(acpi_, access, value, 0, power_off || reset,
                  StopReason(power_off ? StopKind::kPowerOff : StopKind::kReset));
  }

  void debug_exit_access(Access access, uint32_t value) {
    uint64_t wide = uint64_t{value} | uint64_t{value} << 32;
    uint64_t mask = access.width == 8 ? ~0ull : (1ull << (8 * access.width)) - 1;
    simple_access(debug_exit_, access, value, 0xff, true,
                  StopReason(StopKind::kDebugExit, static_cast<uint32_t>(wide & mask)));
  }

  void pvpanic_access(Access access, uint32_t value) {
    uint8_t data[8];
    std::span<uint8_t> bytes(data, access.width);
    uint64_t panics = panics_;
    if (access.read) {
      std::memset(data, 0xa5, sizeof(data));
      pvpanic_.read(access.offset, bytes);
      for (size_t i = 0; i < access.width; ++i)
        if (data[i] != (i == 0 ? PvPanic::kEvents : 0))
          finding("a pvpanic read that is not its events");
    } else {
      store_le(bytes, uint64_t{value} | uint64_t{value} << 32);
      pvpanic_.write(access.offset, bytes);
      if (value & PvPanic::kPanicked) ++panics;
    }
    if (panics_ != panics) finding("a panic reported wrongly");
    check_stops({});
  }

  void fw_cfg_access(Access access, uint32_t value) {
    uint8_t data[8];
    std::span<uint8_t> bytes(data, access.width);
    if (!access.read) {
      store_le(bytes, value);
      fw_cfg_.write(access.offset, bytes);
      if (access.offset == FwCfg::kSelectorOffset && access.width == 2) {
        fw_cfg_key_ = static_cast<uint16_t>(value & ~uint32_t{FwCfg::kWriteChannel});
        fw_cfg_position_ = 0;
      }
      return;
    }
    std::memset(data, 0xa5, sizeof(data));
    fw_cfg_.read(access.offset, bytes);
    uint8_t expected = 0;
    if (access.width == 1) {
      auto item = fw_cfg_items_.find(fw_cfg_key_);
      if (item != fw_cfg_items_.end() && fw_cfg_position_ < item->second.size())
        expected = item->second[fw_cfg_position_++];
    }
    for (size_t i = 0; i < access.width; ++i)
      if (data[i] != expected) finding("an fw_cfg read that is not the selected item's next byte");
  }

  const bool eager_host_;
  FuzzIrq irq_;
  FuzzSink sink_;
  StopRecorder stopper_;
  FuzzIrq i8042_irq_;
  Serial uart_;
  I8042 i8042_;
  AcpiPowerManagement acpi_;
  DebugExit debug_exit_;
  FwCfg fw_cfg_;
  PvPanic pvpanic_;
  uint64_t panics_ = 0;

  // The UART's host side and what the guest set up.
  std::deque<uint8_t> pending_;  // typed, not yet taken by the UART
  uint64_t typed_ = 0;           // host bytes made so far
  uint64_t accepted_ = 0;        // host bytes the UART took
  uint64_t read_ = 0;            // host bytes the guest read from RBR
  bool space_signalled_ = false;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;

  // fw_cfg's model.
  std::map<uint16_t, std::vector<uint8_t>> fw_cfg_items_;
  uint16_t fw_cfg_key_ = FwCfg::kSignature;
  size_t fw_cfg_position_ = 0;
};

[[maybe_unused]] FwCfgMachine fw_cfg_machine(const uint8_t* header) {
  FwCfgMachine machine;
  machine.memory_bytes = (uint64_t{le16(header + 3)} + 1) << 20;
  machine.cpus = header[5] + 1u;
  for (size_t i = 0; i < header[2]; ++i) machine.cmdline += static_cast<char>('a' + i % 26);
  // RAM from 0 up to the MMIO hole, the rest from 4 GiB on, as ram_ranges() lays it out.
  uint64_t low = std::min(machine.memory_bytes, layout::kMmioHoleStart);
  machine.ram.push_back({0, low});
  if (machine.memory_bytes > low)
    machine.ram.push_back({layout::kMmioHoleEnd, machine.memory_bytes - low});
  return machine;
}

}  // namespace

#ifndef WISP_FUZZ_SEEDS

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);  // pvpanic logs a crash kernel's loading
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  size_t capacity = data[1] == 255 ? SIZE_MAX : data[1];
  Harness harness(data[0], capacity, fw_cfg_machine(data));
  size_t steps = std::min((size - kHeaderBytes) / kStepBytes, kMaxSteps);
  for (size_t i = 0; i < steps; ++i) harness.step(data + kHeaderBytes + i * kStepBytes);
  harness.finish();
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

class Seed {
 public:
  explicit Seed(uint8_t flags = 0, uint8_t capacity = 255) {
    header_[0] = flags;
    header_[1] = capacity;
    header_[2] = 13;    // "abcdefghijklm"
    header_[3] = 0xff;  // 256 MiB
    header_[5] = 1;     // two CPUs
  }
  Seed& fw_cfg_machine(uint16_t memory_mib, uint8_t cpus, uint8_t cmdline_length) {
    uint16_t minus_one = static_cast<uint16_t>(memory_mib - 1);
    std::memcpy(header_ + 3, &minus_one, 2);
    header_[5] = static_cast<uint8_t>(cpus - 1);
    header_[2] = cmdline_length;
    return *this;
  }
  Seed& step(StepKind kind, uint8_t access = 0, uint32_t value = 0) {
    steps_.push_back(kind);
    steps_.push_back(access);
    for (int i = 0; i < 4; ++i) steps_.push_back(static_cast<uint8_t>(value >> (8 * i)));
    return *this;
  }
  // A byte write or read of a register of `kind`'s device.
  Seed& out(StepKind kind, uint8_t offset, uint32_t value) { return step(kind, offset, value); }
  Seed& in(StepKind kind, uint8_t offset) { return step(kind, kAccessRead | offset); }
  Seed& out16(StepKind kind, uint8_t offset, uint32_t value) {
    return step(kind, static_cast<uint8_t>(1 << 3 | offset), value);
  }
  Seed& wide_in(StepKind kind, uint8_t offset, uint8_t width_log2) {
    return step(kind, static_cast<uint8_t>(kAccessRead | width_log2 << 3 | offset));
  }
  void write(const std::string& path) { write_seed(path, {header_, steps_}); }

 private:
  uint8_t header_[kHeaderBytes] = {};
  std::vector<uint8_t> steps_;
};

using namespace uart;

// Linux's 8250 probe and console start-up: divisor, 8N1, FIFOs on and cleared, DTR/RTS/OUT2,
// the autoconfig loopback test, then the received-data interrupt.
Seed& linux_probe(Seed& seed) {
  seed.out(kUart, kLcr, kLcrDivisorLatch).out(kUart, kRbrThrDll, 1).out(kUart, kIerDlm, 0);
  seed.out(kUart, kLcr, 0x03).in(kUart, kIirFcr).out(kUart, kIirFcr, 0xc7);
  seed.out(kUart, kMcr, kMcrLoopback | 0x0a).in(kUart, kMsr).out(kUart, kMcr, 0x0b);
  seed.in(kUart, kLsr).in(kUart, kLsr).in(kUart, kRbrThrDll).in(kUart, kIirFcr);
  return seed.out(kUart, kIerDlm, kIerReceivedData).in(kUart, kIirFcr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  {
    Seed seed;  // the console: typing before and after start-up, echoed output
    seed.step(kHostTypes, 0, 5);
    linux_probe(seed);
    seed.step(kEventLoop).in(kUart, kIirFcr).in(kUart, kLsr).in(kUart, kRbrThrDll);
    seed.step(kGuestDrains, 0, 20).step(kEventLoop).step(kGuestDrains, 0, 20);
    for (uint8_t c : {'o', 'k', '\r', '\n'}) seed.in(kUart, kLsr).out(kUart, kRbrThrDll, c);
    seed.write(dir + "/console");
  }
  {
    Seed seed;  // a flood: more than the FIFO holds, a FIFO clear, polling until it listens
    seed.step(kHostTypes, 0, 40);
    linux_probe(seed);
    seed.out(kUart, kIirFcr, kFcrEnableFifo | kFcrClearReceive);
    for (int i = 0; i < 8; ++i) seed.in(kUart, kLsr);
    seed.step(kEventLoop).in(kUart, kRbrThrDll).step(kGuestDrains, 0, 31);
    seed.step(kHostTypes, 0, 20).step(kEventLoop).step(kGuestDrains, 0, 31);
    seed.write(dir + "/flood");
  }
  {
    Seed seed(kFlagEagerHost);  // loopback while the host types, then back to the host
    seed.out(kUart, kMcr, kMcrLoopback | 0x0f).step(kHostTypes, 0, 3);
    for (uint8_t c = 1; c <= 18; ++c) seed.out(kUart, kRbrThrDll, c);
    seed.in(kUart, kMsr).step(kGuestDrains, 0, 20).out(kUart, kIerDlm, kIerReceivedData);
    seed.out(kUart, kMcr, 0x0b).step(kEventLoop).step(kGuestDrains, 0, 20);
    seed.write(dir + "/loopback");
  }
  {
    Seed seed(0, 24);  // a console with room for 24 bytes: THR busy, THRE interrupt on room
    linux_probe(seed);
    seed.out(kUart, kIerDlm, kIerReceivedData | kIerTransmitterEmpty).in(kUart, kIirFcr);
    for (uint8_t c = 0; c < 12; ++c) seed.out(kUart, kRbrThrDll, 'a' + c).in(kUart, kLsr);
    seed.in(kUart, kIirFcr).step(kOutputDrains, 0, 20).in(kUart, kIirFcr).in(kUart, kIirFcr);
    seed.step(kRoomSpurious).out(kUart, kRbrThrDll, 'z').step(kOutputDrains, 0, 63);
    seed.write(dir + "/slow-console");
  }
  {
    Seed seed;  // wide and odd accesses to the UART
    seed.wide_in(kUart, 0, 3).wide_in(kUart, kLsr, 1).wide_in(kUart, kIirFcr, 2);
    seed.step(kUart, 3 << 3 | kRbrThrDll, 0x41424344).step(kUart, 2 << 3 | kLcr, 0x80);
    seed.wide_in(kUart, 0, 1).out(kUart, kScr, 0x5a).in(kUart, kScr).out(kUart, kLsr, 0xff);
    seed.write(dir + "/uart-widths");
  }
  {
    Seed seed;  // fw_cfg: signature, ID, the file directory and etc/e820, undefined keys
    seed.fw_cfg_machine(4096, 8, 40);
    seed.out16(kFwCfg, 0, FwCfg::kSignature);
    for (int i = 0; i < 5; ++i) seed.in(kFwCfg, 1);
    seed.out16(kFwCfg, 0, FwCfg::kFileDir);
    for (int i = 0; i < 68; ++i) seed.in(kFwCfg, 1);
    seed.out16(kFwCfg, 0, FwCfg::kFileFirst);
    for (int i = 0; i < 44; ++i) seed.in(kFwCfg, 1);
    seed.out16(kFwCfg, 0, FwCfg::kWriteChannel | FwCfg::kCmdlineData).in(kFwCfg, 0);
    seed.wide_in(kFwCfg, 0, 1).out(kFwCfg, 1, 0x12).out16(kFwCfg, 0, 0x8003).in(kFwCfg, 1);
    seed.write(dir + "/fw-cfg");
  }
  {
    Seed seed;  // stops: a debug exit, ACPI sleep states, the reset register, the i8042 reset
    seed.step(kDebugExit, 2 << 3, 0x31).in(kDebugExit, 0);
    seed.out(kAcpiPm, 0, 0x20 | 3 << 2).out(kAcpiPm, 0, 0x20 | 5 << 2).in(kAcpiPm, 1);
    seed.out(kAcpiPm, 2, 2).out(kAcpiPm, 2, 1);
    seed.out(kI8042, 4, 0xd1).in(kI8042, 4).out(kI8042, 4, 0xfe).out16(kI8042, 3, 0xfe00);
    seed.in(kPvPanic, 0).out(kPvPanic, 0, PvPanic::kCrashLoaded).out(kPvPanic, 0, 0x101);
    seed.write(dir + "/stops");
  }
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
