// virtio-net on the host's /dev/kvm: the virtio_net kit guest (guest/kit/guests/virtio_net.c)
// resolves the host's address with ARP and pings it across a TAP, whose other side is the host
// kernel. Every test that touches a network device runs in a private network namespace
// (`unshare --net`, in a user namespace too when not root), so nothing on the host's network
// changes; a test that cannot set one up fails.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::ProcessResult;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;
constexpr int kGuestExitedZero = 1;  // debug-exit value 0
const std::string kPingCmdline = "acpi=off ip=10.0.2.2 host=10.0.2.1";
// The TAP with the host's address, up, for the guest to ping.
const std::string kMakeTap =
    "ip tuntap add wt0 mode tap && ip addr add 10.0.2.1/24 dev wt0 && ip link set wt0 up";
const std::string kMakeMultiQueueTap =
    "ip tuntap add wt0 mode tap multi_queue && ip addr add 10.0.2.1/24 dev wt0 && "
    "ip link set wt0 up";
// Runs the command ("$@"), then says whether wt0 is still there, and exits with its status.
const std::string kRunThenLookForTap =
    "\"$@\"; status=$?; if ip link show wt0 >/dev/null 2>&1; then echo 'tap: still there'; "
    "else echo 'tap: gone'; fi; exit $status";

// `wisp run` booting a kit guest with the given --net options.
std::vector<std::string> wisp_run(const std::string& guest, const std::string& cmdline,
                                  const std::vector<std::string>& nets,
                                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {
      kWisp, "run",      "--memory",       "64M",       "--serial", "stdio", "--timeout",
      "30",  "--kernel", kit_guest(guest), "--cmdline", cmdline};
  for (const std::string& net : nets) {
    argv.push_back("--net");
    argv.push_back(net);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Runs `script` with sh in a new network namespace, `args` as its "$@".
ProcessResult in_network_namespace(const std::string& script,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"unshare"};
  if (::geteuid() != 0) {
    // Root in a user namespace of its own: CAP_NET_ADMIN over the new network namespace.
    argv.push_back("--user");
    argv.push_back("--map-root-user");
  }
  for (const char* word : {"--net", "sh", "-c"}) argv.push_back(word);
  argv.push_back(script);
  argv.push_back("sh");  // $0
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, "", kTimeout);
  UNSCOPED_INFO("script: " << script << "\nstatus: " << result.status << "\nstdout: " << result.out
                           << "\nstderr: " << result.err);
  return result;
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

// CSUM, GUEST_CSUM, GUEST_TSO4 to HOST_UFO (bits 7-14), GUEST_USO4, GUEST_USO6, HOST_USO.
constexpr uint64_t kOffloadFeatures = 0x3 | 0x7f80 | 0x7ull << 54;

// What the guest printed as "device features 0x...", 0 when it did not.
uint64_t device_features(const std::string& out) {
  size_t at = out.find("device features 0x");
  if (at == std::string::npos) return 0;
  return std::stoull(out.substr(at + 18), nullptr, 16);
}

void check_pinged(const ProcessResult& result) {
  CHECK_FALSE(result.timed_out);
  CHECK(has(result.out, "arp: host at "));
  CHECK(has(result.out, "ping: 1000 bytes from the host: seq 4"));
  CHECK(has(result.out, "ping: 1400 bytes from the host: seq 5"));
  CHECK(has(result.out, "virtio-net: ok"));
  CHECK_FALSE(has(result.out, "FAILED"));
  CHECK(result.status == kGuestExitedZero);
}

}  // namespace

TEST_CASE("a guest resolves the host's address and pings it across a TAP", "[kvm][virtio-net]") {
  SECTION("mergeable receive buffers: larger frames span two") {
    check_pinged(in_network_namespace(kMakeTap + " && exec \"$@\"",
                                      wisp_run("virtio_net.pvh.elf", kPingCmdline, {"tap=wt0"})));
  }
  SECTION("one receive buffer per frame") {
    check_pinged(in_network_namespace(
        kMakeTap + " && exec \"$@\"",
        wisp_run("virtio_net.elf64.elf", kPingCmdline + " mrg_rxbuf=off", {"tap=wt0"})));
  }
  SECTION("a multiqueue NIC whose guest uses the first pair only") {
    // The second queue of the TAP stays detached until the driver asks for it (it never does):
    // the host's replies must all come to the first.
    check_pinged(in_network_namespace(
        kMakeMultiQueueTap + " && exec \"$@\"",
        wisp_run("virtio_net.pvh.elf", kPingCmdline, {"tap=wt0,queues=2"}, {"--cpus", "2"})));
  }
}

