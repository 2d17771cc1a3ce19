// Bad input from the user gets one clear line on stderr and a non-zero status, never a crash or
// a hang.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/integration/paths.h"
#include "tests/integration/process.h"

using wisp::test::read_file;
using wisp::test::run_process;

namespace {

using wisp::test::kWisp;
using wisp::test::tiny_guest;
const std::string kHello = tiny_guest("hello");
constexpr int kTimeout = 30;

std::string temp_file_with(const std::string& contents) {
  char path[] = "/tmp/wisp-input-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
  ::close(fd);
  return path;
}

// One line on stderr that mentions `needle`, and the given status.
void check_rejected(const std::vector<std::string>& args, int status, const std::string& needle) {
  std::vector<std::string> argv = {kWisp};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_process(argv, "", kTimeout);
  INFO("stderr: " << result.err);
  CHECK_FALSE(result.timed_out);
  CHECK(result.status == status);
  CHECK(result.err.find(needle) != std::string::npos);
  CHECK(result.out.empty());
}

}  // namespace

TEST_CASE("usage errors are reported before anything is created", "[cli]") {
  check_rejected({"run"}, 2, "--kernel");
  check_rejected({"run", "--kernel", "/nonexistent/bzImage"}, 2, "/nonexistent/bzImage");
  check_rejected({"run", "--kernel", kHello, "--initrd", "/nonexistent/initrd"}, 2,
                 "/nonexistent/initrd");
  check_rejected({"run", "--kernel", kHello, "--cpus", "0"}, 2, "--cpus 0");
  check_rejected({"run", "--kernel", kHello, "--cpus", "300"}, 2, "--cpus 300");
  check_rejected({"run", "--kernel", kHello, "--memory", "lots"}, 2, "not a size");
  check_rejected({"run", "--kernel", kHello, "--memory", "64Q"}, 2, "unknown size suffix");
  check_rejected({"run", "--kernel", kHello, "--memory", "100T"}, 2, "more than Wisp supports");
  check_rejected({"run", "--kernel", kHello, "--memory", "1M"}, 2, "too small");
  check_rejected({"run", "--kernel", kHello, "--serial", "tcp"}, 2, "--serial");
  check_rejected({"run", "--kernel", kHello, "--on-reboot", "maybe"}, 2, "--on-reboot");
  check_rejected({"run", "--kernel", kHello, "--on-panic", "reboot"}, 2,
                 "--on-panic 'reboot' is not one of exit, continue");
  check_rejected({"fly"}, 2, "subcommand");
  // The jail's options.
  check_rejected({"run", "--kernel", kHello, "--uid", "65534"}, 2, "--uid requires --jail");
  check_rejected({"run", "--kernel", kHello, "--cgroup", "memory=1G"}, 2,
                 "--cgroup requires --jail");
  check_rejected({"run", "--kernel", kHello, "--jail", "/nonexistent/jail"}, 2,
                 "/nonexistent/jail");
  check_rejected({"run", "--kernel", kHello, "--jail", "/"}, 2, "--jail /: the jail must be");
  check_rejected({"run", "--kernel", kHello, "--jail", "/tmp", "--uid", "nobody"}, 2,
                 "--uid 'nobody' is not a numeric id");
  check_rejected({"run", "--kernel", kHello, "--jail", "/tmp", "--cgroup", "memory=lots"}, 2,
                 "--cgroup memory=lots");
  check_rejected({"run", "--kernel", kHello, "--jail", "/tmp", "--cgroup", "cpu=0"}, 2,
                 "--cgroup cpu=0: not a number of CPUs");
  check_rejected({"run", "--kernel", kHello, "--jail", "/tmp", "--cgroup", "swap=1G"}, 2,
                 "--cgroup 'swap=1G' is not one of");
  check_rejected({"run", "--kernel", kHello, "--jail", "/tmp", "--cgroup", "parent=wisp"}, 2,
                 "--cgroup parent=wisp: give a path");
  // Found only while the VM is built, and still the user's error.
  check_rejected({"run", "--kernel", kHello, "--cmdline", std::string(3000, 'x')}, 2,
                 "the kernel command line is 3000 bytes; this kernel accepts at most");
  check_rejected({"run", "--kernel", kHello, "--serial2", "stdio"}, 2,
                 "--serial2 stdio: standard output is COM1's already");
  check_rejected({"run", "--kernel", kHello, "--serial", "file=/tmp/a", "--serial2", "tee=/tmp/a"},
                 2, "--serial2: COM1 writes to /tmp/a already");
  check_rejected({"run", "--kernel", kHello, "--serial2", "tcp"}, 2,
                 "--serial2 'tcp' is not one of");
}

