#include "vmm/firecracker_config.h"

#include <cctype>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "vmm/config_json.h"

namespace wisp {
namespace {

using config_json::element_path;
using config_json::Json;
using config_json::member_path;
using config_json::quote;

// Firecracker's sections that Wisp has no device or feature for yet.
constexpr std::string_view kUnsupportedSections[] = {"balloon",        "cpu-config", "entropy",
                                                     "memory-hotplug", "metrics",    "mmds-config"};

Result<void> refuse(std::string_view path, std::string_view what) {
  return fail_usage("{}: {} not supported by Wisp yet", path, what);
}

// A rate limiter that limits nothing: null, or an object of nulls ({"bandwidth": null, ...}).
bool limits_nothing(const Json& value) {
  if (config_json::is_absent(value)) return true;
  if (!value.is_object()) return false;
  for (const auto& [key, member] : value.items()) {
    if (!config_json::is_absent(member)) return false;
  }
  return true;
}

Result<void> refuse_rate_limiter(const Json& object, std::string_view path, std::string_view key) {
  auto found = object.find(std::string(key));
  if (found != object.end() && !limits_nothing(*found))
    return refuse(member_path(path, key), "rate limiters are");
  return {};
}

// A string that must be one of `choices`, as Firecracker's enums are spelled.
Result<std::string> get_choice(const Json& value, const std::string& path,
                               std::initializer_list<std::string_view> choices) {
  std::string text = TRY(config_json::get_string(value, path));
  for (std::string_view choice : choices) {
    if (text == choice) return text;
  }
  return fail_usage("{}: {} is not one of {}", path, quote(value), fmt::join(choices, ", "));
}

struct Reader {
  Reader(Command& read_into, std::string default_cmdline)
      : command(read_into), cmdline(std::move(default_cmdline)) {}

  Command& command;
  std::string cmdline;  // boot_args, or Firecracker's default
  bool root_read_only = false;
  std::optional<std::string> root_partuuid;
  bool has_root = false;

  void note(std::string text) { command.ignored_settings.push_back(std::move(text)); }

  Result<void> boot_source(const Json& value, const std::string& path) {
    TRY(config_json::expect_object(value, path));
    TRY(config_json::check_keys(value, path, {"kernel_image_path", "initrd_path", "boot_args"}));
    VmConfig& config = command.config;
    std::string kernel_path = member_path(path, "kernel_image_path");
    const Json* kernel = TRY(config_json::required_member(value, path, "kernel_image_path"));
    config.kernel_path = TRY(config_json::get_nonempty_string(*kernel, kernel_path));
    TRY_CONTEXT(check_readable(config.kernel_path), kernel_path);
    if (const Json* initrd = config_json::optional_member(value, "initrd_path")) {
      std::string initrd_path = member_path(path, "initrd_path");
      config.initrd_paths = {TRY(config_json::get_nonempty_string(*initrd, initrd_path))};
      TRY_CONTEXT(check_readable(config.initrd_paths.front()), initrd_path);
    }
    if (const Json* boot_args = config_json::optional_member(value, "boot_args"))
      cmdline = TRY(config_json::get_string(*boot_args, member_path(path, "boot_args")));
    return {};
  }

  // A flag Wisp only has one way: its default is accepted (and noted), the other refused.
  Result<void> default_only_flag(const Json& object, const std::string& path, std::string_view key,
                                 std::string_view refusal) {
    const Json* value = config_json::optional_member(object, key);
    if (!value) return {};
    std::string member = member_path(path, key);
    if (TRY(config_json::get_bool(*value, member))) return refuse(member, refusal);
    note(fmt::format("{}: ignored (false is what Wisp does)", member));
    return {};
  }

