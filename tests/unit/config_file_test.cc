// The JSON configuration files: Wisp's own (`wisp run --config FILE`) maps each key to what its
// command-line option sets, and Firecracker's (`wisp --no-api --config-file FILE`) to what the
// equivalent Wisp command line sets; errors name the file and the JSON path of the bad value.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/temp_file.h"
#include "vmm/cli.h"
#include "vmm/config_file.h"
#include "vmm/config_json.h"
#include "vmm/firecracker_config.h"

using namespace wisp;
using wisp::test::TempFile;

namespace {

std::string optional_text(const auto& value) {
  return value ? fmt::format("{}", *value) : std::string("unset");
}

// Every setting of a Command, one line each, for comparing two and for naming what differs.
std::vector<std::string> describe(const Command& command) {
  const VmConfig& c = command.config;
  std::vector<std::string> lines;
  auto add = [&lines](std::string_view name, const std::string& value) {
    lines.push_back(fmt::format("{}: {}", name, value));
  };
  add("kernel", c.kernel_path);
  add("initrd", fmt::format("{}", fmt::join(c.initrd_paths, "|")));
  add("cmdline", c.cmdline);
  add("cpus", std::to_string(c.cpus));
  add("memory", std::to_string(c.memory_bytes));
  add("shared memory", optional_text(c.shared_memory));
  add("serial", fmt::format("{} {}", static_cast<int>(c.serial.mode), c.serial.path));
  add("serial2", c.serial2
                     ? fmt::format("{} {}", static_cast<int>(c.serial2->mode), c.serial2->path)
                     : "unset");
  add("on reboot", std::to_string(static_cast<int>(c.on_reboot)));
  add("on panic", std::to_string(static_cast<int>(c.on_panic)));
  add("kernel format", std::to_string(static_cast<int>(c.kernel_format)));
  add("load address", optional_text(c.raw.load_address));
  add("entry", optional_text(c.raw.entry));
  add("entry mode",
      c.raw.entry_mode ? std::to_string(static_cast<int>(*c.raw.entry_mode)) : "unset");
  add("timeout", std::to_string(c.timeout_seconds));
  std::string disks;
  for (const DiskConfig& d : c.disks)
    disks += fmt::format("[{} {} {} {} {} {} {}]", d.path, static_cast<int>(d.access), d.serial,
                         static_cast<int>(d.cache), d.discard, d.queues, static_cast<int>(d.io));
  add("disks", disks);
  std::string nics;
  for (const NetConfig& n : c.nics)
    nics += fmt::format("[{} {} {} {}]", n.tap, n.fd, n.mac ? format_mac_address(*n.mac) : "-",
                        n.queues);
  add("nics", nics);
  add("no network", fmt::format("{}", c.no_network));
  std::string filesystems;
  for (const FsConfig& f : c.filesystems)
    filesystems += fmt::format("[{} {} {} {}]", f.tag, f.socket, f.directory, f.read_only);
  add("filesystems", filesystems);
  add("vsock", c.vsock ? fmt::format("{} {}", c.vsock->guest_cid, c.vsock->uds_path) : "unset");
  add("host root", fmt::format("{}", c.host_root));
  add("exec", c.exec_command);
  add("seccomp", std::to_string(static_cast<int>(c.seccomp)));
  add("gdb", c.gdb ? fmt::format("{} {} {} {}", static_cast<int>(c.gdb->kind), c.gdb->host,
                                 c.gdb->port, c.gdb->path)
                   : "unset");
  add("gdb wait", fmt::format("{}", c.gdb_wait));
  add("decompress kernel", fmt::format("{}", c.decompress_kernel));
  const JailConfig& jail = command.jail;
  add("jail", jail.directory);
  add("uid", optional_text(jail.uid));
  add("gid", optional_text(jail.gid));
  add("cgroup", jail.cgroup ? fmt::format("{} {} {} {}", optional_text(jail.cgroup->memory_bytes),
                                          optional_text(jail.cgroup->cpus),
                                          optional_text(jail.cgroup->pids), jail.cgroup->parent)
                            : "unset");
  add("log level", std::to_string(static_cast<int>(command.log_level)));
  add("boot timing", fmt::format("{}", command.boot_timing));
  return lines;
}

// `wisp ARGS...` through the real command-line parser.
std::optional<Command> parse_cli(std::vector<std::string> args, int* status = nullptr) {
  args.insert(args.begin(), "wisp");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int early_exit = -1;
  auto command = parse_command_line(static_cast<int>(args.size()), argv.data(), early_exit);
  if (status) *status = early_exit;
  return command;
}

Command cli(std::vector<std::string> args) {
  auto command = parse_cli(std::move(args));
  REQUIRE(command);
  return *command;
}

bool nothing_given(std::string_view) {
  return false;
}

Result<Command> from_wisp_json(const std::string& text,
                               const GivenOnCommandLine& given = nothing_given) {
  Command command;
  TRY(apply_config_text(text, "vm.json", command, given));
  return command;
}

Result<Command> from_firecracker_json(const std::string& text) {
  Command command;
  TRY(apply_firecracker_config_text(text, "fc.json", command));
  return command;
}

std::string wisp_error(const std::string& text) {
  auto command = from_wisp_json(text);
  REQUIRE_FALSE(command);
  return command.error().message();
}

std::string firecracker_error(const std::string& text) {
  auto command = from_firecracker_json(text);
  REQUIRE_FALSE(command);
  return command.error().message();
}

// A JSON string.
std::string js(const std::string& text) {
  return config_json::Json(text).dump();
}

}  // namespace

