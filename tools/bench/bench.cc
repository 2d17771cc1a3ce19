// wisp-bench: Wisp beside QEMU on the same tiny guests, in the same run. Each figure is measured
// --runs times for each VMM; the table shows min / median / max and the ratio of the medians,
// and --json writes them for a later `wisp-bench compare OLD.json NEW.json`. --samples adds
// figures measured elsewhere (the Linux guests of linux-boot-time.sh, linux-disk.sh and
// linux-net.sh) to the table and the JSON.
//
// Figures (host KVM): start-up to the first serial line and to exit; peak RSS (VmHWM at exit)
// and the VMM's own overhead (RSS beside the guest's pages, from smaps); the cost of one port and
// one MMIO exit, beside a bare KVM_RUN loop running the same guest loop (the floor); VMs started
// and run to exit per second, one after another and two at a time; Wisp's own phases
// (--boot-timing); sequential reads of a disk in large requests, beside the host's own read of
// the same image (the disk group, below); the console's throughput to a reader that keeps up;
// started through a control socket (Wisp's API, QEMU's QMP): to the socket accepting, and from
// the start request to the guest's first line (the api group).
// The VMMs take turns within each run, so that noise on a shared machine falls on all of them
// alike.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "tools/bench/control_socket.h"
#include "tools/bench/process.h"

