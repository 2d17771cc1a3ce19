// The test-guest kit's guests (guest/kit) booted through every boot format and entry mode on the
// host's /dev/kvm: what they print and how Wisp exits.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::read_file;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;
constexpr int kGuestExitedZero = 1;  // debug-exit value 0

wisp::test::ProcessResult boot(const std::vector<std::string>& args,
                               const std::string& input = "") {
  std::vector<std::string> argv = {kWisp, "run", "--memory", "64M"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, input, kTimeout);
  UNSCOPED_INFO("wisp " << args[1] << ": stdout: " << result.out << " stderr: " << result.err);
  return result;
}

}  // namespace

TEST_CASE("hello boots as PVH, Multiboot (ELF and a.out kludge) and plain ELF64", "[kvm][kit]") {
  auto pvh = boot({"--kernel", kit_guest("hello.pvh.elf"), "--cmdline", "a b"});
  CHECK(pvh.out == "hello from pvh: a b\n");
  CHECK(pvh.status == kGuestExitedZero);

  // Multiboot hands the image's path first, as GRUB and QEMU do.
  std::string elf = kit_guest("hello.multiboot.elf");
  auto multiboot = boot({"--kernel", elf, "--cmdline", "a b"});
  CHECK(multiboot.out == "hello from multiboot: " + elf + " a b\n");
  CHECK(multiboot.status == kGuestExitedZero);

  std::string aout = kit_guest("hello.multiboot-aout.bin");
  auto kludge = boot({"--kernel", aout, "--cmdline", "c"});
  CHECK(kludge.out == "hello from multiboot-aout: " + aout + " c\n");
  CHECK(kludge.status == kGuestExitedZero);

  auto elf64 = boot({"--kernel", kit_guest("hello.elf64.elf"), "--cmdline", "d"});
  CHECK(elf64.out == "hello from elf64: d\n");
  CHECK(elf64.status == kGuestExitedZero);
}

TEST_CASE("raw binaries start in real, protected or long mode", "[kvm][kit]") {
  struct Case {
    const char *file, *mode, *address, *name;
  };
  for (Case c : {Case{"hello.raw-real.bin", "real", "0x8000", "raw-real"},
                 Case{"hello.raw-protected.bin", "protected", "0x100000", "raw-protected"},
                 Case{"hello.raw-long.bin", "long", "0x100000", "raw-long"}}) {
    auto result = boot({"--kernel", kit_guest(c.file), "--kernel-format", "raw", "--load-address",
                        c.address, "--entry", c.address, "--entry-mode", c.mode, "--cmdline", "x"});
    CHECK(result.out == std::string("hello from ") + c.name + ": x\n");
    CHECK(result.status == kGuestExitedZero);
  }
}

TEST_CASE("32-bit entries start with a stack below the boot information", "[kvm][kit]") {
  // GRUB and QEMU leave a usable stack; many small kernels push before they set up their own.
  // Wisp's is at 0x6000 (firmware/layout.h kEntryStackTop), growing down.
  auto multiboot = boot({"--kernel", kit_guest("hello.multiboot-aout.bin"), "--cmdline", "stack"});
  CHECK(multiboot.out.find("entry stack: 0x6000\n") != std::string::npos);
  CHECK(multiboot.status == kGuestExitedZero);

  auto raw = boot({"--kernel", kit_guest("hello.raw-protected.bin"), "--kernel-format", "raw",
                   "--load-address", "0x100000", "--entry", "0x100000", "--entry-mode", "protected",
                   "--cmdline", "stack"});
  CHECK(raw.out.find("entry stack: 0x6000\n") != std::string::npos);
  CHECK(raw.status == kGuestExitedZero);
}