TEST_CASE("config file: every key sets what its command-line option sets") {
  TempFile kernel("kernel"), initrd1("initrd"), initrd2("initrd"), disk1("disk"), disk2("disk");
  std::string file = R"({
    "kernel": )" + js(kernel.path()) +
                     R"(,
    "initrd": [)" + js(initrd1.path()) +
                     ", " + js(initrd2.path()) + R"(],
    "cmdline": "console=ttyS0 quiet",
    "cpus": 3,
    "memory": {"size": "1G", "shared": true},
    "serial": "file=/tmp/wisp-serial.log",
    "serial2": "none",
    "kernel-format": "raw",
    "load-address": "0x100000",
    "entry": 1048592,
    "entry-mode": "long",
    "timeout": 30,
    "on-reboot": "restart",
    "on-panic": "continue",
    "disks": [{"path": )" +
                     js(disk1.path()) + R"(, "readonly": true, "serial": "abc",
               "cache": "none", "discard": true, "queues": 2, "aio": "sync"},
              )" + js("path=" + disk2.path()) +
                     R"(],
    "nets": [{"tap": "tap0", "mac": "52:54:00:12:34:56", "queues": 2}, "fd=3", "none"],
    "filesystems": [{"tag": "data", "socket": "/tmp/virtiofsd.sock"}],
    "shares": [{"path": "/tmp", "tag": "tmp", "readonly": true}, "/"],
    "vsock": {"cid": 42, "uds": "/tmp/wisp-test-v.sock"},
    "host-root": true,
    "exec": "make test",
    "seccomp": "off",
    "jail": "/tmp",
    "uid": 1000,
    "gid": 1001,
    "cgroup": {"memory": "1G", "cpu": 1.5, "pids": 100, "parent": "/wisp"},
    "gdb": "tcp:1234",
    "gdb-wait": true,
    "no-decompress-cache": true,
    "boot-timing": true,
    "verbose": 2
  })";
  auto from_file = from_wisp_json(file);
  INFO(file);
  REQUIRE(from_file);
  Command from_options = cli(
      {"run",
       "--kernel",
       kernel.path(),
       "--initrd",
       initrd1.path() + "," + initrd2.path(),
       "--cmdline",
       "console=ttyS0 quiet",
       "--cpus",
       "3",
       "--memory",
       "1G,shared=on",
       "--serial",
       "file=/tmp/wisp-serial.log",
       "--serial2",
       "none",
       "--kernel-format",
       "raw",
       "--load-address",
       "0x100000",
       "--entry",
       "0x100010",
       "--entry-mode",
       "long",
       "--timeout",
       "30",
       "--on-reboot",
       "restart",
       "--on-panic",
       "continue",
       "--disk",
       "path=" + disk1.path() + ",readonly=on,serial=abc,cache=none,discard=on,queues=2,aio=sync",
       "--disk",
       "path=" + disk2.path(),
       "--net",
       "tap=tap0,mac=52:54:00:12:34:56,queues=2",
       "--net",
       "fd=3",
       "--net",
       "none",
       "--fs",
       "tag=data,socket=/tmp/virtiofsd.sock",
       "--share",
       "/tmp,tag=tmp,readonly=on",
       "--share",
       "/",
       "--vsock",
       "cid=42,uds=/tmp/wisp-test-v.sock",
       "--host-root",
       "--exec",
       "make test",
       "--seccomp",
       "off",  // neither default: "on", or "log" in sanitizer builds
       "--jail",
       "/tmp",
       "--uid",
       "1000",
       "--gid",
       "1001",
       "--cgroup",
       "memory=1G,cpu=1.5,pids=100,parent=/wisp",
       "--gdb",
       "tcp:1234",
       "--gdb-wait",
       "--no-decompress-cache",
       "--boot-timing",
       "-vv"});
  CHECK(describe(*from_file) == describe(from_options));

  // Every setting differs from the default: no key was dropped on both paths alike.
  std::vector<std::string> defaults = describe(Command{});
  std::vector<std::string> set = describe(*from_file);
  REQUIRE(set.size() == defaults.size());
  for (size_t i = 0; i < set.size(); ++i) CHECK(set[i] != defaults[i]);

  // A few read directly, not through the comparison.
  const VmConfig& config = from_file->config;
  CHECK(config.cpus == 3);
  CHECK(config.memory_bytes == 1ull << 30);
  CHECK(config.shared_memory == true);
  REQUIRE(config.disks.size() == 2);
  CHECK(config.disks[0].access == DiskAccess::kReadOnly);
  CHECK(config.disks[0].io == DiskIo::kSync);
  CHECK(config.disks[1].path == disk2.path());
  REQUIRE(config.nics.size() == 2);
  CHECK(config.nics[0].tap == "tap0");
  CHECK(config.nics[1].fd == 3);
  REQUIRE(config.filesystems.size() == 3);
  CHECK(config.filesystems[2].tag == "share1");  // the second share's default tag
  CHECK(from_file->jail.cgroup->pids == 100u);
  CHECK(from_file->log_level == log::Level::kDebug);
}