namespace wisp::bench {
namespace {

struct Stats {
  double min, median, max;
};

Stats stats_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  if (values.empty()) return {0, 0, 0};
  size_t n = values.size();
  double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {values.front(), median, values.back()};
}

struct Figure {
  std::string name, unit;
  std::map<std::string, Stats> by_vmm;  // "wisp", "qemu", "floor" or "host"
};

struct Options {
  std::string wisp, qemu, floor, guests;
  int runs = 10;
  uint64_t exits = 100000;
  std::string json, memory = "512M";
  std::vector<std::string> only;  // groups to measure; empty: all
  // The disk group: MiB read per run, in requests of disk_request_kib with disk_depth in flight,
  // from an image of disk_image_mib in disk_image_dir.
  uint64_t disk_mib = 4096, disk_request_kib = 16384, disk_depth = 4, disk_image_mib = 1024;
  // The console group: MiB a guest prints per run. Small: on PVM every port access is an exit,
  // and 1 MiB takes half a minute (--console-mib 64 on hardware KVM).
  uint64_t console_mib = 1;
  std::string disk_image_dir;
};

// The command line that boots a kit guest in each VMM.
std::vector<std::string> boot_command(const Options& o, const std::string& vmm,
                                      const std::string& guest, const std::string& cmdline) {
  std::string kernel = o.guests + "/" + guest;
  if (vmm == "wisp")
    return {o.wisp, "run", "--kernel", kernel, "--memory", o.memory, "--cmdline", cmdline};
  return {o.qemu,
          "-accel",
          "kvm",
          "-cpu",
          "host,-arch-capabilities",
          "-M",
          "microvm",
          "-m",
          o.memory,
          "-nodefaults",
          "-no-user-config",
          "-display",
          "none",
          "-serial",
          "stdio",
          "-device",
          "isa-debug-exit,iobase=0xf4,iosize=4",
          "-kernel",
          kernel,
          "-append",
          cmdline};
}

Timed checked_run(const std::vector<std::string>& argv, int expected_status,
                  const std::function<void(pid_t)>& on_first_line = nullptr) {
  Timed timed = run_timed(argv, on_first_line);
  if (timed.status != expected_status) {
    fmt::print(stderr, "bench: {} exited with {} (expected {}); output:\n{}\n", argv[0],
               timed.status, expected_status, timed.output);
    std::exit(1);
  }
  return timed;
}

// RSS of the whole process, and of the guest's RAM, from smaps, in KiB. The guest's RAM is what
// the VMM marked MADV_DONTFORK (VmFlags "dc"), as both Wisp and QEMU do (so that a fork does not
// copy it), or else the largest mapping.
std::pair<long, long> rss_and_guest_kib(pid_t pid) {
  std::ifstream smaps(fmt::format("/proc/{}/smaps", pid));
  long total = 0, size = 0, rss = 0, dont_fork = 0, largest_size = 0, largest_rss = 0;
  std::string line;
  while (std::getline(smaps, line)) {
    long value;
    if (std::sscanf(line.c_str(), "Size: %ld kB", &value) == 1) size = value;
    if (std::sscanf(line.c_str(), "Rss: %ld kB", &value) == 1) {
      rss = value;
      total += value;
      if (size > largest_size) largest_size = size, largest_rss = value;
    }
    if (line.starts_with("VmFlags:") && (line + " ").find(" dc ") != std::string::npos)
      dont_fork += rss;
  }
  return {total, dont_fork > 0 ? dont_fork : largest_rss};
}

// Each run starts every VMM once, in turn, so that a noisy spell on a shared machine falls on
// all of them alike rather than on whichever was being measured.
constexpr const char* kVmms[] = {"wisp", "qemu"};

void measure_startup(const Options& o, std::vector<Figure>& figures) {
  Figure first{"start.first_line", "ms", {}}, exit{"start.exit", "ms", {}},
      rss{"memory.peak_rss", "MiB", {}};
  std::map<std::string, std::vector<double>> f, e, r;
  for (int i = 0; i < o.runs; ++i) {
    for (const char* vmm : kVmms) {
      auto command = boot_command(o, vmm, "hello.pvh.elf", "bench");
      Timed t = checked_run(command, 1);
      f[vmm].push_back(t.first_line_ms);
      e[vmm].push_back(t.exit_ms);
      long kib = peak_rss_kib(command);
      if (kib < 0) {
        fmt::print(stderr, "bench: cannot read the peak RSS of {}\n", command[0]);
        std::exit(1);
      }
      r[vmm].push_back(static_cast<double>(kib) / 1024);
    }
  }
  for (const char* vmm : kVmms) {
    first.by_vmm[vmm] = stats_of(f[vmm]);
    exit.by_vmm[vmm] = stats_of(e[vmm]);
    rss.by_vmm[vmm] = stats_of(r[vmm]);
  }
  figures.insert(figures.end(), {first, exit, rss});
}

void measure_overhead(const Options& o, std::vector<Figure>& figures) {
  std::map<std::string, std::vector<double>> values;
  for (int i = 0; i < o.runs; ++i) {
    for (const char* vmm : kVmms) {
      run_timed(boot_command(o, vmm, "spin.pvh.elf", ""), [&](pid_t pid) {
        auto [total, guest] = rss_and_guest_kib(pid);
        values[vmm].push_back(static_cast<double>(total - guest) / 1024);
        ::kill(pid, SIGKILL);
      });
    }
  }
  Figure overhead{"memory.vmm_overhead", "MiB", {}};
  for (const char* vmm : kVmms) overhead.by_vmm[vmm] = stats_of(values[vmm]);
  figures.push_back(overhead);
}

// ns per exit for each of `commands` (keyed by VMM; each gives the command line for N exits
// and the status it ends with): per run, (time with N exits - the median time with none) / N.
using CommandFor = std::function<std::vector<std::string>(uint64_t exits)>;
std::map<std::string, Stats> exit_costs(
    const Options& o, const std::map<std::string, std::pair<CommandFor, int>>& commands) {
  std::map<std::string, std::vector<double>> empty, costs;
  for (int i = 0; i < o.runs; ++i)
    for (const auto& [vmm, command] : commands)
      empty[vmm].push_back(checked_run(command.first(0), command.second).exit_ms);
  std::map<std::string, double> baseline;
  for (const auto& [vmm, times] : empty) baseline[vmm] = stats_of(times).median;
  for (int i = 0; i < o.runs; ++i) {
    for (const auto& [vmm, command] : commands) {
      double ms = checked_run(command.first(o.exits), command.second).exit_ms;
      costs[vmm].push_back((ms - baseline[vmm]) * 1e6 / static_cast<double>(o.exits));
    }
  }
  std::map<std::string, Stats> stats;
  for (const auto& [vmm, values] : costs) stats[vmm] = stats_of(values);
  return stats;
}

void measure_exits(const Options& o, std::vector<Figure>& figures) {
  for (std::string kind : {"port", "mmio"}) {
    std::map<std::string, std::pair<CommandFor, int>> commands;
    for (const char* vmm : kVmms) {
      commands[vmm] = {[&o, vmm, kind](uint64_t n) {
                         return boot_command(o, vmm, "exit_loop.pvh.elf",
                                             fmt::format("{} {}", kind, n));
                       },
                       1};
    }
    commands["floor"] = {[&o, kind](uint64_t n) {
                           return std::vector<std::string>{o.floor, kind, std::to_string(n)};
                         },
                         0};
    figures.push_back({"exit." + kind, "ns", exit_costs(o, commands)});
  }
}

// VMs per second for a batch run back to back, or split between two threads.
double start_rate(const std::vector<std::string>& command, int threads) {
  constexpr int kBatch = 10;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t)
    others.emplace_back([&] {
      for (int k = 0; k < kBatch / threads; ++k) checked_run(command, 1);
    });
  for (int k = 0; k < kBatch / threads; ++k) checked_run(command, 1);
  for (std::thread& other : others) other.join();
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return kBatch / took.count();
}