TEST_CASE("bad devices and conflicting options are named", "[cli]") {
  std::string disk = temp_file_with(std::string(4096, '\0'));
  const std::string path = "path=" + disk;
  struct Row {
    std::vector<std::string> args;
    std::string message;
  };
  const Row rows[] = {
      {{"--disk", "path=/nonexistent.img"}, "disk /nonexistent.img: No such file or directory"},
      {{"--disk", path, "--disk", path}, "are the same file, and a writable disk cannot share it"},
      {{"--disk", path + ",queues=0"}, "--disk queues='0' is not a number from 1 to 16"},
      {{"--disk", path + ",cache=maybe"}, "--disk cache='maybe' is not one of writeback, none"},
      {{"--disk", path + ",serial=123456789012345678901"}, "is longer than 20 bytes"},
      {{"--disk", "readonly=on"}, "--disk 'readonly=on' has no path=IMAGE"},
      {{"--net", "tap=t0,mac=zz:00"}, "'zz:00' is not a MAC address"},
      {{"--net", "tap=t0", "--net", "tap=t0"}, "--net tap=t0 is given twice"},
      {{"--net", "none", "--net", "tap=t0"}, "--net none cannot go with another --net"},
      {{"--net", "fd=99"}, "--net fd=99: Bad file descriptor"},
      {{"--net", "tap=t0,queues=0"}, "--net queues='0' is not a number from 1 to 16"},
      {{"--timeout", "soon"}, "--timeout"},
      {{"--cpus", "two"}, "--cpus"},
      {{"--memory", "0"}, "--memory 0 MiB is too small"},
      {{"--kernel-format", "raw"}, "--kernel-format raw needs --load-address, --entry"},
      {{"--entry", "0x1000"},
       "--load-address, --entry and --entry-mode go with --kernel-format raw"},
      {{"--initrd", disk + ",/nonexistent2"}, "initrd /nonexistent2: No such file or directory"},
      {{"--share", "/nonexistent-dir"}, "--share /nonexistent-dir: No such file or directory"},
      {{"--share", disk}, "--share " + disk + ": not a directory"},
      {{"--share", "/tmp,readonly=maybe"}, "--share readonly='maybe' is not one of on, off"},
      {{"--share", "/tmp,tag=x", "--share", "/var,tag=x"}, "two file systems have the tag 'x'"},
      {{"--share", "/tmp", "--memory", "64M,shared=off"}, "drop --memory ...,shared=off"},
      {{"--fs", "tag=a"}, "--fs 'tag=a' needs tag=TAG and socket=PATH"},
      {{"--memory", "64M,shared=maybe"}, "--memory shared='maybe' is not one of on, off"},
      {{"--vsock", "cid=2,uds=/tmp/v.sock"}, "--vsock: guest CID 2 is reserved or out of range"},
      {{"--vsock", "cid=4294967295,uds=/tmp/v.sock"}, "guest CID 4294967295 is reserved"},
      {{"--vsock", "uds=/tmp/v.sock"}, "--vsock 'uds=/tmp/v.sock' needs cid=N and uds=PATH"},
      {{"--vsock", "cid=3,uds=/tmp/v.sock,port=1"}, "--vsock has an unknown key 'port'"},
      {{"--vsock", "cid=3,uds=/nonexistent/v.sock"},
       "--vsock uds: /nonexistent/v.sock: the directory /nonexistent/: No such file or directory"},
      {{"--vsock", "cid=3,uds=/tmp/" + std::string(120, 'v')},
       "bytes are more than a unix socket path takes (107)"},
      {{"--exec", "true"}, "--exec requires --host-root"},
      {{"--host-root", "--cmdline", "root=/dev/vda"}, "--host-root sets root= itself"},
  };
  for (const Row& row : rows) {
    std::vector<std::string> args = {"run", "--kernel", kHello};
    args.insert(args.end(), row.args.begin(), row.args.end());
    check_rejected(args, 2, row.message);
  }
  // A back end that is not there is an error of the run, not of the command line.
  auto no_backend = run_process(
      {kWisp, "run", "--kernel", kHello, "--fs", "tag=a,socket=/nonexistent/virtiofsd.sock"}, "",
      kTimeout);
  CHECK(no_backend.status == 10);
  CHECK_THAT(no_backend.err, Catch::Contains("--fs tag=a: connecting to the vhost-user back end "
                                             "at /nonexistent/virtiofsd.sock"));
  // As Firecracker, a file already at the vsock's socket path is an error of the run, and stays.
  std::string taken = temp_file_with("not a socket");
  auto vsock = run_process({kWisp, "run", "--kernel", kHello, "--vsock", "cid=3,uds=" + taken}, "",
                           kTimeout);
  CHECK(vsock.status == 10);
  CHECK_THAT(vsock.err, Catch::Contains("vsock socket " + taken + ": the file exists"));
  CHECK(read_file(taken) == "not a socket");
  ::unlink(taken.c_str());
  // The same image may back several read-only disks. ("0": the guest exits with status 1.)
  auto shared = run_process({kWisp, "run", "--kernel", kHello, "--cmdline", "0", "--disk",
                             path + ",readonly=on", "--disk", path + ",readonly=on"},
                            "", kTimeout);
  CHECK(shared.status == 1);
  ::unlink(disk.c_str());
}

