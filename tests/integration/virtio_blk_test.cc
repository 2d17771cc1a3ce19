// virtio-blk on the host's /dev/kvm, driven by the test-guest kit's virtio-mmio driver
// (guest/kit/virtio_mmio.c): the guest writes, flushes and reads back a pattern, takes
// interrupts, and the host checks the image afterwards.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_image.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::run_process;
using wisp::test::TempImage;

namespace {

constexpr int kTimeout = 60;
constexpr int kGuestExitedZero = 1;  // debug-exit value 0
constexpr uint64_t kSectorBytes = 512;
constexpr uint64_t kTestSectors = 64;  // what the virtio_blk guest writes, from sector 0

// An image file that is removed when the test ends.
// Boots a kit guest with disks; argv starts with what runs wisp (itself, or a launcher).
wisp::test::ProcessResult boot(const std::string& guest, const std::string& cmdline,
                               const std::vector<std::string>& disks,
                               std::vector<std::string> argv = {kWisp}) {
  std::vector<std::string> options = {"run",       "-v",    "--memory", "64M",
                                      "--serial",  "stdio", "--kernel", kit_guest(guest),
                                      "--cmdline", cmdline};
  argv.insert(argv.end(), options.begin(), options.end());
  for (const std::string& disk : disks) {
    argv.push_back("--disk");
    argv.push_back(disk);
  }
  auto result = run_process(argv, "", kTimeout);
  UNSCOPED_INFO("wisp " << guest << ": stdout: " << result.out << " stderr: " << result.err);
  return result;
}

// The guest's pattern (guest/kit/guests/virtio_blk.c): 64-bit word i of sector s.
uint64_t pattern(uint64_t seed, uint64_t sector, uint64_t word) {
  return (seed << 32) | (sector << 8) | word;
}

bool image_holds_pattern(const std::vector<uint8_t>& image, uint64_t seed) {
  for (uint64_t sector = 0; sector < kTestSectors; ++sector) {
    for (uint64_t word = 0; word < kSectorBytes / 8; ++word) {
      uint64_t got;
      std::memcpy(&got, image.data() + sector * kSectorBytes + word * 8, sizeof(got));
      if (got != pattern(seed, sector, word)) return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("the command line names every virtio-mmio device when ACPI is off", "[kvm][virtio]") {
  TempImage a(1 << 20), b(1 << 20);
  auto result =
      boot("virtio_devices.pvh.elf", "acpi=off", {"path=" + a.path(), "path=" + b.path()});
  CHECK(result.out.find("virtio-mmio: base=0xd0000000 size=0x1000 irq=5") != std::string::npos);
  CHECK(result.out.find("virtio-mmio: base=0xd0001000 size=0x1000 irq=6") != std::string::npos);
  CHECK(result.status == (2 << 1 | 1));  // the guest exits with the number of devices found

  // The most disks Wisp takes: each gets the next window and the next free I/O APIC pin.
  std::vector<std::string> sixteen(16, "path=" + a.path() + ",readonly=on");
  auto all = boot("virtio_devices.pvh.elf", "acpi=off", sixteen);
  CHECK(all.out.find("virtio-mmio: base=0xd0003000 size=0x1000 irq=10") != std::string::npos);
  CHECK(all.out.find("virtio-mmio: base=0xd000f000 size=0x1000 irq=22") != std::string::npos);
  CHECK(all.status == (16 << 1 | 1));

  // With ACPI on, the devices are in the DSDT only: a kernel never sees them twice.
  auto with_acpi = boot("virtio_devices.pvh.elf", "console=ttyS0", {"path=" + a.path()});
  CHECK(with_acpi.out.find("virtio-mmio: base=") == std::string::npos);
  CHECK(with_acpi.status == kGuestExitedZero);
}

TEST_CASE("a guest writes, flushes and reads back a disk, with interrupts", "[kvm][virtio]") {
  for (const char* aio : {"io_uring", "sync"}) {
    INFO("aio=" << aio);
    TempImage image(1 << 20, 0xee);
    auto result = boot("virtio_blk.pvh.elf", "acpi=off seed=7",
                       {"path=" + image.path() + ",serial=kit-serial,aio=" + aio});
    CHECK(result.out.find("capacity: 2048 sectors") != std::string::npos);
    CHECK(result.out.find("serial: kit-serial") != std::string::npos);
    CHECK(result.out.find("virtio-blk: ok") != std::string::npos);
    CHECK(result.status == kGuestExitedZero);
    std::vector<uint8_t> contents = image.contents();
    REQUIRE(contents.size() == 1 << 20);
    CHECK(image_holds_pattern(contents, 7));
    // Nothing past what the guest wrote changed.
    CHECK(contents[kTestSectors * kSectorBytes] == 0xee);
    CHECK(contents.back() == 0xee);
  }
}

TEST_CASE("where io_uring is refused, disks fall back to synchronous I/O", "[kvm][virtio]") {
  TempImage image(1 << 20);
  auto result = boot("virtio_blk.pvh.elf", "acpi=off seed=3", {"path=" + image.path()},
                     {WITHOUT_IO_URING, kWisp});
  CHECK(result.err.find("using synchronous I/O instead") != std::string::npos);
  CHECK(result.out.find("virtio-blk: ok") != std::string::npos);
  CHECK(result.status == kGuestExitedZero);
  CHECK(image_holds_pattern(image.contents(), 3));
}

TEST_CASE("a read-only disk refuses the guest's writes and is unchanged", "[kvm][virtio]") {
  TempImage image(1 << 20, 0x5a);
  auto result =
      boot("virtio_blk.pvh.elf", "acpi=off seed=9", {"path=" + image.path() + ",readonly=on"});
  CHECK(result.out.find("virtio-blk: ok") == std::string::npos);
  CHECK(result.status != kGuestExitedZero);
  CHECK(image.contents() == std::vector<uint8_t>(1 << 20, 0x5a));
}

TEST_CASE("bad disks are refused before the guest starts", "[kvm][virtio]") {
  TempImage odd(1000);
  auto not_sectors = boot("hello.pvh.elf", "", {"path=" + odd.path()});
  CHECK(not_sectors.status == 10);
  CHECK(not_sectors.err.find("not a whole number of 512-byte sectors") != std::string::npos);

  auto missing = boot("hello.pvh.elf", "", {"path=/nonexistent/disk.img"});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("/nonexistent/disk.img") != std::string::npos);

  TempImage image(1 << 20);
  auto unknown_key = boot("hello.pvh.elf", "", {"path=" + image.path() + ",speed=fast"});
  CHECK(unknown_key.status == 2);
  CHECK(unknown_key.err.find("unknown key 'speed'") != std::string::npos);

  std::vector<std::string> seventeen(17, "path=" + image.path() + ",readonly=on");
  auto too_many = boot("hello.pvh.elf", "", seventeen);
  CHECK(too_many.status == 2);
  CHECK(too_many.err.find("17 disks are more than the 16") != std::string::npos);

  // The same image twice in one VM, writable: refused at once, by name.
  auto twice = boot("hello.pvh.elf", "", {"path=" + image.path(), "path=" + image.path()});
  CHECK(twice.status == 2);
  CHECK(twice.err.find("are the same file, and a writable disk cannot share it") !=
        std::string::npos);
}

TEST_CASE("an image another VMM has open for writing is refused", "[kvm][virtio]") {
  TempImage image(1 << 20);
  // The first wisp holds the image (its lock) while the second tries to open it.
  const char* script = R"script(
out=$(mktemp)
"$1" run --kernel "$2" --disk "path=$4" >"$out" 2>&1 &
first=$!
i=0
until grep -q spinning "$out" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
"$1" run --kernel "$3" --disk "path=$4"
echo "second status $?"
kill $first
wait $first
rm -f "$out"
)script";
  auto result = run_process({"sh", "-c", script, "sh", kWisp, kit_guest("spin.pvh.elf"),
                             kit_guest("hello.pvh.elf"), image.path()},
                            "", kTimeout);
  INFO("stdout: " << result.out << " stderr: " << result.err);
  CHECK(result.out.find("second status 10") != std::string::npos);
  CHECK(result.err.find("is in use: another open of it holds a conflicting lock") !=
        std::string::npos);
}