void measure_rate(const Options& o, std::vector<Figure>& figures) {
  std::map<std::string, std::vector<double>> one, two;
  for (int i = 0; i < o.runs; ++i) {
    for (const char* vmm : kVmms) {
      auto command = boot_command(o, vmm, "hello.pvh.elf", "rate");
      one[vmm].push_back(start_rate(command, 1));
      two[vmm].push_back(start_rate(command, 2));
    }
  }
  Figure serial{"rate.one_at_a_time", "VMs/s", {}}, parallel{"rate.two_at_a_time", "VMs/s", {}};
  for (const char* vmm : kVmms) {
    serial.by_vmm[vmm] = stats_of(one[vmm]);
    parallel.by_vmm[vmm] = stats_of(two[vmm]);
  }
  figures.insert(figures.end(), {serial, parallel});
}

// Wisp's own phases, from `--boot-timing` ("boot timing: parse 0.10 ms, build 1.20 ms, ...").
void measure_phases(const Options& o, std::vector<Figure>& figures) {
  std::map<std::string, std::vector<double>> phases;
  for (int i = 0; i < o.runs; ++i) {
    auto command = boot_command(o, "wisp", "hello.pvh.elf", "phases");
    command.push_back("--boot-timing");
    std::vector<std::string> shell = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    shell.insert(shell.end(), command.begin(), command.end());
    Timed t = checked_run(shell, 1);
    size_t at = t.output.find("boot timing: ");
    if (at == std::string::npos) continue;
    std::istringstream report(t.output.substr(at + 13));
    std::string item;
    while (std::getline(report, item, ',')) {
      char name[64];
      double ms;
      if (std::sscanf(item.c_str(), " %63[a-zA-Z_ ] %lf ms", name, &ms) == 2) {
        std::string key(name);
        while (!key.empty() && key.back() == ' ') key.pop_back();
        std::replace(key.begin(), key.end(), ' ', '_');
        phases[key].push_back(ms);
      }
    }
  }
  for (auto& [name, values] : phases)
    figures.push_back({"wisp_phase." + name, "ms", {{"wisp", stats_of(values)}}});
}

// ---- disk: sequential reads through virtio-blk, beside the host's own read of the image ----
//
// The kit guest virtio_blk_read reads --disk-mib MiB from a raw image of --disk-image-mib MiB
// (from its start again at its end) in requests of --disk-request-kib KiB (1 MiB segments
// through an indirect table), --disk-depth of them in flight, under Wisp (--disk
// path=IMG,readonly=on: io_uring, cache=writeback, its defaults) and under QEMU microvm
// (virtio-blk-device on a -drive with aio=io_uring,cache=writeback, the same settings). The image
// is in the host's page cache (written, then read once before the runs), so the figures are those
// of cached reads, not of the disk under it. The time is that between the guest's line announcing
// the requests and its "read N MiB" line: the boot and the exit are not in it. The host's own
// figure ("host") is a pread loop with the same request size, the same sequence of offsets and
// the same number of buffers (on transparent huge pages, as both VMMs' guest RAM is), into memory
// touched beforehand.

std::string g_disk_image;  // removed at exit, however the benchmark ends
void remove_disk_image() {
  if (!g_disk_image.empty()) ::unlink(g_disk_image.c_str());
}