TEST_CASE("config file: the other forms of a value") {
  TempFile kernel("kernel"), initrd1("initrd"), initrd2("initrd");
  auto with = [&](const std::string& members) {
    auto command = from_wisp_json("{\"kernel\": " + js(kernel.path()) + ", " + members + "}");
    INFO(members);
    REQUIRE(command);
    return *command;
  };
  CHECK(with(R"("memory": 2048)").config.memory_bytes == 2ull << 30);  // MiB, as --memory 2048
  CHECK(with(R"("memory": "2G,shared=off")").config.shared_memory == false);
  CHECK(with(R"("memory": {"size": 64})").config.memory_bytes == 64ull << 20);
  CHECK(with("\"initrd\": " + js(initrd1.path() + "," + initrd2.path())).config.initrd_paths ==
        std::vector<std::string>{initrd1.path(), initrd2.path()});
  CHECK(with(R"("load-address": 4096)").config.raw.load_address == 4096u);
  CHECK(with(R"("cgroup": "memory=512M")").jail.cgroup->memory_bytes == 512ull << 20);
  CHECK(with(R"("nets": [{"fd": 4}])").config.nics.at(0).fd == 4);
  CHECK(with(R"("verbose": 1)").log_level == log::Level::kInfo);
  CHECK(with(R"("vsock": "cid=5,uds=/tmp/v.sock")").config.vsock->guest_cid == 5u);
  // null is as absent.
  CHECK(with(R"("serial2": null, "cpus": null)").config.cpus == 1);
  CHECK_FALSE(with(R"("serial2": null)").config.serial2);
}

