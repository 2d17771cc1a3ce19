#include "vmm/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>

namespace wisp {

Result<uint64_t> parse_size(std::string_view text) {
  uint64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data())
    return fail("'{}' is not a size (expected e.g. 512M or 2G)", text);
  std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  int shift;
  if (suffix.empty() || suffix == "M" || suffix == "m" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    shift = 10;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    shift = 30;
  } else if (suffix == "T" || suffix == "t" || suffix == "TiB") {
    shift = 40;
  } else {
    return fail("'{}' has an unknown size suffix '{}' (use K, M, G or T)", text, suffix);
  }
  if (number > (std::numeric_limits<uint64_t>::max() >> shift))
    return fail("size '{}' is too large", text);
  return number << shift;
}

Result<SerialConfig> parse_serial(std::string_view text, std::string_view option) {
  if (text == "stdio") return SerialConfig{SerialMode::kStdio, ""};
  if (text == "none") return SerialConfig{SerialMode::kNone, ""};
  if (text.starts_with("file=") && text.size() > 5)
    return SerialConfig{SerialMode::kFile, std::string(text.substr(5))};
  if (text.starts_with("tee=") && text.size() > 4)
    return SerialConfig{SerialMode::kTee, std::string(text.substr(4))};
  return fail("{} '{}' is not one of stdio, none, file=PATH, tee=PATH", option, text);
}

namespace {

bool writes_stdout(const SerialConfig& serial) {
  return serial.mode == SerialMode::kStdio || serial.mode == SerialMode::kTee;
}
bool writes_file(const SerialConfig& serial) {
  return serial.mode == SerialMode::kFile || serial.mode == SerialMode::kTee;
}

// COM2 may go where COM1 does not: standard output and files are one port's each.
Result<void> validate_serial2(const VmConfig& config) {
  if (!config.serial2) return {};
  const SerialConfig& com2 = *config.serial2;
  if (writes_stdout(com2) && writes_stdout(config.serial))
    return fail("--serial2 {}: standard output is COM1's already (give --serial file=PATH or none)",
                com2.mode == SerialMode::kTee ? "tee" : "stdio");
  if (writes_file(com2) && writes_file(config.serial) && com2.path == config.serial.path)
    return fail("--serial2: COM1 writes to {} already", com2.path);
  return {};
}

}  // namespace

Result<RebootAction> parse_reboot_action(std::string_view text) {
  if (text == "exit") return RebootAction::kExit;
  if (text == "restart") return RebootAction::kRestart;
  return fail("--on-reboot '{}' is not one of exit, restart", text);
}

Result<PanicAction> parse_panic_action(std::string_view text) {
  if (text == "exit") return PanicAction::kExit;
  if (text == "continue") return PanicAction::kContinue;
  return fail("--on-panic '{}' is not one of exit, continue", text);
}

Result<KernelFormat> parse_kernel_format(std::string_view text) {
  for (KernelFormat format : {KernelFormat::kAuto, KernelFormat::kBzImage, KernelFormat::kPvh,
                              KernelFormat::kMultiboot, KernelFormat::kElf, KernelFormat::kRaw}) {
    if (text == format_name(format)) return format;
  }
  return fail("--kernel-format '{}' is not one of auto, bzimage, pvh, multiboot, elf, raw", text);
}

Result<EntryMode> parse_entry_mode(std::string_view text) {
  if (text == "real") return EntryMode::kReal;
  if (text == "protected") return EntryMode::kProtected;
  if (text == "long") return EntryMode::kLong;
  return fail("--entry-mode '{}' is not one of real, protected, long", text);
}

