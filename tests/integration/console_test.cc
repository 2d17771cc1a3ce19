// The console as a test suite drives it: output read late or never, input sent before the guest
// is ready, an output file that fills up. Wisp must neither hang nor lose a byte.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
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
constexpr int kGuestExitedZero = 1;  // debug-exit value 0
const std::string kConsoleGuest = kit_guest("console.pvh.elf");

// What the console guest's "print=N" prints.
std::string printed_lines(size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) text += i % 64 == 63 ? '\n' : char('a' + i / 64 % 26);
  return text;
}

// Wisp with its standard output into a pipe that the test reads only when it chooses to.
class SlowReaderRun {
 public:
  explicit SlowReaderRun(const std::vector<std::string>& args) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(out[1], 1);
      ::dup2(null, 2);
      std::vector<char*> argv{const_cast<char*>(kWisp.c_str()), const_cast<char*>("run")};
      for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    output_ = out[0];
  }
  ~SlowReaderRun() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(output_);
  }

  // Wisp's exit status, if it exits within `limit`; the output is not read meanwhile.
  std::optional<int> wait_for_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!status_ && std::chrono::steady_clock::now() < deadline) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return status_;
  }

  // Reads the output to its end (Wisp and its teardown helper have let go of the pipe).
  std::string read_all() {
    std::string text;
    char buffer[65536];
    pollfd ready{output_, POLLIN, 0};
    while (::poll(&ready, 1, kTimeout * 1000) == 1) {
      ssize_t n = ::read(output_, buffer, sizeof(buffer));
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
    return text;
  }

  void signal(int number) { ::kill(pid_, number); }

 private:
  pid_t pid_ = -1;
  int output_ = -1;
  std::optional<int> status_;
};

}  // namespace

TEST_CASE("a reader that stalls does not stall the timeout", "[kvm][console]") {
  // 1 MiB would take the guest far longer than the timeout; nobody reads for 10 s. Before output
  // was buffered, the vCPU blocked in write(2) and Wisp ended only when the reader came.
  SlowReaderRun run({"--kernel", kConsoleGuest, "--cmdline", "print=1048576", "--timeout", "2"});
  CHECK(run.wait_for_exit(std::chrono::seconds(8)) == 8);
}

TEST_CASE("a reader that stalls does not stall SIGTERM", "[kvm][console]") {
  SlowReaderRun run({"--kernel", kConsoleGuest, "--cmdline", "print=1048576"});
  std::this_thread::sleep_for(std::chrono::seconds(1));
  run.signal(SIGTERM);
  CHECK(run.wait_for_exit(std::chrono::seconds(7)) == 12);
}

TEST_CASE("a guest waits for a slow reader and all its output arrives", "[kvm][console]") {
  // More than the pipe and Wisp's buffer hold together: the guest must wait on the busy UART.
  constexpr size_t kBytes = 200 * 1024;
  SlowReaderRun run({"--kernel", kConsoleGuest, "--cmdline", "print=" + std::to_string(kBytes)});
  CHECK_FALSE(run.wait_for_exit(std::chrono::seconds(3)));
  std::string output = run.read_all();
  CHECK(run.wait_for_exit(std::chrono::seconds(kTimeout)) == kGuestExitedZero);
  CHECK(output.size() == kBytes);
  CHECK(output == printed_lines(kBytes));
}

TEST_CASE("input sent before the guest resets its UART arrives whole", "[kvm][console]") {
  // The guest clears its FIFOs and toggles loopback with the input waiting, as Linux's driver does
  // at start-up; before, the FIFO's 16 bytes were lost and the rest never came.
  std::string input;
  for (int i = 0; input.size() < 5000; ++i) input += "line " + std::to_string(i) + "\n";
  auto result = run_process({kWisp, "run", "--kernel", kConsoleGuest, "--cmdline", "reset-echo"},
                            input + "q", kTimeout);
  INFO("stderr: " << result.err);
  CHECK(result.status == kGuestExitedZero);
  CHECK(result.out == "ready\n" + input);
}

TEST_CASE("a full output file ends the run with status 10 and says why", "[kvm][console]") {
  std::string script = "d=$(mktemp -d) && mount -t tmpfs -o size=16k wisp-console-test $d && " +
                       kWisp + " run --kernel " + kConsoleGuest +
                       " --cmdline print=65536 --serial file=$d/out; s=$?; " +
                       "echo; wc -c <$d/out; umount $d; rmdir $d; exit $s";
  auto result = run_process({"unshare", "--mount", "sh", "-c", script}, "", kTimeout);
  INFO("stdout: " << result.out << " stderr: " << result.err);
  CHECK(result.status == 10);
  CHECK(result.err.find("cannot write serial output ") != std::string::npos);
  CHECK(result.err.find("No space left on device") != std::string::npos);
  CHECK(result.out == "\n16384\n");
}

TEST_CASE("a second serial port (--serial2), COM2, for machine output", "[kvm][console]") {
  char path[] = "/tmp/wisp-com2-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  auto to_file = run_process({kWisp, "run", "--kernel", kConsoleGuest, "--cmdline", "com2",
                              "--serial2", std::string("file=") + path},
                             "", kTimeout);
  INFO("stderr: " << to_file.err);
  CHECK(to_file.status == kGuestExitedZero);
  CHECK(to_file.out == "to com1\n");
  CHECK(read_file(path) == "to com2\n");

  // Either port may have standard output (and the console's input).
  auto swapped = run_process({kWisp, "run", "--kernel", kConsoleGuest, "--cmdline", "com2",
                              "--serial", std::string("file=") + path, "--serial2", "stdio"},
                             "", kTimeout);
  CHECK(swapped.status == kGuestExitedZero);
  CHECK(swapped.out == "to com2\n");
  CHECK(read_file(path) == "to com1\n");
  ::unlink(path);

  // Without --serial2 there is no COM2: its line status reads as all ones (THRE set), and the
  // bytes go nowhere.
  auto absent =
      run_process({kWisp, "run", "--kernel", kConsoleGuest, "--cmdline", "com2"}, "", kTimeout);
  CHECK(absent.out == "to com1\n");
}
