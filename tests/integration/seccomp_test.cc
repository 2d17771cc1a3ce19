// Every thread of a running Wisp is under a seccomp filter: the main thread, each vCPU, a disk's
// and a NIC's.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;

// Starts wisp ("$@") in a network namespace of its own, waits for the guest's first line, then
// prints each thread's name and Seccomp line and stops wisp.
const char* kListThreads = R"script(
ip link set lo up
out=$(mktemp)
"$@" >"$out" 2>&1 &
pid=$!
i=0
until grep -q spinning "$out" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
for task in /proc/$pid/task/*; do
  echo "$(cat "$task/comm") $(grep Seccomp: "$task/status" | tr -d '\t')"
done
kill $pid
wait $pid
echo "status $?"
cat "$out" >&2
rm -f "$out"
)script";

std::string thread_list(const std::string& seccomp, const std::string& disk) {
  std::vector<std::string> argv = {
      "unshare",      "--net", "sh",          "-c",       kListThreads,
      "sh",           kWisp,   "run",         "--kernel", kit_guest("spin.pvh.elf"),
      "--memory",     "64M",   "--cpus",      "2",        "--disk",
      "path=" + disk, "--net", "tap=wispsec0"};
  if (!seccomp.empty()) {
    argv.push_back("--seccomp");
    argv.push_back(seccomp);
  }
  auto result = run_process(argv, "", kTimeout);
  UNSCOPED_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  return result.out;
}

}  // namespace

TEST_CASE("every thread runs under its seccomp filter, unless --seccomp off", "[kvm][seccomp]") {
  char disk[] = "/tmp/wisp-seccomp-disk-XXXXXX";
  int fd = ::mkstemp(disk);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 1 << 20) == 0);
  ::close(fd);

  std::string on = thread_list("", disk);
  for (const char* thread : {"wisp Seccomp:2", "wisp-vcpu0 Seccomp:2", "wisp-vcpu1 Seccomp:2",
                             "wisp-blk0 Seccomp:2", "wisp-net0 Seccomp:2"})
    CHECK(on.find(thread) != std::string::npos);
  CHECK(on.find("Seccomp:0") == std::string::npos);
  CHECK(on.find("status 12") != std::string::npos);  // SIGTERM stopped it, nothing else

  std::string off = thread_list("off", disk);
  CHECK(off.find("wisp-vcpu0 Seccomp:0") != std::string::npos);
  CHECK(off.find("Seccomp:2") == std::string::npos);
  ::unlink(disk);
}
