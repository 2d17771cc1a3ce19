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

TEST_CASE("more memory than the host has is allowed, with a warning") {
  VmConfig config;
  config.kernel_path = "/proc/self/exe";
  config.memory_bytes = 16ull << 30;
  constexpr uint64_t kHost = 8ull << 30;
  CHECK(validate(config));
  auto warning = memory_warning(config, kHost);
  REQUIRE(warning);
  CHECK_THAT(*warning, Catch::Contains("more than this host has (8192 MiB)"));
  config.memory_bytes = kHost;
  CHECK_FALSE(memory_warning(config, kHost));
}

TEST_CASE("validation names the bad value") {
  VmConfig config;
  config.kernel_path = "/proc/self/exe";  // any readable file
  CHECK(validate(config));

  auto message = [&](VmConfig c) { return validate(c).error().message(); };
  VmConfig bad = config;
  bad.cpus = 0;
  CHECK_THAT(message(bad), Catch::Contains("--cpus 0"));
  bad = config;
  bad.cpus = 256;
  CHECK_THAT(message(bad), Catch::Contains("--cpus 256"));
  bad = config;
  bad.memory_bytes = 2ull << 40;
  CHECK_THAT(message(bad), Catch::Contains("more than Wisp supports"));
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

TEST_CASE("net option: a TAP by name, an open TAP descriptor, or none") {
  auto tap = parse_net("tap=tap0");
  REQUIRE(tap);
  REQUIRE(*tap);
  CHECK((*tap)->tap == "tap0");
  CHECK((*tap)->fd == -1);
  CHECK_FALSE((*tap)->mac);
  CHECK((*tap)->queues == 1);

  auto full = parse_net("tap=t,mac=52:54:00:12:34:56,queues=4");
  REQUIRE(full);
  REQUIRE(*full);
  CHECK((*full)->tap == "t");
  REQUIRE((*full)->mac);
  CHECK(*(*full)->mac == MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x56});
  CHECK((*full)->queues == 4);

  auto fd = parse_net("fd=3");
  REQUIRE(fd);
  REQUIRE(*fd);
  CHECK((*fd)->fd == 3);
  CHECK((*fd)->tap.empty());
  CHECK((*fd)->queues == 1);
  auto fd_mac = parse_net("fd=3,mac=02:00:00:00:00:01,queues=1");
  REQUIRE(fd_mac);
  REQUIRE(*fd_mac);
  CHECK((*fd_mac)->mac);

  auto none = parse_net("none");
  REQUIRE(none);
  CHECK_FALSE(*none);

  CHECK((*parse_net("tap=abcdefghijklmno"))->tap.size() == 15);  // IFNAMSIZ - 1
  CHECK((*parse_net("tap=t,queues=16"))->queues == 16);
}

TEST_CASE("net option: bad values name what is wrong") {
  auto error = [](const char* text) {
    auto nic = parse_net(text);
    REQUIRE_FALSE(nic);
    return nic.error().message();
  };
  CHECK_THAT(error("tap=t,fd=3"), Catch::Contains("one of tap=NAME or fd=N"));
  CHECK_THAT(error("mac=52:54:00:12:34:56"), Catch::Contains("one of tap=NAME or fd=N"));
  CHECK_THAT(error(""), Catch::Contains("one of tap=NAME or fd=N"));
  CHECK_THAT(error("fd=3,queues=2"), Catch::Contains("queues=N needs tap=NAME"));
  CHECK_THAT(error("tap=t,mac=01:00:5e:00:00:01"), Catch::Contains("multicast"));
  CHECK_THAT(error("tap=t,mac=52:54:00:12:34"), Catch::Contains("--net mac"));
  CHECK_THAT(error("tap=t,mac=00:00:00:00:00:00"), Catch::Contains("all zeros"));
  CHECK_THAT(error("tap=t,queues=0"), Catch::Contains("from 1 to 16"));
  CHECK_THAT(error("tap=t,queues=17"), Catch::Contains("from 1 to 16"));
  CHECK_THAT(error("tap=t,queues=two"), Catch::Contains("queues='two'"));
  CHECK_THAT(error("tap=t,vhost=on"), Catch::Contains("unknown key 'vhost'"));
  CHECK_THAT(error("tap=t,queues"), Catch::Contains("not KEY=VALUE"));
  CHECK_THAT(error("tap=abcdefghijklmnop"), Catch::Contains("1 to 15 characters"));
  CHECK_THAT(error("tap="), Catch::Contains("1 to 15 characters"));
  CHECK_THAT(error("fd=-1"), Catch::Contains("not a file descriptor"));
  CHECK_THAT(error("fd=x"), Catch::Contains("not a file descriptor"));
  CHECK_THAT(error("fd=99999999999"), Catch::Contains("not a file descriptor"));
  CHECK_THAT(error("None"), Catch::Contains("not KEY=VALUE"));
}

