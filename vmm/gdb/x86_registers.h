// A vCPU's registers as gdb sees them: one x86-64 layout, described to gdb by target.xml (the
// core, SSE and segment-base features gdb knows, and the control registers), read and written
// as the 'g'/'G'/'p'/'P' packets carry them. 32-bit code is debugged with the same layout, as
// under QEMU.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace wisp::gdb {

// What KVM holds of one vCPU's state, read together and written back together.
struct VcpuRegisters {
  kvm_regs regs{};
  kvm_sregs sregs{};
  kvm_fpu fpu{};
};

size_t register_count();
// gdb's size of register `number` in bytes; 0 when there is no such register.
size_t register_size(size_t number);

// The 'g' packet's bytes: every register, in gdb's order, little-endian.
std::vector<uint8_t> read_all(const VcpuRegisters& state);
// Applies a 'G' packet's bytes; false when they are not exactly all registers.
bool write_all(VcpuRegisters& state, std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> read_one(const VcpuRegisters& state, size_t number);
bool write_one(VcpuRegisters& state, size_t number, std::span<const uint8_t> bytes);

// The target description gdb reads with qXfer:features:read:target.xml.
const std::string& target_xml();

}  // namespace wisp::gdb
