#include "vmm/config_file.h"

#include <climits>
#include <cstdint>
#include <initializer_list>

#include <nlohmann/json.hpp>

#include "vmm/config_json.h"

namespace wisp {
namespace {

using config_json::element_path;
using config_json::Json;
using config_json::member_path;
using config_json::quote;

// One top-level key: the option it stands for, and how its value is read. `check_host`: the
// files it names are checked (the command line does not replace them).
struct Key {
  std::string_view name;
  std::string_view option;
  Result<void> (*read)(const Json& value, const std::string& path, Command& command,
                       bool check_host);
};

// A field of an option's object form, handed to the option's field setter as the command line's
// text: booleans as on or off, numbers in decimal.
struct Field {
  enum class Type { kString, kBool, kNumber };
  std::string_view key;
  Type type;
  uint64_t minimum = 0;  // kNumber
  uint64_t maximum = 0;
};

template <typename SetField>
Result<void> read_fields(const Json& object, const std::string& path,
                         std::initializer_list<Field> fields, SetField set) {
  for (const auto& [key, value] : object.items()) {
    const Field* field = nullptr;
    for (const Field& candidate : fields) {
      if (candidate.key == key) field = &candidate;
    }
    std::string member = member_path(path, key);
    if (!field) {
      std::string known;
      for (const Field& candidate : fields)
        known += fmt::format("{}{}", known.empty() ? "" : ", ", candidate.key);
      return fail_usage("{}: unknown key (known here: {})", member, known);
    }
    if (config_json::is_absent(value)) continue;
    std::string text;
    switch (field->type) {
      case Field::Type::kString:
        text = TRY(config_json::get_string(value, member));
        break;
      case Field::Type::kBool:
        text = TRY(config_json::get_bool(value, member)) ? "on" : "off";
        break;
      case Field::Type::kNumber:
        text = std::to_string(
            TRY(config_json::get_number(value, member, field->minimum, field->maximum)));
        break;
    }
    TRY_CONTEXT(set(key, text), member);
  }
  return {};
}

// The kinds of value an option takes: a string for its parser, an object of its fields, or both.
Result<void> expect_string_or_object(const Json& value, const std::string& path,
                                     std::string_view what) {
  if (value.is_string() || value.is_object()) return {};
  return fail_usage("{}: expected {} (a string as on the command line, or an object), got {}", path,
                    what, quote(value));
}

Result<std::string> get_path(const Json& value, const std::string& path) {
  return config_json::get_nonempty_string(value, path);
}

Result<void> read_kernel(const Json& value, const std::string& path, Command& command,
                         bool check_host) {
  command.config.kernel_path = TRY(get_path(value, path));
  if (check_host) TRY_CONTEXT(check_readable(command.config.kernel_path), path);
  return {};
}

Result<void> read_initrd(const Json& value, const std::string& path, Command& command,
                         bool check_host) {
  std::vector<std::string> paths;
  std::vector<std::string> where;
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      where.push_back(element_path(path, i));
      paths.push_back(TRY(get_path(value[i], where.back())));
    }
  } else if (value.is_string()) {
    // As on the command line: a comma-separated list.
    paths = split_list(TRY(config_json::get_string(value, path)));
    where.assign(paths.size(), path);
  } else {
    return fail_usage("{}: expected a path or an array of paths, got {}", path, quote(value));
  }
  for (size_t i = 0; check_host && i < paths.size(); ++i)
    TRY_CONTEXT(check_readable(paths[i]), where[i]);
  command.config.initrd_paths = std::move(paths);
  return {};
}

Result<void> read_cmdline(const Json& value, const std::string& path, Command& command, bool) {
  command.config.cmdline = TRY(config_json::get_string(value, path));
  return {};
}

Result<void> read_cpus(const Json& value, const std::string& path, Command& command, bool) {
  command.config.cpus =
      static_cast<uint32_t>(TRY(config_json::get_number(value, path, 1, kMaximumCpus)));
  return {};
}

