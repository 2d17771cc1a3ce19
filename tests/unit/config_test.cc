#include <catch2/catch.hpp>

#include "vmm/config.h"

using namespace wisp;

TEST_CASE("sizes take K, M, G and T suffixes: a plain number is MiB") {
  CHECK(*parse_size("512M") == 512ull << 20);
  CHECK(*parse_size("2G") == 2ull << 30);
  CHECK(*parse_size("64K") == 64ull << 10);
  CHECK(*parse_size("1T") == 1ull << 40);
  CHECK(*parse_size("256") == 256ull << 20);
  CHECK(*parse_size("6GiB") == 6ull << 30);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("G"));
  CHECK_FALSE(parse_size("-1G"));
  CHECK_FALSE(parse_size("12X"));
  CHECK_FALSE(parse_size("1.5G"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("17179869184T"));  // overflows 64 bits
}

TEST_CASE("serial and reboot options") {
  CHECK(parse_serial("stdio")->mode == SerialMode::kStdio);
  CHECK(parse_serial("none")->mode == SerialMode::kNone);
  auto file = parse_serial("file=/tmp/log");
  REQUIRE(file);
  CHECK(file->mode == SerialMode::kFile);
  CHECK(file->path == "/tmp/log");
  CHECK_FALSE(parse_serial("file="));
  CHECK_FALSE(parse_serial("pty"));
  CHECK(*parse_reboot_action("restart") == RebootAction::kRestart);
  CHECK(*parse_reboot_action("exit") == RebootAction::kExit);
  CHECK_FALSE(parse_reboot_action("halt"));
}

TEST_CASE("validation names the bad value") {
  VmConfig config;
  config.kernel_path = "/proc/self/exe";  // any readable file
  constexpr uint64_t kHost = 8ull << 30;
  CHECK(validate(config, kHost));

  auto message = [&](VmConfig c) { return validate(c, kHost).error().message(); };
  VmConfig bad = config;
  bad.cpus = 0;
  CHECK_THAT(message(bad), Catch::Contains("--cpus 0"));
  bad = config;
  bad.cpus = 256;
  CHECK_THAT(message(bad), Catch::Contains("--cpus 256"));
  bad = config;
  bad.memory_bytes = 16ull << 30;
  CHECK_THAT(message(bad), Catch::Contains("more than this host has"));
  bad = config;
  bad.memory_bytes = 1 << 20;
  CHECK_THAT(message(bad), Catch::Contains("too small"));
  bad = config;
  bad.memory_bytes = (64ull << 20) + 1;
  CHECK_THAT(message(bad), Catch::Contains("pages"));
  bad = config;
  bad.kernel_path = "";
  CHECK_THAT(message(bad), Catch::Contains("--kernel"));
  bad = config;
  bad.kernel_path = "/nonexistent";
  CHECK_THAT(message(bad), Catch::Contains("/nonexistent"));
}

TEST_CASE("host memory is read from /proc/meminfo") {
  auto bytes = host_memory_bytes();
  REQUIRE(bytes);
  CHECK(*bytes > (64ull << 20));
}