TEST_CASE("config file: errors name the file and the JSON path") {
  TempFile kernel("kernel"), disk("disk");
  std::string k = "\"kernel\": " + js(kernel.path());
  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : std::initializer_list<Case>{
           // Types and values.
           {"{" + k + R"(, "cpus": "two"})",
            R"(vm.json: cpus: expected a number from 1 to 255, got "two")"},
           {"{" + k + R"(, "cpus": 0})", "vm.json: cpus: expected a number from 1 to 255, got 0"},
           {"{" + k + R"(, "cpus": 2.5})",
            "vm.json: cpus: expected a number from 1 to 255, got 2.5"},
           {"{" + k + R"(, "cpus": -1})", "vm.json: cpus: expected a number from 1 to 255, got -1"},
           {R"({"kernel": 3})", "vm.json: kernel: expected a string, got 3"},
           {R"({"kernel": ""})", "vm.json: kernel: is empty"},
           {R"({"kernel": "/nonexistent/bzImage"})",
            "vm.json: kernel: /nonexistent/bzImage: No such file or directory"},
           {"{" + k + R"(, "initrd": ["/nonexistent/a"]})",
            "vm.json: initrd[0]: /nonexistent/a: No such file or directory"},
           {"{" + k + R"(, "initrd": 1})", "vm.json: initrd: expected a path or an array of paths"},
           {"{" + k + R"(, "memory": "lots"})", "vm.json: memory: 'lots' is not a size"},
           {"{" + k + R"(, "memory": 2})", "vm.json: memory: 2 MiB is too small (at least 4 MiB)"},
           {"{" + k + R"(, "memory": {"size": "100T"}})",
            "vm.json: memory.size: 102400 GiB is more than Wisp supports"},
           {"{" + k + R"(, "memory": {"shared": true}})", "vm.json: memory.size: is missing"},
           {"{" + k + R"(, "memory": {"size": "1G", "hugepages": true}})",
            "vm.json: memory.hugepages: unknown key (known here: size, shared)"},
           {"{" + k + R"(, "memory": true})", "vm.json: memory: expected a size"},
           {"{" + k + R"(, "serial": "tcp"})",
            "vm.json: serial: --serial 'tcp' is not one of stdio, none, file=PATH, tee=PATH"},
           {"{" + k + R"(, "serial2": ["stdio"]})", "vm.json: serial2: expected a string"},
           {"{" + k + R"(, "on-reboot": "maybe"})",
            "vm.json: on-reboot: --on-reboot 'maybe' is not one of exit, restart"},
           {"{" + k + R"(, "timeout": 4294967296})",
            "vm.json: timeout: expected a number from 0 to 4294967295"},
           {"{" + k + R"(, "uid": -1})",
            "vm.json: uid: expected a number from 0 to 4294967294, got -1"},
           {"{" + k + R"(, "cgroup": {"cpu": 0}})", "vm.json: cgroup: --cgroup cpu=0"},
           {"{" + k + R"(, "cgroup": {"parent": 3}})", "vm.json: cgroup.parent: expected a path"},
           {"{" + k + R"(, "host-root": "yes"})",
            R"(vm.json: host-root: expected true or false, got "yes")"},
           {"{" + k + R"(, "verbose": 3})", "vm.json: verbose: expected a number from 0 to 2"},
           {"{" + k + R"(, "vsock": {"cid": 2, "uds": "/tmp/v.sock"}})",
            "vm.json: vsock.cid: expected a number from 3 to 4294967294, got 2"},
           {"{" + k + R"(, "vsock": {"cid": 3}})", "vm.json: vsock.uds: is missing"},
           {"{" + k + R"(, "vsock": {"cid": 3, "uds": "/nonexistent/v.sock"}})",
            "vm.json: vsock.uds: /nonexistent/v.sock: the directory /nonexistent/: No such file"},
           {"{" + k + R"(, "vsock": {"cid": 3, "uds": "/tmp/v.sock", "port": 1}})",
            "vm.json: vsock.port: unknown key (known here: cid, uds)"},
           {"{" + k + R"(, "vsock": "cid=1,uds=/tmp/v.sock"})",
            "vm.json: vsock: --vsock: guest CID 1 is reserved"},
           {"{" + k + R"(, "vsock": 3})", "vm.json: vsock: expected a vsock device"},
           {"{" + k + R"(, "cmdline": "a\u0000b"})",
            "vm.json: cmdline: \"a\\u0000b\" contains a NUL byte"},
           // Lists and their objects.
           {"{" + k + R"(, "disks": {"path": "x"}})", "vm.json: disks: expected an array"},
           {"{" + k + R"(, "disks": [{"path": )" + js(disk.path()) +
                R"(}, {"path": "/nonexistent/disk"}]})",
            "vm.json: disks[1].path: /nonexistent/disk: No such file or directory"},
           {"{" + k + R"(, "disks": ["path=/nonexistent/disk"]})",
            "vm.json: disks[0]: /nonexistent/disk: No such file or directory"},
           {"{" + k + R"(, "disks": [{"readonly": true}]})", "vm.json: disks[0].path: is missing"},
           {"{" + k + R"(, "disks": [{"path": )" + js(disk.path()) + R"(, "readonly": "on"}]})",
            R"(vm.json: disks[0].readonly: expected true or false, got "on")"},
           {"{" + k + R"(, "disks": [{"path": )" + js(disk.path()) + R"(, "cache": "fast"}]})",
            "vm.json: disks[0].cache: --disk cache='fast' is not one of writeback, none"},
           {"{" + k + R"(, "disks": [{"path": )" + js(disk.path()) + R"(, "queues": 17}]})",
            "vm.json: disks[0].queues: expected a number from 1 to 16, got 17"},
           {"{" + k + R"(, "disks": [{"path": )" + js(disk.path()) + R"(, "readOnly": true}]})",
            "vm.json: disks[0].readOnly: unknown key (known here: path, readonly, serial, cache, "
            "discard, queues, aio)"},
           {"{" + k + R"(, "disks": [3]})", "vm.json: disks[0]: expected a disk"},
           {"{" + k + R"(, "nets": [{"mac": "52:54:00:12:34:56"}]})",
            "vm.json: nets[0]: needs one of tap=NAME or fd=N"},
           {"{" + k + R"(, "nets": [{"tap": "tap0", "mac": "01:00:5e:00:00:01"}]})",
            "vm.json: nets[0].mac: --net mac: MAC address 01:00:5e:00:00:01 is a multicast"},
           {"{" + k + R"(, "nets": ["tap=tap0,vhost=on"]})",
            "vm.json: nets[0]: --net has an unknown key 'vhost'"},
           {"{" + k + R"(, "filesystems": [{"tag": "data"}]})",
            "vm.json: filesystems[0].socket: is missing"},
           {"{" + k + R"(, "shares": [{"path": "/nonexistent/dir"}]})",
            "vm.json: shares[0].path: /nonexistent/dir: No such file or directory"},
           {"{" + k + R"(, "shares": [{"path": )" + js(kernel.path()) + "}]}",
            "vm.json: shares[0].path: " + kernel.path() + ": not a directory"},
           {"{" + k + R"(, "jail": "/nonexistent/jail"})",
            "vm.json: jail: /nonexistent/jail: No such file or directory"},
           // Keys.
           {"{" + k + R"(, "cpu": 2})",
            "vm.json: cpu: unknown key (the keys are `wisp run`'s "
            "options: kernel, initrd, cmdline, cpus,"},
           {"{" + k + R"(, "a b": 2})", "vm.json: [\"a b\"]: unknown key"},
           {R"({"cpus": 2})", "vm.json: kernel: is missing (give it here or with --kernel)"},
           {"{" + k + R"(, "cpus": 1, "cpus": 2})", "vm.json: cpus: given twice in one object"},
           {"{" + k + R"(, "disks": [{"path": "a"}, {"path": "b", "path": "c"}]})",
            "vm.json: disks[1].path: given twice in one object"},
           // Not JSON, or not an object.
           {"{" + k + ",\n  \"cpus\": 2,\n}",
            "vm.json: not valid JSON: parse error at line 3, column 1: syntax error while parsing "
            "object key - unexpected '}'; expected string literal (byte "},
           {"",
            "vm.json: not valid JSON: parse error at line 1, column 1: syntax error while parsing "
            "value - unexpected end of input"},
           {"[1]", "vm.json: the file: expected an object, got an array"},
       }) {
    INFO(c.text);
    CHECK_THAT(wisp_error(c.text), Catch::StartsWith(c.message));
  }
}