// A size as the command line takes it ("512M", "2G"), or a number of MiB.
Result<uint64_t> read_size(const Json& value, const std::string& path) {
  if (value.is_string()) return TRY_CONTEXT(parse_size(value.get<std::string>()), path);
  if (value.is_number_unsigned() && value.get<uint64_t>() <= (UINT64_MAX >> 20))
    return value.get<uint64_t>() << 20;
  return fail_usage("{}: expected a size (\"512M\", \"2G\") or a number of MiB, got {}", path,
                    quote(value));
}

Result<void> read_memory(const Json& value, const std::string& path, Command& command, bool) {
  MemoryConfig memory;
  std::string size_path = path;
  if (value.is_string()) {
    memory = TRY_CONTEXT(parse_memory(value.get<std::string>()), path);
  } else if (value.is_object()) {
    TRY(config_json::check_keys(value, path, {"size", "shared"}));
    size_path = member_path(path, "size");
    const Json* size = TRY(config_json::required_member(value, path, "size"));
    memory.bytes = TRY(read_size(*size, size_path));
    if (const Json* shared = config_json::optional_member(value, "shared"))
      memory.shared = TRY(config_json::get_bool(*shared, member_path(path, "shared")));
  } else {
    memory.bytes = TRY(read_size(value, path));
  }
  TRY_CONTEXT(check_memory_size(memory.bytes), size_path);
  command.config.memory_bytes = memory.bytes;
  command.config.shared_memory = memory.shared;
  return {};
}

Result<void> read_serial(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.serial = TRY_CONTEXT(parse_serial(text, "--serial"), path);
  return {};
}

Result<void> read_serial2(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.serial2 = TRY_CONTEXT(parse_serial(text, "--serial2"), path);
  return {};
}

Result<void> read_kernel_format(const Json& value, const std::string& path, Command& command,
                                bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.kernel_format = TRY_CONTEXT(parse_kernel_format(text), path);
  return {};
}

// An address: a number, or a string in decimal or 0x-prefixed hexadecimal as on the command line.
Result<uint64_t> read_address(const Json& value, const std::string& path) {
  if (value.is_string()) return TRY_CONTEXT(parse_address(value.get<std::string>()), path);
  return config_json::get_number(value, path, 0, UINT64_MAX);
}

Result<void> read_load_address(const Json& value, const std::string& path, Command& command, bool) {
  command.config.raw.load_address = TRY(read_address(value, path));
  return {};
}

Result<void> read_entry(const Json& value, const std::string& path, Command& command, bool) {
  command.config.raw.entry = TRY(read_address(value, path));
  return {};
}

Result<void> read_entry_mode(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.raw.entry_mode = TRY_CONTEXT(parse_entry_mode(text), path);
  return {};
}

Result<void> read_timeout(const Json& value, const std::string& path, Command& command, bool) {
  command.config.timeout_seconds =
      static_cast<uint32_t>(TRY(config_json::get_number(value, path, 0, UINT32_MAX)));
  return {};
}

Result<void> read_on_reboot(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.on_reboot = TRY_CONTEXT(parse_reboot_action(text), path);
  return {};
}

Result<void> read_on_panic(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.on_panic = TRY_CONTEXT(parse_panic_action(text), path);
  return {};
}

Result<DiskConfig> read_disk(const Json& value, const std::string& path, bool check_host) {
  TRY(expect_string_or_object(value, path, "a disk"));
  DiskConfig disk;
  std::string path_of_path = path;
  if (value.is_string()) {
    disk = TRY_CONTEXT(parse_disk(value.get<std::string>()), path);
  } else {
    TRY(config_json::required_member(value, path, "path"));
    path_of_path = member_path(path, "path");
    auto set = [&disk](std::string_view key, std::string_view text) {
      return set_disk_field(disk, key, text);
    };
    TRY(read_fields(value, path,
                    {{"path", Field::Type::kString},
                     {"readonly", Field::Type::kBool},
                     {"serial", Field::Type::kString},
                     {"cache", Field::Type::kString},
                     {"discard", Field::Type::kBool},
                     {"queues", Field::Type::kNumber, 1, kMaximumDiskQueues},
                     {"aio", Field::Type::kString}},
                    set));
  }
  if (check_host) TRY_CONTEXT(check_disk_file(disk), path_of_path);
  return disk;
}