TEST_CASE("a jail directory the jailed uid cannot enter, or others may write, is refused",
          "[cli]") {
  char directory[] = "/tmp/wisp-jail-XXXXXX";  // mode 0700, root's
  REQUIRE(::mkdtemp(directory) != nullptr);
  check_rejected({"run", "--kernel", kHello, "--jail", directory, "--uid", "65534"}, 2,
                 "uid 65534 cannot enter it (mode 0700, owner 0:0)");
  // Nor one that others may write to: they could plant links there.
  REQUIRE(::chmod(directory, 0777) == 0);
  check_rejected({"run", "--kernel", kHello, "--jail", directory}, 2,
                 "must belong to uid 0 and be writable by nobody else (it is 0's, mode 0777)");
  ::rmdir(directory);
}

TEST_CASE("help and version output", "[cli]") {
  auto help = run_process({kWisp, "--help"}, "", kTimeout);
  CHECK(help.status == 0);
  CHECK(help.out.find("run") != std::string::npos);
  CHECK(help.out.find("Exit status") != std::string::npos);
  auto run_help = run_process({kWisp, "run", "--help"}, "", kTimeout);
  CHECK(run_help.status == 0);
  CHECK(run_help.out.find("--kernel") != std::string::npos);
  // Every boot format, not only Linux's.
  for (const char* format : {"bzImage", "PVH", "Multiboot", "ELF", "raw"})
    CHECK(run_help.out.find(format) != std::string::npos);
  auto version = run_process({kWisp, "--version"}, "", kTimeout);
  CHECK(version.status == 0);
  CHECK(version.out.rfind("wisp ", 0) == 0);
}

TEST_CASE("a file that is not a kernel, or a truncated one, is refused", "[kvm]") {
  std::string text = temp_file_with("this is not a kernel\n");
  check_rejected({"run", "--kernel", text}, 10, "bzImage");
  ::unlink(text.c_str());

  std::string image = read_file(kHello);
  REQUIRE(image.size() > 0x500);
  std::string truncated = temp_file_with(image.substr(0, image.size() - 0x100));
  check_rejected({"run", "--kernel", truncated}, 10, "truncated");
  ::unlink(truncated.c_str());

  check_rejected({"run", "--kernel", "/dev/null"}, 10, "not a regular file");
}

TEST_CASE("an initrd too large for guest memory is refused", "[kvm]") {
  std::string initrd = temp_file_with(std::string(20 << 20, 'x'));
  check_rejected({"run", "--kernel", kHello, "--initrd", initrd, "--memory", "16M"}, 10, "initrd");
  ::unlink(initrd.c_str());
}

TEST_CASE("a missing or unusable /dev/kvm is named", "[kvm]") {
  // A private mount namespace hides /dev/kvm without touching the host.
  auto missing =
      run_process({"unshare", "-m", "sh", "-c",
                   "mount -t tmpfs none /dev && exec " + kWisp + " run --kernel " + kHello},
                  "", kTimeout);
  INFO("stderr: " << missing.err);
  CHECK(missing.status == 10);
  CHECK(missing.err.find("/dev/kvm does not exist") != std::string::npos);

  std::string not_kvm = temp_file_with("");
  auto wrong = run_process(
      {"unshare", "-m", "sh", "-c",
       "mount --bind " + not_kvm + " /dev/kvm && exec " + kWisp + " run --kernel " + kHello},
      "", kTimeout);
  INFO("stderr: " << wrong.err);
  CHECK(wrong.status == 10);
  CHECK(wrong.err.find("KVM_GET_API_VERSION") != std::string::npos);
  ::unlink(not_kvm.c_str());
}

TEST_CASE("a thread that cannot start is an error (status 10), not an abort", "[kvm]") {
  // without_threads refuses every new thread (a seccomp filter), as a reached process limit
  // would. The first thread Wisp starts is a device's when there is a device, else a vCPU's.
  auto vcpu = run_process({WITHOUT_THREADS, kWisp, "run", "--kernel", kHello}, "", kTimeout);
  INFO("stderr: " << vcpu.err);
  CHECK(vcpu.status == 10);
  CHECK(vcpu.err.find("starting a vCPU thread: Resource temporarily unavailable") !=
        std::string::npos);

  std::string disk = temp_file_with(std::string(1 << 20, '\0'));
  auto device = run_process(
      {WITHOUT_THREADS, kWisp, "run", "--kernel", kHello, "--disk", "path=" + disk}, "", kTimeout);
  INFO("stderr: " << device.err);
  CHECK(device.status == 10);
  CHECK(device.err.find("starting the thread wisp-blk0") != std::string::npos);
  ::unlink(disk.c_str());
}