[[noreturn]] void disk_fail(const std::string& what) {
  fmt::print(stderr, "bench: disk: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

// Writes an image of --disk-image-mib MiB (each 4 KiB block holds its own number, so that nothing
// is a hole or a page of zeroes) and makes it durable; its pages stay in the page cache.
std::string make_disk_image(const Options& o) {
  std::string dir =
      o.disk_image_dir.empty() ? std::filesystem::temp_directory_path().string() : o.disk_image_dir;
  std::string path = dir + "/wisp-bench-disk-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) disk_fail("mkstemp in " + dir);
  g_disk_image = path;
  std::atexit(remove_disk_image);
  std::vector<uint64_t> chunk((1u << 20) / sizeof(uint64_t));
  for (uint64_t mib = 0; mib < o.disk_image_mib; ++mib) {
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = (mib << 20 | i * 8) / 4096 + 1;
    const char* bytes = reinterpret_cast<const char*>(chunk.data());
    for (size_t done = 0; done < (1u << 20);) {
      ssize_t n = ::pwrite(fd, bytes + done, (1u << 20) - done, (mib << 20) + done);
      if (n <= 0) disk_fail("writing " + path);
      done += static_cast<size_t>(n);
    }
  }
  if (::fdatasync(fd) != 0) disk_fail("fdatasync " + path);
  ::close(fd);
  return path;
}

// The host's own read: MiB/s of a pread loop over `path` as the guest reads the disk.
double host_read_mib_per_s(const Options& o, const std::string& path, uint64_t total_mib) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) disk_fail("open " + path);
  struct stat st;
  if (::fstat(fd, &st) != 0) disk_fail("fstat " + path);
  auto disk_bytes = static_cast<uint64_t>(st.st_size);
  uint64_t request = std::min<uint64_t>(o.disk_request_kib << 10, disk_bytes);
  size_t pool_bytes = request * o.disk_depth;
  void* mapped =
      ::mmap(nullptr, pool_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) disk_fail("mmap");
  ::madvise(mapped, pool_bytes, MADV_HUGEPAGE);
  auto* pool = static_cast<uint8_t*>(mapped);
  std::memset(pool, 0, pool_bytes);
  uint64_t total = total_mib << 20, done = 0, offset = 0, slot = 0;
  auto start = std::chrono::steady_clock::now();
  while (done < total) {
    if (offset + request > disk_bytes) offset = 0;
    uint64_t want = std::min(request, total - done);
    uint8_t* buffer = pool + (slot++ % o.disk_depth) * request;
    for (uint64_t got = 0; got < want;) {
      ssize_t n = ::pread(fd, buffer + got, want - got, static_cast<off_t>(offset + got));
      if (n <= 0) disk_fail("pread " + path);
      got += static_cast<uint64_t>(n);
    }
    offset += want;
    done += want;
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  ::munmap(mapped, pool_bytes);
  ::close(fd);
  return static_cast<double>(total_mib) / took.count();
}

std::vector<std::string> disk_read_command(const Options& o, const std::string& vmm,
                                           const std::string& image, uint64_t total_mib) {
  std::string cmdline =
      fmt::format("acpi=off mib={} kib={} depth={}", total_mib, o.disk_request_kib, o.disk_depth);
  auto command = boot_command(o, vmm, "virtio_blk_read.pvh.elf", cmdline);
  if (vmm == "wisp") {
    command.insert(command.end(), {"--disk", "path=" + image + ",readonly=on"});
    return command;
  }
  // QEMU: virtio-mmio described on the command line (acpi=off), as virtio 1.x; the drive as
  // Wisp's disk is by default: io_uring, the host's page cache (cache=writeback), read-only.
  std::ranges::replace(command, std::string("microvm"), std::string("microvm,acpi=off"));
  command.insert(command.end(),
                 {"-global", "virtio-mmio.force-legacy=false", "-drive",
                  "id=d0,if=none,format=raw,readonly=on,aio=io_uring,cache=writeback,file=" + image,
                  "-device", "virtio-blk-device,drive=d0"});
  return command;
}

// MiB/s of one guest run: total_mib over the time between the guest's announcement of its
// requests and its "read N MiB" line. `shape` gets the announcement.
double guest_read_mib_per_s(const Options& o, const std::string& vmm, const std::string& image,
                            uint64_t total_mib, std::string* shape) {
  Timed t = checked_run(disk_read_command(o, vmm, image, total_mib), 1);
  std::istringstream lines(t.output);
  std::string line;
  double start_ms = -1, end_ms = -1;
  for (size_t i = 0; std::getline(lines, line) && i < t.line_ms.size(); ++i) {
    if (line.find("KiB requests") != std::string::npos) {
      start_ms = t.line_ms[i];
      if (shape) *shape = line;
    }
    if (line.starts_with("read ")) end_ms = t.line_ms[i];
  }
  if (start_ms < 0 || end_ms <= start_ms) {
    fmt::print(stderr, "bench: disk: {} printed no timed read; output:\n{}\n", vmm, t.output);
    std::exit(1);
  }
  return static_cast<double>(total_mib) * 1000 / (end_ms - start_ms);
}

// MiB/s of a kit guest printing to a reader that keeps up: o.console_mib MiB of lines, 16 bytes
// per THRE as Linux's driver writes them, timed from its first line to its last.
double console_mib_per_s(const Options& o, const std::string& vmm) {
  uint64_t bytes = o.console_mib << 20;
  Timed t =
      checked_run(boot_command(o, vmm, "console.pvh.elf", fmt::format("print={} burst", bytes)), 1);
  size_t lines = t.line_ms.size();
  if (t.output.size() != bytes || lines < 2 || t.line_ms.back() <= t.line_ms.front()) {
    fmt::print(stderr, "bench: console: {} printed {} bytes of {}\n", vmm, t.output.size(), bytes);
    std::exit(1);
  }
  double mib = static_cast<double>(bytes) * (lines - 1) / lines / (1 << 20);
  return mib * 1000 / (t.line_ms.back() - t.line_ms.front());
}

// Started as an orchestrator starts a VMM (control_socket.h): Wisp's API socket beside QEMU's QMP
// socket, to the socket accepting (wall and CPU time), then from the start request to the
// guest's first line.
void measure_api(const Options& o, std::vector<Figure>& figures) {
  Figure ready{"api.socket_ready", "ms", {}}, cpu{"api.socket_ready_cpu", "ms", {}},
      start{"api.start_to_first_line", "ms", {}};
  std::map<std::string, std::vector<double>> r, c, s;
  std::string kernel = o.guests + "/hello.pvh.elf";
  std::string socket = fmt::format("{}/wisp-bench-{}.sock",
                                   std::filesystem::temp_directory_path().string(), ::getpid());
  std::string memory_mib = std::to_string(std::stoull(o.memory));  // "512M": MiB
  for (int i = 0; i < o.runs; ++i) {
    for (const char* vmm : kVmms) {
      bool wisp = std::string(vmm) == "wisp";
      std::vector<std::string> command{o.wisp, "--api-sock", socket};
      if (!wisp) {
        command = boot_command(o, vmm, "hello.pvh.elf", "bench");
        command.insert(command.end(), {"-S", "-qmp", "unix:" + socket + ",server=on,wait=off"});
      }
      ControlStart t = measure_control_start(
          command, socket, wisp ? ControlProtocol::kFirecrackerApi : ControlProtocol::kQmp, kernel,
          "bench", memory_mib);
      if (t.status != 1) {
        fmt::print(stderr, "bench: {} exited with {} (expected 1)\n", command[0], t.status);
        std::exit(1);
      }
      r[vmm].push_back(t.socket_ms);
      c[vmm].push_back(t.socket_cpu_ms);
      s[vmm].push_back(t.start_to_line_ms);
    }
  }
  for (const char* vmm : kVmms) {
    ready.by_vmm[vmm] = stats_of(r[vmm]);
    cpu.by_vmm[vmm] = stats_of(c[vmm]);
    start.by_vmm[vmm] = stats_of(s[vmm]);
  }
  figures.insert(figures.end(), {ready, cpu, start});
}

void measure_console(const Options& o, std::vector<Figure>& figures) {
  std::map<std::string, std::vector<double>> values;
  for (int i = 0; i < o.runs; ++i)
    for (const char* vmm : kVmms) values[vmm].push_back(console_mib_per_s(o, vmm));
  Figure throughput{"console.throughput", "MiB/s", {}};
  for (const auto& [vmm, samples] : values) throughput.by_vmm[vmm] = stats_of(samples);
  figures.push_back(throughput);
}

// Two figures per measurement: Wisp by default, then jailed, as the wisp column.
void add_hardening_figures(const std::string& name, const std::string& unit,
                           std::map<std::string, Stats> by_variant, std::vector<Figure>& figures) {
  for (std::string shown : {"wisp", "wisp-jailed"}) {
    Figure figure{name + (shown == "wisp" ? "" : ".jailed"), unit, {}};
    figure.by_vmm = {{"wisp", by_variant[shown]},
                     {"wisp-unhardened", by_variant["wisp-unhardened"]},
                     {"qemu", by_variant["qemu"]}};
    figures.push_back(figure);
  }
}

// The cost of containment: start-up to exit and one MMIO exit for Wisp as it runs by default
// (seccomp filters on), and jailed (--jail, uid 65534, filters on), each beside Wisp with
// --seccomp off (the reference column, "wisp-unhardened") and QEMU, in the same runs.
void measure_hardening(const Options& o, std::vector<Figure>& figures) {
  std::string jail = (std::filesystem::temp_directory_path() / "wisp-bench-jail-XXXXXX").string();
  if (::mkdtemp(jail.data()) == nullptr || ::chmod(jail.c_str(), 0755) != 0) {
    fmt::print(stderr, "bench: cannot make a jail directory: {}\n", std::strerror(errno));
    std::exit(1);
  }
  auto command_for = [&](const std::string& variant, const std::string& guest,
                         const std::string& cmdline) {
    auto command = boot_command(o, variant == "qemu" ? "qemu" : "wisp", guest, cmdline);
    if (variant == "wisp-unhardened") command.insert(command.end(), {"--seccomp", "off"});
    if (variant == "wisp-jailed") command.insert(command.end(), {"--jail", jail, "--uid", "65534"});
    return command;
  };
  const char* variants[] = {"wisp", "wisp-jailed", "wisp-unhardened", "qemu"};
  std::map<std::string, std::vector<double>> start_exit;
  for (int i = 0; i < o.runs; ++i)
    for (const char* variant : variants)
      start_exit[variant].push_back(
          checked_run(command_for(variant, "hello.pvh.elf", "bench"), 1).exit_ms);
  std::map<std::string, std::pair<CommandFor, int>> exit_commands;
  for (const char* variant : variants) {
    exit_commands[variant] = {[&command_for, variant](uint64_t n) {
                                return command_for(variant, "exit_loop.pvh.elf",
                                                   fmt::format("mmio {}", n));
                              },
                              1};
  }
  std::map<std::string, Stats> exit_cost = exit_costs(o, exit_commands);
  ::rmdir(jail.c_str());

  std::map<std::string, Stats> start_exit_stats;
  for (const auto& [variant, values] : start_exit) start_exit_stats[variant] = stats_of(values);
  add_hardening_figures("hardening.start_exit", "ms", start_exit_stats, figures);
  add_hardening_figures("hardening.exit_mmio", "ns", exit_cost, figures);
}

void measure_disk(const Options& o, std::vector<Figure>& figures) {
  std::string image = make_disk_image(o);
  // Untimed: the whole image through the page cache, and each VMM once, to check that the guest
  // reads as the host loop does (its buffers hold 64 MiB: depth * request size at most).
  host_read_mib_per_s(o, image, o.disk_image_mib);
  for (const char* vmm : kVmms) {
    std::string shape;
    guest_read_mib_per_s(o, vmm, image, std::min<uint64_t>(o.disk_mib, 256), &shape);
    unsigned kib = 0, depth = 0;
    std::sscanf(shape.c_str(), "virtio-blk-read: %u KiB requests, %u in flight", &kib, &depth);
    if (kib != o.disk_request_kib || depth != o.disk_depth) {
      fmt::print(stderr,
                 "bench: disk: under {} the guest reads otherwise than asked ({} KiB, {}): {}\n",
                 vmm, o.disk_request_kib, o.disk_depth, shape);
      std::exit(1);
    }
  }
  std::map<std::string, std::vector<double>> values;
  for (int i = 0; i < o.runs; ++i) {
    for (const char* vmm : kVmms)
      values[vmm].push_back(guest_read_mib_per_s(o, vmm, image, o.disk_mib, nullptr));
    values["host"].push_back(host_read_mib_per_s(o, image, o.disk_mib));
  }
  Figure read{"disk.seq_read", "MiB/s", {}};
  for (const auto& [who, samples] : values) read.by_vmm[who] = stats_of(samples);
  figures.push_back(read);
  remove_disk_image();
  g_disk_image.clear();
}

std::string cell(const Figure& f, const std::string& vmm) {
  auto it = f.by_vmm.find(vmm);
  if (it == f.by_vmm.end()) return "-";
  // Three significant digits, but whole numbers for the large ones (a Linux boot in ms).
  auto number = [](double v) {
    return v >= 1000 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
  };
  return fmt::format("{} / {} / {}", number(it->second.min), number(it->second.median),
                     number(it->second.max));
}

// Figures measured elsewhere (tools/bench/linux-boot-time.sh --samples): lines of
// "NAME UNIT VMM VALUE", one per measurement, in the order the figures should be shown.
std::vector<Figure> read_samples(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "bench: cannot read {}\n", path);
    std::exit(1);
  }
  std::vector<Figure> figures;
  std::map<std::string, std::map<std::string, std::vector<double>>> values;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    std::string name, unit, vmm, rest;
    double value;
    if (!(fields >> name >> unit >> vmm >> value) || fields >> rest) {
      fmt::print(stderr, "bench: {}:{}: not NAME UNIT VMM VALUE: {}\n", path, number, line);
      std::exit(1);
    }
    if (!values.count(name)) figures.push_back({name, unit, {}});
    values[name][vmm].push_back(value);
  }
  for (Figure& figure : figures)
    for (const auto& [each_vmm, samples] : values[figure.name])
      figure.by_vmm[each_vmm] = stats_of(samples);
  return figures;
}