Result<void> read_disks(const Json& value, const std::string& path, Command& command,
                        bool check_host) {
  TRY(config_json::expect_array(value, path));
  std::vector<DiskConfig> disks;
  for (size_t i = 0; i < value.size(); ++i)
    disks.push_back(TRY(read_disk(value[i], element_path(path, i), check_host)));
  command.config.disks = std::move(disks);
  return {};
}

// A NIC, or nothing for "none".
Result<std::optional<NetConfig>> read_nic(const Json& value, const std::string& path) {
  TRY(expect_string_or_object(value, path, "a NIC"));
  if (value.is_string()) return TRY_CONTEXT(parse_net(value.get<std::string>()), path);
  NetConfig nic;
  auto set = [&nic](std::string_view key, std::string_view text) {
    return set_net_field(nic, key, text);
  };
  TRY(read_fields(value, path,
                  {{"tap", Field::Type::kString},
                   {"fd", Field::Type::kNumber, 0, INT_MAX},
                   {"mac", Field::Type::kString},
                   {"queues", Field::Type::kNumber, 1, kMaximumNetQueues}},
                  set));
  TRY_CONTEXT(check_nic(nic), path);
  return nic;
}

Result<void> read_nets(const Json& value, const std::string& path, Command& command, bool) {
  TRY(config_json::expect_array(value, path));
  std::vector<NetConfig> nics;
  bool none = false;
  for (size_t i = 0; i < value.size(); ++i) {
    std::optional<NetConfig> nic = TRY(read_nic(value[i], element_path(path, i)));
    if (nic) {
      nics.push_back(std::move(*nic));
    } else {
      none = true;
    }
  }
  command.config.nics = std::move(nics);
  command.config.no_network = none;
  return {};
}

Result<FsConfig> read_fs(const Json& value, const std::string& path) {
  TRY(expect_string_or_object(value, path, "a file system"));
  if (value.is_string()) return TRY_CONTEXT(parse_fs(value.get<std::string>()), path);
  TRY(config_json::required_member(value, path, "tag"));
  TRY(config_json::required_member(value, path, "socket"));
  FsConfig fs;
  auto set = [&fs](std::string_view key, std::string_view text) {
    return set_fs_field(fs, key, text);
  };
  TRY(read_fields(value, path, {{"tag", Field::Type::kString}, {"socket", Field::Type::kString}},
                  set));
  return fs;
}

// Replaces the file systems of one kind (--fs's: a socket; --share's: a directory) with `added`.
void replace_filesystems(VmConfig& config, bool shares, std::vector<FsConfig> added) {
  std::erase_if(config.filesystems,
                [shares](const FsConfig& fs) { return fs.directory.empty() != shares; });
  for (FsConfig& fs : added) config.filesystems.push_back(std::move(fs));
}

Result<void> read_filesystems(const Json& value, const std::string& path, Command& command, bool) {
  TRY(config_json::expect_array(value, path));
  std::vector<FsConfig> filesystems;
  for (size_t i = 0; i < value.size(); ++i)
    filesystems.push_back(TRY(read_fs(value[i], element_path(path, i))));
  replace_filesystems(command.config, false, std::move(filesystems));
  return {};
}

Result<FsConfig> read_share(const Json& value, const std::string& path, size_t index,
                            bool check_host) {
  TRY(expect_string_or_object(value, path, "a shared directory"));
  FsConfig fs;
  std::string path_of_directory = path;
  if (value.is_string()) {
    fs = TRY_CONTEXT(parse_share(value.get<std::string>(), index), path);
  } else {
    TRY(config_json::required_member(value, path, "path"));
    path_of_directory = member_path(path, "path");
    fs.tag = default_share_tag(index);
    auto set = [&fs](std::string_view key, std::string_view text) -> Result<void> {
      if (key != "path") return set_share_field(fs, key, text);
      if (text.empty()) return fail_usage("is empty");
      fs.directory = text;
      return {};
    };
    TRY(read_fields(value, path,
                    {{"path", Field::Type::kString},
                     {"tag", Field::Type::kString},
                     {"readonly", Field::Type::kBool}},
                    set));
  }
  if (check_host) TRY_CONTEXT(check_directory(fs.directory), path_of_directory);
  return fs;
}

