// libFuzzer target: what a user types on the command line, against the value parsers of
// vmm/config.h, the MAC address parser (devices/net/mac_address.h) and the CLI (vmm/cli.h).
//
// Every input is one text handed to each value parser (parse_size, parse_serial,
// parse_reboot_action, parse_kernel_format, parse_entry_mode, parse_address, parse_disk,
// parse_net, split_list, parse_mac_address, mac_address_for), and, if it has NUL bytes, split at
// them into the arguments of `wisp ...` for parse_command_line. Checks:
//   - an error is a Result with a message of one line (unless the text itself has a line break)
//     that names the bad value, for the parsers that take a single value;
//   - what is accepted round-trips: the value written back in its canonical form parses to the
//     same value (sizes in K, addresses in decimal and hexadecimal, serial modes, disk and NIC
//     options with every key, MAC addresses in lowercase), and equals the input where the input
//     was already canonical (format_mac_address(parse(text)) == lowercase(text), kernel formats,
//     entry modes, reboot actions, serial modes);
//   - what is accepted keeps the documented limits: sizes below 16 EiB, a disk's serial at most
//     20 bytes and 1 to 16 queues, a TAP name of 1 to 15 characters, one of tap= or fd=, unicast
//     non-zero MACs, split_list's parts non-empty and without commas;
//   - the CLI never lets an exception escape, and a command it accepts has a kernel;
//   - an input that starts with '{' is also read as a --config file and as Firecracker's
//     --config-file: errors name the file, and an accepted Firecracker file has a kernel.
// A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (values of each kind, good and bad, and whole command lines) into the directory it is given.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "devices/net/mac_address.h"
#include "firmware/boot_config.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/config_file.h"
#include "vmm/firecracker_config.h"

namespace {

using namespace wisp;
using namespace wisp::fuzz;

// An error's message: one line unless the text had a line break, naming the text if `named`.
template <typename T>
void check_error(const Result<T>& result, std::string_view text, bool named) {
  if (result) return;
  const std::string& message = result.error().message();
  if (message.empty()) finding("an error without a message");
  if (text.find('\n') == std::string_view::npos && message.find('\n') != std::string::npos)
    finding("an error message of more than one line");
  if (named && message.find(text) == std::string::npos)
    finding("an error message that does not name the bad value");
}

[[maybe_unused]] void fuzz_size(std::string_view text) {
  auto size = parse_size(text);
  check_error(size, text, true);
  if (!size) return;
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    finding("a size that does not start with a digit");
  if (*size % 1024 != 0) finding("a size that is not a whole number of KiB");
  auto again = parse_size(fmt::format("{}K", *size >> 10));
  if (!again || *again != *size) finding("a size that does not round-trip");
}

[[maybe_unused]] void fuzz_address(std::string_view text) {
  auto address = parse_address(text);
  check_error(address, text, true);
  if (!address) return;
  auto decimal = parse_address(fmt::format("{}", *address));
  auto hexadecimal = parse_address(fmt::format("{:#x}", *address));
  if (!decimal || *decimal != *address || !hexadecimal || *hexadecimal != *address)
    finding("an address that does not round-trip");
}

[[maybe_unused]] void fuzz_names(std::string_view text) {
  auto serial = parse_serial(text);
  check_error(serial, text, true);
  if (serial) {
    std::string canonical;
    switch (serial->mode) {
      case SerialMode::kStdio:
        canonical = "stdio";
        break;
      case SerialMode::kNone:
        canonical = "none";
        break;
      case SerialMode::kFile:
        canonical = "file=" + serial->path;
        break;
      case SerialMode::kTee:
        canonical = "tee=" + serial->path;
        break;
    }
    bool has_path = serial->mode == SerialMode::kFile || serial->mode == SerialMode::kTee;
    if (canonical != text || has_path == serial->path.empty())
      finding("a serial option that is not what was typed");
  }
  auto reboot = parse_reboot_action(text);
  check_error(reboot, text, true);
  if (reboot && text != (*reboot == RebootAction::kExit ? "exit" : "restart"))
    finding("a reboot action that is not what was typed");
  auto format = parse_kernel_format(text);
  check_error(format, text, true);
  if (format && text != format_name(*format)) finding("a kernel format that is not what was typed");
  auto mode = parse_entry_mode(text);
  check_error(mode, text, true);
  if (mode) {
    const char* names[] = {"real", "protected", "long"};
    if (text != names[static_cast<int>(*mode)]) finding("an entry mode that is not what was typed");
  }
}

[[maybe_unused]] void fuzz_list(std::string_view text) {
  std::vector<std::string> parts = split_list(text);
  std::string joined, without_commas;
  for (const std::string& part : parts) {
    if (part.empty() || part.find(',') != std::string::npos) finding("a list part empty or split");
    joined += part;
  }
  for (char c : text)
    if (c != ',') without_commas += c;
  if (joined != without_commas) finding("a list that lost or gained text");
}

[[maybe_unused]] void fuzz_mac(std::string_view text) {
  auto mac = parse_mac_address(text);
  check_error(mac, text, true);
  if (mac) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (format_mac_address(*mac) != lower) finding("a MAC address that does not round-trip");
    if ((*mac)[0] & 1 || *mac == MacAddress{}) finding("a multicast or zero MAC address accepted");
  }
  MacAddress made = mac_address_for(text);
  auto parsed = parse_mac_address(format_mac_address(made));
  if (!parsed || *parsed != made || (made[0] & 3) != 2)
    finding("a made-up MAC address that is not local unicast or does not round-trip");
}