// The third column: the floor of an exit (a bare KVM_RUN loop), the host's own read of a disk, or
// QEMU with vhost-net for a Linux guest's network (linux-net.sh --samples: VMM qemu-vhost).
const char* reference_of(const Figure& f) {
  if (f.by_vmm.count("host")) return "host";
  if (f.by_vmm.count("qemu-vhost")) return "qemu-vhost";
  if (f.by_vmm.count("wisp-unhardened")) return "wisp-unhardened";
  return "floor";
}

std::string ratio(const Figure& f, const std::string& of, const std::string& to) {
  if (!f.by_vmm.count(of) || !f.by_vmm.count(to) || f.by_vmm.at(to).median == 0) return "-";
  return fmt::format("{:.2f}", f.by_vmm.at(of).median / f.by_vmm.at(to).median);
}

void print_table(const std::vector<Figure>& figures, int runs) {
  fmt::print("{} runs per figure; min / median / max\n", runs);
  fmt::print("{:<36} {:<6} {:<30} {:<30} {:<30} {:<10} {}\n", "figure", "unit", "wisp", "qemu",
             "floor, host, qemu-vhost or unhardened", "wisp/qemu",
             "wisp/(floor, host, vhost or unhardened)");
  for (const Figure& f : figures) {
    const char* reference = reference_of(f);
    fmt::print("{:<36} {:<6} {:<30} {:<30} {:<30} {:<10} {}\n", f.name, f.unit, cell(f, "wisp"),
               cell(f, "qemu"), cell(f, reference), ratio(f, "wisp", "qemu"),
               ratio(f, "wisp", reference));
  }
}

