#include "tools/bench/control_socket.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "tools/bench/process.h"

namespace wisp::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void give_up(const std::string& what) {
  fmt::print(stderr, "bench: control socket: {}\n", what);
  std::exit(1);
}

// CPU time of every thread of `pid` so far (schedstat: nanoseconds on a CPU).
double cpu_ms(pid_t pid) {
  std::string tasks = fmt::format("/proc/{}/task", pid);
  double total_ns = 0;
  DIR* dir = ::opendir(tasks.c_str());
  if (!dir) return 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream stat(tasks + "/" + entry->d_name + "/schedstat");
    double ns = 0;
    if (stat >> ns) total_ns += ns;
  }
  ::closedir(dir);
  return total_ns / 1e6;
}

// Connects to `path` once it accepts; -1 when it never does within 10 s.
int connect_when_ready(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return -1;
}

void send_text(int fd, const std::string& text) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size()))
    give_up("sending a request failed");
}

// Reads until `done` says the bytes so far are a whole answer.
std::string read_until(int fd, bool (*done)(const std::string&)) {
  std::string answer;
  char buffer[4096];
  while (!done(answer)) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) give_up("the socket closed before an answer: " + answer);
    answer.append(buffer, static_cast<size_t>(n));
  }
  return answer;
}

// An HTTP response without a body (204), or one whose Content-Length bytes are all there.
bool whole_http_response(const std::string& bytes) {
  size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  size_t length_at = bytes.find("Content-Length: ");
  if (length_at == std::string::npos || length_at > head_end) return true;
  size_t length = std::strtoul(bytes.c_str() + length_at + 16, nullptr, 10);
  return bytes.size() >= head_end + 4 + length;
}

bool whole_line(const std::string& bytes) {
  return bytes.find('\n') != std::string::npos;
}

void http(int fd, const std::string& method, const std::string& path, const std::string& body) {
  send_text(fd,
            fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                        "Content-Length: {}\r\n\r\n{}",
                        method, path, body.size(), body));
  std::string answer = read_until(fd, whole_http_response);
  if (answer.rfind("HTTP/1.1 2", 0) != 0) give_up(fmt::format("{} {}: {}", method, path, answer));
}

// A QMP exchange: the command, then lines until its return (events may come first).
void qmp(int fd, const std::string& command) {
  send_text(fd, fmt::format("{{\"execute\": \"{}\"}}\n", command));
  std::string answer;
  while (answer.find("\"return\"") == std::string::npos) {
    if (answer.find("\"error\"") != std::string::npos) give_up(command + ": " + answer);
    answer += read_until(fd, whole_line);
  }
}

}  // namespace

ControlStart measure_control_start(const std::vector<std::string>& argv,
                                   const std::string& socket_path, ControlProtocol protocol,
                                   const std::string& kernel, const std::string& cmdline,
                                   const std::string& memory_mib) {
  ::unlink(socket_path.c_str());
  ControlStart result;
  auto started = Clock::now();
  int output_fd;
  pid_t pid = spawn_with_output(argv, output_fd);
  int control = connect_when_ready(socket_path);
  result.socket_ms = ms_since(started);
  result.socket_cpu_ms = cpu_ms(pid);
  if (control < 0) give_up(argv[0] + ": the socket never accepted");

  Clock::time_point start_sent;
  if (protocol == ControlProtocol::kFirecrackerApi) {
    http(control, "PUT", "/machine-config",
         fmt::format(R"({{"vcpu_count": 1, "mem_size_mib": {}}})", memory_mib));
    http(control, "PUT", "/boot-source",
         fmt::format(R"({{"kernel_image_path": "{}", "boot_args": "{}"}})", kernel, cmdline));
    start_sent = Clock::now();
    http(control, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
  } else {
    read_until(control, whole_line);  // the greeting
    qmp(control, "qmp_capabilities");
    start_sent = Clock::now();
    qmp(control, "cont");
  }
  std::string output;
  char buffer[4096];
  ssize_t n;
  while (!whole_line(output) && (n = ::read(output_fd, buffer, sizeof(buffer))) > 0)
    output.append(buffer, static_cast<size_t>(n));
  result.start_to_line_ms = ms_since(start_sent);
  while (::read(output_fd, buffer, sizeof(buffer)) > 0) {
  }
  ::close(output_fd);
  ::close(control);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!whole_line(output)) give_up(argv[0] + " printed no line");
  ::unlink(socket_path.c_str());
  return result;
}

}  // namespace wisp::bench