Result<void> read_shares(const Json& value, const std::string& path, Command& command,
                         bool check_host) {
  TRY(config_json::expect_array(value, path));
  std::vector<FsConfig> shares;
  for (size_t i = 0; i < value.size(); ++i)
    shares.push_back(TRY(read_share(value[i], element_path(path, i), i, check_host)));
  replace_filesystems(command.config, true, std::move(shares));
  return {};
}

// "cid=N,uds=PATH", or {"cid": N, "uds": "PATH"}.
Result<void> read_vsock(const Json& value, const std::string& path, Command& command,
                        bool check_host) {
  TRY(expect_string_or_object(value, path, "a vsock device"));
  VsockConfig vsock;
  std::string path_of_uds = path;
  if (value.is_string()) {
    vsock = TRY_CONTEXT(parse_vsock(value.get<std::string>()), path);
  } else {
    TRY(config_json::required_member(value, path, "cid"));
    TRY(config_json::required_member(value, path, "uds"));
    path_of_uds = member_path(path, "uds");
    auto set = [&vsock](std::string_view key, std::string_view text) {
      return set_vsock_field(vsock, key, text);
    };
    TRY(read_fields(value, path,
                    {{"cid", Field::Type::kNumber, kMinimumVsockCid, kMaximumVsockCid},
                     {"uds", Field::Type::kString}},
                    set));
  }
  if (check_host) TRY_CONTEXT(check_vsock_socket_path(vsock.uds_path), path_of_uds);
  command.config.vsock = std::move(vsock);
  return {};
}

Result<void> read_host_root(const Json& value, const std::string& path, Command& command, bool) {
  command.config.host_root = TRY(config_json::get_bool(value, path));
  return {};
}

Result<void> read_exec(const Json& value, const std::string& path, Command& command, bool) {
  command.config.exec_command = TRY(config_json::get_nonempty_string(value, path));
  return {};
}

Result<void> read_seccomp(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.seccomp = TRY_CONTEXT(parse_seccomp_mode(text), path);
  return {};
}

Result<void> read_jail(const Json& value, const std::string& path, Command& command,
                       bool check_host) {
  command.jail.directory = TRY(get_path(value, path));
  if (check_host) TRY_CONTEXT(check_directory(command.jail.directory), path);
  return {};
}

// A uid or gid: what parse_id takes (-1 means "unchanged" to the kernel, so it is none).
Result<uint32_t> read_id(const Json& value, const std::string& path) {
  return static_cast<uint32_t>(TRY(config_json::get_number(value, path, 0, UINT32_MAX - 1)));
}

Result<void> read_uid(const Json& value, const std::string& path, Command& command, bool) {
  command.jail.uid = TRY(read_id(value, path));
  return {};
}

Result<void> read_gid(const Json& value, const std::string& path, Command& command, bool) {
  command.jail.gid = TRY(read_id(value, path));
  return {};
}

// "memory=SIZE,cpu=N,pids=N,parent=PATH", or an object of those keys (sizes, counts and CPUs as
// strings or numbers), handed to --cgroup's parser.
Result<void> read_cgroup(const Json& value, const std::string& path, Command& command, bool) {
  TRY(expect_string_or_object(value, path, "cgroup limits"));
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else {
    TRY(config_json::check_keys(value, path, {"memory", "cpu", "pids", "parent"}));
    for (const auto& [key, field] : value.items()) {
      if (config_json::is_absent(field)) continue;
      std::string member = member_path(path, key);
      std::string field_text;
      if (field.is_string()) {
        field_text = TRY(config_json::get_string(field, member));
      } else if (field.is_number() && key != "parent") {
        field_text = field.dump();
      } else {
        return fail_usage("{}: expected {}, got {}", member,
                          key == "parent" ? "a path" : "a string or a number", quote(field));
      }
      if (field_text.find(',') != std::string::npos)
        return fail_usage("{}: {} has a comma, which --cgroup cannot take", member, quote(field));
      text += fmt::format("{}{}={}", text.empty() ? "" : ",", key, field_text);
    }
  }
  command.jail.cgroup = TRY_CONTEXT(parse_cgroup_limits(text), path);
  return {};
}

Result<void> read_gdb(const Json& value, const std::string& path, Command& command, bool) {
  std::string text = TRY(config_json::get_string(value, path));
  command.config.gdb = TRY_CONTEXT(gdb::parse_address(text), path);
  return {};
}