// One figure per line, so that --compare can read it back without a JSON library.
void write_json(const std::string& path, const std::vector<Figure>& figures, int runs) {
  std::ofstream out(path);
  out << "{\n  \"runs\": " << runs << ",\n  \"figures\": {\n";
  for (size_t i = 0; i < figures.size(); ++i) {
    const Figure& f = figures[i];
    out << fmt::format("    \"{}\": {{\"unit\": \"{}\"", f.name, f.unit);
    for (const auto& [vmm, s] : f.by_vmm)
      out << fmt::format(", \"{}\": [{}, {}, {}]", vmm, s.min, s.median, s.max);
    out << "}" << (i + 1 < figures.size() ? "," : "") << "\n";
  }
  out << "  }\n}\n";
}

// figure -> vmm -> median, from a file write_json wrote.
std::map<std::string, std::map<std::string, double>> read_medians(const std::string& path) {
  std::map<std::string, std::map<std::string, double>> medians;
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "bench: cannot read {}\n", path);
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    size_t name_end = line.find("\": {\"unit\"");
    if (name_end == std::string::npos) continue;
    std::string name = line.substr(line.find('"') + 1, name_end - line.find('"') - 1);
    for (const char* vmm : {"wisp", "qemu", "floor", "host", "qemu-vhost"}) {
      size_t at = line.find(fmt::format("\"{}\": [", vmm));
      double min, median, max;
      if (at != std::string::npos && std::sscanf(line.c_str() + line.find('[', at),
                                                 "[%lf, %lf, %lf]", &min, &median, &max) == 3)
        medians[name][vmm] = median;
    }
  }
  return medians;
}

