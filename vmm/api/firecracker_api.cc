#include "vmm/api/firecracker_api.h"

#include <algorithm>
#include <cctype>
#include <span>

#include "vmm/base/log.h"
#include "vmm/config_json.h"
#include "vmm/firecracker_config.h"

namespace wisp::api {
namespace {

using Json = nlohmann::json;

// Firecracker's messages for calls made at the wrong time (src/vmm/src/rpc_interface.rs).
constexpr std::string_view kNotAfterStart =
    "The requested operation is not supported after starting the microVM.";
constexpr std::string_view kNotBeforeStart =
    "The requested operation is not supported before starting the microVM.";

// Firecracker's endpoints for devices and features Wisp does not have.
constexpr std::string_view kUnsupportedEndpoints[] = {
    "balloon", "cpu-config", "entropy", "hotplug", "mmds", "pmem", "serial", "snapshot"};

// The endpoints that take a body, by method.
constexpr std::string_view kPutEndpoints[] = {
    "actions", "boot-source",        "drives", "logger", "machine-config",
    "metrics", "network-interfaces", "vsock"};
constexpr std::string_view kPatchEndpoints[] = {"drives", "machine-config", "network-interfaces",
                                                "vm"};

bool is_one_of(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

HttpResponse no_content() {
  return {204, {}};
}

HttpResponse json_response(const Json& body) {
  return {200, json_text(body)};
}

HttpResponse bad_request(std::string_view message) {
  return fault_response(message);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// As Firecracker checks a device's ID: 1 to 64 letters, digits and underscores.
bool valid_device_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

Result<Json> parse_body(const HttpRequest& request) {
  if (request.body.empty()) return fail("Empty {} request.", request.method);
  auto parsed = config_json::parse(request.body);
  if (!parsed)
    return fail("An error occurred when deserializing the json body of a request: {}",
                parsed.error().message());
  if (!parsed->is_object())
    return fail(
        "An error occurred when deserializing the json body of a request: expected an "
        "object, got {}",
        config_json::quote(*parsed));
  return std::move(*parsed);
}

// The body's ID field must name what the path names.
Result<void> check_body_id(const Json& body, std::string_view key, const std::string& path_id) {
  const Json* id = config_json::optional_member(body, key);
  if (!id) return fail("{} is missing", key);
  std::string body_id = TRY(config_json::get_string(*id, key));
  if (body_id != path_id)
    return fail("The id from the path [{}] does not match the id from the body [{}]!", path_id,
                body_id);
  return {};
}

// A rate limiter that limits nothing (absent, null, or an object of nulls): all Wisp takes.
bool limits_nothing(const Json& object, std::string_view key) {
  const Json* limiter = config_json::optional_member(object, key);
  if (!limiter) return true;
  if (!limiter->is_object()) return false;
  return std::all_of(limiter->begin(), limiter->end(),
                     [](const Json& member) { return config_json::is_absent(member); });
}

template <typename Entries>
auto find_entry(Entries& entries, const std::string& id) {
  return std::find_if(entries.begin(), entries.end(),
                      [&](const auto& entry) { return entry.first == id; });
}

// A PUT of an ID again replaces what the first PUT stored, in its place.
void store_by_id(std::vector<std::pair<std::string, Json>>& entries, const std::string& id,
                 Json value) {
  if (auto existing = find_entry(entries, id); existing != entries.end()) {
    existing->second = std::move(value);
  } else {
    entries.emplace_back(id, std::move(value));
  }
}

}  // namespace

std::string json_text(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

HttpResponse fault_response(std::string_view message) {
  return {400, json_text(Json{{"fault_message", message}})};
}

const char* instance_state_name(InstanceState state) {
  switch (state) {
    case InstanceState::kNotStarted:
      return "Not started";
    case InstanceState::kRunning:
      return "Running";
    case InstanceState::kPaused:
      return "Paused";
  }
  return "Unknown";
}

FirecrackerApi::FirecrackerApi(std::string instance_id, StartVm start, ApplyLogger apply_logger)
    : instance_id_(std::move(instance_id)),
      start_vm_(std::move(start)),
      apply_logger_(std::move(apply_logger)) {}

HttpResponse FirecrackerApi::handle(const HttpRequest& request) {
  ++requests_;
  HttpResponse response = route(request, split_path(request.path));
  if (response.status >= 400) {
    ++failed_requests_;
    log::info("API {} {}: {} {}", request.method, request.path, response.status, response.body);
  } else {
    log::debug("API {} {}: {}", request.method, request.path, response.status);
  }
  return response;
}

HttpResponse FirecrackerApi::route(const HttpRequest& request,
                                   const std::vector<std::string>& parts) {
  const std::string& method = request.method;
  std::string endpoint = parts.empty() ? std::string() : parts[0];
  auto invalid = [&] {
    return bad_request(
        fmt::format("Invalid request method and/or path: {} {}.", method, request.path));
  };
  if (method == "GET") {
    if (parts.empty()) return get_instance_info();
    if (parts.size() == 1 && endpoint == "version")
      return json_response({{"firecracker_version", WISP_VERSION}});
    if (parts.size() == 1 && endpoint == "machine-config") return get_machine_config();
    if (parts.size() == 2 && endpoint == "vm" && parts[1] == "config") {
      Json full = document();
      if (!logger_.is_null()) full["logger"] = logger_;
      if (metrics_) full["metrics"] = {{"metrics_path", metrics_->path()}};
      return json_response(full);
    }
  }
  if (is_one_of(kUnsupportedEndpoints, endpoint))
    return bad_request(fmt::format("{} {}: not supported by Wisp", method, request.path));
  if (method != "PUT" && method != "PATCH") return invalid();
  bool patch = method == "PATCH";
  if (!(patch ? is_one_of(kPatchEndpoints, endpoint) : is_one_of(kPutEndpoints, endpoint)))
    return invalid();
  bool with_id = endpoint == "drives" || endpoint == "network-interfaces";
  if (parts.size() != (with_id ? 2u : 1u)) return invalid();
  auto body = parse_body(request);
  if (!body) return bad_request(body.error().message());
  if (endpoint == "machine-config") return put_machine_config(*body, patch);
  if (endpoint == "drives")
    return patch ? patch_drive(parts[1], *body) : put_drive(parts[1], *body);
  if (endpoint == "network-interfaces")
    return patch ? patch_network_interface(parts[1], *body)
                 : put_network_interface(parts[1], *body);
  if (endpoint == "vm") return patch_vm(*body);
  if (endpoint == "boot-source") return put_boot_source(*body);
  if (endpoint == "vsock") return put_vsock(*body);
  if (endpoint == "logger") return put_logger(*body);
  if (endpoint == "metrics") return put_metrics(*body);
  if (endpoint == "actions") return put_action(*body);
  return invalid();
}

HttpResponse FirecrackerApi::get_instance_info() const {
  return json_response({{"id", instance_id_},
                        {"state", instance_state_name(state_)},
                        {"vmm_version", WISP_VERSION},
                        {"app_name", "Wisp"}});
}

HttpResponse FirecrackerApi::get_machine_config() const {
  Json config = {{"vcpu_count", 1u},
                 {"mem_size_mib", kFirecrackerDefaultMemoryMib},
                 {"smt", false},
                 {"track_dirty_pages", false},
                 {"huge_pages", "None"}};
  if (machine_config_.is_object()) {
    for (const auto& [key, value] : machine_config_.items()) config[key] = value;
  }
  return json_response(config);
}

HttpResponse FirecrackerApi::store_section(std::string_view section, const Json& body,
                                           std::string_view path, Json& into) {
  Command scratch;
  if (auto checked = check_firecracker_section(section, body, path, scratch); !checked)
    return bad_request(checked.error().message());
  into = body;
  return no_content();
}

HttpResponse FirecrackerApi::put_machine_config(const Json& body, bool patch) {
  if (started()) return bad_request(kNotAfterStart);
  Json merged = body;
  if (patch) {
    // A PATCH changes the fields it names, of what was PUT or of the defaults.
    merged = machine_config_.is_object()
                 ? machine_config_
                 : Json{{"vcpu_count", 1u}, {"mem_size_mib", kFirecrackerDefaultMemoryMib}};
    merged.merge_patch(body);
  }
  return store_section("machine-config", merged, "machine-config", machine_config_);
}

HttpResponse FirecrackerApi::put_boot_source(const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  return store_section("boot-source", body, "boot-source", boot_source_);
}

HttpResponse FirecrackerApi::put_drive(const std::string& id, const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  if (!valid_device_id(id))
    return bad_request(fmt::format("drive ID '{}': 1 to 64 letters, digits and underscores", id));
  if (auto matches = check_body_id(body, "drive_id", id); !matches)
    return bad_request(matches.error().message());
  Json stored;
  HttpResponse response = store_section("drives", body, "drives/" + id, stored);
  if (response.status != 204) return response;
  // Checked above: is_root_device is a boolean.
  bool root = stored.at("is_root_device").get<bool>();
  for (const auto& [other_id, drive] : drives_) {
    if (root && other_id != id && drive.at("is_root_device").get<bool>())
      return bad_request("A root block device already exists!");
  }
  store_by_id(drives_, id, std::move(stored));
  return response;
}

HttpResponse FirecrackerApi::patch_drive(const std::string& id, const Json& body) {
  if (!started()) return bad_request(kNotBeforeStart);
  if (auto keys = config_json::check_keys(body, "", {"drive_id", "path_on_host", "rate_limiter"});
      !keys)
    return bad_request(keys.error().message());
  if (auto matches = check_body_id(body, "drive_id", id); !matches)
    return bad_request(matches.error().message());
  auto order = std::find(disk_order_.begin(), disk_order_.end(), id);
  if (order == disk_order_.end()) return bad_request(fmt::format("no drive with ID {}", id));
  if (!limits_nothing(body, "rate_limiter"))
    return bad_request("rate_limiter: rate limiters are not supported by Wisp yet");
  const Json* path = config_json::optional_member(body, "path_on_host");
  if (!path) return no_content();
  auto file = config_json::get_nonempty_string(*path, "path_on_host");
  if (!file) return bad_request(file.error().message());
  if (!vm_) return bad_request("the VM has stopped");
  if (auto replaced = vm_->replace_disk(order - disk_order_.begin(), *file); !replaced)
    return bad_request(fmt::format("Drive config error: {}", replaced.error().message()));
  find_entry(drives_, id)->second["path_on_host"] = *file;
  return no_content();
}

HttpResponse FirecrackerApi::put_network_interface(const std::string& id, const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  if (!valid_device_id(id))
    return bad_request(
        fmt::format("interface ID '{}': 1 to 64 letters, digits and underscores", id));
  if (auto matches = check_body_id(body, "iface_id", id); !matches)
    return bad_request(matches.error().message());
  Json stored;
  HttpResponse response =
      store_section("network-interfaces", body, "network-interfaces/" + id, stored);
  if (response.status != 204) return response;
  store_by_id(nics_, id, std::move(stored));
  return response;
}

// After the start only the rate limiters may change, and Wisp has none: nothing to do, or a
// refusal.
HttpResponse FirecrackerApi::patch_network_interface(const std::string& id, const Json& body) {
  if (!started()) return bad_request(kNotBeforeStart);
  if (auto keys =
          config_json::check_keys(body, "", {"iface_id", "rx_rate_limiter", "tx_rate_limiter"});
      !keys)
    return bad_request(keys.error().message());
  if (auto matches = check_body_id(body, "iface_id", id); !matches)
    return bad_request(matches.error().message());
  if (find_entry(nics_, id) == nics_.end())
    return bad_request(fmt::format("no network interface with ID {}", id));
  if (!limits_nothing(body, "rx_rate_limiter") || !limits_nothing(body, "tx_rate_limiter"))
    return bad_request("rate limiters are not supported by Wisp yet");
  return no_content();
}

HttpResponse FirecrackerApi::put_vsock(const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  return store_section("vsock", body, "vsock", vsock_);
}

HttpResponse FirecrackerApi::put_logger(const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  Command logger;
  if (auto checked = check_firecracker_section("logger", body, "logger", logger); !checked)
    return bad_request(checked.error().message());
  if (auto applied = apply_logger_(logger); !applied)
    return bad_request(fmt::format("Logger error: {}", applied.error().message()));
  logger_ = body;
  return no_content();
}

HttpResponse FirecrackerApi::put_metrics(const Json& body) {
  if (started()) return bad_request(kNotAfterStart);
  if (auto keys = config_json::check_keys(body, "metrics", {"metrics_path"}); !keys)
    return bad_request(keys.error().message());
  auto path = config_json::required_member(body, "metrics", "metrics_path");
  if (!path) return bad_request(path.error().message());
  auto file = config_json::get_nonempty_string(**path, "metrics.metrics_path");
  if (!file) return bad_request(file.error().message());
  auto sink = MetricsSink::open(*file);
  if (!sink) return bad_request(fmt::format("Metrics error: {}", sink.error().message()));
  metrics_.emplace(std::move(*sink));
  return no_content();
}

HttpResponse FirecrackerApi::put_action(const Json& body) {
  if (auto keys = config_json::check_keys(body, "", {"action_type", "payload"}); !keys)
    return bad_request(keys.error().message());
  auto type = config_json::required_member(body, "", "action_type");
  if (!type) return bad_request(type.error().message());
  auto action = config_json::get_string(**type, "action_type");
  if (!action) return bad_request(action.error().message());
  if (*action == "InstanceStart") {
    if (started()) return bad_request(kNotAfterStart);
    if (auto started = start(); !started)
      return bad_request(fmt::format("Start microvm error: {}", started.error().message()));
    return no_content();
  }
  if (*action != "SendCtrlAltDel" && *action != "FlushMetrics" && *action != "InstanceStop")
    return bad_request(fmt::format(
        "action_type: {} is not one of InstanceStart, SendCtrlAltDel, FlushMetrics, InstanceStop",
        config_json::quote(**type)));
  if (!started()) return bad_request(kNotBeforeStart);
  if (*action == "FlushMetrics") {
    if (!metrics_)
      return bad_request("Metrics error: no metrics_path was configured (PUT /metrics)");
    if (auto flushed = flush_metrics(); !flushed)
      return bad_request(fmt::format("Metrics error: {}", flushed.error().message()));
    return no_content();
  }
  if (!vm_) return bad_request("the VM has stopped");
  if (*action == "InstanceStop") {  // Wisp's own: ends the VMM, as SIGTERM does
    vm_->stop();
    return no_content();
  }
  if (auto sent = vm_->send_ctrl_alt_del(); !sent) return bad_request(sent.error().message());
  return no_content();
}

HttpResponse FirecrackerApi::patch_vm(const Json& body) {
  if (auto keys = config_json::check_keys(body, "", {"state"}); !keys)
    return bad_request(keys.error().message());
  auto member = config_json::required_member(body, "", "state");
  if (!member) return bad_request(member.error().message());
  auto wanted = config_json::get_string(**member, "state");
  if (!wanted) return bad_request(wanted.error().message());
  if (*wanted != "Paused" && *wanted != "Resumed")
    return bad_request(
        fmt::format("state: {} is not one of Paused, Resumed", config_json::quote(**member)));
  if (!started()) return bad_request(kNotBeforeStart);
  if (!vm_) return bad_request("the VM has stopped");
  bool pause = *wanted == "Paused";
  if (auto done = pause ? vm_->pause() : vm_->resume(); !done)
    return bad_request(done.error().message());
  state_ = pause ? InstanceState::kPaused : InstanceState::kRunning;
  return no_content();
}

FirecrackerApi::Json FirecrackerApi::document() const {
  Json document = Json::object();
  if (!boot_source_.is_null()) document["boot-source"] = boot_source_;
  if (!machine_config_.is_null()) document["machine-config"] = machine_config_;
  if (!vsock_.is_null()) document["vsock"] = vsock_;
  Json drives = Json::array();
  for (const auto& [id, drive] : drives_) drives.push_back(drive);
  if (!drives.empty()) document["drives"] = std::move(drives);
  Json nics = Json::array();
  for (const auto& [id, nic] : nics_) nics.push_back(nic);
  if (!nics.empty()) document["network-interfaces"] = std::move(nics);
  return document;
}

Result<void> FirecrackerApi::start() {
  if (boot_source_.is_null()) return fail("Missing kernel configuration (PUT /boot-source).");
  Command command;
  TRY(apply_firecracker_config(document(), "configuration", command));
  TRY(validate(command.config));
  for (const std::string& setting : command.ignored_settings) log::debug("{}", setting);
  vm_ = TRY(start_vm_(command));
  state_ = InstanceState::kRunning;
  // As the reader orders the disks: the root drive is the guest's first.
  disk_order_.clear();
  for (const auto& [id, drive] : drives_)
    if (drive.at("is_root_device").get<bool>()) disk_order_.push_back(id);
  for (const auto& [id, drive] : drives_)
    if (!drive.at("is_root_device").get<bool>()) disk_order_.push_back(id);
  return {};
}

Result<void> FirecrackerApi::configure(const Json& file) {
  Json document = file;
  // The whole file is checked as --no-api checks it, metrics aside, which only the API writes.
  Json metrics;
  if (document.is_object() && document.contains("metrics")) {
    metrics = document["metrics"];
    document.erase("metrics");
  }
  Command scratch;
  TRY(apply_firecracker_config(document, "configuration file", scratch));
  if (!metrics.is_null()) {
    HttpResponse response = put_metrics(metrics);
    if (response.status != 204)
      return fail("configuration file: metrics: {}",
                  Json::parse(response.body)["fault_message"].get<std::string>());
  }
  if (const Json* logger = config_json::optional_member(document, "logger")) {
    TRY(apply_logger_(scratch));
    logger_ = *logger;
  }
  auto section = [&](const char* key) {
    const Json* value = config_json::optional_member(document, key);
    return value ? *value : Json();
  };
  boot_source_ = section("boot-source");
  machine_config_ = section("machine-config");
  vsock_ = section("vsock");
  for (const Json& drive : section("drives"))
    drives_.emplace_back(drive["drive_id"].get<std::string>(), drive);
  for (const Json& nic : section("network-interfaces"))
    nics_.emplace_back(nic["iface_id"].get<std::string>(), nic);
  return {};
}

Result<void> FirecrackerApi::flush_metrics() {
  if (!metrics_) return {};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto uptime = std::chrono::steady_clock::now() - created_;
  Json line = {
      {"utc_timestamp_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
      {"wisp",
       {{"id", instance_id_},
        {"state", instance_state_name(state_)},
        {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(uptime).count()},
        {"api_requests", requests_},
        {"api_failed_requests", failed_requests_},
        {"metrics_lines_dropped", metrics_->dropped()}}}};
  return metrics_->write_line(json_text(line));
}

}  // namespace wisp::api