TEST_CASE("config file: the command line replaces the file's values") {
  TempFile kernel("kernel"), other_kernel("kernel"), disk1("disk"), disk2("disk"), disk3("disk");
  TempFile file("vm-json", "{\"kernel\": " + js(kernel.path()) + R"(, "cpus": 2, "cmdline": "file",
      "memory": "1G", "disks": [{"path": )" +
                               js(disk1.path()) + R"(}, {"path": )" + js(disk2.path()) +
                               R"(}], "nets": [{"tap": "tap0"}]})");
  Command command = cli({"run", "--config", file.path(), "--cpus", "4", "--disk",
                         "path=" + disk3.path(), "--net", "tap=tap1"});
  CHECK(command.config.kernel_path == kernel.path());
  CHECK(command.config.cmdline == "file");
  CHECK(command.config.memory_bytes == 1ull << 30);
  CHECK(command.config.cpus == 4);
  REQUIRE(command.config.disks.size() == 1);  // the command line's list replaces the file's
  CHECK(command.config.disks[0].path == disk3.path());
  REQUIRE(command.config.nics.size() == 1);
  CHECK(command.config.nics[0].tap == "tap1");

  // Options before --config replace its values too.
  CHECK(cli({"run", "--cmdline", "cli", "--config", file.path()}).config.cmdline == "cli");

  // A kernel the command line replaces need not exist, and need not be in the file at all.
  TempFile missing_kernel("vm-json", R"({"kernel": "/nonexistent/bzImage"})");
  CHECK(cli({"run", "--config", missing_kernel.path(), "--kernel", other_kernel.path()})
            .config.kernel_path == other_kernel.path());
  TempFile no_kernel("vm-json", R"({"cpus": 2})");
  CHECK(cli({"run", "--config", no_kernel.path(), "--kernel", kernel.path()}).config.cpus == 2);

  // The file's --share and --fs lists are replaced one kind at a time.
  TempFile shares("vm-json", "{\"kernel\": " + js(kernel.path()) +
                                 R"(, "shares": ["/tmp"], "filesystems": ["tag=a,socket=/s"]})");
  Command replaced = cli({"run", "--config", shares.path(), "--fs", "tag=b,socket=/t"});
  REQUIRE(replaced.config.filesystems.size() == 2);
  CHECK(replaced.config.filesystems[0].directory == "/tmp");
  CHECK(replaced.config.filesystems[1].tag == "b");

  // A file's jail, and --uid beside it.
  TempFile jailed("vm-json", "{\"kernel\": " + js(kernel.path()) + R"(, "jail": "/tmp"})");
  CHECK(cli({"run", "--config", jailed.path(), "--uid", "7"}).jail.uid == 7u);
}

TEST_CASE("config file: a bad file, or no kernel at all, is a usage error") {
  int status = -1;
  TempFile bad("vm-json", R"({"kernel": 7})");
  CHECK_FALSE(parse_cli({"run", "--config", bad.path()}, &status));
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"run", "--config", "/nonexistent/vm.json"}, &status));
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"run"}, &status));
  CHECK(status == 2);
  TempFile uid_only("vm-json", R"({"uid": 5})");
  TempFile kernel("kernel");
  CHECK_FALSE(parse_cli({"run", "--config", uid_only.path(), "--kernel", kernel.path()}, &status));
  CHECK(status == 2);
}

TEST_CASE("Firecracker's format maps to what the equivalent Wisp command line runs") {
  TempFile kernel("vmlinux"), initrd("initrd"), root("rootfs"), data("data");
  std::string file = R"({
    "boot-source": {"kernel_image_path": )" +
                     js(kernel.path()) + R"(,
                    "boot_args": "console=ttyS0 reboot=k panic=1",
                    "initrd_path": )" +
                     js(initrd.path()) + R"(},
    "drives": [
      {"drive_id": "data", "path_on_host": )" +
                     js(data.path()) + R"(, "is_root_device": false,
       "is_read_only": true},
      {"drive_id": "rootfs", "path_on_host": )" +
                     js(root.path()) + R"(, "is_root_device": true,
       "is_read_only": false, "cache_type": "Writeback", "io_engine": "Async"}
    ],
    "machine-config": {"vcpu_count": 2, "mem_size_mib": 256, "smt": false,
                       "track_dirty_pages": false},
    "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                            "guest_mac": "AA:FC:00:00:00:01"}],
    "logger": {"level": "Debug", "log_path": "/tmp/wisp-fc.log"}
  })";
  auto from_file = from_firecracker_json(file);
  INFO(file);
  REQUIRE(from_file);
  Command from_options = cli(
      {"run", "--kernel", kernel.path(), "--initrd", initrd.path(), "--cmdline",
       "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw", "--cpus", "2", "--memory", "256M",
       "--disk", "path=" + root.path(), "--disk", "path=" + data.path() + ",readonly=on,aio=sync",
       "--net", "tap=tap0,mac=aa:fc:00:00:00:01", "-vv"});
  CHECK(describe(*from_file) == describe(from_options));
  CHECK(from_file->config.cmdline == "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw");
  CHECK(from_file->config.disks.at(0).path == root.path());  // the root drive is /dev/vda
  CHECK(from_file->log_path == "/tmp/wisp-fc.log");
  CHECK_THAT(fmt::format("{}", fmt::join(from_file->ignored_settings, "; ")),
             Catch::Contains("machine-config.smt: ignored") &&
                 Catch::Contains("machine-config.track_dirty_pages: ignored"));
}

