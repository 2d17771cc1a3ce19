// The MSR policy: a guest's reads and writes of the hidden features' MSRs fail with #GP, and
// Wisp is the one refusing them (it logs each at -v); other MSRs stay KVM's.
#include <catch2/catch.hpp>
#include <string>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::run_process;

TEST_CASE("the hidden features' MSRs fault, refused by Wisp's filter", "[kvm][msr]") {
  auto result = run_process({kWisp, "run", "-v", "--kernel", kit_guest("msr.pvh.elf")}, "", 30);
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.status == 1);  // the guest's exit 0
  for (const char* allowed : {"rdmsr 0x10: ok", "rdmsr 0x1b: ok"})
    CHECK(result.out.find(allowed) != std::string::npos);
  for (const char* denied : {"rdmsr 0x480: #GP", "rdmsr 0x491: #GP", "rdmsr 0x570: #GP",
                             "rdmsr 0xc0010114: #GP", "wrmsr 0x570: #GP", "wrmsr 0xc0010117: #GP"})
    CHECK(result.out.find(denied) != std::string::npos);
  CHECK(result.err.find("the guest's read of MSR 0x480 (IA32_VMX_BASIC to IA32_VMX_VMFUNC, VMX) "
                        "is refused with #GP") != std::string::npos);
  CHECK(result.err.find("the guest's write of MSR 0xc0010117 (VM_HSAVE_PA, SVM) is refused") !=
        std::string::npos);
}
