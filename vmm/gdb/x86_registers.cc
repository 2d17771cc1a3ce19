#include "vmm/gdb/x86_registers.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace wisp::gdb {
namespace {

// Where a register lives in the KVM state: its bytes, little-endian. nullptr: nowhere (read as
// zero, writes ignored).
using Storage = std::span<uint8_t> (*)(VcpuRegisters&);

template <typename T>
std::span<uint8_t> bytes_of(T& value) {
  return {reinterpret_cast<uint8_t*>(&value), sizeof(T)};
}

#define FIELD(member) [](VcpuRegisters& s) { return bytes_of(s.member); }

struct RegisterDef {
  const char* name;
  uint16_t bits;
  const char* type;
  const char* feature;
  Storage storage;
};

constexpr const char* kCore = "org.gnu.gdb.i386.core";
constexpr const char* kSse = "org.gnu.gdb.i386.sse";
constexpr const char* kSegments = "org.gnu.gdb.i386.segments";
constexpr const char* kSystem = "org.wisp.x86.system";  // shown by `info registers cr3`, ...

// gdb's amd64 order (its 64bit-core.xml, 64bit-sse.xml and 64bit-segments.xml), then ours.
const RegisterDef kRegisters[] = {
    {"rax", 64, "int64", kCore, FIELD(regs.rax)},
    {"rbx", 64, "int64", kCore, FIELD(regs.rbx)},
    {"rcx", 64, "int64", kCore, FIELD(regs.rcx)},
    {"rdx", 64, "int64", kCore, FIELD(regs.rdx)},
    {"rsi", 64, "int64", kCore, FIELD(regs.rsi)},
    {"rdi", 64, "int64", kCore, FIELD(regs.rdi)},
    {"rbp", 64, "data_ptr", kCore, FIELD(regs.rbp)},
    {"rsp", 64, "data_ptr", kCore, FIELD(regs.rsp)},
    {"r8", 64, "int64", kCore, FIELD(regs.r8)},
    {"r9", 64, "int64", kCore, FIELD(regs.r9)},
    {"r10", 64, "int64", kCore, FIELD(regs.r10)},
    {"r11", 64, "int64", kCore, FIELD(regs.r11)},
    {"r12", 64, "int64", kCore, FIELD(regs.r12)},
    {"r13", 64, "int64", kCore, FIELD(regs.r13)},
    {"r14", 64, "int64", kCore, FIELD(regs.r14)},
    {"r15", 64, "int64", kCore, FIELD(regs.r15)},
    {"rip", 64, "code_ptr", kCore, FIELD(regs.rip)},
    {"eflags", 32, "int32", kCore, FIELD(regs.rflags)},
    {"cs", 32, "int32", kCore, FIELD(sregs.cs.selector)},
    {"ss", 32, "int32", kCore, FIELD(sregs.ss.selector)},
    {"ds", 32, "int32", kCore, FIELD(sregs.ds.selector)},
    {"es", 32, "int32", kCore, FIELD(sregs.es.selector)},
    {"fs", 32, "int32", kCore, FIELD(sregs.fs.selector)},
    {"gs", 32, "int32", kCore, FIELD(sregs.gs.selector)},
    {"st0", 80, "i387_ext", kCore, FIELD(fpu.fpr[0])},
    {"st1", 80, "i387_ext", kCore, FIELD(fpu.fpr[1])},
    {"st2", 80, "i387_ext", kCore, FIELD(fpu.fpr[2])},
    {"st3", 80, "i387_ext", kCore, FIELD(fpu.fpr[3])},
    {"st4", 80, "i387_ext", kCore, FIELD(fpu.fpr[4])},
    {"st5", 80, "i387_ext", kCore, FIELD(fpu.fpr[5])},
    {"st6", 80, "i387_ext", kCore, FIELD(fpu.fpr[6])},
    {"st7", 80, "i387_ext", kCore, FIELD(fpu.fpr[7])},
    {"fctrl", 32, "int", kCore, FIELD(fpu.fcw)},
    {"fstat", 32, "int", kCore, FIELD(fpu.fsw)},
    {"ftag", 32, "int", kCore, FIELD(fpu.ftwx)},  // KVM's abridged (FXSAVE) form
    {"fiseg", 32, "int", kCore, nullptr},
    {"fioff", 32, "int", kCore, FIELD(fpu.last_ip)},
    {"foseg", 32, "int", kCore, nullptr},
    {"fooff", 32, "int", kCore, FIELD(fpu.last_dp)},
    {"fop", 32, "int", kCore, FIELD(fpu.last_opcode)},
    {"xmm0", 128, "uint128", kSse, FIELD(fpu.xmm[0])},
    {"xmm1", 128, "uint128", kSse, FIELD(fpu.xmm[1])},
    {"xmm2", 128, "uint128", kSse, FIELD(fpu.xmm[2])},
    {"xmm3", 128, "uint128", kSse, FIELD(fpu.xmm[3])},
    {"xmm4", 128, "uint128", kSse, FIELD(fpu.xmm[4])},
    {"xmm5", 128, "uint128", kSse, FIELD(fpu.xmm[5])},
    {"xmm6", 128, "uint128", kSse, FIELD(fpu.xmm[6])},
    {"xmm7", 128, "uint128", kSse, FIELD(fpu.xmm[7])},
    {"xmm8", 128, "uint128", kSse, FIELD(fpu.xmm[8])},
    {"xmm9", 128, "uint128", kSse, FIELD(fpu.xmm[9])},
    {"xmm10", 128, "uint128", kSse, FIELD(fpu.xmm[10])},
    {"xmm11", 128, "uint128", kSse, FIELD(fpu.xmm[11])},
    {"xmm12", 128, "uint128", kSse, FIELD(fpu.xmm[12])},
    {"xmm13", 128, "uint128", kSse, FIELD(fpu.xmm[13])},
    {"xmm14", 128, "uint128", kSse, FIELD(fpu.xmm[14])},
    {"xmm15", 128, "uint128", kSse, FIELD(fpu.xmm[15])},
    {"mxcsr", 32, "int", kSse, FIELD(fpu.mxcsr)},
    {"fs_base", 64, "int64", kSegments, FIELD(sregs.fs.base)},
    {"gs_base", 64, "int64", kSegments, FIELD(sregs.gs.base)},
    {"cr0", 64, "int64", kSystem, FIELD(sregs.cr0)},
    {"cr2", 64, "int64", kSystem, FIELD(sregs.cr2)},
    {"cr3", 64, "int64", kSystem, FIELD(sregs.cr3)},
    {"cr4", 64, "int64", kSystem, FIELD(sregs.cr4)},
    {"cr8", 64, "int64", kSystem, FIELD(sregs.cr8)},
    {"efer", 64, "int64", kSystem, FIELD(sregs.efer)},
};

#undef FIELD

void read_into(const VcpuRegisters& state, const RegisterDef& def, std::vector<uint8_t>& out) {
  size_t size = def.bits / 8;
  size_t start = out.size();
  out.resize(start + size, 0);
  if (!def.storage) return;
  std::span<uint8_t> stored = def.storage(const_cast<VcpuRegisters&>(state));
  std::memcpy(out.data() + start, stored.data(), std::min(size, stored.size()));
}

void write_from(VcpuRegisters& state, const RegisterDef& def, std::span<const uint8_t> bytes) {
  if (!def.storage) return;
  std::span<uint8_t> stored = def.storage(state);
  std::fill(stored.begin(), stored.end(), 0);
  std::memcpy(stored.data(), bytes.data(), std::min(bytes.size(), stored.size()));
}

}  // namespace