Result<uint64_t> parse_address(std::string_view text) {
  std::string_view digits = text;
  int base = 10;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  // The message names the whole value as typed, its 0x included.
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
    return fail("'{}' is not an address (decimal or 0x-prefixed hexadecimal)", text);
  return value;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    if (!part.empty()) parts.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

namespace {

Result<bool> parse_on_off(std::string_view key, std::string_view value,
                          std::string_view option = "--disk") {
  if (value == "on") return true;
  if (value == "off") return false;
  return fail("{} {}='{}' is not one of on, off", option, key, value);
}

// "KEY=VALUE" fields of an option's value, each handed to `set`.
template <typename SetField>
Result<void> for_each_field(std::string_view option, std::string_view text,
                            const std::vector<std::string>& fields, SetField set) {
  for (const std::string& field : fields) {
    size_t equals = field.find('=');
    if (equals == std::string::npos)
      return fail("{} '{}': '{}' is not KEY=VALUE", option, text, field);
    TRY(set(std::string_view(field).substr(0, equals), std::string_view(field).substr(equals + 1)));
  }
  return {};
}

// A whole decimal number from 1 to `maximum`.
std::optional<uint32_t> parse_count(std::string_view value, uint32_t maximum) {
  uint32_t number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size() || number == 0 || number > maximum)
    return std::nullopt;
  return number;
}

}  // namespace

Result<void> check_fs_tag(std::string_view option, std::string_view tag) {
  if (tag.empty() || tag.size() > kMaximumFsTagBytes)
    return fail("{} tag='{}': a tag has 1 to {} bytes", option, tag, kMaximumFsTagBytes);
  return {};
}

Result<void> set_disk_field(DiskConfig& disk, std::string_view key, std::string_view value) {
  if (key == "path") {
    if (value.empty()) return fail("--disk path= is empty");
    disk.path = value;
  } else if (key == "readonly") {
    disk.access = TRY(parse_on_off(key, value)) ? DiskAccess::kReadOnly : DiskAccess::kReadWrite;
  } else if (key == "serial") {
    if (value.size() > 20) return fail("--disk serial='{}' is longer than 20 bytes", value);
    disk.serial = value;
  } else if (key == "cache") {
    if (value == "writeback") {
      disk.cache = DiskCache::kWriteback;
    } else if (value == "none") {
      disk.cache = DiskCache::kNone;
    } else {
      return fail("--disk cache='{}' is not one of writeback, none", value);
    }
  } else if (key == "discard") {
    disk.discard = TRY(parse_on_off(key, value));
  } else if (key == "queues") {
    std::optional<uint32_t> queues = parse_count(value, kMaximumDiskQueues);
    if (!queues)
      return fail("--disk queues='{}' is not a number from 1 to {}", value, kMaximumDiskQueues);
    disk.queues = static_cast<uint16_t>(*queues);
  } else if (key == "aio") {
    if (value == "io_uring") {
      disk.io = DiskIo::kIoUring;
    } else if (value == "sync") {
      disk.io = DiskIo::kSync;
    } else {
      return fail("--disk aio='{}' is not one of io_uring, sync", value);
    }
  } else {
    return fail(
        "--disk has an unknown key '{}' (path, readonly, serial, cache, discard, queues, aio)",
        key);
  }
  return {};
}

Result<void> set_net_field(NetConfig& nic, std::string_view key, std::string_view value) {
  if (key == "tap") {
    if (value.empty() || value.size() >= 16)
      return fail("--net tap='{}': an interface name has 1 to 15 characters", value);
    nic.tap = value;
  } else if (key == "fd") {
    int fd = -1;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), fd);
    if (error != std::errc() || end != value.data() + value.size() || fd < 0)
      return fail("--net fd='{}' is not a file descriptor number", value);
    nic.fd = fd;
  } else if (key == "mac") {
    nic.mac = TRY_CONTEXT(parse_mac_address(value), "--net mac");
  } else if (key == "queues") {
    std::optional<uint32_t> queues = parse_count(value, kMaximumNetQueues);
    if (!queues)
      return fail("--net queues='{}' is not a number from 1 to {}", value, kMaximumNetQueues);
    nic.queues = static_cast<uint16_t>(*queues);
  } else {
    return fail("--net has an unknown key '{}' (tap, fd, mac, queues)", key);
  }
  return {};
}

Result<void> check_nic(const NetConfig& nic) {
  if (nic.tap.empty() == (nic.fd < 0)) return fail("needs one of tap=NAME or fd=N");
  if (nic.fd >= 0 && nic.queues > 1) return fail("fd=N is one queue pair; queues=N needs tap=NAME");
  return {};
}

