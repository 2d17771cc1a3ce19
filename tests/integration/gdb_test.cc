// wisp run --gdb: Debian's gdb debugs a kit guest through Wisp's stub (a hardware breakpoint, a
// variable, a step, detach), and the stub's protocol answers a client directly (threads,
// registers, memory, breakpoint slots, Ctrl-C, kill). Watchpoints and software breakpoints need
// hardware KVM (PVM emulates the guest's kernel-mode code and checks neither): the Linux check
// `gdb` has them.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;

std::string socket_path(const char* name) {
  return "/tmp/wisp-gdb-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

// Starts wisp ("$@") with its gdb socket at $SOCKET, runs gdb's commands ($COMMANDS) against the
// guest's ELF ($ELF) once the socket is there, then prints wisp's output and status.
const char* kDebugSession = R"script(
out=$(mktemp)
"$@" >"$out" 2>&1 &
pid=$!
i=0
until [ -S "$SOCKET" ] || [ $i -ge 300 ]; do sleep 0.05; i=$((i + 1)); done
printf '%s\n' "$COMMANDS" >"$out.gdb"
gdb -nx -batch -ex 'set pagination off' -ex "target remote $SOCKET" -x "$out.gdb" "$ELF" 2>&1
wait $pid
echo "wisp status $?"
sed 's/^/wisp: /' "$out"
rm -f "$out" "$out.gdb"
)script";

std::string hex(const std::string& text) {
  std::string digits;
  for (unsigned char c : text) {
    char pair[3];
    std::snprintf(pair, sizeof(pair), "%02x", c);
    digits += pair;
  }
  return digits;
}

// A client of the remote protocol: sends a packet, returns the reply's payload.
class RemoteClient {
 public:
  explicit RemoteClient(const std::string& path) {
    for (int tries = 0; tries < 300 && fd_ < 0; ++tries) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        fd_ = fd;
      } else {
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  ~RemoteClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  std::string exchange(const std::string& payload) {
    send_raw(frame(payload));
    return receive();
  }
  void send_raw(const std::string& bytes) {
    REQUIRE(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  }
  // The next packet's payload ("" after 10 s without one); acknowledges it.
  std::string receive() {
    std::string packet;
    bool inside = false;
    int checksum_digits = -1;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd peer{fd_, POLLIN, 0};
      if (::poll(&peer, 1, 100) <= 0) continue;
      char c;
      if (::read(fd_, &c, 1) != 1) return "";
      if (!inside) {
        inside = c == '$';
        continue;
      }
      if (checksum_digits >= 0) {
        if (++checksum_digits == 2) {
          send_raw("+");
          return packet;
        }
        continue;
      }
      if (c == '#') {
        checksum_digits = 0;
      } else {
        packet.push_back(c);
      }
    }
    return "";
  }

 private:
  static std::string frame(const std::string& payload) {
    unsigned sum = 0;
    for (char c : payload) sum += static_cast<uint8_t>(c);
    char digits[3];
    std::snprintf(digits, sizeof(digits), "%02x", sum & 0xff);
    return "$" + payload + "#" + digits;
  }
  int fd_ = -1;
};

}  // namespace

TEST_CASE("gdb stops a kit guest at a breakpoint, reads, steps and detaches",
          "[kvm][gdb]") {
  std::string socket = socket_path("session");
  std::string elf = kit_guest("debuggee.elf64.elf");
  std::string commands =
      "hbreak tick\n"
      "continue\n"
      "print counter\n"
      "print step\n"
      "stepi\n"
      "info threads\n"
      "continue\n"
      "print counter\n"
      "delete\n"
      "detach\n";
  auto result = run_process({"env", "SOCKET=" + socket, "ELF=" + elf, "COMMANDS=" + commands, "sh",
                             "-c", kDebugSession, "sh", kWisp, "run", "--kernel", elf, "--gdb",
                             "unix:" + socket, "--gdb-wait", "--timeout", "50"},
                            "", kTimeout);
  INFO("output: " << result.out << "\nstderr: " << result.err);
  // The guest waited for gdb before its first instruction.
  CHECK(result.out.find("kit_long_start ()") != std::string::npos);
  CHECK(result.out.find("Breakpoint 1, tick (step=step@entry=0)") != std::string::npos);
  CHECK(result.out.find("$1 = 0") != std::string::npos);  // counter
  CHECK(result.out.find("$2 = 0") != std::string::npos);  // step
  CHECK(result.out.find("Thread 1 (vCPU 0) ") != std::string::npos);
  // The breakpoint again, at the next call: tick(0) added its 0 meanwhile.
  CHECK(result.out.find("Breakpoint 1, tick (step=step@entry=1)") != std::string::npos);
  CHECK(result.out.find("$3 = 0") != std::string::npos);
  CHECK(result.out.find("[Inferior 1 (Remote target) detached]") != std::string::npos);
  // Let go, the guest ran to its end; the socket is gone with wisp.
  CHECK(result.out.find("wisp: debuggee: counter 10") != std::string::npos);
  CHECK(result.out.find("wisp status 1") != std::string::npos);
  CHECK(::access(socket.c_str(), F_OK) != 0);
}