TEST_CASE("net option: validation of the NICs together") {
  VmConfig config;
  config.kernel_path = "/proc/self/exe";
  auto message = [&](const VmConfig& c) {
    auto valid = validate(c);
    REQUIRE_FALSE(valid);
    return valid.error().message();
  };
  NetConfig tap0;
  tap0.tap = "tap0";
  NetConfig tap1;
  tap1.tap = "tap1";

  VmConfig good = config;
  good.nics = {tap0, tap1};
  CHECK(validate(good));
  VmConfig none = config;
  none.no_network = true;
  CHECK(validate(none));

  VmConfig bad = none;
  bad.nics = {tap0};
  CHECK_THAT(message(bad), Catch::Contains("--net none"));
  bad = config;
  bad.nics = {tap0, tap1, tap0};
  CHECK_THAT(message(bad), Catch::Contains("tap=tap0 is given twice"));
  bad = config;
  tap0.mac = MacAddress{0x02, 0, 0, 0, 0, 1};
  tap1.mac = tap0.mac;
  bad.nics = {tap0, tap1};
  CHECK_THAT(message(bad), Catch::Contains("mac=02:00:00:00:00:01 is given twice"));
  bad = config;
  bad.nics.assign(kMaximumNics + 1, NetConfig{});
  for (size_t i = 0; i < bad.nics.size(); ++i) bad.nics[i].tap = "tap" + std::to_string(i);
  CHECK_THAT(message(bad), Catch::Contains("more than"));

  // fd=N must be open, and given once.
  NetConfig by_fd;
  by_fd.fd = 2;  // stderr: open in any test run
  bad = config;
  bad.nics = {by_fd};
  CHECK(validate(bad));
  bad.nics = {by_fd, by_fd};
  CHECK_THAT(message(bad), Catch::Contains("fd=2 is given twice"));
  by_fd.fd = 1 << 20;  // above any descriptor limit: never open
  bad.nics = {by_fd};
  CHECK_THAT(message(bad), Catch::Contains("--net fd=1048576"));
}

// Found by the config fuzz target: a bad hexadecimal address was named without its 0x ("'' is not
// an address" for --entry 0x).
TEST_CASE("addresses: decimal or 0x-prefixed hexadecimal, and an error names the value as typed") {
  CHECK(*parse_address("1048576") == 0x100000);
  CHECK(*parse_address("0x100000") == 0x100000);
  CHECK(*parse_address("0XfFfF") == 0xffff);
  for (const char* bad : {"", "0x", "0x10g", "-1", "0x-1", "12 ", "0x1_000"}) {
    auto address = parse_address(bad);
    REQUIRE_FALSE(address);
    CHECK_THAT(address.error().message(), Catch::StartsWith(std::string("'") + bad + "'"));
  }
}