Result<void> set_fs_field(FsConfig& fs, std::string_view key, std::string_view value) {
  if (key == "tag") {
    TRY(check_fs_tag("--fs", value));
    fs.tag = value;
  } else if (key == "socket") {
    if (value.empty()) return fail("--fs socket= is empty");
    fs.socket = value;
  } else {
    return fail("--fs has an unknown key '{}' (tag, socket)", key);
  }
  return {};
}

Result<void> set_share_field(FsConfig& fs, std::string_view key, std::string_view value) {
  if (key == "tag") {
    TRY(check_fs_tag("--share", value));
    fs.tag = value;
  } else if (key == "readonly") {
    fs.read_only = TRY(parse_on_off(key, value, "--share"));
  } else {
    return fail("--share has an unknown key '{}' (tag, readonly)", key);
  }
  return {};
}

Result<void> set_vsock_field(VsockConfig& vsock, std::string_view key, std::string_view value) {
  if (key == "cid") {
    uint64_t cid = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), cid);
    if (value.empty() || error != std::errc() || end != value.data() + value.size())
      return fail("--vsock cid='{}' is not a number", value);
    TRY_CONTEXT(check_vsock_cid(cid), "--vsock");
    vsock.guest_cid = cid;
  } else if (key == "uds") {
    if (value.empty()) return fail("--vsock uds= is empty");
    vsock.uds_path = value;
  } else {
    return fail("--vsock has an unknown key '{}' (cid, uds)", key);
  }
  return {};
}

Result<VsockConfig> parse_vsock(std::string_view text) {
  VsockConfig vsock;
  auto set_field = [&](std::string_view key, std::string_view value) {
    return set_vsock_field(vsock, key, value);
  };
  TRY(for_each_field("--vsock", text, split_list(text), set_field));
  if (vsock.guest_cid == 0 || vsock.uds_path.empty())
    return fail("--vsock '{}' needs cid=N and uds=PATH", text);
  return vsock;
}

std::string default_share_tag(size_t index) {
  return index == 0 ? "share" : fmt::format("share{}", index);
}

Result<MemoryConfig> parse_memory(std::string_view text) {
  std::vector<std::string> fields = split_list(text);
  MemoryConfig memory;
  bool sized = false;
  if (!fields.empty() && fields.front().find('=') == std::string::npos) {
    memory.bytes = TRY(parse_size(fields.front()));
    fields.erase(fields.begin());
    sized = true;
  }
  auto set_field = [&](std::string_view key, std::string_view value) -> Result<void> {
    if (key == "size") {
      memory.bytes = TRY(parse_size(value));
      sized = true;
    } else if (key == "shared") {
      memory.shared = TRY(parse_on_off(key, value, "--memory"));
    } else {
      return fail("--memory has an unknown key '{}' (size, shared)", key);
    }
    return {};
  };
  TRY(for_each_field("--memory", text, fields, set_field));
  if (!sized) return fail("--memory '{}' has no size", text);
  return memory;
}

Result<FsConfig> parse_fs(std::string_view text) {
  FsConfig fs;
  auto set_field = [&](std::string_view key, std::string_view value) {
    return set_fs_field(fs, key, value);
  };
  TRY(for_each_field("--fs", text, split_list(text), set_field));
  if (fs.tag.empty() || fs.socket.empty())
    return fail("--fs '{}' needs tag=TAG and socket=PATH", text);
  return fs;
}

Result<FsConfig> parse_share(std::string_view text, size_t index) {
  std::vector<std::string> fields = split_list(text);
  if (fields.empty() || fields.front().find('=') != std::string::npos)
    return fail("--share '{}' does not start with a directory", text);
  FsConfig fs;
  fs.directory = fields.front();
  fs.tag = default_share_tag(index);
  fields.erase(fields.begin());
  auto set_field = [&](std::string_view key, std::string_view value) {
    return set_share_field(fs, key, value);
  };
  TRY(for_each_field("--share", text, fields, set_field));
  return fs;
}

bool uses_shared_memory(const VmConfig& config) {
  return config.shared_memory.value_or(!config.filesystems.empty());
}

