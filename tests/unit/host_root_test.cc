// --host-root's preparation: the run directory's files, the two file systems and the kernel
// command line it adds, and the status it reads back.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vmm/host_root.h"

using wisp::HostRootRun;
using wisp::VmConfig;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// The run directory, from the init= word of the command line.
std::string run_directory(const std::string& cmdline) {
  std::istringstream words(cmdline);
  std::string word;
  while (words >> word)
    if (word.starts_with("init=")) return std::filesystem::path(word.substr(5)).parent_path();
  FAIL("no init= in " << cmdline);
  return "";
}

}  // namespace

TEST_CASE("host root: the run directory holds the init, the directory and the command",
          "[host-root]") {
  VmConfig config;
  config.cmdline = "console=ttyS0 quiet";
  std::string directory;
  {
    auto run = HostRootRun::prepare(config, "make check");
    REQUIRE(run);
    directory = run_directory(config.cmdline);
    CHECK(
        config.cmdline.starts_with("console=ttyS0 quiet root=wisp-root rootfstype=virtiofs ro "
                                   "init=" +
                                   directory + "/init"));
    CHECK(read_file(directory + "/command") == "make check");
    CHECK(read_file(directory + "/cwd") == std::filesystem::current_path().string());
    CHECK(read_file(directory + "/init").starts_with("#!/bin/sh\n"));
    CHECK(::access((directory + "/init").c_str(), X_OK) == 0);
    CHECK(std::filesystem::is_directory(directory + "/layer"));

    REQUIRE(config.filesystems.size() == 2);
    CHECK(config.filesystems[0].tag == "wisp-root");
    CHECK(config.filesystems[0].directory == "/");
    CHECK(config.filesystems[0].read_only);
    CHECK(config.filesystems[1].tag == "wisp-run");
    CHECK(config.filesystems[1].directory == directory);
    CHECK_FALSE(config.filesystems[1].read_only);

    // The status the guest wrote, if it is one.
    CHECK_FALSE(run->guest_status());
    std::ofstream(directory + "/status") << "7\n";
    CHECK(run->guest_status() == 7);
    std::ofstream(directory + "/status") << "300\n";
    CHECK_FALSE(run->guest_status());
    std::ofstream(directory + "/status") << "garbage";
    CHECK_FALSE(run->guest_status());
  }
  CHECK_FALSE(std::filesystem::exists(directory));  // removed with the run
}

TEST_CASE("host root: its words go before a '--', and root= or init= of the user's are refused",
          "[host-root]") {
  VmConfig config;
  config.cmdline = "console=ttyS0 -- single";
  auto run = HostRootRun::prepare(config, "");
  REQUIRE(run);
  CHECK(config.cmdline.starts_with("console=ttyS0 root=wisp-root "));
  CHECK(config.cmdline.ends_with("wisp.modules=virtio_mmio,virtiofs,overlay -- single"));

  for (std::string taken : {"root=/dev/vda", "rootfstype=ext4", "init=/bin/sh"}) {
    VmConfig mine;
    mine.cmdline = "console=ttyS0 " + taken;
    auto refused = HostRootRun::prepare(mine, "");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().is_usage());
    CHECK_THAT(refused.error().message(), Catch::Contains("leave it out of --cmdline"));
    CHECK(mine.filesystems.empty());
  }
}