TEST_CASE("Firecracker's format: defaults, a read-only root, a root by PARTUUID") {
  TempFile kernel("vmlinux"), root("rootfs");
  std::string boot = R"("boot-source": {"kernel_image_path": )" + js(kernel.path()) + "}";
  auto minimal = from_firecracker_json("{" + boot + "}");
  REQUIRE(minimal);
  CHECK(minimal->config.cmdline == std::string(kFirecrackerDefaultCmdline) + " pci=off");
  CHECK(minimal->config.cpus == 1);
  CHECK(minimal->config.memory_bytes == 128ull << 20);
  CHECK(minimal->config.serial.mode ==
        SerialMode::kStdio);  // the console on stdout, as Firecracker's

  std::string drive = R"({"drive_id": "rootfs", "path_on_host": )" + js(root.path()) +
                      R"(, "is_root_device": true, "is_read_only": true)";
  auto read_only = from_firecracker_json("{" + boot + R"(, "drives": [)" + drive + "}]}");
  REQUIRE(read_only);
  CHECK(read_only->config.cmdline.ends_with(" pci=off root=/dev/vda ro"));
  REQUIRE(read_only->config.disks.size() == 1);
  CHECK(read_only->config.disks[0].access == DiskAccess::kReadOnly);
  CHECK(read_only->config.disks[0].io == DiskIo::kSync);  // Firecracker's default engine

  auto by_partuuid = from_firecracker_json("{" + boot + R"(, "drives": [)" + drive +
                                           R"(, "partuuid": "0eaa91a0-01"}]})");
  REQUIRE(by_partuuid);
  CHECK(by_partuuid->config.cmdline.ends_with(" pci=off root=PARTUUID=0eaa91a0-01 ro"));

  auto no_args = from_firecracker_json(R"({"boot-source": {"kernel_image_path": )" +
                                       js(kernel.path()) + R"(, "boot_args": ""}})");
  REQUIRE(no_args);
  CHECK(no_args->config.cmdline == "pci=off");

  auto debugged = from_firecracker_json("{" + boot + R"(, "machine-config": {"vcpu_count": 1,
      "mem_size_mib": 128, "gdb_socket_path": "/tmp/gdb.socket"}})");
  REQUIRE(debugged);
  REQUIRE(debugged->config.gdb);
  CHECK(debugged->config.gdb->kind == gdb::Address::Kind::kUnix);
  CHECK(debugged->config.gdb->path == "/tmp/gdb.socket");
  CHECK(debugged->config.gdb_wait);  // Firecracker's guest waits for gdb

  // Firecracker's own example (tests/framework/vm_config.json), its nulls included.
  auto example = from_firecracker_json(R"({
    "boot-source": {"kernel_image_path": )" +
                                       js(kernel.path()) + R"(,
                    "boot_args": "console=ttyS0 reboot=k panic=1", "initrd_path": null},
    "drives": [{"drive_id": "rootfs", "partuuid": null, "is_root_device": true,
                "cache_type": "Unsafe", "is_read_only": false, "path_on_host": )" +
                                       js(root.path()) + R"(, "io_engine": "Sync",
                "rate_limiter": null, "socket": null}],
    "machine-config": {"vcpu_count": 2, "mem_size_mib": 1024, "smt": false,
                       "track_dirty_pages": false, "huge_pages": "None"},
    "cpu-config": null, "balloon": null, "network-interfaces": [], "vsock": null,
    "logger": null, "metrics": null, "mmds-config": null, "entropy": null, "pmem": [],
    "memory-hotplug": null
  })");
  REQUIRE(example);
  CHECK(example->config.cmdline == "console=ttyS0 reboot=k panic=1 pci=off root=/dev/vda rw");
  CHECK(example->config.memory_bytes == 1ull << 30);
  CHECK(example->config.cpus == 2);
}