std::string disk_text(const DiskConfig& disk) {
  return fmt::format("path={},readonly={},serial={},cache={},discard={},queues={},aio={}",
                     disk.path, disk.access == DiskAccess::kReadOnly ? "on" : "off", disk.serial,
                     disk.cache == DiskCache::kNone ? "none" : "writeback",
                     disk.discard ? "on" : "off", disk.queues,
                     disk.io == DiskIo::kSync ? "sync" : "io_uring");
}

bool same(const DiskConfig& a, const DiskConfig& b) {
  return a.path == b.path && a.access == b.access && a.serial == b.serial && a.cache == b.cache &&
         a.discard == b.discard && a.queues == b.queues && a.io == b.io;
}

[[maybe_unused]] void fuzz_disk(std::string_view text) {
  auto disk = parse_disk(text);
  check_error(disk, text, false);
  if (!disk) return;
  if (disk->path.empty() || disk->serial.size() > 20 || disk->queues < 1 ||
      disk->queues > kMaximumDiskQueues)
    finding("a disk accepted outside the limits");
  auto again = parse_disk(disk_text(*disk));
  if (!again || !same(*again, *disk)) finding("a disk that does not round-trip");
}

std::string net_text(const NetConfig& nic) {
  std::string text = nic.tap.empty() ? fmt::format("fd={}", nic.fd) : "tap=" + nic.tap;
  if (nic.mac) text += ",mac=" + format_mac_address(*nic.mac);
  if (!nic.tap.empty()) text += fmt::format(",queues={}", nic.queues);
  return text;
}

[[maybe_unused]] void fuzz_net(std::string_view text) {
  auto nic = parse_net(text);
  check_error(nic, text, false);
  if (!nic) return;
  if (!*nic) {
    if (text != "none") finding("no NIC from something else than none");
    return;
  }
  const NetConfig& config = **nic;
  if (config.tap.empty() == (config.fd < 0) || config.tap.size() > 15 || config.queues < 1 ||
      config.queues > kMaximumNetQueues || (config.fd >= 0 && config.queues != 1))
    finding("a NIC accepted outside the limits");
  auto again = parse_net(net_text(config));
  if (!again || !*again || (*again)->tap != config.tap || (*again)->fd != config.fd ||
      (*again)->mac != config.mac || (*again)->queues != config.queues)
    finding("a NIC that does not round-trip");
}

// Discards what CLI11 prints (help, usage errors) while the CLI is fuzzed.
class Silence {
 public:
  Silence() : out_(std::cout.rdbuf(&sink_)), err_(std::cerr.rdbuf(&sink_)) {}
  ~Silence() {
    std::cout.rdbuf(out_);
    std::cerr.rdbuf(err_);
    sink_.str({});
  }

 private:
  std::stringbuf sink_;
  std::streambuf* out_;
  std::streambuf* err_;
};