TEST_CASE("a forced format that does not fit the image is refused", "[kvm][kit]") {
  auto not_multiboot =
      boot({"--kernel", kit_guest("hello.pvh.elf"), "--kernel-format", "multiboot"});
  CHECK(not_multiboot.status == 10);
  CHECK(not_multiboot.err.find("no Multiboot header") != std::string::npos);

  auto not_pvh = boot({"--kernel", kit_guest("hello.elf64.elf"), "--kernel-format", "pvh"});
  CHECK(not_pvh.status == 10);
  CHECK(not_pvh.err.find("no PVH entry note") != std::string::npos);

  auto raw_without_address = boot({"--kernel", kit_guest("hello.raw-long.bin"), "--kernel-format",
                                   "raw", "--entry", "0x100000", "--entry-mode", "long"});
  CHECK(raw_without_address.status == 2);
  CHECK(raw_without_address.err.find("--load-address") != std::string::npos);

  // A raw image loaded on top of Wisp's boot structures.
  auto overlapping =
      boot({"--kernel", kit_guest("hello.raw-long.bin"), "--kernel-format", "raw", "--load-address",
            "0x7000", "--entry", "0x7000", "--entry-mode", "long"});
  CHECK(overlapping.status == 10);
  CHECK(overlapping.err.find("overlaps") != std::string::npos);
}

TEST_CASE("every vCPU checks in, with more vCPUs than host cores", "[kvm][kit]") {
  for (int cpus : {1, 2, 8}) {
    std::string n = std::to_string(cpus);
    auto result = boot({"--kernel", kit_guest("smp.pvh.elf"), "--cpus", n, "--cmdline", n});
    CHECK(result.status == kGuestExitedZero);
    CHECK(result.out.find("all " + n + " cpus checked in\n") != std::string::npos);
    for (int cpu = 0; cpu < cpus; ++cpu)
      CHECK(result.out.find("cpu " + std::to_string(cpu) + " checked in\n") != std::string::npos);
  }
}

TEST_CASE("unhandled port and MMIO accesses read all-ones and the guest goes on", "[kvm][kit]") {
  auto pio = boot({"--kernel", kit_guest("pio_probe.pvh.elf"), "-v"});
  CHECK(pio.out == "pio probe ok\n");
  CHECK(pio.status == kGuestExitedZero);
  CHECK(pio.err.find("unhandled port") != std::string::npos);

  auto mmio = boot({"--kernel", kit_guest("mmio_probe.elf64.elf"), "-v"});
  CHECK(mmio.out == "mmio probe ok\n");
  CHECK(mmio.status == kGuestExitedZero);
  CHECK(mmio.err.find("unhandled MMIO read at 0xd0000000") != std::string::npos);
}

TEST_CASE("statuses: the guest's exit code, a triple fault, a timeout", "[kvm][kit]") {
  auto code = boot({"--kernel", kit_guest("exit_code.pvh.elf"), "--cmdline", "42"});
  CHECK(code.status == ((42 << 1) | 1));

  auto fault = boot({"--kernel", kit_guest("triple_fault.elf64.elf")});
  CHECK(fault.status == 6);

  auto spin = boot({"--kernel", kit_guest("spin.pvh.elf"), "--timeout", "1"});
  CHECK(spin.out == "spinning\n");
  CHECK(spin.status == 8);
}

TEST_CASE("timeout: one deadline across guest reboots", "[kvm][kit]") {
  // A guest that resets at once, restarted each time: without one deadline for the whole run it
  // would restart until run_process gave up on it (status -1, not 8).
  auto looping = boot({"--kernel", kit_guest("exit_code.pvh.elf"), "--cmdline", "reset",
                       "--on-reboot", "restart", "--timeout", "2"});
  CHECK(looping.status == 8);
  // It did reboot, many times.
  size_t boots = 0;
  for (size_t at = looping.out.find("resetting"); at != std::string::npos;
       at = looping.out.find("resetting", at + 1))
    ++boots;
  CHECK(boots > 2);

  auto once = boot({"--kernel", kit_guest("exit_code.pvh.elf"), "--cmdline", "reset"});
  CHECK(once.status == 4);  // without --on-reboot restart, a reset ends the run
}