size_t register_count() {
  return std::size(kRegisters);
}

size_t register_size(size_t number) {
  return number < register_count() ? kRegisters[number].bits / 8 : 0;
}

std::vector<uint8_t> read_all(const VcpuRegisters& state) {
  std::vector<uint8_t> out;
  for (const RegisterDef& def : kRegisters) read_into(state, def, out);
  return out;
}

bool write_all(VcpuRegisters& state, std::span<const uint8_t> bytes) {
  size_t total = 0;
  for (const RegisterDef& def : kRegisters) total += def.bits / 8;
  if (bytes.size() != total) return false;
  for (const RegisterDef& def : kRegisters) {
    write_from(state, def, bytes.first(def.bits / 8));
    bytes = bytes.subspan(def.bits / 8);
  }
  return true;
}

std::optional<std::vector<uint8_t>> read_one(const VcpuRegisters& state, size_t number) {
  if (number >= register_count()) return std::nullopt;
  std::vector<uint8_t> out;
  read_into(state, kRegisters[number], out);
  return out;
}

bool write_one(VcpuRegisters& state, size_t number, std::span<const uint8_t> bytes) {
  if (number >= register_count() || bytes.size() != register_size(number)) return false;
  write_from(state, kRegisters[number], bytes);
  return true;
}

const std::string& target_xml() {
  static const std::string xml = [] {
    std::string text =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
        "<target version=\"1.0\">\n<architecture>i386:x86-64</architecture>\n";
    const char* open_feature = nullptr;
    for (size_t number = 0; number < register_count(); ++number) {
      const RegisterDef& def = kRegisters[number];
      if (open_feature != def.feature) {
        if (open_feature) text += "</feature>\n";
        text += fmt::format("<feature name=\"{}\">\n", def.feature);
        open_feature = def.feature;
      }
      text += fmt::format("  <reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"/>\n",
                          def.name, def.bits, def.type, number);
    }
    return text + "</feature>\n</target>\n";
  }();
  return xml;
}

}  // namespace wisp::gdb
