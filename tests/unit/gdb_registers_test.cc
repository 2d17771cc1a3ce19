#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "vmm/gdb/x86_registers.h"

using namespace wisp::gdb;

namespace {

VcpuRegisters sample() {
  VcpuRegisters state;
  state.regs.rax = 0x1122334455667788;
  state.regs.rip = 0xffffffff81000000;
  state.regs.rflags = 0x246;
  state.sregs.cs.selector = 0x10;
  state.sregs.cr3 = 0x1000;
  state.sregs.efer = 0xd01;
  state.fpu.xmm[15][0] = 0x5a;
  state.fpu.mxcsr = 0x1f80;
  return state;
}

}  // namespace

TEST_CASE("the 'g' packet carries gdb's amd64 registers in gdb's order", "[gdb]") {
  std::vector<uint8_t> bytes = read_all(sample());
  // 16 GPRs and rip (8 bytes), eflags and 6 selectors (4), st0-7 (10), 8 x87 control words (4),
  // xmm0-15 (16), mxcsr (4), fs_base and gs_base (8), cr0, cr2, cr3, cr4, cr8, efer (8).
  REQUIRE(bytes.size() == 17 * 8 + 7 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 2 * 8 + 6 * 8);
  uint64_t rax, rip;
  uint32_t eflags, cs;
  std::memcpy(&rax, bytes.data(), 8);
  std::memcpy(&rip, bytes.data() + 16 * 8, 8);
  std::memcpy(&eflags, bytes.data() + 17 * 8, 4);
  std::memcpy(&cs, bytes.data() + 17 * 8 + 4, 4);
  CHECK(rax == 0x1122334455667788);
  CHECK(rip == 0xffffffff81000000);
  CHECK(eflags == 0x246);
  CHECK(cs == 0x10);
  CHECK(register_count() == 65);
  CHECK(read_one(sample(), 16) == std::vector<uint8_t>{0, 0, 0, 0x81, 0xff, 0xff, 0xff, 0xff});
  CHECK_FALSE(read_one(sample(), 65));
}

TEST_CASE("registers written through 'G' and 'P' land in KVM's structures", "[gdb]") {
  VcpuRegisters state = sample();
  std::vector<uint8_t> bytes = read_all(state);
  VcpuRegisters copy;
  REQUIRE(write_all(copy, bytes));
  CHECK(read_all(copy) == bytes);
  CHECK(copy.sregs.cr3 == 0x1000);
  CHECK(copy.fpu.xmm[15][0] == 0x5a);
  CHECK_FALSE(write_all(copy, std::span(bytes).first(bytes.size() - 1)));

  std::vector<uint8_t> new_rip = {0x10, 0, 0, 0, 0, 0, 0, 0};
  REQUIRE(write_one(copy, 16, new_rip));
  CHECK(copy.regs.rip == 0x10);
  CHECK_FALSE(write_one(copy, 16, std::span(new_rip).first(4)));  // the wrong size
  // eflags is 4 bytes to gdb and 8 to KVM: the upper half is cleared.
  copy.regs.rflags = ~0ull;
  REQUIRE(write_one(copy, 17, std::vector<uint8_t>{2, 0, 0, 0}));
  CHECK(copy.regs.rflags == 2);
}

TEST_CASE("target.xml names each register with its number, size and feature", "[gdb]") {
  const std::string& xml = target_xml();
  CHECK(xml.find("<architecture>i386:x86-64</architecture>") != std::string::npos);
  for (const char* feature :
       {"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments"})
    CHECK(xml.find(std::string("<feature name=\"") + feature + "\">") != std::string::npos);
  CHECK(xml.find("<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\" regnum=\"16\"/>") !=
        std::string::npos);
  CHECK(xml.find("<reg name=\"efer\" bitsize=\"64\" type=\"int64\" regnum=\"64\"/>") !=
        std::string::npos);
}