  Result<void> machine_config(const Json& value, const std::string& path) {
    TRY(config_json::expect_object(value, path));
    TRY(config_json::check_keys(value, path,
                                {"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
                                 "cpu_template", "huge_pages", "gdb_socket_path"}));
    VmConfig& config = command.config;
    std::string vcpus_path = member_path(path, "vcpu_count");
    const Json* vcpus = TRY(config_json::required_member(value, path, "vcpu_count"));
    config.cpus =
        static_cast<uint32_t>(TRY(config_json::get_number(*vcpus, vcpus_path, 1, kMaximumCpus)));
    std::string memory_path = member_path(path, "mem_size_mib");
    const Json* memory = TRY(config_json::required_member(value, path, "mem_size_mib"));
    uint64_t mib = TRY(config_json::get_number(*memory, memory_path, 1, kMaximumMemoryBytes >> 20));
    config.memory_bytes = mib << 20;
    TRY_CONTEXT(check_memory_size(config.memory_bytes), memory_path);
    TRY(default_only_flag(value, path, "smt", "true (two threads per core) is"));
    TRY(default_only_flag(value, path, "track_dirty_pages", "true (for diff snapshots) is"));
    if (const Json* name = config_json::optional_member(value, "cpu_template")) {
      std::string member = member_path(path, "cpu_template");
      if (TRY(config_json::get_string(*name, member)) != "None")
        return refuse(member, fmt::format("CPU template {} is", quote(*name)));
      note(fmt::format("{}: ignored (\"None\" is what Wisp does)", member));
    }
    if (const Json* pages = config_json::optional_member(value, "huge_pages")) {
      std::string member = member_path(path, "huge_pages");
      if (TRY(get_choice(*pages, member, {"None", "Transparent", "2M"})) != "None")
        return refuse(member, fmt::format("huge pages ({}) are", quote(*pages)));
      note(fmt::format("{}: ignored (\"None\" is what Wisp does)", member));
    }
    if (const Json* socket = config_json::optional_member(value, "gdb_socket_path")) {
      std::string member = member_path(path, "gdb_socket_path");
      std::string socket_path = TRY(config_json::get_nonempty_string(*socket, member));
      config.gdb = TRY_CONTEXT(gdb::parse_address("unix:" + socket_path), member);
      config.gdb_wait = true;  // Firecracker's guest waits for the debugger too
    }
    return {};
  }

  Result<void> drives(const Json& value, const std::string& path) {
    TRY(config_json::expect_array(value, path));
    std::set<std::string> ids;
    for (size_t i = 0; i < value.size(); ++i) TRY(drive(value[i], element_path(path, i), ids));
    return {};
  }

  // One drive, added to config.disks; the root drive goes first (the guest's /dev/vda).
  Result<void> drive(const Json& value, const std::string& path, std::set<std::string>& ids) {
    TRY(config_json::expect_object(value, path));
    TRY(config_json::check_keys(
        value, path,
        {"drive_id", "partuuid", "is_root_device", "cache_type", "is_read_only", "path_on_host",
         "rate_limiter", "io_engine", "socket"}));
    std::string id_path = member_path(path, "drive_id");
    const Json* id = TRY(config_json::required_member(value, path, "drive_id"));
    std::string drive_id = TRY(config_json::get_nonempty_string(*id, id_path));
    if (!ids.insert(drive_id).second)
      return fail_usage("{}: {} is the ID of an earlier drive too", id_path, quote(*id));
    std::string root_path = member_path(path, "is_root_device");
    const Json* root_value = TRY(config_json::required_member(value, path, "is_root_device"));
    bool root = TRY(config_json::get_bool(*root_value, root_path));
    if (root && has_root) return fail_usage("{}: a second root drive", root_path);
    if (config_json::optional_member(value, "socket"))
      return refuse(member_path(path, "socket"), "vhost-user drives are");
    TRY(refuse_rate_limiter(value, path, "rate_limiter"));

    DiskConfig disk;
    std::string host_path = member_path(path, "path_on_host");
    const Json* file = TRY(config_json::required_member(value, path, "path_on_host"));
    std::string file_name = TRY(config_json::get_nonempty_string(*file, host_path));
    TRY_CONTEXT(set_disk_field(disk, "path", file_name), host_path);
    if (const Json* read_only = config_json::optional_member(value, "is_read_only")) {
      if (TRY(config_json::get_bool(*read_only, member_path(path, "is_read_only"))))
        disk.access = DiskAccess::kReadOnly;
    }
    TRY_CONTEXT(check_disk_file(disk), host_path);
    // Firecracker's Unsafe ignores the guest's flushes; Wisp's writeback honours them, which
    // keeps the data at least as safe.
    if (const Json* cache = config_json::optional_member(value, "cache_type")) {
      std::string member = member_path(path, "cache_type");
      if (TRY(get_choice(*cache, member, {"Unsafe", "Writeback"})) == "Unsafe")
        note(fmt::format("{}: \"Unsafe\" is Wisp's writeback, which flushes when the guest asks",
                         member));
    }
    // Sync, Firecracker's default, is blocking system calls on the drive's thread.
    disk.io = DiskIo::kSync;
    if (const Json* engine = config_json::optional_member(value, "io_engine")) {
      if (TRY(get_choice(*engine, member_path(path, "io_engine"), {"Sync", "Async"})) == "Async")
        disk.io = DiskIo::kIoUring;
    }
    if (root) {
      has_root = true;
      root_read_only = disk.access == DiskAccess::kReadOnly;
      if (const Json* partuuid = config_json::optional_member(value, "partuuid"))
        root_partuuid =
            TRY(config_json::get_nonempty_string(*partuuid, member_path(path, "partuuid")));
      command.config.disks.insert(command.config.disks.begin(), std::move(disk));
    } else {
      if (const Json* partuuid = config_json::optional_member(value, "partuuid"))
        TRY(config_json::get_string(*partuuid, member_path(path, "partuuid")));
      command.config.disks.push_back(std::move(disk));
    }
    return {};
  }

