// libFuzzer target: what a client writes to the API socket (vmm/api/), as one connection's bytes.
//
// The input is cut into reads (its first byte sets the read size, 1 to 256 bytes), handed to the
// HTTP reader (http_message.h) one read at a time, and every request it hands out is answered by
// the router (firecracker_api.h) with a fake VM behind it, as the server does, until the reader
// refuses the bytes. Checks:
//   - the reader never hands out a body over kMaxRequestBody or a path over kMaxRequestPath, and
//     its refusal is a one-line message;
//   - every answer is 200 with a JSON body, 204 with none, or 400 with {"fault_message": string};
//   - the state only moves Not started -> Running <-> Paused.
// PUT /metrics and PUT /logger are left out: they open and create files at the paths they name.
// A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus
// (Firecracker's Go SDK start sequence and post-boot calls, pipelined and malformed requests).
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tests/fuzz/fuzz_support.h"
#include "vmm/api/firecracker_api.h"
#include "vmm/api/http_message.h"

namespace {

using namespace wisp;
using namespace wisp::fuzz;

#ifndef WISP_FUZZ_SEEDS

struct FakeVm : api::VmControl {
  Result<void> pause() override { return {}; }
  Result<void> resume() override { return {}; }
  Result<void> send_ctrl_alt_del() override { return {}; }
  Result<void> replace_disk(size_t, const std::string& path) override {
    if (path.empty()) finding("a drive swapped to an empty path");
    return {};
  }
  void stop() override {}
};

void check_response(const api::HttpResponse& response) {
  if (response.status == 204) {
    if (!response.body.empty()) finding("a 204 with a body");
    return;
  }
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded()) finding("an answer whose body is not JSON");
  if (response.status == 200) return;
  if (response.status != 400) finding("an answer neither 200, 204 nor 400");
  if (!body.is_object() || !body.contains("fault_message") || !body["fault_message"].is_string())
    finding("a 400 without a fault_message");
}

void check_request(const api::HttpRequest& request) {
  if (request.body.size() > api::kMaxRequestBody) finding("a body over the limit");
  if (request.path.size() > api::kMaxRequestPath) finding("a path over the limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t read_size = size_t{data[0]} + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  FakeVm vm;
  api::FirecrackerApi router(
      "fuzz", [&vm](const Command&) -> Result<api::VmControl*> { return &vm; },
      [](const Command&) -> Result<void> { return {}; });
  api::HttpRequestReader reader;
  for (size_t offset = 0; offset < bytes.size(); offset += read_size) {
    reader.append(bytes.substr(offset, read_size));
    while (true) {
      auto request = reader.next();
      if (!request) {
        if (request.error().message().find('\n') != std::string::npos)
          finding("a refusal of more than one line");
        return 0;
      }
      if (!*request) break;
      check_request(**request);
      if ((*request)->path.find("metrics") != std::string::npos ||
          (*request)->path.find("logger") != std::string::npos)
        continue;
      auto before = router.state();
      check_response(router.handle(**request));
      auto after = router.state();
      if (before != api::InstanceState::kNotStarted && after == api::InstanceState::kNotStarted)
        finding("a started instance back to Not started");
    }
  }
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

std::string request(std::string_view method, std::string_view path, std::string_view body) {
  std::string text = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n";
  if (!body.empty())
    text += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n";
  return text + "\r\n" + std::string(body);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  std::string start =
      request("PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 256})") +
      request("PUT", "/boot-source", R"({"kernel_image_path": "/proc/self/exe"})") +
      request("PUT", "/drives/rootfs",
              R"({"drive_id": "rootfs", "path_on_host": "/proc/self/exe", "is_root_device": true,
                  "is_read_only": true})") +
      request("PUT", "/network-interfaces/eth0",
              R"({"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:00:00:00:01"})") +
      request("PUT", "/vsock", R"({"guest_cid": 3, "uds_path": "/tmp/v.sock"})") +
      request("PUT", "/actions", R"({"action_type": "InstanceStart"})") + request("GET", "/", "");
  std::string after_start =
      start + request("PATCH", "/vm", R"({"state": "Paused"})") +
      request("PATCH", "/vm", R"({"state": "Resumed"})") +
      request("PATCH", "/drives/rootfs", R"({"drive_id": "rootfs", "path_on_host": "/x"})") +
      request("PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})") +
      request("GET", "/vm/config", "");
  const std::pair<const char*, std::string> seeds[] = {
      {"start", std::string(1, '\xff') + start},
      {"start-bytewise", std::string(1, '\0') + start},
      {"post-boot", std::string(1, '\x40') + after_start},
      {"machine-config", std::string(1, '\x10') + request("GET", "/machine-config", "") +
                             request("PATCH", "/machine-config", R"({"mem_size_mib": 64})")},
      {"chunked", std::string(1, '\x07') +
                      "PUT /boot-source HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"},
      {"garbage", std::string(1, '\x20') + "\x16\x03\x01 hello\r\n\r\n"},
      {"oversized", std::string(1, '\x20') + "PUT /drives/a HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"},
  };
  for (const auto& [name, text] : seeds)
    write_seed(dir + "/" + name,
               {std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())});
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
