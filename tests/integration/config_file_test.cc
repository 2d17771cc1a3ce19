// JSON configuration files end to end: `wisp run --config FILE` and Firecracker's
// `wisp --no-api --config-file FILE` boot the hello kit guest, which prints its command line and
// exits; a bad file is a usage error naming the JSON path.
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"
#include "tests/integration/temp_image.h"

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

TEST_CASE("wisp --no-api --config-file boots Firecracker's configuration", "[kvm][config]") {
  TempText file(R"({
    "boot-source": {"kernel_image_path": ")" +
                kHello + R"(", "boot_args": "console=ttyS0"},
    "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}
  })");
  auto booted = wisp_with({"--no-api", "--config-file", file.path(), "--id", "hello-1"});
  CHECK(booted.out == "hello from elf64: console=ttyS0 pci=off\n");
  CHECK(booted.status == kGuestExitedZero);

  // A root drive is /dev/vda on the command line, as Firecracker puts it; the logger's log goes
  // to its log_path, not stderr.
  wisp::test::TempImage rootfs(1 << 20);
  TempText log("");
  TempText with_drive(R"({
    "boot-source": {"kernel_image_path": ")" +
                      kHello + R"(", "boot_args": "console=ttyS0"},
    "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": false},
    "drives": [{"drive_id": "rootfs", "path_on_host": ")" +
                      rootfs.path() +
                      R"(", "is_root_device": true, "is_read_only": true}],
    "logger": {"level": "Debug", "log_path": ")" +
                      log.path() + R"("}
  })");
  auto rooted = wisp_with({"--no-api", "--config-file", with_drive.path()});
  CHECK(rooted.out == "hello from elf64: console=ttyS0 pci=off root=/dev/vda ro\n");
  CHECK(rooted.status == kGuestExitedZero);
  CHECK(rooted.err.empty());
  CHECK(read_file(log.path()).find("wisp: debug: machine-config.smt: ignored") !=
        std::string::npos);
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

  TempText balloon(R"({"boot-source": {"kernel_image_path": ")" + kHello +
                   R"("}, "balloon": {"amount_mib": 16, "deflate_on_oom": false}})");
  auto firecracker = wisp_with({"--no-api", "--config-file", balloon.path()});
  CHECK(firecracker.status == 2);
  CHECK(firecracker.err.find(balloon.path() +
                             ": balloon: the balloon section is not supported by Wisp yet") !=
        std::string::npos);
}
