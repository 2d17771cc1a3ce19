// wisp-bench: Wisp beside QEMU on the same tiny guests, in the same run. Each figure is measured
// --runs times for each VMM; the table shows min / median / max and the ratio of the medians,
// and --json writes them for a later `wisp-bench compare OLD.json NEW.json`. --samples adds
// figures measured elsewhere (the Linux boots of linux-boot-time.sh) to the table and the JSON.
//
// Figures (host KVM): start-up to the first serial line and to exit; peak RSS (VmHWM at exit)
// and the VMM's own overhead (RSS beside the guest's pages, from smaps); the cost of one port and
// one MMIO exit, beside a bare KVM_RUN loop running the same guest loop (the floor); VMs started
// and run to exit per second, one after another and two at a time; Wisp's own phases
// (--boot-timing). The VMMs take turns within each run, so that noise on a shared machine falls
// on all of them alike.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

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
  std::map<std::string, Stats> by_vmm;  // "wisp", "qemu", "floor"
};

struct Options {
  std::string wisp, qemu, floor, guests;
  int runs = 10;
  uint64_t exits = 100000;
  std::string json, memory = "512M";
  std::vector<std::string> only;  // groups to measure; empty: all
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

void print_table(const std::vector<Figure>& figures, int runs) {
  fmt::print("{} runs per figure; min / median / max\n", runs);
  fmt::print("{:<36} {:<6} {:<30} {:<30} {:<24} {}\n", "figure", "unit", "wisp", "qemu",
             "floor (bare KVM_RUN)", "wisp/qemu");
  for (const Figure& f : figures) {
    std::string ratio = "-";
    if (f.by_vmm.count("wisp") && f.by_vmm.count("qemu") && f.by_vmm.at("qemu").median != 0)
      ratio = fmt::format("{:.2f}", f.by_vmm.at("wisp").median / f.by_vmm.at("qemu").median);
    fmt::print("{:<36} {:<6} {:<30} {:<30} {:<24} {}\n", f.name, f.unit, cell(f, "wisp"),
               cell(f, "qemu"), cell(f, "floor"), ratio);
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
    for (const char* vmm : {"wisp", "qemu", "floor"}) {
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
  std::string samples;
  app.add_option("--samples", samples,
                 "also show figures measured elsewhere (linux-boot-time.sh --samples)");
  const std::vector<std::pair<std::string, void (*)(const Options&, std::vector<Figure>&)>> groups =
      {{"startup", measure_startup},
       {"memory", measure_overhead},
       {"exits", measure_exits},
       {"rate", measure_rate},
       {"phases", measure_phases}};
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