Result<std::optional<NetConfig>> parse_net(std::string_view text) {
  if (text == "none") return std::nullopt;
  NetConfig nic;
  auto set_field = [&](std::string_view key, std::string_view value) {
    return set_net_field(nic, key, value);
  };
  TRY(for_each_field("--net", text, split_list(text), set_field));
  TRY_CONTEXT(check_nic(nic), fmt::format("--net '{}'", text));
  return nic;
}

Result<void> check_readable(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) return fail_errno(path);
  return {};
}

Result<void> check_disk_file(const DiskConfig& disk) {
  int mode = disk.access == DiskAccess::kReadOnly ? R_OK : R_OK | W_OK;
  if (::access(disk.path.c_str(), mode) != 0) return fail_errno(disk.path);
  return {};
}

Result<void> check_directory(const std::string& directory) {
  struct stat file {};
  if (::stat(directory.c_str(), &file) != 0) return fail_errno(directory);
  if (!S_ISDIR(file.st_mode)) return fail("{}: not a directory", directory);
  return {};
}

Result<void> check_memory_size(uint64_t bytes) {
  if (bytes < kMinimumMemoryBytes)
    return fail("{} MiB is too small (at least {} MiB)", bytes >> 20, kMinimumMemoryBytes >> 20);
  if (bytes % 4096 != 0) return fail("{} bytes is not a whole number of 4 KiB pages", bytes);
  if (bytes > kMaximumMemoryBytes)
    return fail("{} GiB is more than Wisp supports ({} GiB)", bytes >> 30,
                kMaximumMemoryBytes >> 30);
  return {};
}

Result<void> check_vsock_cid(uint64_t cid) {
  if (cid < kMinimumVsockCid || cid > kMaximumVsockCid)
    return fail_usage(
        "guest CID {} is reserved or out of range (a guest's CID is {} to {}; 2 is the host)", cid,
        kMinimumVsockCid, kMaximumVsockCid);
  return {};
}

Result<void> check_vsock_socket_path(const std::string& path) {
  if (path.empty()) return fail_usage("the socket path is empty");
  if (path.size() > kMaximumUnixSocketPathBytes)
    return fail_usage("{}: {} bytes are more than a unix socket path takes ({})", path, path.size(),
                      kMaximumUnixSocketPathBytes);
  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (auto exists = check_directory(directory); !exists)
    return fail_usage("{}: the directory {}", path, exists.error().message());
  return {};
}

Result<DiskConfig> parse_disk(std::string_view text) {
  DiskConfig disk;
  auto set_field = [&](std::string_view key, std::string_view value) {
    return set_disk_field(disk, key, value);
  };
  TRY(for_each_field("--disk", text, split_list(text), set_field));
  if (disk.path.empty()) return fail("--disk '{}' has no path=IMAGE", text);
  return disk;
}