TEST_CASE("a guest without receive buffers is flooded, then takes what waited",
          "[kvm][virtio-net]") {
  // The guest posts no receive buffer for 5 s while the host sends it UDP datagrams for 1 s, far
  // more than the TAP's queue holds: the device must stop reading (no busy loop on a
  // readable TAP, no unbounded buffering), then pass on what waited, whole and in order.
  const std::string script =
      "flood=$1; shift; " + kMakeTap +
      " && ip neigh add 10.0.2.2 lladdr 02:11:22:33:44:55 dev wt0 nud permanent || exit 99\n"
      "\"$@\" & wisp=$!\n"
      "tries=0\n"
      "while [ \"$(cat /sys/class/net/wt0/carrier 2>/dev/null)\" != 1 ] && [ $tries -lt 500 ]; do\n"
      "  tries=$((tries + 1)); sleep 0.01\n"
      "done\n"
      "\"$flood\" 10.0.2.2 1000\n"
      "for task in /proc/$wisp/task/*; do\n"
      "  [ \"$(cat $task/comm)\" = wisp-net0 ] && "
      "echo \"net thread ticks: $(cut -d' ' -f14,15 $task/stat)\"\n"
      "done\n"
      "wait $wisp";
  std::vector<std::string> args = {UDP_FLOOD};
  auto run = wisp_run("virtio_net.pvh.elf", kPingCmdline + " hold=5000",
                      {"tap=wt0,mac=02:11:22:33:44:55"});
  args.insert(args.end(), run.begin(), run.end());
  auto result = in_network_namespace(script, args);
  check_pinged(result);
  CHECK(has(result.out, "flood: 200 datagrams"));

  size_t sent_at = result.out.find("udp_flood: ");
  REQUIRE(sent_at != std::string::npos);
  CHECK(std::stoul(result.out.substr(sent_at + 11)) > 2000);
  // The device thread's CPU time so far, in clock ticks (utime and stime): a busy loop while the
  // flood waited would be about 100 (1 s at 100 Hz).
  size_t ticks_at = result.out.find("net thread ticks: ");
  REQUIRE(ticks_at != std::string::npos);
  size_t user_end = 0;
  unsigned long user = std::stoul(result.out.substr(ticks_at + 18), &user_end);
  unsigned long system = std::stoul(result.out.substr(ticks_at + 18 + user_end));
  INFO("device thread: " << user << " + " << system << " ticks");
  CHECK(user + system < 20);
}

TEST_CASE("a guest pings the host across a TAP descriptor handed over with --net fd=N",
          "[kvm][virtio-net]") {
  // tap_fd attaches to wt0 and execs wisp with the descriptor at 5.
  SECTION("with the virtio-net header (IFF_VNET_HDR)") {
    std::vector<std::string> args = {TAP_FD, "wt0", "5"};
    auto run = wisp_run("virtio_net.pvh.elf", kPingCmdline, {"fd=5"});
    args.insert(args.end(), run.begin(), run.end());
    auto result = in_network_namespace(kMakeTap + " && exec \"$@\"", args);
    check_pinged(result);
    CHECK((device_features(result.out) & kOffloadFeatures) != 0);
  }
  SECTION("without it: no offloads, and Wisp makes up the header") {
    std::vector<std::string> args = {TAP_FD, "--no-vnet-hdr", "wt0", "5"};
    auto run = wisp_run("virtio_net.pvh.elf", kPingCmdline, {"fd=5"});
    args.insert(args.end(), run.begin(), run.end());
    auto result = in_network_namespace(kMakeTap + " && exec \"$@\"", args);
    check_pinged(result);
    // No offload is offered when the TAP cannot carry the header that describes it.
    CHECK((device_features(result.out) & kOffloadFeatures) == 0);
  }
}

