// The requests of Firecracker's REST API (src/firecracker/swagger/firecracker.yaml) that the
// orchestrators driving it use, answered as Firecracker answers them: before InstanceStart the
// PUTs collect a configuration in the shape of Firecracker's configuration file (checked as each
// arrives, by firecracker_config.h's reader); InstanceStart builds the VM from it; after that the
// post-boot calls act on the VM through VmControl. Errors are 400 with {"fault_message": ...}.
//
// Transport-free: the API server (api_server.h) hands it parsed requests on the main thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmm/api/http_message.h"
#include "vmm/api/metrics.h"
#include "vmm/api/vm_control.h"
#include "vmm/cli.h"

namespace wisp::api {

// Firecracker's InstanceInfo.state.
enum class InstanceState { kNotStarted, kRunning, kPaused };

class FirecrackerApi {
 public:
  // Builds the VM from the collected configuration (it runs once the call returns) and gives the
  // control of it, or says why it cannot.
  using StartVm = std::function<Result<VmControl*>(const Command& command)>;
  // Applies a logger configuration at once (its level, and the file its lines go to).
  using ApplyLogger = std::function<Result<void>(const Command& logger)>;

  FirecrackerApi(std::string instance_id, StartVm start, ApplyLogger apply_logger);

  HttpResponse handle(const HttpRequest& request);

  // Takes a whole Firecracker configuration file (--config-file) as if its sections had been PUT.
  Result<void> configure(const nlohmann::json& document);
  // InstanceStart, as the action does it.
  Result<void> start();

  // The VM ended: post-boot calls are refused from now on.
  void vm_gone() { vm_ = nullptr; }
  InstanceState state() const { return state_; }

  // Writes one metrics line if a sink is configured (FlushMetrics, and the once-a-minute flush).
  Result<void> flush_metrics();
  bool has_metrics() const { return metrics_.has_value(); }

 private:
  using Json = nlohmann::json;
  // Handlers, by endpoint; `id` is the path's last part where the endpoint has one.
  HttpResponse get_instance_info() const;
  HttpResponse get_machine_config() const;
  HttpResponse put_machine_config(const Json& body, bool patch);
  HttpResponse put_boot_source(const Json& body);
  HttpResponse put_drive(const std::string& id, const Json& body);
  HttpResponse patch_drive(const std::string& id, const Json& body);
  HttpResponse put_network_interface(const std::string& id, const Json& body);
  HttpResponse patch_network_interface(const std::string& id, const Json& body);
  HttpResponse put_vsock(const Json& body);
  HttpResponse put_logger(const Json& body);
  HttpResponse put_metrics(const Json& body);
  HttpResponse put_action(const Json& body);
  HttpResponse patch_vm(const Json& body);
  HttpResponse route(const HttpRequest& request, const std::vector<std::string>& parts);

  // Stores a PUT section after checking it as the whole file's reader would.
  HttpResponse store_section(std::string_view section, const Json& body, std::string_view path,
                             Json& into);
  Json document() const;
  bool started() const { return state_ != InstanceState::kNotStarted; }

  std::string instance_id_;
  StartVm start_vm_;
  ApplyLogger apply_logger_;
  InstanceState state_ = InstanceState::kNotStarted;
  VmControl* vm_ = nullptr;

  // The configuration collected before InstanceStart, as the file's sections (null: not given).
  Json boot_source_;
  Json machine_config_;
  Json vsock_;
  Json logger_;
  std::vector<std::pair<std::string, Json>> drives_;  // by ID, in the order first PUT
  std::vector<std::pair<std::string, Json>> nics_;
  std::vector<std::string> disk_order_;  // the drive IDs as the guest numbers its disks

  std::optional<MetricsSink> metrics_;
  uint64_t requests_ = 0;
  uint64_t failed_requests_ = 0;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
};

const char* instance_state_name(InstanceState state);

// JSON text of `value`; bytes that are not UTF-8 (a client's path, say) become U+FFFD instead of
// throwing.
std::string json_text(const nlohmann::json& value, int indent = -1);
// A 400 with Firecracker's error body, {"fault_message": MESSAGE}.
HttpResponse fault_response(std::string_view message);

}  // namespace wisp::api