TEST_CASE("the gdb stub: threads, registers, memory, Ctrl-C and kill", "[kvm][gdb]") {
  std::string socket = socket_path("protocol");
  std::string script = "\"$@\" 2>&1; echo \"wisp status $?\"";
  std::string output;
  std::thread wisp([&] {
    output =
        run_process({"sh", "-c", script, "sh", kWisp, "run", "--kernel", kit_guest("spin.pvh.elf"),
                     "--cpus", "2", "--gdb", "unix:" + socket, "--timeout", "50"},
                    "", kTimeout)
            .out;
  });
  {
    RemoteClient gdb(socket);
    REQUIRE(gdb.connected());
    CHECK(gdb.exchange("qSupported:multiprocess+;hwbreak+").find("qXfer:features:read+") !=
          std::string::npos);
    // Connecting stopped the guest wherever it was: on vCPU 0, a trap.
    CHECK(gdb.exchange("?") == "T05thread:1;");
    CHECK(gdb.exchange("qfThreadInfo") == "m1,2");
    CHECK(gdb.exchange("qsThreadInfo") == "l");
    CHECK(gdb.exchange("qXfer:features:read:target.xml:0,40").rfind("m<?xml", 0) == 0);
    CHECK(gdb.exchange("g").size() == 600 * 2);
    // The guest's first bytes at 1 MiB, physically; then an address nothing maps.
    CHECK(gdb.exchange("qRcmd," + hex("phys on")) ==
          "O" + hex("memory addresses are guest-physical\n"));
    CHECK(gdb.receive() == "OK");
    CHECK(gdb.exchange("m100000,4").size() == 8);
    CHECK(gdb.exchange("m10000000000,4") == "E14");
    CHECK(gdb.exchange("Z1,100000,1") == "OK");
    CHECK(gdb.exchange("z1,100000,1") == "OK");
    CHECK(gdb.exchange("Z2,100001,4") == "E01");  // a watchpoint must be aligned
    // Running, then Ctrl-C: every vCPU stops and gdb hears SIGINT.
    gdb.send_raw("$vCont;c#a8");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gdb.send_raw("\x03");
    CHECK(gdb.receive().rfind("T02thread:", 0) == 0);
    CHECK(gdb.exchange("Hg2") == "OK");
    CHECK(gdb.exchange("qC") == "QC2");
    gdb.send_raw("$k#6b");
  }
  wisp.join();
  INFO("wisp: " << output);
  CHECK(output.find("gdb killed the guest") != std::string::npos);
  CHECK(output.find("wisp status 12") != std::string::npos);
}

TEST_CASE("the values of --gdb and --gdb-wait are checked", "[cli]") {
  for (const char* bad : {"tcp", "tcp:port", "tcp:1.2.3:80", "tcp:70000", "serial:/dev/ttyS0"}) {
    auto result = run_process({kWisp, "run", "--kernel", kit_guest("hello.pvh.elf"), "--gdb", bad},
                              "", kTimeout);
    INFO(bad << ": " << result.err);
    CHECK(result.status == 2);
    CHECK(result.err.find("--gdb") != std::string::npos);
  }
  auto wait_alone =
      run_process({kWisp, "run", "--kernel", kit_guest("hello.pvh.elf"), "--gdb-wait"}, "", 30);
  CHECK(wait_alone.status == 2);
  CHECK(wait_alone.err.find("--gdb-wait requires --gdb") != std::string::npos);
}