TEST_CASE("memory option: a size, and whether another process may map it") {
  auto memory = parse_memory("2G");
  REQUIRE(memory);
  CHECK(memory->bytes == 2ull << 30);
  CHECK_FALSE(memory->shared);
  memory = parse_memory("1G,shared=on");
  REQUIRE(memory);
  CHECK(memory->bytes == 1ull << 30);
  CHECK(memory->shared == true);
  memory = parse_memory("shared=off,size=256M");
  REQUIRE(memory);
  CHECK(memory->bytes == 256ull << 20);
  CHECK(memory->shared == false);

  auto error = [](const char* text) {
    auto parsed = parse_memory(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK_THAT(error("shared=on"), Catch::Contains("no size"));
  CHECK_THAT(error("1G,shared=yes"),
             Catch::Contains("--memory shared='yes' is not one of on, off"));
  CHECK_THAT(error("1G,hugepages=on"), Catch::Contains("unknown key 'hugepages'"));
  CHECK_THAT(error("1G,shared"), Catch::Contains("not KEY=VALUE"));
  CHECK_FALSE(parse_memory("1X"));

  // Shared exactly when virtio-fs needs it, unless said.
  VmConfig config;
  CHECK_FALSE(uses_shared_memory(config));
  config.filesystems.push_back({"t", "/run/fs.sock", "", false});
  CHECK(uses_shared_memory(config));
  config.shared_memory = false;
  CHECK_FALSE(uses_shared_memory(config));
}

TEST_CASE("file system options: --fs names a back end's socket, --share a directory") {
  auto fs = parse_fs("tag=data,socket=/run/virtiofsd.sock");
  REQUIRE(fs);
  CHECK(fs->tag == "data");
  CHECK(fs->socket == "/run/virtiofsd.sock");
  CHECK(fs->directory.empty());

  auto share = parse_share("/srv/files", 0);
  REQUIRE(share);
  CHECK(share->directory == "/srv/files");
  CHECK(share->tag == "share");
  CHECK_FALSE(share->read_only);
  CHECK(parse_share("/srv/files", 2)->tag == "share2");
  share = parse_share("/srv/files,tag=files,readonly=on", 0);
  REQUIRE(share);
  CHECK(share->tag == "files");
  CHECK(share->read_only);

  auto error = [](auto parsed) {
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK_THAT(error(parse_fs("tag=data")), Catch::Contains("needs tag=TAG and socket=PATH"));
  CHECK_THAT(error(parse_fs("socket=/s")), Catch::Contains("needs tag=TAG and socket=PATH"));
  CHECK_THAT(error(parse_fs("tag=,socket=/s")), Catch::Contains("1 to 36 bytes"));
  CHECK_THAT(error(parse_fs("tag=0123456789012345678901234567890123456,socket=/s")),
             Catch::Contains("1 to 36 bytes"));
  CHECK_THAT(error(parse_fs("tag=a,socket=/s,cache=always")),
             Catch::Contains("unknown key 'cache'"));
  CHECK_THAT(error(parse_share("tag=a", 0)), Catch::Contains("does not start with a directory"));
  CHECK_THAT(error(parse_share("", 0)), Catch::Contains("does not start with a directory"));
  CHECK_THAT(error(parse_share("/d,readonly=yes", 0)),
             Catch::Contains("--share readonly='yes' is not one of on, off"));
  CHECK_THAT(error(parse_share("/d,writeback=on", 0)), Catch::Contains("unknown key 'writeback'"));
}

TEST_CASE("file system options: validation of the file systems together") {
  VmConfig config;
  config.kernel_path = "/proc/self/exe";
  auto message = [&](const VmConfig& c) {
    auto valid = validate(c);
    REQUIRE_FALSE(valid);
    return valid.error().message();
  };
  config.filesystems.push_back({"a", "", "/", true});
  CHECK(validate(config));

  VmConfig bad = config;
  bad.filesystems.push_back({"a", "/run/s", "", false});
  CHECK_THAT(message(bad), Catch::Contains("two file systems have the tag 'a'"));
  bad = config;
  bad.filesystems.push_back({"b", "", "/nonexistent-share", false});
  CHECK_THAT(message(bad), Catch::Contains("--share /nonexistent-share"));
  bad = config;
  bad.filesystems.push_back({"b", "", "/proc/self/exe", false});
  CHECK_THAT(message(bad), Catch::Contains("not a directory"));
  bad = config;
  bad.shared_memory = false;
  CHECK_THAT(message(bad), Catch::Contains("shared=off"));
  bad = config;
  for (int i = 0; i < 8; ++i) bad.filesystems.push_back({"t" + std::to_string(i), "/s", "", false});
  CHECK_THAT(message(bad), Catch::Contains("more than the 8"));
}

TEST_CASE("vsock option: cid=N,uds=PATH, and what validation checks") {
  auto vsock = parse_vsock("cid=3,uds=/tmp/v.sock");
  REQUIRE(vsock);
  CHECK(vsock->guest_cid == 3);
  CHECK(vsock->uds_path == "/tmp/v.sock");
  CHECK(parse_vsock("uds=v.sock,cid=4294967294")->guest_cid == 0xfffffffeu);

  auto error = [](auto parsed) {
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK_THAT(error(parse_vsock("cid=3")), Catch::Contains("needs cid=N and uds=PATH"));
  CHECK_THAT(error(parse_vsock("uds=/tmp/v.sock")), Catch::Contains("needs cid=N and uds=PATH"));
  for (std::string cid : {"0", "1", "2", "4294967295", "18446744073709551615"}) {
    INFO(cid);
    CHECK_THAT(error(parse_vsock("cid=" + cid + ",uds=/tmp/v.sock")),
               Catch::Contains("--vsock: guest CID " + cid + " is reserved or out of range"));
  }
  CHECK_THAT(error(parse_vsock("cid=three,uds=/tmp/v.sock")),
             Catch::Contains("--vsock cid='three' is not a number"));
  CHECK_THAT(error(parse_vsock("cid=-3,uds=/tmp/v.sock")), Catch::Contains("is not a number"));
  CHECK_THAT(error(parse_vsock("cid=3,uds=")), Catch::Contains("--vsock uds= is empty"));
  CHECK_THAT(error(parse_vsock("cid=3,uds=/tmp/v.sock,port=2")),
             Catch::Contains("--vsock has an unknown key 'port' (cid, uds)"));
  CHECK_THAT(error(parse_vsock("cid=3,/tmp/v.sock")), Catch::Contains("is not KEY=VALUE"));

  VmConfig config;
  config.kernel_path = "/proc/self/exe";
  config.vsock = VsockConfig{3, "/tmp/v.sock"};
  CHECK(validate(config));
  config.vsock->uds_path = "v.sock";  // the current directory
  CHECK(validate(config));
  auto message = [&](const VmConfig& c) {
    auto valid = validate(c);
    REQUIRE_FALSE(valid);
    return valid.error().message();
  };
  VmConfig bad = config;
  bad.vsock->guest_cid = 2;
  CHECK_THAT(message(bad), Catch::Contains("--vsock: guest CID 2 is reserved"));
  bad = config;
  bad.vsock->uds_path = "/nonexistent/v.sock";
  CHECK_THAT(message(bad), Catch::Equals("--vsock uds: /nonexistent/v.sock: the directory "
                                         "/nonexistent/: No such file or directory"));
  bad = config;
  bad.vsock->uds_path = "/proc/self/exe/v.sock";
  CHECK_THAT(message(bad), Catch::Contains("Not a directory"));
  bad = config;
  bad.vsock->uds_path = "/tmp/" + std::string(103, 'v');  // 108 bytes: no room for the NUL
  CHECK_THAT(message(bad),
             Catch::Contains("108 bytes are more than a unix socket path takes (107)"));
  bad.vsock->uds_path.pop_back();
  CHECK(validate(bad));
}