Result<void> read_gdb_wait(const Json& value, const std::string& path, Command& command, bool) {
  command.config.gdb_wait = TRY(config_json::get_bool(value, path));
  return {};
}

Result<void> read_no_decompress_cache(const Json& value, const std::string& path, Command& command,
                                      bool) {
  command.config.decompress_kernel = !TRY(config_json::get_bool(value, path));
  return {};
}

Result<void> read_boot_timing(const Json& value, const std::string& path, Command& command, bool) {
  command.boot_timing = TRY(config_json::get_bool(value, path));
  return {};
}

// As -v given that many times: 0 (warnings), 1 (info) or 2 (debug).
Result<void> read_verbose(const Json& value, const std::string& path, Command& command, bool) {
  uint64_t count = TRY(config_json::get_number(value, path, 0, 2));
  command.log_level = count == 0   ? log::Level::kWarn
                      : count == 1 ? log::Level::kInfo
                                   : log::Level::kDebug;
  return {};
}

constexpr Key kKeys[] = {
    {"kernel", "--kernel", read_kernel},
    {"initrd", "--initrd", read_initrd},
    {"cmdline", "--cmdline", read_cmdline},
    {"cpus", "--cpus", read_cpus},
    {"memory", "--memory", read_memory},
    {"serial", "--serial", read_serial},
    {"serial2", "--serial2", read_serial2},
    {"kernel-format", "--kernel-format", read_kernel_format},
    {"load-address", "--load-address", read_load_address},
    {"entry", "--entry", read_entry},
    {"entry-mode", "--entry-mode", read_entry_mode},
    {"timeout", "--timeout", read_timeout},
    {"on-reboot", "--on-reboot", read_on_reboot},
    {"on-panic", "--on-panic", read_on_panic},
    {"disks", "--disk", read_disks},
    {"nets", "--net", read_nets},
    {"filesystems", "--fs", read_filesystems},
    {"shares", "--share", read_shares},
    {"vsock", "--vsock", read_vsock},
    {"host-root", "--host-root", read_host_root},
    {"exec", "--exec", read_exec},
    {"seccomp", "--seccomp", read_seccomp},
    {"jail", "--jail", read_jail},
    {"uid", "--uid", read_uid},
    {"gid", "--gid", read_gid},
    {"cgroup", "--cgroup", read_cgroup},
    {"gdb", "--gdb", read_gdb},
    {"gdb-wait", "--gdb-wait", read_gdb_wait},
    {"no-decompress-cache", "--no-decompress-cache", read_no_decompress_cache},
    {"boot-timing", "--boot-timing", read_boot_timing},
    {"verbose", "--verbose", read_verbose},
};

Result<void> apply(const Json& file, Command& command, const GivenOnCommandLine& given) {
  TRY(config_json::expect_object(file, ""));
  for (const auto& [name, value] : file.items()) {
    const Key* key = nullptr;
    for (const Key& candidate : kKeys) {
      if (candidate.name == name) key = &candidate;
    }
    if (!key) {
      std::string known;
      for (const Key& candidate : kKeys)
        known += fmt::format("{}{}", known.empty() ? "" : ", ", candidate.name);
      return fail_usage("{}: unknown key (the keys are `wisp run`'s options: {})",
                        member_path("", name), known);
    }
    if (config_json::is_absent(value)) continue;
    TRY(key->read(value, member_path("", name), command, !given(key->option)));
  }
  if (!config_json::optional_member(file, "kernel") && !given("--kernel"))
    return fail_usage("kernel: is missing (give it here or with --kernel)");
  return {};
}

}  // namespace

Result<void> apply_config_text(std::string_view text, std::string_view name, Command& command,
                               const GivenOnCommandLine& given) {
  auto parsed = config_json::parse(text);
  if (!parsed) return std::unexpected(parsed.error().context(name));
  TRY_CONTEXT(apply(*parsed, command, given), name);
  return {};
}

Result<void> apply_config_file(const std::string& path, Command& command,
                               const GivenOnCommandLine& given) {
  std::string text = TRY(config_json::read_text(path));
  return apply_config_text(text, path, command, given);
}

}  // namespace wisp
