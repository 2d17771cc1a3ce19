// wisp run --jail: the VMM runs as another uid without capabilities, in namespaces and a cgroup
// of its own, sees only the VM's files, and leaves nothing behind.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::read_file;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;
constexpr uid_t kNobody = 65534;
constexpr int kGuestExitedZero = 1;  // debug-exit 0

// Starts the jailed wisp ("$@"), waits for the guest's first line, prints what the jailed VMM
// (the supervisor's child) looks like from outside, stops it with signal $STOP (sent to the
// supervisor, or with STOP_VMM=1 to the VMM itself) and prints the status and what is left.
const char* kInspectJail = R"script(
out=$(mktemp)
"$@" >"$out" 2>&1 &
pid=$!
i=0
until grep -q spinning "$out" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
vmm=$(tr -d ' ' < /proc/$pid/task/$pid/children)
grep -E '^(Uid|Gid|CapEff|CapPrm|CapBnd|NoNewPrivs|NSpid):' /proc/$vmm/status | tr '\t' ' '
for ns in mnt pid ipc uts net cgroup; do
  [ "$(readlink /proc/$vmm/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] || echo "own $ns namespace"
done
echo "hostname $(nsenter -t $vmm -u hostname)"
memory=$(grep -E '^[0-9]+:(memory)?:' /proc/$vmm/cgroup | grep -v '::' | cut -d: -f3)
[ -n "$memory" ] || memory=$(grep '^0::' /proc/$vmm/cgroup | cut -d: -f3)
for limit in /sys/fs/cgroup/memory$memory/memory.limit_in_bytes \
             /sys/fs/cgroup$memory/memory.max /sys/fs/cgroup/unified$memory/memory.max; do
  [ -f "$limit" ] && echo "memory limit $(cat "$limit")"
done
(cd /proc/$vmm/root && find . -path ./proc -prune -print -o -print | sort | sed 's/^/in jail: /')
if [ -n "$STOP_VMM" ]; then kill -$STOP $vmm; else kill -$STOP $pid; fi
wait $pid
echo "status $?"
for leftover in /sys/fs/cgroup/memory$memory /sys/fs/cgroup$memory /sys/fs/cgroup/unified$memory; do
  [ -d "$leftover" ] && echo "cgroup left: $leftover"
done
cat "$out" >&2
rm -f "$out"
)script";

std::string make_directory() {
  char path[] = "/tmp/wisp-jail-XXXXXX";
  REQUIRE(::mkdtemp(path) != nullptr);
  REQUIRE(::chmod(path, 0755) == 0);  // the jailed uid must be able to enter its root
  return path;
}

bool is_empty_directory(const std::string& path) {
  return std::filesystem::is_directory(path) && std::filesystem::is_empty(path);
}

std::string inspect(const std::string& jail, const std::string& stop, bool stop_vmm) {
  std::string script = std::string("STOP=") + stop + (stop_vmm ? " STOP_VMM=1" : "") + "\n";
  auto result = run_process({"sh", "-c", script + kInspectJail, "sh", kWisp, "run", "--kernel",
                             kit_guest("spin.pvh.elf"), "--memory", "64M", "--jail", jail, "--uid",
                             std::to_string(kNobody), "--cgroup", "memory=96M,cpu=1,pids=64"},
                            "", kTimeout);
  UNSCOPED_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  return result.out;
}