namespace {

Result<void> validate_raw_options(const VmConfig& config) {
  const RawImageOptions& raw = config.raw;
  bool any = raw.load_address || raw.entry || raw.entry_mode;
  if (config.kernel_format == KernelFormat::kRaw) {
    if (!raw.load_address || !raw.entry || !raw.entry_mode)
      return fail("--kernel-format raw needs --load-address, --entry and --entry-mode");
  } else if (any) {
    return fail("--load-address, --entry and --entry-mode go with --kernel-format raw");
  }
  return {};
}

// A file may back several read-only disks, but a writable disk has its file to itself: two
// devices writing one image behind each other's backs corrupt it.
Result<void> validate_disks(const VmConfig& config) {
  if (config.disks.size() > kMaximumDisks)
    return fail("{} disks are more than the {} Wisp supports", config.disks.size(), kMaximumDisks);
  std::vector<struct stat> files;
  for (const DiskConfig& disk : config.disks) {
    if (auto usable = check_disk_file(disk); !usable)
      return fail("disk {}", usable.error().message());
    struct stat file {};
    if (::stat(disk.path.c_str(), &file) != 0) return fail_errno(fmt::format("disk {}", disk.path));
    for (size_t i = 0; i < files.size(); ++i) {
      bool same = files[i].st_dev == file.st_dev && files[i].st_ino == file.st_ino;
      bool writable =
          disk.access == DiskAccess::kReadWrite || config.disks[i].access == DiskAccess::kReadWrite;
      if (same && writable)
        return fail(
            "--disk {} and --disk {} are the same file, and a writable disk cannot share it",
            config.disks[i].path, disk.path);
    }
    files.push_back(file);
  }
  return {};
}

Result<void> validate_filesystems(const VmConfig& config) {
  if (config.filesystems.size() > kMaximumFilesystems)
    return fail("{} file systems are more than the {} Wisp supports", config.filesystems.size(),
                kMaximumFilesystems);
  if (!config.filesystems.empty() && config.shared_memory == false)
    return fail("virtio-fs needs guest memory its back end can map: drop --memory ...,shared=off");
  for (size_t i = 0; i < config.filesystems.size(); ++i) {
    const FsConfig& fs = config.filesystems[i];
    if (!fs.directory.empty()) {
      if (auto directory = check_directory(fs.directory); !directory)
        return fail("--share {}", directory.error().message());
    }
    for (size_t j = 0; j < i; ++j)
      if (config.filesystems[j].tag == fs.tag)
        return fail("two file systems have the tag '{}'; give each its own tag=", fs.tag);
  }
  return {};
}

Result<void> validate_vsock(const VmConfig& config) {
  if (!config.vsock) return {};
  TRY_CONTEXT(check_vsock_cid(config.vsock->guest_cid), "--vsock");
  TRY_CONTEXT(check_vsock_socket_path(config.vsock->uds_path), "--vsock uds");
  return {};
}

Result<void> validate_nics(const VmConfig& config) {
  if (config.no_network && !config.nics.empty())
    return fail("--net none cannot go with another --net");
  if (config.nics.size() > kMaximumNics)
    return fail("{} NICs are more than the {} Wisp supports", config.nics.size(), kMaximumNics);
  for (size_t i = 0; i < config.nics.size(); ++i) {
    const NetConfig& nic = config.nics[i];
    if (nic.fd >= 0 && ::fcntl(nic.fd, F_GETFD) < 0)
      return fail_errno(fmt::format("--net fd={}", nic.fd));
    for (size_t j = 0; j < i; ++j) {
      if (!nic.tap.empty() && nic.tap == config.nics[j].tap)
        return fail("--net tap={} is given twice", nic.tap);
      if (nic.fd >= 0 && nic.fd == config.nics[j].fd)
        return fail("--net fd={} is given twice", nic.fd);
      if (nic.mac && nic.mac == config.nics[j].mac)
        return fail("--net mac={} is given twice", format_mac_address(*nic.mac));
    }
  }
  return {};
}

}  // namespace

Result<void> validate(const VmConfig& config) {
  if (config.kernel_path.empty()) return fail("--kernel is required");
  if (auto kernel = check_readable(config.kernel_path); !kernel)
    return fail("kernel {}", kernel.error().message());
  for (const std::string& initrd : config.initrd_paths) {
    if (auto readable = check_readable(initrd); !readable)
      return fail("initrd {}", readable.error().message());
  }
  TRY(validate_raw_options(config));
  if (config.cpus == 0 || config.cpus > kMaximumCpus)
    return fail("--cpus {} is out of range (1 to {})", config.cpus, kMaximumCpus);
  if (auto memory = check_memory_size(config.memory_bytes); !memory)
    return fail("--memory {}", memory.error().message());
  if (config.cmdline.find('\0') != std::string::npos)
    return fail("the kernel command line contains a NUL byte");
  TRY(validate_disks(config));
  TRY(validate_nics(config));
  TRY(validate_filesystems(config));
  TRY(validate_vsock(config));
  TRY(validate_serial2(config));
  return {};
}

std::optional<std::string> memory_warning(const VmConfig& config, uint64_t host_memory) {
  if (config.memory_bytes <= host_memory) return std::nullopt;
  return fmt::format(
      "--memory {} MiB is more than this host has ({} MiB): guest RAM is taken only as the guest "
      "touches it, and a guest that touches it all will run the host out of memory",
      config.memory_bytes >> 20, host_memory >> 20);
}

Result<uint64_t> host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib << 10;
  }
  return fail("cannot read MemTotal from /proc/meminfo");
}

}  // namespace wisp