TEST_CASE("Firecracker's format: what Wisp cannot do yet is refused by name") {
  TempFile kernel("vmlinux"), root("rootfs");
  std::string boot = R"("boot-source": {"kernel_image_path": )" + js(kernel.path()) + "}";
  for (std::string section :
       {"balloon", "mmds-config", "entropy", "metrics", "cpu-config", "memory-hotplug"}) {
    INFO(section);
    CHECK_THAT(firecracker_error("{" + boot + ", \"" + section + "\": {}}"),
               Catch::Equals("fc.json: " + section + ": the " + section +
                             " section is not supported by Wisp yet"));
  }
  CHECK_THAT(firecracker_error("{" + boot + R"(, "pmem": [{"id": "p", "path_on_host": "x"}]})"),
             Catch::StartsWith("fc.json: pmem: the pmem section"));

  std::string machine = R"(, "machine-config": {"vcpu_count": 1, "mem_size_mib": 128, )";
  std::string drive = R"(, "drives": [{"drive_id": "rootfs", "path_on_host": )" + js(root.path()) +
                      R"(, "is_root_device": true, )";
  struct Case {
    std::string text;
    std::string message;
  };
  for (
      const Case& c : std::initializer_list<Case>{
          {"{" + boot + machine + R"("smt": true}})",
           "fc.json: machine-config.smt: true (two threads per core) is not supported by Wisp yet"},
          {"{" + boot + machine + R"("track_dirty_pages": true}})",
           "fc.json: machine-config.track_dirty_pages: true (for diff snapshots) is not supported"},
          {"{" + boot + machine + R"("huge_pages": "2M"}})",
           "fc.json: machine-config.huge_pages: huge pages (\"2M\") are not supported"},
          {"{" + boot + machine + R"("huge_pages": "1G"}})",
           "fc.json: machine-config.huge_pages: \"1G\" is not one of None, Transparent, 2M"},
          {"{" + boot + machine + R"("cpu_template": "T2"}})",
           "fc.json: machine-config.cpu_template: CPU template \"T2\" is not supported"},
          {"{" + boot + machine + R"("vcpu_count": 0}})",
           "fc.json: machine-config.vcpu_count: given twice in one object"},
          {"{" + boot + R"(, "machine-config": {"vcpu_count": "2", "mem_size_mib": 128}})",
           "fc.json: machine-config.vcpu_count: expected a number from 1 to 255, got \"2\""},
          {"{" + boot + R"(, "machine-config": {"vcpu_count": 2}})",
           "fc.json: machine-config.mem_size_mib: is missing"},
          {"{" + boot + R"(, "machine-config": {"vcpu_count": 2, "mem_size_mib": 2}})",
           "fc.json: machine-config.mem_size_mib: 2 MiB is too small"},
          {"{" + boot + drive +
               R"("rate_limiter": {"bandwidth": {"size": 1, "refill_time": 1}}}]})",
           "fc.json: drives[0].rate_limiter: rate limiters are not supported by Wisp yet"},
          {"{" + boot + drive + R"("socket": "/tmp/vhost.sock"}]})",
           "fc.json: drives[0].socket: vhost-user drives are not supported by Wisp yet"},
          {"{" + boot + drive + R"("io_engine": "Fast"}]})",
           "fc.json: drives[0].io_engine: \"Fast\" is not one of Sync, Async"},
          {"{" + boot + drive + R"("readonly": true}]})",
           "fc.json: drives[0].readonly: unknown key (known here: drive_id, partuuid, "},
          {"{" + boot + drive +
               R"("is_read_only": false}, {"drive_id": "rootfs", "path_on_host": )" +
               js(root.path()) + R"(, "is_root_device": false}]})",
           "fc.json: drives[1].drive_id: \"rootfs\" is the ID of an earlier drive too"},
          {"{" + boot + drive + R"("is_read_only": true}, {"drive_id": "b", "path_on_host": )" +
               js(root.path()) + R"(, "is_root_device": true}]})",
           "fc.json: drives[1].is_root_device: a second root drive"},
          {"{" + boot + R"(, "drives": [{"drive_id": "a", "path_on_host": "/nonexistent/rootfs",
                "is_root_device": true}]})",
           "fc.json: drives[0].path_on_host: /nonexistent/rootfs: No such file or directory"},
          {"{" + boot + R"(, "drives": [{"drive_id": "a", "path_on_host": )" + js(root.path()) +
               "}]}",
           "fc.json: drives[0].is_root_device: is missing"},
          {"{" + boot + R"(, "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                "mtu": 9000}]})",
           "fc.json: network-interfaces[0].mtu: an MTU for the guest is not supported by Wisp yet"},
          {"{" + boot + R"(, "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                "rx_rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}]})",
           "fc.json: network-interfaces[0].rx_rate_limiter: rate limiters are not supported"},
          {"{" + boot + R"(, "network-interfaces": [{"iface_id": "eth0"}]})",
           "fc.json: network-interfaces[0].host_dev_name: is missing"},
          {"{" + boot + R"(, "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                "guest_mac": "zz"}]})",
           "fc.json: network-interfaces[0].guest_mac: --net mac: 'zz' is not a MAC address"},
          {"{" + boot + R"(, "logger": {"level": "Loud"}})",
           "fc.json: logger.level: 'Loud' is not one of Error, Warning, Info, Debug, Trace, Off"},
          {"{" + boot + R"(, "vsockets": {}})", "fc.json: vsockets: unknown key (known here: "},
          {R"({"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}})",
           "fc.json: boot-source: is missing"},
          {R"({"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}})",
           "fc.json: boot-source.kernel_image_path: /nonexistent/vmlinux: No such file"},
          {R"({"boot-source": {"kernel": "vmlinux"}})",
           "fc.json: boot-source.kernel: unknown key (known here: kernel_image_path, initrd_path, "
           "boot_args)"},
          {"{" + boot + ",}", "fc.json: not valid JSON: parse error at line 1, column "},
      }) {
    INFO(c.text);
    CHECK_THAT(firecracker_error(c.text), Catch::StartsWith(c.message));
  }
}

TEST_CASE("Firecracker's format: the vsock section is --vsock") {
  TempFile kernel("vmlinux");
  std::string boot = R"("boot-source": {"kernel_image_path": )" + js(kernel.path()) + "}";
  auto with_vsock = from_firecracker_json(
      "{" + boot +
      R"(, "vsock": {"vsock_id": "vsock0", "guest_cid": 3, "uds_path": "/tmp/v.sock"}})");
  REQUIRE(with_vsock);
  Command from_options = cli({"run", "--kernel", kernel.path(), "--cmdline",
                              std::string(kFirecrackerDefaultCmdline) + " pci=off", "--memory",
                              "128M", "--vsock", "cid=3,uds=/tmp/v.sock"});
  CHECK(describe(*with_vsock) == describe(from_options));
  CHECK_THAT(fmt::format("{}", fmt::join(with_vsock->ignored_settings, "; ")),
             Catch::Contains("vsock.vsock_id: ignored"));

  // The function the API's PUT /vsock reads its body with.
  auto body = config_json::parse(R"({"guest_cid": 4294967294, "uds_path": "v.sock"})");
  REQUIRE(body);
  auto vsock = read_firecracker_vsock(*body, "vsock");
  REQUIRE(vsock);
  CHECK(vsock->guest_cid == 0xfffffffeu);
  CHECK(vsock->uds_path == "v.sock");

  struct Case {
    std::string text;
    std::string message;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"({"guest_cid": 2, "uds_path": "/tmp/v.sock"})",
            "vsock.guest_cid: guest CID 2 is reserved or out of range (a guest's CID is 3 to "
            "4294967294; 2 is the host)"},
           {R"({"guest_cid": 4294967295, "uds_path": "/tmp/v.sock"})",
            "vsock.guest_cid: guest CID 4294967295 is reserved"},
           {R"({"guest_cid": 4294967296, "uds_path": "/tmp/v.sock"})",
            "vsock.guest_cid: expected a number from 0 to 4294967295, got 4294967296"},
           {R"({"guest_cid": "3", "uds_path": "/tmp/v.sock"})",
            "vsock.guest_cid: expected a number"},
           {R"({"uds_path": "/tmp/v.sock"})", "vsock.guest_cid: is missing"},
           {R"({"guest_cid": 3})", "vsock.uds_path: is missing"},
           {R"({"guest_cid": 3, "uds_path": ""})", "vsock.uds_path: is empty"},
           {R"({"guest_cid": 3, "uds_path": "/nonexistent/v.sock"})",
            "vsock.uds_path: /nonexistent/v.sock: the directory /nonexistent/: No such file or "
            "directory"},
           {R"({"guest_cid": 3, "uds_path": "/tmp/v.sock", "cid": 3})",
            "vsock.cid: unknown key (known here: vsock_id, guest_cid, uds_path)"},
           {R"([3])", "vsock: expected an object"},
       }) {
    INFO(c.text);
    CHECK_THAT(firecracker_error("{" + boot + ", \"vsock\": " + c.text + "}"),
               Catch::StartsWith("fc.json: " + c.message));
  }
}