  Result<void> network_interfaces(const Json& value, const std::string& path) {
    TRY(config_json::expect_array(value, path));
    std::set<std::string> ids;
    for (size_t i = 0; i < value.size(); ++i) {
      std::string nic_path = element_path(path, i);
      TRY(network_interface(value[i], nic_path));
      std::string id = value[i]["iface_id"].get<std::string>();  // checked by network_interface
      if (!ids.insert(id).second)
        return fail_usage("{}: {} is the ID of an earlier interface too",
                          member_path(nic_path, "iface_id"), quote(value[i]["iface_id"]));
    }
    return {};
  }

  // One interface, added to config.nics.
  Result<void> network_interface(const Json& interface, const std::string& nic_path) {
    TRY(config_json::expect_object(interface, nic_path));
    TRY(config_json::check_keys(
        interface, nic_path,
        {"iface_id", "host_dev_name", "guest_mac", "mtu", "rx_rate_limiter", "tx_rate_limiter"}));
    const Json* id = TRY(config_json::required_member(interface, nic_path, "iface_id"));
    TRY(config_json::get_nonempty_string(*id, member_path(nic_path, "iface_id")));
    if (config_json::optional_member(interface, "mtu"))
      return refuse(member_path(nic_path, "mtu"), "an MTU for the guest is");
    TRY(refuse_rate_limiter(interface, nic_path, "rx_rate_limiter"));
    TRY(refuse_rate_limiter(interface, nic_path, "tx_rate_limiter"));
    NetConfig nic;
    std::string tap_path = member_path(nic_path, "host_dev_name");
    const Json* tap = TRY(config_json::required_member(interface, nic_path, "host_dev_name"));
    std::string tap_name = TRY(config_json::get_string(*tap, tap_path));
    TRY_CONTEXT(set_net_field(nic, "tap", tap_name), tap_path);
    if (const Json* mac = config_json::optional_member(interface, "guest_mac")) {
      std::string mac_path = member_path(nic_path, "guest_mac");
      std::string mac_text = TRY(config_json::get_string(*mac, mac_path));
      TRY_CONTEXT(set_net_field(nic, "mac", mac_text), mac_path);
    }
    command.config.nics.push_back(std::move(nic));
    return {};
  }

  Result<void> logger(const Json& value, const std::string& path) {
    TRY(config_json::expect_object(value, path));
    TRY(config_json::check_keys(value, path,
                                {"log_path", "level", "show_level", "show_log_origin", "module"}));
    if (const Json* log_path = config_json::optional_member(value, "log_path"))
      command.log_path =
          TRY(config_json::get_nonempty_string(*log_path, member_path(path, "log_path")));
    if (const Json* level = config_json::optional_member(value, "level")) {
      std::string member = member_path(path, "level");
      std::string text = TRY(config_json::get_string(*level, member));
      command.log_level = TRY_CONTEXT(parse_firecracker_log_level(text), member);
    }
    for (std::string_view flag : {"show_level", "show_log_origin"}) {
      if (const Json* shown = config_json::optional_member(value, flag)) {
        std::string member = member_path(path, flag);
        TRY(config_json::get_bool(*shown, member));
        note(fmt::format("{}: ignored: Wisp's log lines always name their level", member));
      }
    }
    if (const Json* module = config_json::optional_member(value, "module")) {
      std::string member = member_path(path, "module");
      TRY(config_json::get_string(*module, member));
      note(fmt::format("{}: ignored: Wisp's log has no modules to filter", member));
    }
    return {};
  }

