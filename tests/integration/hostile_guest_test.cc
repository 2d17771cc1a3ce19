// The hostile-guest suite: the kit guest guest/kit/guests/hostile.c runs one attack on Wisp per
// boot (broken descriptor chains and rings, buffers outside RAM, bad queue setup, resets with I/O
// in flight, register and port accesses of every width, floods of output and exits), then checks
// that Wisp and the disk still work. Wisp must stay up, report the guest's own exit, touch nothing
// outside guest memory (the ASan/UBSan build runs these tests too) and keep its warnings about
// the guest rate-limited.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>
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

constexpr int kProcessTimeout = 60;  // seconds; Wisp's own --timeout is 30
constexpr int kGuestExitedZero = 1;  // debug-exit value 0: the liveness check passed
constexpr size_t kMaxStderrLines = 64;
constexpr uint64_t kImageBytes = 1 << 20;

struct Attack {
  const char* name;
  bool read_only_disk;
};

// Every attack of guest/kit/guests/hostile.c (see guest/kit/README.md for what each one does).
constexpr Attack kAttacks[] = {
    {"desc_loop", false},
    {"long_chain", false},
    {"indirect_in_indirect", false},
    {"indirect_bad_length", false},
    {"buffer_past_ram", false},
    {"buffer_in_mmio_hole", false},
    {"buffer_wraps", false},
    {"huge_length", false},
    {"avail_index_jump", false},
    {"bad_head", false},
    {"queue_size_zero", false},
    {"queue_size_huge", false},
    {"notify_unknown_queue", false},
    {"reset_mid_request", false},
    {"head_reused_in_flight", false},
    {"readonly_write", true},
    {"status_not_writable", false},
    {"used_ring_outside", false},
    {"ring_in_mmio", false},
    {"live_queue_change", false},
    {"driver_ok_without_features_ok", false},
    {"status_garbage", false},
    {"config_every_width", false},
    {"ports_every_width", false},
    {"mmio_unassigned", false},
    {"uart_flood", false},
    {"exit_storm", false},
};

// A 1 MiB image that starts with "WISPDISK" (what the liveness check reads back), with a
// pattern after it.
std::vector<uint8_t> disk_bytes() {
  std::vector<uint8_t> data(kImageBytes);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  std::copy_n("WISPDISK", 8, data.begin());
  return data;
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("Wisp survives every attack of the hostile guest", "[kvm][hostile]") {
  const Attack& attack = GENERATE(from_range(std::begin(kAttacks), std::end(kAttacks)));
  INFO("attack=" << attack.name);
  TempImage image(disk_bytes());
  std::vector<uint8_t> before = image.contents();
  std::string disk = "path=" + image.path() + (attack.read_only_disk ? ",readonly=on" : "");
  auto result = run_process(
      {kWisp, "run", "--memory", "64M", "--timeout", "30", "--kernel", kit_guest("hostile.pvh.elf"),
       "--cmdline", std::string("acpi=off attack=") + attack.name, "--disk", disk},
      "", kProcessTimeout);
  // The flood's output is long: show its end, and all of stderr.
  size_t shown = std::min<size_t>(result.out.size(), 4096);
  INFO("stdout (last " << shown << " bytes): " << result.out.substr(result.out.size() - shown));
  INFO("stderr: " << result.err);

  CHECK_FALSE(result.timed_out);
  CHECK(result.status == kGuestExitedZero);
  CHECK(result.out.find(std::string("hostile: ") + attack.name + ": survived") !=
        std::string::npos);
  CHECK(result.out.find("FAILED") == std::string::npos);
  CHECK(result.err.find("AddressSanitizer") == std::string::npos);
  CHECK(result.err.find("runtime error") == std::string::npos);
  CHECK(count_lines(result.err) < kMaxStderrLines);
  // No attack writes to the disk: readonly_write's OUT request must fail on the read-only disk,
  // and the others only read (or break the ring before anything is done).
  CHECK(image.contents() == before);
}
