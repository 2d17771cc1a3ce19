#include "vmm/api/firecracker_api.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/temp_file.h"

namespace wisp::api {
namespace {

using nlohmann::json;
using test::TempFile;

// A VM that records what the API asks of it.
struct FakeVm : VmControl {
  std::vector<std::string> calls;
  bool fail_next = false;

  Result<void> record(std::string call) {
    calls.push_back(std::move(call));
    if (fail_next) return fail("refused by the fake");
    return {};
  }
  Result<void> pause() override { return record("pause"); }
  Result<void> resume() override { return record("resume"); }
  Result<void> send_ctrl_alt_del() override { return record("ctrl-alt-del"); }
  Result<void> replace_disk(size_t index, const std::string& path) override {
    return record(fmt::format("replace {} {}", index, path));
  }
  void stop() override { calls.push_back("stop"); }
};

struct ApiFixture {
  FakeVm vm;
  std::optional<Command> started_with;
  std::optional<Command> logger;
  bool refuse_start = false;
  FirecrackerApi api{"vm-7",
                     [this](const Command& command) -> Result<VmControl*> {
                       if (refuse_start) return fail("KVM said no");
                       started_with = command;
                       return &vm;
                     },
                     [this](const Command& settings) -> Result<void> {
                       logger = settings;
                       return {};
                     }};