  Result<void> apply(const Json& file) {
    TRY(config_json::expect_object(file, ""));
    TRY(config_json::check_keys(
        file, "",
        {"boot-source", "machine-config", "drives", "network-interfaces", "logger", "balloon",
         "cpu-config", "entropy", "memory-hotplug", "metrics", "mmds-config", "vsock", "pmem"}));
    for (std::string_view section : kUnsupportedSections) {
      if (config_json::optional_member(file, section))
        return refuse(section, fmt::format("the {} section is", section));
    }
    if (const Json* pmem = config_json::optional_member(file, "pmem")) {
      TRY(config_json::expect_array(*pmem, "pmem"));
      if (!pmem->empty()) return refuse("pmem", "the pmem section (virtio-pmem devices) is");
    }
    // The logger first, as Firecracker configures it first.
    if (const Json* section = config_json::optional_member(file, "logger"))
      TRY(logger(*section, "logger"));
    const Json* boot = TRY(config_json::required_member(file, "", "boot-source"));
    TRY(boot_source(*boot, "boot-source"));
    if (const Json* section = config_json::optional_member(file, "machine-config"))
      TRY(machine_config(*section, "machine-config"));
    if (const Json* section = config_json::optional_member(file, "drives"))
      TRY(drives(*section, "drives"));
    if (const Json* section = config_json::optional_member(file, "network-interfaces"))
      TRY(network_interfaces(*section, "network-interfaces"));
    if (const Json* section = config_json::optional_member(file, "vsock")) {
      command.config.vsock = TRY(read_firecracker_vsock(*section, "vsock"));
      if (config_json::optional_member(*section, "vsock_id"))
        note("vsock.vsock_id: ignored (deprecated in Firecracker; Wisp has one vsock device)");
    }

    // As Firecracker's builder: `pci=off` (it has PCI only when asked, Wisp none at all), then the
    // root drive's arguments.
    auto append = [this](std::string_view words) {
      if (!cmdline.empty()) cmdline += ' ';
      cmdline += words;
    };
    append("pci=off");
    if (has_root) {
      append(root_partuuid ? "root=PARTUUID=" + *root_partuuid : std::string("root=/dev/vda"));
      append(root_read_only ? "ro" : "rw");
    }
    command.config.cmdline = cmdline;
    return {};
  }
};

}  // namespace

Result<log::Level> parse_firecracker_log_level(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "trace" || lower == "debug") return log::Level::kDebug;
  if (lower == "info") return log::Level::kInfo;
  if (lower == "warn" || lower == "warning") return log::Level::kWarn;
  if (lower == "error" || lower == "off") return log::Level::kError;
  return fail_usage("'{}' is not one of Error, Warning, Info, Debug, Trace, Off", text);
}

Result<VsockConfig> read_firecracker_vsock(const Json& value, const std::string& path) {
  TRY(config_json::expect_object(value, path));
  TRY(config_json::check_keys(value, path, {"vsock_id", "guest_cid", "uds_path"}));
  if (const Json* id = config_json::optional_member(value, "vsock_id"))
    TRY(config_json::get_string(*id, member_path(path, "vsock_id")));
  VsockConfig vsock;
  std::string cid_path = member_path(path, "guest_cid");
  const Json* cid = TRY(config_json::required_member(value, path, "guest_cid"));
  vsock.guest_cid = TRY(config_json::get_number(*cid, cid_path, 0, UINT32_MAX));
  TRY_CONTEXT(check_vsock_cid(vsock.guest_cid), cid_path);
  std::string uds_path = member_path(path, "uds_path");
  const Json* uds = TRY(config_json::required_member(value, path, "uds_path"));
  vsock.uds_path = TRY(config_json::get_nonempty_string(*uds, uds_path));
  TRY_CONTEXT(check_vsock_socket_path(vsock.uds_path), uds_path);
  return vsock;
}

Result<void> apply_firecracker_config(const Json& document, std::string_view name,
                                      Command& command) {
  command.config = VmConfig{};
  command.config.memory_bytes = kFirecrackerDefaultMemoryMib << 20;
  Reader reader(command, std::string(kFirecrackerDefaultCmdline));
  TRY_CONTEXT(reader.apply(document), name);
  return {};
}

Result<void> apply_firecracker_config_text(std::string_view text, std::string_view name,
                                           Command& command) {
  auto parsed = config_json::parse(text);
  if (!parsed) return std::unexpected(parsed.error().context(name));
  return apply_firecracker_config(*parsed, name, command);
}

Result<void> check_firecracker_section(std::string_view section, const Json& value,
                                       std::string_view path, Command& scratch) {
  scratch.config = VmConfig{};
  Reader reader(scratch, std::string(kFirecrackerDefaultCmdline));
  std::string where(path);
  if (section == "boot-source") return reader.boot_source(value, where);
  if (section == "machine-config") return reader.machine_config(value, where);
  if (section == "logger") return reader.logger(value, where);
  if (section == "drives") {
    std::set<std::string> ids;
    return reader.drive(value, where, ids);
  }
  if (section == "network-interfaces") return reader.network_interface(value, where);
  if (section == "vsock") {
    TRY(read_firecracker_vsock(value, where));
    return {};
  }
  for (std::string_view unsupported : kUnsupportedSections) {
    if (section == unsupported) return refuse(where, fmt::format("the {} device is", section));
  }
  return fail_usage("{}: no such section of Firecracker's configuration", section);
}

Result<void> apply_firecracker_config_file(const std::string& path, Command& command) {
  std::string text = TRY(config_json::read_text(path));
  return apply_firecracker_config_text(text, path, command);
}

}  // namespace wisp
