// JSON configuration files end to end: `wisp run --config FILE` boots the hello kit guest, which
// prints its command line and exits; a bad file is a usage error naming the JSON path.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::kit_guest;
using wisp::test::kWisp;
using wisp::test::read_file;
using wisp::test::run_process;

namespace {

constexpr int kTimeout = 60;
constexpr int kGuestExitedZero = 1;  // debug-exit value 0
const std::string kHello = kit_guest("hello.elf64.elf");

// A file in /tmp with the given text, removed at the end of the test.
class TempText {
 public:
  explicit TempText(const std::string& text) {
    char name[] = "/tmp/wisp-config-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempText() { ::unlink(path_.c_str()); }
  TempText(const TempText&) = delete;
  TempText& operator=(const TempText&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

wisp::test::ProcessResult wisp_with(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kWisp};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, "", kTimeout);
  UNSCOPED_INFO("stdout: " << result.out << " stderr: " << result.err);
  return result;
}

}  // namespace

TEST_CASE("wisp run --config boots the guest the file describes", "[kvm][config]") {
  TempText file(R"({"kernel": ")" + kHello + R"(", "cmdline": "from the file", "memory": "64M",
                    "cpus": 2})");
  auto booted = wisp_with({"run", "--config", file.path()});
  CHECK(booted.out == "hello from elf64: from the file\n");
  CHECK(booted.status == kGuestExitedZero);

  // The guest's own exit status comes through.
  TempText exit_code(R"({"kernel": ")" + kit_guest("exit_code.pvh.elf") +
                     R"(", "cmdline": "42", "memory": 64})");
  CHECK(wisp_with({"run", "--config", exit_code.path()}).status == ((42 << 1) | 1));
}

TEST_CASE("an option given beside --config replaces the file's value", "[kvm][config]") {
  TempText file(R"({"kernel": ")" + kHello + R"(", "cmdline": "from the file", "memory": "64M"})");
  auto booted = wisp_with({"run", "--config", file.path(), "--cmdline", "from the command line"});
  CHECK(booted.out == "hello from elf64: from the command line\n");
  CHECK(booted.status == kGuestExitedZero);
}

TEST_CASE("a bad configuration file is a usage error naming the JSON path", "[config]") {
  TempText bad_disk(R"({"kernel": ")" + kHello +
                    R"(", "disks": [{"path": "/nonexistent/disk.img"}]})");
  auto disk = wisp_with({"run", "--config", bad_disk.path()});
  CHECK(disk.status == 2);
  CHECK(disk.out.empty());
  CHECK(disk.err.find(bad_disk.path() +
                      ": disks[0].path: /nonexistent/disk.img: No such file or directory") !=
        std::string::npos);

  TempText bad_cpus(R"({"kernel": ")" + kHello + R"(", "cpus": "two"})");
  auto cpus = wisp_with({"run", "--config", bad_cpus.path()});
  CHECK(cpus.status == 2);
  CHECK(cpus.err.find(bad_cpus.path() + R"(: cpus: expected a number from 1 to 255, got "two")") !=
        std::string::npos);

  TempText not_json("{\"kernel\": \"" + kHello + "\",\n}");
  auto syntax = wisp_with({"run", "--config", not_json.path()});
  CHECK(syntax.status == 2);
  CHECK(syntax.err.find("not valid JSON: parse error at line 2, column 1") != std::string::npos);

  CHECK(wisp_with({"run", "--config", "/nonexistent/vm.json"}).status == 2);
}