  HttpResponse call(std::string method, std::string path, const std::string& body = "") {
    return api.handle({std::move(method), std::move(path), body, true});
  }
  HttpResponse put(const std::string& path, const json& body) {
    return call("PUT", path, body.dump());
  }
  HttpResponse patch(const std::string& path, const json& body) {
    return call("PATCH", path, body.dump());
  }
  json get(const std::string& path) {
    HttpResponse response = call("GET", path);
    REQUIRE(response.status == 200);
    return json::parse(response.body);
  }
};

std::string fault(const HttpResponse& response) {
  REQUIRE(response.status == 400);
  return json::parse(response.body).at("fault_message").get<std::string>();
}

constexpr const char* kNotAfterStart =
    "The requested operation is not supported after starting the microVM.";
constexpr const char* kNotBeforeStart =
    "The requested operation is not supported before starting the microVM.";

}  // namespace

TEST_CASE("API: the Firecracker Go SDK's start sequence builds the VM it describes") {
  ApiFixture fixture;
  TempFile kernel("vmlinux"), root("rootfs"), scratch("scratch"), log("api-log");
  CHECK(fixture.get("/") == json{{"id", "vm-7"},
                                 {"state", "Not started"},
                                 {"vmm_version", WISP_VERSION_FOR_TESTS},
                                 {"app_name", "Wisp"}});

  CHECK(fixture.put("/logger", {{"log_path", log.path()}, {"level", "Info"}}).status == 204);
  REQUIRE(fixture.logger);
  CHECK(fixture.logger->log_path == log.path());
  CHECK(fixture.logger->log_level == log::Level::kInfo);
  CHECK(fixture.put("/machine-config", {{"vcpu_count", 2}, {"mem_size_mib", 256}}).status == 204);
  CHECK(fixture
            .put("/boot-source",
                 {{"kernel_image_path", kernel.path()}, {"boot_args", "console=ttyS0"}})
            .status == 204);
  // The scratch drive is PUT first; the root drive is still the guest's first disk.
  CHECK(fixture
            .put("/drives/scratch", {{"drive_id", "scratch"},
                                     {"path_on_host", scratch.path()},
                                     {"is_root_device", false},
                                     {"is_read_only", true}})
            .status == 204);
  CHECK(fixture
            .put("/drives/rootfs", {{"drive_id", "rootfs"},
                                    {"path_on_host", root.path()},
                                    {"is_root_device", true},
                                    {"is_read_only", false}})
            .status == 204);
  CHECK(fixture
            .put("/network-interfaces/eth0", {{"iface_id", "eth0"},
                                              {"host_dev_name", "tap7"},
                                              {"guest_mac", "06:00:ac:10:00:02"}})
            .status == 204);
  CHECK(
      fixture.put("/vsock", {{"guest_cid", 3}, {"uds_path", "/tmp/wisp-api-test-v.sock"}}).status ==
      204);
  CHECK(fixture.put("/actions", {{"action_type", "InstanceStart"}}).status == 204);

  REQUIRE(fixture.started_with);
  const VmConfig& config = fixture.started_with->config;
  CHECK(config.kernel_path == kernel.path());
  CHECK(config.cpus == 2);
  CHECK(config.memory_bytes == 256ull << 20);
  CHECK(config.cmdline == "console=ttyS0 pci=off root=/dev/vda rw");
  REQUIRE(config.disks.size() == 2);
  CHECK(config.disks[0].path == root.path());
  CHECK(config.disks[1].path == scratch.path());
  CHECK(config.disks[1].access == DiskAccess::kReadOnly);
  REQUIRE(config.nics.size() == 1);
  CHECK(config.nics[0].tap == "tap7");
  REQUIRE(config.vsock);
  CHECK(config.vsock->guest_cid == 3);
  CHECK(config.vsock->uds_path == "/tmp/wisp-api-test-v.sock");
  CHECK(fixture.get("/").at("state") == "Running");
  CHECK(fixture.api.state() == InstanceState::kRunning);

  // GET /vm/config shows what was configured, in Firecracker's file format.
  json full = fixture.get("/vm/config");
  CHECK(full.at("drives").size() == 2);
  CHECK(full.at("machine-config").at("vcpu_count") == 2);
  CHECK(full.at("logger").at("level") == "Info");
}

TEST_CASE("API: after the start, the post-boot calls reach the VM") {
  ApiFixture fixture;
  TempFile kernel("vmlinux"), root("rootfs"), data("data"), bigger("bigger");
  REQUIRE(fixture.put("/boot-source", {{"kernel_image_path", kernel.path()}}).status == 204);
  REQUIRE(fixture
              .put("/drives/data",
                   {{"drive_id", "data"}, {"path_on_host", data.path()}, {"is_root_device", false}})
              .status == 204);
  REQUIRE(fixture
              .put("/drives/root",
                   {{"drive_id", "root"}, {"path_on_host", root.path()}, {"is_root_device", true}})
              .status == 204);
  REQUIRE(fixture.put("/network-interfaces/eth0", {{"iface_id", "eth0"}, {"host_dev_name", "tap0"}})
              .status == 204);
  REQUIRE(fixture.put("/actions", {{"action_type", "InstanceStart"}}).status == 204);

  CHECK(fixture.patch("/vm", {{"state", "Paused"}}).status == 204);
  CHECK(fixture.get("/").at("state") == "Paused");
  CHECK(fixture.patch("/vm", {{"state", "Resumed"}}).status == 204);
  CHECK(fixture.get("/").at("state") == "Running");
  // The second drive PUT is the guest's second disk (vdb): index 1.
  CHECK(fixture.patch("/drives/data", {{"drive_id", "data"}, {"path_on_host", bigger.path()}})
            .status == 204);
  CHECK(fixture.get("/vm/config").at("drives")[0].at("path_on_host") == bigger.path());
  CHECK(fixture.put("/actions", {{"action_type", "SendCtrlAltDel"}}).status == 204);
  CHECK(fixture.patch("/network-interfaces/eth0", {{"iface_id", "eth0"}}).status == 204);
  CHECK(fixture.put("/actions", {{"action_type", "InstanceStop"}}).status == 204);
  CHECK(fixture.vm.calls == std::vector<std::string>{"pause", "resume",
                                                     "replace 1 " + bigger.path(), "ctrl-alt-del",
                                                     "stop"});

  // What the VM refuses is a 400 that says why, and the state stays.
  fixture.vm.fail_next = true;
  CHECK(fault(fixture.patch("/vm", {{"state", "Paused"}})) == "refused by the fake");
  CHECK(fixture.get("/").at("state") == "Running");
  CHECK(fault(fixture.patch("/drives/root", {{"drive_id", "root"}, {"path_on_host", "/x"}})) ==
        "Drive config error: refused by the fake");

  // Pre-boot calls after the start.
  CHECK(fault(fixture.put("/boot-source", {{"kernel_image_path", kernel.path()}})) ==
        kNotAfterStart);
  CHECK(fault(fixture.put("/machine-config", {{"vcpu_count", 1}, {"mem_size_mib", 64}})) ==
        kNotAfterStart);
  CHECK(fault(fixture.put("/drives/root", {{"drive_id", "root"},
                                           {"path_on_host", root.path()},
                                           {"is_root_device", true}})) == kNotAfterStart);
  CHECK(fault(fixture.put("/actions", {{"action_type", "InstanceStart"}})) == kNotAfterStart);
  CHECK(fault(fixture.put("/logger", {{"level", "Debug"}})) == kNotAfterStart);
  // Post-boot calls that Wisp cannot do, and IDs it does not know.
  CHECK(fault(fixture.patch(
            "/network-interfaces/eth0",
            {{"iface_id", "eth0"}, {"rx_rate_limiter", {{"bandwidth", {{"size", 1}}}}}})) ==
        "rate limiters are not supported by Wisp yet");
  CHECK(fault(fixture.patch("/drives/nope", {{"drive_id", "nope"}})) == "no drive with ID nope");
  CHECK(fault(fixture.put("/actions", {{"action_type", "FlushMetrics"}})).find("no metrics_path") !=
        std::string::npos);

  fixture.api.vm_gone();
  CHECK(fault(fixture.put("/actions", {{"action_type", "SendCtrlAltDel"}})) ==
        "the VM has stopped");
}

TEST_CASE("API: pre-boot rules and malformed requests get Firecracker's 400s") {
  ApiFixture fixture;
  TempFile kernel("vmlinux"), root("rootfs"), other("other");
  CHECK(fault(fixture.patch("/vm", {{"state", "Paused"}})) == kNotBeforeStart);
  CHECK(fault(fixture.put("/actions", {{"action_type", "SendCtrlAltDel"}})) == kNotBeforeStart);
  CHECK(fault(fixture.patch("/drives/a", {{"drive_id", "a"}})) == kNotBeforeStart);
  CHECK(fault(fixture.put("/actions", {{"action_type", "InstanceStart"}})) ==
        "Start microvm error: Missing kernel configuration (PUT /boot-source).");
  CHECK(fault(fixture.put("/actions", {{"action_type", "Reboot"}})).find("is not one of") !=
        std::string::npos);
  CHECK(fault(fixture.call("GET", "/nope")) == "Invalid request method and/or path: GET /nope.");
  // A path that is not UTF-8 is named in the message all the same (as U+FFFD).
  CHECK(fault(fixture.call("GET", "/n\xffpe")) ==
        "Invalid request method and/or path: GET /n\xef\xbf\xbdpe.");
  CHECK(fault(fixture.call("DELETE", "/drives/a")) ==
        "Invalid request method and/or path: DELETE /drives/a.");
  CHECK(fault(fixture.call("PUT", "/drives")) ==
        "Invalid request method and/or path: PUT /drives.");
  CHECK(fault(fixture.call("PUT", "/nope", "")) ==
        "Invalid request method and/or path: PUT /nope.");
  CHECK(fault(fixture.call("PATCH", "/boot-source", "{}")) ==
        "Invalid request method and/or path: PATCH /boot-source.");
  CHECK(fault(fixture.put("/balloon", {{"amount_mib", 1}})) ==
        "PUT /balloon: not supported by Wisp");
  CHECK(fault(fixture.call("PUT", "/boot-source", "")) == "Empty PUT request.");
  CHECK(fault(fixture.call("PUT", "/boot-source", "{\"kernel_image_path\": "))
            .find("An error occurred when deserializing the json body of a request") == 0);
  CHECK(fault(fixture.call("PUT", "/boot-source", "[1]")).find("expected an object") !=
        std::string::npos);
  CHECK(fault(fixture.put("/boot-source", {{"kernel_image_path", "/nonexistent/vmlinux"}})) ==
        "boot-source.kernel_image_path: /nonexistent/vmlinux: No such file or directory");
  CHECK(fault(fixture.put("/boot-source", {{"kernel", kernel.path()}})).find("kernel") !=
        std::string::npos);
  CHECK(fault(fixture.put("/machine-config", {{"vcpu_count", 0}, {"mem_size_mib", 64}})) ==
        "machine-config.vcpu_count: expected a number from 1 to 255, got 0");
  CHECK(fault(fixture.put(
            "/drives/a",
            {{"drive_id", "b"}, {"path_on_host", root.path()}, {"is_root_device", false}})) ==
        "The id from the path [a] does not match the id from the body [b]!");
  CHECK(fault(fixture.put("/drives/a-b", {{"drive_id", "a-b"}})).find("1 to 64 letters") !=
        std::string::npos);
  // A wrong type is a 400 like any bad value, also where the root rule looks at it.
  CHECK(fault(fixture.put(
                  "/drives/a",
                  {{"drive_id", "a"}, {"path_on_host", root.path()}, {"is_root_device", "yes"}}))
            .find("drives/a.is_root_device: expected") == 0);
  CHECK(fault(fixture.put("/drives/a", {{"drive_id", "a"},
                                        {"path_on_host", "/nonexistent/disk"},
                                        {"is_root_device", false}}))
            .find("drives/a.path_on_host: /nonexistent/disk") == 0);
  CHECK(fault(fixture.put("/vsock", {{"guest_cid", 2}, {"uds_path", "/tmp/v.sock"}}))
            .find("vsock.guest_cid") == 0);
  CHECK(fault(fixture.put("/network-interfaces/eth0",
                          {{"iface_id", "eth0"}, {"host_dev_name", "tap0"}, {"mtu", 9000}}))
            .find("not supported") != std::string::npos);

  // One root drive; the same ID again replaces the drive.
  REQUIRE(fixture
              .put("/drives/root",
                   {{"drive_id", "root"}, {"path_on_host", root.path()}, {"is_root_device", true}})
              .status == 204);
  CHECK(fault(fixture.put(
            "/drives/second",
            {{"drive_id", "second"}, {"path_on_host", other.path()}, {"is_root_device", true}})) ==
        "A root block device already exists!");
  CHECK(fixture
            .put("/drives/root",
                 {{"drive_id", "root"}, {"path_on_host", other.path()}, {"is_root_device", true}})
            .status == 204);

  // A start the VMM refuses leaves the instance unstarted, and it can be tried again.
  REQUIRE(fixture.put("/boot-source", {{"kernel_image_path", kernel.path()}}).status == 204);
  fixture.refuse_start = true;
  CHECK(fault(fixture.put("/actions", {{"action_type", "InstanceStart"}})) ==
        "Start microvm error: KVM said no");
  CHECK(fixture.get("/").at("state") == "Not started");
  fixture.refuse_start = false;
  CHECK(fixture.put("/actions", {{"action_type", "InstanceStart"}}).status == 204);
  REQUIRE(fixture.started_with);
  REQUIRE(fixture.started_with->config.disks.size() == 1);
  CHECK(fixture.started_with->config.disks[0].path == other.path());
}

TEST_CASE("API: machine-config defaults, PUT and PATCH") {
  ApiFixture fixture;
  CHECK(fixture.get("/machine-config") == json{{"vcpu_count", 1},
                                               {"mem_size_mib", 128},
                                               {"smt", false},
                                               {"track_dirty_pages", false},
                                               {"huge_pages", "None"}});
  HttpResponse patched_response = fixture.patch("/machine-config", {{"mem_size_mib", 512}});
  INFO(patched_response.body);
  CHECK(patched_response.status == 204);
  json patched = fixture.get("/machine-config");
  CHECK(patched.at("vcpu_count") == 1);
  CHECK(patched.at("mem_size_mib") == 512);
  CHECK(fixture.put("/machine-config", {{"vcpu_count", 4}, {"mem_size_mib", 64}}).status == 204);
  CHECK(fixture.get("/machine-config").at("vcpu_count") == 4);
  CHECK(fault(fixture.patch("/machine-config", {{"smt", true}})).find("smt") != std::string::npos);
  CHECK(fixture.get("/machine-config").at("vcpu_count") == 4);  // a failed PATCH changes nothing
  CHECK(fixture.get("/version").at("firecracker_version") == WISP_VERSION_FOR_TESTS);
}

TEST_CASE("API: metrics lines go to the metrics path on FlushMetrics") {
  ApiFixture fixture;
  TempFile kernel("vmlinux"), metrics("metrics");
  CHECK(fault(fixture.put("/metrics", {{"metrics_path", "/nonexistent/dir/m"}}))
            .find("Metrics error: metrics_path /nonexistent/dir/m") == 0);
  CHECK(fixture.put("/metrics", {{"metrics_path", metrics.path()}}).status == 204);
  REQUIRE(fixture.put("/boot-source", {{"kernel_image_path", kernel.path()}}).status == 204);
  REQUIRE(fixture.put("/actions", {{"action_type", "InstanceStart"}}).status == 204);
  CHECK(fixture.put("/actions", {{"action_type", "FlushMetrics"}}).status == 204);
  CHECK(fixture.put("/actions", {{"action_type", "FlushMetrics"}}).status == 204);
  std::ifstream file(metrics.path());
  std::vector<json> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(json::parse(line));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].at("utc_timestamp_ms").get<int64_t>() > 0);
  CHECK(lines[0].at("wisp").at("state") == "Running");
  CHECK(lines[1].at("wisp").at("api_requests").get<int>() >
        lines[0].at("wisp").at("api_requests").get<int>());
}

TEST_CASE("API: a --config-file document is taken as if its sections had been PUT") {
  ApiFixture fixture;
  TempFile kernel("vmlinux"), root("rootfs"), data("data"), metrics("metrics");
  json document = {
      {"boot-source", {{"kernel_image_path", kernel.path()}}},
      {"drives",
       {{{"drive_id", "data"}, {"path_on_host", data.path()}, {"is_root_device", false}},
        {{"drive_id", "root"}, {"path_on_host", root.path()}, {"is_root_device", true}}}},
      {"metrics", {{"metrics_path", metrics.path()}}}};
  REQUIRE(fixture.api.configure(document));
  REQUIRE(fixture.api.start());
  CHECK(fixture.api.has_metrics());
  CHECK(
      fixture.patch("/drives/data", {{"drive_id", "data"}, {"path_on_host", root.path()}}).status ==
      204);
  CHECK(fixture.vm.calls == std::vector<std::string>{"replace 1 " + root.path()});

  ApiFixture bad;
  auto refused = bad.api.configure({{"boot-source", {{"kernel_image_path", 3}}}});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message().find("boot-source.kernel_image_path: expected a string") !=
        std::string::npos);
}

}  // namespace wisp::api