TEST_CASE("memory: twice the host's RAM boots, with one warning", "[kvm][kit]") {
  // Guest RAM is reserved lazily: a guest larger than the host is fine until it touches it all.
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  uint64_t host_kib = 0;
  while (meminfo >> key >> host_kib >> unit && key != "MemTotal:") {
  }
  REQUIRE(key == "MemTotal:");
  std::string memory = std::to_string(2 * host_kib / 1024) + "M";
  // Not boot(): it gives every guest 64M.
  auto result = run_process({kWisp, "run", "--kernel", kit_guest("hello.pvh.elf"), "--cmdline",
                             "big", "--memory", memory},
                            "", kTimeout);
  CHECK(result.status == kGuestExitedZero);
  CHECK(result.out == "hello from pvh: big\n");
  CHECK(result.err.find("more than this host has") != std::string::npos);
}

TEST_CASE("serial tee mode writes the console to the terminal and a file", "[kvm][kit]") {
  char path[] = "/tmp/wisp-tee-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  auto result = boot({"--kernel", kit_guest("hello.pvh.elf"), "--cmdline", "tee", "--serial",
                      std::string("tee=") + path});
  CHECK(result.out == "hello from pvh: tee\n");
  CHECK(read_file(path) == result.out);
  ::unlink(path);
}

TEST_CASE("fw_cfg: a QEMU guest learns its CPU count, RAM size and RAM map", "[kvm][kit][fw_cfg]") {
  // Not boot(): each run sets its own memory size. The same guest under QEMU prints the same
  // lines, and a reserved e820 entry besides (qemu/run.sh, guest/kit/README.md).
  auto small = run_process({kWisp, "run", "--kernel", kit_guest("fw_cfg.pvh.elf"), "--cpus", "2",
                            "--memory", "64M", "--cmdline", "fw cfg"},
                           "", kTimeout);
  UNSCOPED_INFO("64M: stdout: " << small.out << " stderr: " << small.err);
  CHECK(small.out ==
        "fw_cfg: cpus=2 ram=67108864\n"
        "fw_cfg: cmdline=fw cfg\n"
        "fw_cfg: e820 address=0x0 size=0x4000000 type=1\n"
        "fw_cfg: ok\n");
  CHECK(small.status == kGuestExitedZero);

  // Past the 32-bit MMIO hole at 3 GiB, RAM goes on at 4 GiB (reserved lazily: no host needs 5G).
  auto large = run_process({kWisp, "run", "--kernel", kit_guest("fw_cfg.elf64.elf"), "--cpus", "3",
                            "--memory", "5G", "--cmdline", "large"},
                           "", kTimeout);
  UNSCOPED_INFO("5G: stdout: " << large.out << " stderr: " << large.err);
  CHECK(large.out ==
        "fw_cfg: cpus=3 ram=5368709120\n"
        "fw_cfg: cmdline=large\n"
        "fw_cfg: e820 address=0x0 size=0xc0000000 type=1\n"
        "fw_cfg: e820 address=0x100000000 size=0x80000000 type=1\n"
        "fw_cfg: ok\n");
  CHECK(large.status == kGuestExitedZero);
}

TEST_CASE("pvpanic: a guest's panic report ends the run with 14, or is logged", "[kvm][kit]") {
  auto panicked = boot({"--kernel", kit_guest("exit_code.pvh.elf"), "--cmdline", "panic"});
  CHECK(panicked.status == 14);
  CHECK(panicked.out == "pvpanic events 0x3\n");
  CHECK(panicked.err.find("the guest panicked (pvpanic)") != std::string::npos);

  auto going_on = boot(
      {"--kernel", kit_guest("exit_code.pvh.elf"), "--cmdline", "panic", "--on-panic", "continue"});
  CHECK(going_on.status == kGuestExitedZero);
  CHECK(going_on.out == "pvpanic events 0x3\nstill running after the panic report\n");
  CHECK(going_on.err.find("the guest panicked (pvpanic); it goes on") != std::string::npos);
}
