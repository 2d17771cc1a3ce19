// Boots the tiny test guests on the host's /dev/kvm through the wisp binary and checks what they
// print and how the VMM exits.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::run_process;

namespace {

using wisp::test::kWisp;
using wisp::test::tiny_guest;
const std::string kHello = tiny_guest("hello");
const std::string kEcho = tiny_guest("echo");
constexpr int kTimeout = 60;

// Input of `length` printable bytes without 'q' (which ends the echo guest).
std::string printable_input(size_t length) {
  std::string text;
  for (size_t i = 0; i < length; ++i)
    text.push_back(i % 64 == 63 ? '\n' : static_cast<char>('a' + (i * 7) % 16));
  return text;
}

}  // namespace

TEST_CASE("hello guest prints its command line and exits through debug-exit", "[kvm]") {
  auto result = run_process(
      {kWisp, "run", "--kernel", kHello, "--cmdline", "3 hello world", "--memory", "64M"}, "",
      kTimeout);
  INFO("stderr: " << result.err);
  CHECK(result.out == "hello from the tiny guest: 3 hello world\n");
  CHECK(result.status == ((3 << 1) | 1));
}

TEST_CASE("the debug-exit value sets the exit status as isa-debug-exit does", "[kvm]") {
  for (int value : {0, 1, 5, 9}) {
    auto result = run_process(
        {kWisp, "run", "--kernel", kHello, "--cmdline", std::to_string(value), "--memory", "16M"},
        "", kTimeout);
    INFO("value " << value << ", stderr: " << result.err);
    CHECK(result.status == ((value << 1) | 1));
  }
}

TEST_CASE("a guest with several vCPUs runs: the others wait for SIPI", "[kvm]") {
  for (const char* cpus : {"2", "4"}) {
    auto result = run_process(
        {kWisp, "run", "--kernel", kHello, "--cmdline", "2 smp", "--cpus", cpus}, "", kTimeout);
    INFO("cpus " << cpus << ", stderr: " << result.err);
    CHECK(result.out == "hello from the tiny guest: 2 smp\n");
    CHECK(result.status == 5);
  }
}

TEST_CASE("serial output can go to a file or nowhere", "[kvm]") {
  char path[] = "/tmp/wisp-serial-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  auto to_file = run_process({kWisp, "run", "--kernel", kHello, "--cmdline", "1 to a file",
                              "--serial", std::string("file=") + path},
                             "", kTimeout);
  CHECK(to_file.status == 3);
  CHECK(to_file.out.empty());
  FILE* file = ::fopen(path, "r");
  REQUIRE(file);
  char buffer[256] = {};
  size_t n = ::fread(buffer, 1, sizeof(buffer) - 1, file);
  ::fclose(file);
  ::unlink(path);
  CHECK(std::string(buffer, n) == "hello from the tiny guest: 1 to a file\n");

  auto nowhere = run_process(
      {kWisp, "run", "--kernel", kHello, "--cmdline", "1", "--serial", "none"}, "", kTimeout);
  CHECK(nowhere.status == 3);
  CHECK(nowhere.out.empty());
}

TEST_CASE("console input reaches the guest in order, with back-pressure", "[kvm]") {
  std::string input = printable_input(20000);
  auto result = run_process({kWisp, "run", "--kernel", kEcho}, input + "q", kTimeout);
  INFO("stderr: " << result.err);
  REQUIRE(result.status == 1);
  CHECK(result.out == "echo ready\n" + input);
}

TEST_CASE("Ctrl-A x on the console quits: Ctrl-A Ctrl-A sends one Ctrl-A", "[kvm]") {
  auto quit = run_process({kWisp, "run", "--kernel", kEcho}, "abc\x01x", kTimeout);
  CHECK(quit.status == 12);

  auto literal = run_process({kWisp, "run", "--kernel", kEcho}, "a\x01\x01z\x01yq", kTimeout);
  CHECK(literal.status == 1);
  CHECK(literal.out == "echo ready\na\x01z\x01y");
}