[[maybe_unused]] void fuzz_cli(std::string_view text) {
  std::vector<std::string> words{"wisp"};
  size_t start = 0;
  while (start <= text.size() && words.size() < 64) {
    size_t end = std::min(text.find('\0', start), text.size());
    words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  int early_exit = -1;
  std::optional<Command> command;
  {
    Silence silence;
    command = parse_command_line(static_cast<int>(words.size()), argv.data(), early_exit);
  }
  if (command) {
    if (command->config.kernel_path.empty()) finding("a command without a kernel accepted");
    for (const DiskConfig& disk : command->config.disks)
      if (disk.path.empty()) finding("a disk without a path accepted");
  } else if (early_exit != 0 && early_exit != 2) {
    finding("the CLI ended with a status that is neither 0 nor 2");
  }
}

}  // namespace

#ifndef WISP_FUZZ_SEEDS

// A configuration file, in Wisp's format and in Firecracker's: an error names the file, and a
// file that is accepted has a kernel.
[[maybe_unused]] void fuzz_config_files(std::string_view text) {
  Command command;
  auto mine = apply_config_text(text, "fuzz.json", command, [](std::string_view) { return false; });
  if (!mine && !mine.error().message().starts_with("fuzz.json"))
    finding("a --config error that does not name the file");
  Command firecracker;
  auto theirs = apply_firecracker_config_text(text, "fc.json", firecracker);
  if (!theirs && !theirs.error().message().starts_with("fc.json"))
    finding("a --config-file error that does not name the file");
  if (theirs && firecracker.config.kernel_path.empty())
    finding("a Firecracker configuration accepted without a kernel");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_size(text);
  fuzz_address(text);
  fuzz_names(text);
  fuzz_list(text);
  fuzz_mac(text);
  fuzz_disk(text);
  fuzz_net(text);
  // Command lines are words separated by NUL bytes: one word alone is no command line worth the
  // CLI's time (it builds the whole option table).
  if (text.find('\0') != std::string_view::npos) fuzz_cli(text);
  if (text.starts_with("{")) fuzz_config_files(text);
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

// Command-line words as the target splits them: separated by NUL bytes.
std::string words(std::initializer_list<std::string_view> list) {
  std::string text;
  bool first = true;
  for (std::string_view word : list) {
    if (!first) text += '\0';
    first = false;
    text += word;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  const std::pair<const char*, std::string> seeds[] = {
      {"size", "512M"},
      {"size-gib", "6GiB"},
      {"size-overflow", "17179869184T"},
      {"address", "0x100000"},
      {"address-decimal", "1048576"},
      {"serial", "file=/tmp/console.log"},
      {"serial-tee", "tee=out"},
      {"format", "multiboot"},
      {"entry-mode", "protected"},
      {"reboot", "restart"},
      {"list", "a,,b,c,"},
      {"mac", "52:54:00:12:34:56"},
      {"mac-upper", "02:AB:cd:EF:00:01"},
      {"disk",
       "path=disk.img,readonly=on,serial=wisp-0001,cache=none,discard=on,queues=4,aio=sync"},
      {"disk-bad", "path=a,queues=17,serial=123456789012345678901"},
      {"net", "tap=wisp0,mac=52:54:00:12:34:56,queues=2"},
      {"net-fd", "fd=3,mac=02:00:00:00:00:01"},
      {"net-none", "none"},
      {"cli", words({"run", "--kernel", "bzImage", "--memory", "1G", "--cpus", "4", "--cmdline",
                     "console=ttyS0", "--disk", "path=a.img,queues=2", "--net", "tap=t0"})},
      {"cli-raw", words({"run", "--kernel", "k", "--kernel-format", "raw", "--load-address",
                         "0x100000", "--entry", "0x100000", "--entry-mode", "long"})},
      {"cli-serial", words({"run", "--kernel", "k", "--serial", "none", "--serial2", "file=x",
                            "--on-reboot", "restart", "--timeout", "5", "-v", "-v"})},
      {"cli-help", words({"run", "--help"})},
      {"config", R"({"kernel": "k", "cpus": 2, "memory": "1G", "disks": [{"path": "a.img",
                    "readonly": true}], "nets": [{"tap": "t0"}], "serial": "stdio"})"},
      {"config-firecracker",
       R"({"boot-source": {"kernel_image_path": "k", "boot_args": "console=ttyS0"},
           "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
           "drives": [{"drive_id": "rootfs", "path_on_host": "a.img", "is_root_device": true,
                       "is_read_only": false}],
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "t0"}]})"},
  };
  for (const auto& [name, text] : seeds)
    write_seed(dir + "/" + name,
               {std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