TEST_CASE("Firecracker's log levels as Wisp's") {
  CHECK(*parse_firecracker_log_level("Trace") == log::Level::kDebug);
  CHECK(*parse_firecracker_log_level("debug") == log::Level::kDebug);
  CHECK(*parse_firecracker_log_level("Info") == log::Level::kInfo);
  CHECK(*parse_firecracker_log_level("Warning") == log::Level::kWarn);
  CHECK(*parse_firecracker_log_level("WARN") == log::Level::kWarn);
  CHECK(*parse_firecracker_log_level("Error") == log::Level::kError);
  CHECK(*parse_firecracker_log_level("Off") == log::Level::kError);
  CHECK_FALSE(parse_firecracker_log_level("verbose"));
}

TEST_CASE("Firecracker's command line: --no-api --config-file, and what goes with it") {
  TempFile kernel("vmlinux");
  TempFile file("fc-json", R"({"boot-source": {"kernel_image_path": )" + js(kernel.path()) + "}}");
  Command command = cli({"--no-api", "--config-file", file.path(), "--id", "vm-1"});
  CHECK(command.config.kernel_path == kernel.path());
  CHECK(command.config.seccomp == kDefaultSeccompMode);
  CHECK(command.log_level == log::Level::kWarn);

  Command flags = cli({"--config-file", file.path(), "--no-api", "--no-seccomp", "--level", "Info",
                       "--log-path", "/tmp/wisp-fc.log"});
  CHECK(flags.config.seccomp == SeccompMode::kOff);
  CHECK(flags.log_level == log::Level::kInfo);
  CHECK(flags.log_path == "/tmp/wisp-fc.log");

  // The file's logger overrides the command line's, as in Firecracker.
  TempFile with_logger("fc-json", R"({"boot-source": {"kernel_image_path": )" + js(kernel.path()) +
                                      R"(}, "logger": {"level": "Error"}})");
  CHECK(cli({"--no-api", "--config-file", with_logger.path(), "--level", "Debug"}).log_level ==
        log::Level::kError);

  // Without --no-api the API serves: on Firecracker's default socket, the file read by the API.
  Command api = cli({"--config-file", file.path(), "--id", "vm-1"});
  CHECK(api.serves_api());
  CHECK(api.api_socket == "/run/firecracker.socket");
  CHECK(api.instance_id == "vm-1");
  CHECK(api.firecracker_config_file == file.path());
  CHECK(api.config.kernel_path.empty());
  CHECK(cli({"--api-sock", "/tmp/fc.sock"}).api_socket == "/tmp/fc.sock");
  CHECK_FALSE(cli({"--no-api", "--config-file", file.path()}).serves_api());

  int status = -1;
  CHECK_FALSE(
      parse_cli({"--no-api", "--config-file", file.path(), "--api-sock", "/tmp/fc.sock"}, &status));
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"--no-api"}, &status));  // needs --config-file
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"--no-api", "--config-file", file.path(), "--id", "vm_1"}, &status));
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"--api-sock", "/tmp/fc.sock", "--id", ""}, &status));
  CHECK(status == 2);
  CHECK_FALSE(parse_cli({"--no-api", "--config-file", file.path(), "run"}, &status));
  CHECK(status == 2);
  TempFile bad("fc-json", R"({"boot-source": {}})");
  CHECK_FALSE(parse_cli({"--no-api", "--config-file", bad.path()}, &status));
  CHECK(status == 2);
}

TEST_CASE("JSON paths and values in messages") {
  CHECK(config_json::member_path("", "cpus") == "cpus");
  CHECK(config_json::member_path("disks[0]", "path") == "disks[0].path");
  CHECK(config_json::member_path("", "boot-source") == "boot-source");
  CHECK(config_json::member_path("x", "a.b") == "x[\"a.b\"]");
  CHECK(config_json::element_path("disks", 3) == "disks[3]");
  CHECK(config_json::quote(config_json::Json(std::string(100, 'a'))).size() == 60);
  auto nested = config_json::parse(R"({"a": [1, {"b": [{}, {"c": 1, "c": 2}]}]})");
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message() == "a[1].b[1].c: given twice in one object");
  CHECK(config_json::parse(R"({"a": [{"c": 1}, {"c": 2}], "b": {"c": 3}})"));
}