TEST_CASE("SIGTERM, SIGINT, SIGHUP and SIGQUIT stop a running guest cleanly", "[kvm]") {
  // The shell holds wisp's stdin open through a fifo (so that it waits for input), signals wisp
  // itself after a moment (pgrep could find a wisp of another test), and returns its status.
  // No terminal here: SIGHUP and SIGQUIT must not kill wisp by their default action.
  for (const char* signal : {"TERM", "INT", "HUP", "QUIT"}) {
    std::string script = "d=$(mktemp -d); mkfifo $d/in; exec 3<>$d/in; " + kWisp +
                         " run --kernel " + kEcho + " <&3 & pid=$!; sleep 1; kill -" + signal +
                         " $pid; wait $pid; s=$?; rm -r $d; exit $s";
    auto result = run_process({"sh", "-c", script}, "", kTimeout);
    INFO("SIG" << signal << ": stdout: " << result.out << " stderr: " << result.err);
    CHECK(result.status == 12);
    CHECK(result.out == "echo ready\n");
  }
}

TEST_CASE("the VM's teardown helper lets go of the caller's files and exits after wisp", "[kvm]") {
  // wisp hands KVM's teardown to a child. That child must close what the caller gave wisp (here
  // fd 3, the test's stdout pipe: run_process waits for its EOF) and must exit once wisp has. The
  // tag, expanded by the shell, appears only in the command line of wisp and its child (the
  // leading 0 makes the guest exit with value 0: status 1).
  std::string script = "tag=teardown-$$; " + kWisp + " run --kernel " + kHello +
                       " --cmdline 0$tag 3>&1 >/dev/null; [ $? = 1 ] || exit 2; "
                       "for i in $(seq 100); do pgrep -f $tag >/dev/null || exit 0; sleep 0.05; "
                       "done; echo helper still running; exit 1";
  auto result = run_process({"sh", "-c", script}, "", kTimeout);
  INFO("stdout: " << result.out << " stderr: " << result.err);
  CHECK_FALSE(result.timed_out);
  CHECK(result.status == 0);
}

TEST_CASE("a triple fault ends the VMM with its own status and a reason", "[kvm]") {
  std::string guest = tiny_guest("triple_fault");
  auto result = run_process({kWisp, "run", "--kernel", guest}, "", kTimeout);
  CHECK(result.status == 6);
  CHECK(result.err.find("triple fault") != std::string::npos);
}

TEST_CASE("in the background on a terminal, wisp neither stops nor takes the terminal", "[kvm]") {
  // in_background runs wisp as a shell's background job; with `stty tostop` its first write to
  // the terminal, or its switch of the terminal to raw mode, would stop it (SIGTTOU).
  std::string command = std::string("stty tostop; ") + IN_BACKGROUND + " " + kWisp +
                        " run --kernel " + kHello + " --cmdline background; echo status=$?; " +
                        "stty -a | grep -o -- '-\\?icanon'";
  auto result = run_process({"script", "-qec", command, "/dev/null"}, "", kTimeout);
  INFO("output: " << result.out);
  CHECK(result.out.find("stopped by signal") == std::string::npos);
  CHECK(result.out.find("background") != std::string::npos);
  CHECK(result.out.find("status=1") != std::string::npos);  // the guest's exit, value 0
  CHECK(result.out.find("-icanon") == std::string::npos);   // the terminal was left alone
  CHECK(result.out.find("icanon") != std::string::npos);
}

TEST_CASE("on a terminal, the console is raw while the guest runs and restored after", "[kvm]") {
  // `script` gives the shell a pty: stty shows the mode wisp leaves behind.
  std::string command = "stty -a | grep -o -- '-\\?icanon' ; " + kWisp + " run --kernel " + kEcho +
                        " ; echo status=$? ; stty -a | grep -o -- '-\\?icanon'";
  auto result = run_process({"script", "-qec", command, "/dev/null"}, "typed\x01x", kTimeout);
  INFO("output: " << result.out);
  CHECK(result.out.find("status=12") != std::string::npos);
  // The typed line has no newline: wisp only sees Ctrl-A x because it put the terminal in raw
  // mode. Canonical mode is on before and after it ran.
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = result.out.find(needle); at != std::string::npos;
         at = result.out.find(needle, at + 1))
      ++n;
    return n;
  };
  CHECK(count("icanon") == 2);
  CHECK(count("-icanon") == 0);
}
