// wisp --api-sock: a kit guest configured, started, paused, resumed and stopped through the API
// socket with `wisp ctl` as the client; the socket's life; malformed clients.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::read_file;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;

std::string temp_path(const std::string& name) {
  return "/tmp/wisp-api-" + std::to_string(::getpid()) + "-" + name;
}

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 400; ++i) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

wisp::test::ProcessResult ctl(const std::string& socket, std::vector<std::string> arguments) {
  std::vector<std::string> argv{kWisp, "ctl", "--api-sock", socket};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return run_process(argv, "", kTimeout);
}

size_t count_lines(const std::string& path) {
  std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Wisp serving the API at `socket` on a thread of the test, its console in `console`.
class ApiWisp {
 public:
  ApiWisp(const std::string& socket, const std::string& console,
          std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"sh",  "-c",  "\"$@\" >\"$CONSOLE\"; echo \"wisp status $?\"",
                                  "sh",  kWisp, "--api-sock",
                                  socket};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.begin(), {"env", "CONSOLE=" + console});
    thread_ = std::thread([this, argv] { result_ = run_process(argv, "", kTimeout); });
  }
  ~ApiWisp() {
    if (thread_.joinable()) thread_.join();
  }
  const wisp::test::ProcessResult& finish() {
    thread_.join();
    return result_;
  }

 private:
  std::thread thread_;
  wisp::test::ProcessResult result_;
};

// One raw exchange on the socket: what the server answers to `bytes` before it closes.
std::string raw_exchange(const std::string& socket_path, const std::string& bytes) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socket_path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string answer;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buffer[4096];
    ssize_t count;
    while ((count = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, count);
  }
  ::close(fd);
  return answer;
}

}  // namespace

TEST_CASE("the API configures, starts, pauses, resumes and stops a kit guest", "[kvm][api]") {
  std::string socket = temp_path("run.sock"), console = temp_path("run.console");
  ApiWisp wisp(socket, console, {"--id", "kit-1"});
  REQUIRE(wait_for_file(socket));
  CHECK(ctl(socket, {"info"}).out.find("\"state\": \"Not started\"") != std::string::npos);
  CHECK(
      ctl(socket, {"request", "PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 64})"})
          .status == 0);
  CHECK(ctl(socket, {"request", "PUT", "/boot-source",
                     R"({"kernel_image_path": ")" + kit_guest("spin.elf64.elf") +
                         R"(", "boot_args": "tick=20"})"})
            .status == 0);
  auto refused = ctl(socket, {"pause"});
  CHECK(refused.status == 1);
  CHECK(refused.err.find("not supported before starting the microVM") != std::string::npos);
  CHECK(ctl(socket, {"start"}).status == 0);
  auto info = ctl(socket, {"info"});
  CHECK(info.out.find("\"state\": \"Running\"") != std::string::npos);
  CHECK(info.out.find("\"id\": \"kit-1\"") != std::string::npos);

  // The guest ticks every 20 ms while it runs, and not at all while it is paused.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(ctl(socket, {"pause"}).status == 0);
  CHECK(ctl(socket, {"info"}).out.find("\"state\": \"Paused\"") != std::string::npos);
  size_t paused_at = count_lines(console);
  CHECK(paused_at > 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(count_lines(console) == paused_at);
  CHECK(ctl(socket, {"resume"}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(count_lines(console) > paused_at + 2);

  CHECK(ctl(socket, {"request", "PUT", "/boot-source", "{}"})
            .err.find("not supported after starting the microVM") != std::string::npos);
  CHECK(ctl(socket, {"stop"}).status == 0);
  const auto& result = wisp.finish();
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.out.find("wisp status 12") != std::string::npos);  // as for SIGTERM
  CHECK(::access(socket.c_str(), F_OK) != 0);
  CHECK(read_file(console).find("tick 0\n") == 0);
  ::unlink(console.c_str());
}

TEST_CASE("the API socket survives malformed clients and serves the next", "[kvm][api]") {
  std::string socket = temp_path("bad.sock"), console = temp_path("bad.console");
  ApiWisp wisp(socket, console);
  REQUIRE(wait_for_file(socket));
  // A client that connects and says nothing does not hold the others up.
  int silent = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socket.copy(address.sun_path, sizeof(address.sun_path) - 1);
  REQUIRE(::connect(silent, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);

  std::string garbage = raw_exchange(socket, "\x16\x03\x01\x02\x01 not http\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(garbage.find("not an HTTP/1.1 request") != std::string::npos);
  std::string huge =
      raw_exchange(socket, "PUT /boot-source HTTP/1.1\r\nContent-Length: 999999\r\n\r\n");
  CHECK(huge.find("larger than the limit of 51200") != std::string::npos);
  // Two requests in one write: two answers, in order, then the close the second asked for.
  std::string pipelined = raw_exchange(
      socket, "GET /version HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  size_t first = pipelined.find("firecracker_version");
  size_t second = pipelined.find("\"state\":\"Not started\"");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
  CHECK(ctl(socket, {"info"}).status == 0);
  ::close(silent);

  // A stop signal before InstanceStart ends Wisp and removes the socket.
  CHECK(run_process({"pkill", "-TERM", "-f", "^" + kWisp + " --api-sock " + socket}, "", kTimeout)
            .status == 0);
  const auto& result = wisp.finish();
  CHECK(result.out.find("wisp status 12") != std::string::npos);
  CHECK(::access(socket.c_str(), F_OK) != 0);
  ::unlink(console.c_str());
}

TEST_CASE("the API with --config-file starts at once, and a taken socket path is refused",
          "[kvm][api]") {
  std::string socket = temp_path("file.sock"), console = temp_path("file.console");
  std::string file = temp_path("fc.json");
  {
    std::ofstream(file) << R"({"boot-source": {"kernel_image_path": ")" +
                               kit_guest("spin.elf64.elf") + R"(", "boot_args": "tick=50"}})";
  }
  ApiWisp wisp(socket, console, {"--config-file", file, "--no-seccomp"});
  REQUIRE(wait_for_file(socket));
  CHECK(ctl(socket, {"info"}).out.find("\"state\": \"Running\"") != std::string::npos);
  // --no-seccomp holds for the VM the API built: no thread of it has a filter.
  auto pid = run_process({"pgrep", "-f", "^" + kWisp + " --api-sock " + socket}, "", kTimeout);
  REQUIRE(pid.status == 0);
  std::string filters = run_process({"sh", "-c", "grep -h '^Seccomp:' /proc/$0/task/*/status",
                                     pid.out.substr(0, pid.out.find('\n'))},
                                    "", kTimeout)
                            .out;
  CHECK(filters.find("Seccomp:\t0") != std::string::npos);
  CHECK(filters.find("Seccomp:\t2") == std::string::npos);
  // A second Wisp on the same path gets a usage error, and the first keeps its socket.
  auto second = run_process({kWisp, "--api-sock", socket}, "", kTimeout);
  CHECK(second.status == 2);
  CHECK(second.err.find("the file exists") != std::string::npos);
  CHECK(ctl(socket, {"stop"}).status == 0);
  CHECK(wisp.finish().out.find("wisp status 12") != std::string::npos);
  ::unlink(file.c_str());
  ::unlink(console.c_str());
}