// What follows `prefix` on each line that starts with it, sorted.
std::vector<std::string> lines_after(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with(prefix)) found.push_back(line.substr(prefix.size()));
  std::sort(found.begin(), found.end());
  return found;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("a jailed VMM has no privileges, namespaces of its own and only the VM's files",
          "[kvm][jail]") {
  std::string jail = make_directory();
  std::string out = inspect(jail, "TERM", false);
  CHECK(has_line(out, "Uid: 65534 65534 65534 65534"));
  CHECK(has_line(out, "Gid: 65534 65534 65534 65534"));
  CHECK(has_line(out, "CapEff: 0000000000000000"));
  CHECK(has_line(out, "CapPrm: 0000000000000000"));
  CHECK(has_line(out, "CapBnd: 0000000000000000"));
  CHECK(has_line(out, "NoNewPrivs: 1"));
  std::vector<std::string> pids = lines_after(out, "NSpid: ");
  REQUIRE(pids.size() == 1);
  CHECK(pids[0].ends_with(" 1"));  // PID 1 in a namespace of its own
  for (const char* ns : {"mnt", "pid", "ipc", "uts", "net", "cgroup"})
    CHECK(has_line(out, std::string("own ") + ns + " namespace"));
  CHECK(has_line(out, "hostname wisp"));
  CHECK(has_line(out, "memory limit 100663296"));

  // The root: /dev with its own kvm node, /proc, and the kernel at its own path.
  std::vector<std::string> want = {".", "./dev", "./dev/kvm", "./proc"};
  std::filesystem::path kernel = kit_guest("spin.pvh.elf");
  for (auto path = kernel; path != "/"; path = path.parent_path())
    want.push_back("." + path.string());
  std::sort(want.begin(), want.end());
  CHECK(lines_after(out, "in jail: ") == want);

  CHECK(has_line(out, "status 12"));  // SIGTERM, passed on by the supervisor
  CHECK(out.find("cgroup left") == std::string::npos);
  CHECK(is_empty_directory(jail));
  ::rmdir(jail.c_str());
}

TEST_CASE("a jailed VMM that is killed still has its jail removed", "[kvm][jail]") {
  std::string jail = make_directory();
  std::string out = inspect(jail, "KILL", true);
  CHECK(has_line(out, "status 10"));
  CHECK(out.find("cgroup left") == std::string::npos);
  CHECK(is_empty_directory(jail));
  ::rmdir(jail.c_str());
}

TEST_CASE("a jailed guest writes its disk and its serial log", "[kvm][jail]") {
  std::string jail = make_directory();
  char disk[] = "/tmp/wisp-jail-disk-XXXXXX";
  int fd = ::mkstemp(disk);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 1 << 20) == 0);
  REQUIRE(::fchown(fd, kNobody, kNobody) == 0);
  ::close(fd);
  std::string log = jail + "-serial.log";  // made by the jail, for the jailed uid

  auto result = run_process(
      {kWisp, "run", "--kernel", kit_guest("virtio_blk.pvh.elf"), "--cmdline", "acpi=off seed=5",
       "--memory", "64M", "--disk", std::string("path=") + disk, "--serial", "file=" + log,
       "--jail", jail, "--uid", std::to_string(kNobody), "--timeout", "30", "-vv"},
      "", kTimeout);
  INFO("stderr: " << result.err);
  CHECK(result.status == kGuestExitedZero);
  CHECK(read_file(log).find("virtio-blk: ok") != std::string::npos);
  // The VM and its vCPU: torn down by the supervisor's helper, out of the VMM's PID namespace.
  CHECK(result.err.find("the VM's teardown (2 descriptors) is handed off outside its PID") !=
        std::string::npos);
  struct stat status {};
  REQUIRE(::stat(log.c_str(), &status) == 0);
  CHECK(status.st_uid == kNobody);
  std::string image = read_file(disk);
  REQUIRE(image.size() == 1 << 20);
  uint64_t first_word = 0;
  std::memcpy(&first_word, image.data(), sizeof(first_word));
  CHECK(first_word == uint64_t{5} << 32);  // the guest's pattern, sector 0 word 0
  CHECK(is_empty_directory(jail));
  ::unlink(disk);
  ::unlink(log.c_str());
  ::rmdir(jail.c_str());
}

TEST_CASE("a disk the jailed uid may not write is refused with its path", "[kvm][jail]") {
  std::string jail = make_directory();
  char disk[] = "/tmp/wisp-jail-disk-XXXXXX";
  int fd = ::mkstemp(disk);  // root's, mode 0600
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 1 << 20) == 0);
  ::close(fd);
  auto result = run_process({kWisp, "run", "--kernel", kit_guest("virtio_blk.pvh.elf"), "--disk",
                             std::string("path=") + disk, "--jail", jail, "--uid",
                             std::to_string(kNobody), "--timeout", "30"},
                            "", kTimeout);
  INFO("stderr: " << result.err);
  CHECK(result.status == 10);
  CHECK(result.err.find(disk) != std::string::npos);
  CHECK(result.err.find("Permission denied") != std::string::npos);
  CHECK(is_empty_directory(jail));
  ::unlink(disk);
  ::rmdir(jail.c_str());
}