TEST_CASE("wisp creates a missing TAP, up, and it goes away with wisp", "[kvm][virtio-net]") {
  auto created = in_network_namespace(
      kRunThenLookForTap, wisp_run("virtio_net.pvh.elf", "acpi=off mac=02:11:22:33:44:55",
                                   {"tap=wt0,mac=02:11:22:33:44:55"}));
  CHECK(has(created.out, "mac: 02:11:22:33:44:55"));
  CHECK(has(created.out, "virtio-net: ok"));
  CHECK(has(created.out, "tap: gone"));
  CHECK(created.status == kGuestExitedZero);

  // A TAP that was there before stays, as it was.
  auto existing = in_network_namespace(kMakeTap + " && " + kRunThenLookForTap,
                                       wisp_run("virtio_net.pvh.elf", "acpi=off", {"tap=wt0"}));
  CHECK(has(existing.out, "virtio-net: ok"));
  CHECK(has(existing.out, "tap: still there"));
  CHECK(existing.status == kGuestExitedZero);

  // Without mac=, the MAC address is derived from the TAP's name: the same every run.
  auto again = in_network_namespace(kMakeTap + " && exec \"$@\"",
                                    wisp_run("virtio_net.pvh.elf", "acpi=off", {"tap=wt0"}));
  size_t at = existing.out.find("mac: ");
  REQUIRE(at != std::string::npos);
  std::string mac = existing.out.substr(at, existing.out.find('\n', at) - at);
  CHECK(mac.size() == 5 + 17);
  CHECK(has(again.out, mac));
}

TEST_CASE("bad --net options are refused with one clear line", "[virtio-net][cli]") {
  auto refused = [](const std::vector<std::string>& nets, int status, const std::string& needle) {
    // In a namespace of its own all the same: should one pass by mistake, no TAP appears on the
    // host.
    auto result = in_network_namespace("exec \"$@\"", wisp_run("hello.pvh.elf", "", nets));
    INFO("--net " << nets.back());
    CHECK_FALSE(result.timed_out);
    CHECK(result.status == status);
    CHECK(has(result.err, needle));
    CHECK(result.out.empty());
  };
  refused({"tap="}, 2, "--net tap='': an interface name has 1 to 15 characters");
  refused({"tap=wisp-far-too-long"}, 2, "an interface name has 1 to 15 characters");
  refused({"fd=999"}, 2, "--net fd=999: Bad file descriptor");
  refused({"fd=x"}, 2, "--net fd='x' is not a file descriptor number");
  refused({"fd=2"}, 10, "--net fd=2: TUNGETIFF (is it a TAP descriptor?)");  // a pipe here
  refused({"mac=02:00:00:00:00:01"}, 2, "needs one of tap=NAME or fd=N");
  refused({"tap=wt0,fd=5"}, 2, "needs one of tap=NAME or fd=N");
  refused({"tap=wt0,mac=01:00:00:00:00:01"}, 2, "multicast");
  refused({"tap=wt0,mac=02:00"}, 2, "'02:00' is not a MAC address");
  refused({"tap=wt0,queues=0"}, 2, "--net queues='0' is not a number from 1 to 16");
  refused({"tap=wt0,speed=fast"}, 2, "unknown key 'speed'");
  refused({"tap=wt0", "tap=wt0"}, 2, "--net tap=wt0 is given twice");
  refused({"none", "tap=wt0"}, 2, "--net none cannot go with another --net");
}

TEST_CASE("a TAP that cannot serve a NIC is refused with one clear line", "[kvm][virtio-net]") {
  // wt0 is held by tap_fd (fd 5, inherited by wisp): wisp cannot attach to it.
  std::vector<std::string> busy = {TAP_FD, "wt0", "5"};
  auto run = wisp_run("hello.pvh.elf", "", {"tap=wt0"});
  busy.insert(busy.end(), run.begin(), run.end());
  auto in_use = in_network_namespace(kMakeTap + " && exec \"$@\"", busy);
  CHECK(in_use.status == 10);
  CHECK(has(in_use.err, "tap wt0: it is in use by another process"));

  std::vector<std::string> tun = {TAP_FD, "--tun", "wt1", "5"};
  run = wisp_run("hello.pvh.elf", "", {"fd=5"});
  tun.insert(tun.end(), run.begin(), run.end());
  auto not_tap = in_network_namespace("exec \"$@\"", tun);
  CHECK(not_tap.status == 10);
  CHECK(has(not_tap.err, "--net fd=5: wt1 is a TUN (layer 3) device; virtio-net needs a TAP"));

  // A multiqueue NIC on a TAP made without multi_queue.
  auto single =
      in_network_namespace(kMakeTap + " && exec \"$@\"",
                           wisp_run("hello.pvh.elf", "", {"tap=wt0,queues=2"}, {"--cpus", "2"}));
  CHECK(single.status == 10);
  CHECK(has(single.err, "it exists without multi_queue"));
}