int compare(const std::string& old_path, const std::string& new_path) {
  auto before = read_medians(old_path), after = read_medians(new_path);
  fmt::print("{:<36} {:<6} {:>12} {:>12} {:>8}\n", "figure", "vmm", "old median", "new median",
             "new/old");
  for (const auto& [figure, vmms] : after) {
    for (const auto& [vmm, median] : vmms) {
      auto old_figure = before.find(figure);
      if (old_figure == before.end() || !old_figure->second.count(vmm)) continue;
      double old_median = old_figure->second.at(vmm);
      fmt::print("{:<36} {:<6} {:>12.4g} {:>12.4g} {:>8.2f}\n", figure, vmm, old_median, median,
                 old_median != 0 ? median / old_median : 0.0);
    }
  }
  return 0;
}

}  // namespace
}  // namespace wisp::bench

int main(int argc, char** argv) {
  using namespace wisp::bench;
  Options o;
  CLI::App app("wisp-bench: Wisp beside QEMU on tiny guests, measured in the same run");
  app.add_option("--wisp", o.wisp, "the wisp binary")->required();
  app.add_option("--qemu", o.qemu, "qemu-system-x86_64")->required();
  app.add_option("--floor", o.floor, "the bare KVM_RUN loop (kvm_floor)")->required();
  app.add_option("--guests", o.guests, "the kit's guest directory")->required();
  app.add_option("--runs", o.runs, "runs per figure and VMM")->capture_default_str();
  app.add_option("--exits", o.exits, "exits per exit-cost run")->capture_default_str();
  app.add_option("--json", o.json, "also write the figures to this file");
  app.add_option("--disk-mib", o.disk_mib, "disk: MiB read per run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--disk-request-kib", o.disk_request_kib,
                 "disk: KiB per read request (times --disk-depth: at most 65536, the guest's "
                 "buffers)")
      ->capture_default_str()
      ->check(CLI::Range(1, 63488));
  app.add_option("--disk-depth", o.disk_depth, "disk: requests in flight (at most 8)")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  app.add_option("--disk-image-mib", o.disk_image_mib, "disk: the image's size in MiB")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--console-mib", o.console_mib, "console: MiB a guest prints per run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--disk-image-dir", o.disk_image_dir,
                 "disk: where the image is made (default: the temporary directory)");
  std::string samples;
  app.add_option("--samples", samples,
                 "also show figures measured elsewhere (linux-boot-time.sh --samples)");
  const std::vector<std::pair<std::string, void (*)(const Options&, std::vector<Figure>&)>> groups =
      {{"startup", measure_startup}, {"memory", measure_overhead},     {"exits", measure_exits},
       {"rate", measure_rate},       {"phases", measure_phases},       {"disk", measure_disk},
       {"console", measure_console}, {"hardening", measure_hardening}, {"api", measure_api}};
  std::vector<std::string> group_names;
  for (const auto& group : groups) group_names.push_back(group.first);
  app.add_option("--only", o.only, "measure only these groups")
      ->delimiter(',')
      ->check(CLI::IsMember(group_names));
  app.footer("wisp-bench compare OLD.json NEW.json: the medians of two runs side by side");
  // `compare` needs none of the required options above, so it is recognised before parsing.
  if (argc == 4 && std::string(argv[1]) == "compare") return compare(argv[2], argv[3]);
  CLI11_PARSE(app, argc, argv);

  std::vector<Figure> measured_elsewhere;  // read first: a bad file should not wait for the runs
  if (!samples.empty()) measured_elsewhere = read_samples(samples);
  std::vector<Figure> figures;
  for (const auto& [name, measure] : groups)
    if (o.only.empty() || std::ranges::find(o.only, name) != o.only.end()) measure(o, figures);
  std::ranges::copy(measured_elsewhere, std::back_inserter(figures));
  print_table(figures, o.runs);
  if (!o.json.empty()) write_json(o.json, figures, o.runs);
  return 0;
}
