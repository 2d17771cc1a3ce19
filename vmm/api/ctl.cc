#include "vmm/api/ctl.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "vmm/api/firecracker_api.h"
#include "vmm/base/fd.h"
#include "vmm/base/log.h"
#include "vmm/base/unix_address.h"
#include "vmm/exit_status.h"

namespace wisp::api {
namespace {

using Json = nlohmann::json;

constexpr int kExitRefused = 1;

Result<Fd> connect_to(const std::string& socket_path, int timeout_seconds) {
  std::optional<sockaddr_un> address = unix_socket_address(socket_path);
  if (socket_path.empty() || !address)
    return fail("{}: a socket path has 1 to {} bytes", socket_path, kMaxUnixSocketPath);
  Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return fail_errno("socket");
  timeval timeout{timeout_seconds, 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) < 0)
    return fail_errno(fmt::format("connecting to the API socket {}", socket_path));
  return socket;
}

Result<void> send_all(int socket, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(socket, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return fail_errno("sending the request");
    bytes.remove_prefix(sent);
  }
  return {};
}

// The response, read until the server closes the connection (the request asked it to).
Result<HttpResponse> read_response(int socket) {
  struct Collected {
    HttpResponse response;
    bool complete = false;
  } collected;
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &collected;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_body = [](http_parser* p, const char* at, size_t length) {
    static_cast<Collected*>(p->data)->response.body.append(at, length);
    return 0;
  };
  settings.on_message_complete = [](http_parser* p) {
    auto* into = static_cast<Collected*>(p->data);
    into->response.status = static_cast<int>(p->status_code);
    into->complete = true;
    return 0;
  };
  char buffer[4096];
  while (!collected.complete) {
    ssize_t count = ::recv(socket, buffer, sizeof(buffer), 0);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return fail_errno("reading the response");
    // A zero-length execute tells the parser the connection ended.
    http_parser_execute(&parser, &settings, buffer, static_cast<size_t>(count));
    if (parser.http_errno != HPE_OK)
      return fail("not an HTTP response: {}",
                  http_errno_description(static_cast<http_errno>(parser.http_errno)));
    if (count == 0 && !collected.complete) return fail("the connection closed before a response");
  }
  return collected.response;
}

// What `wisp ctl` sends for each of its commands.
struct CtlRequest {
  std::string method;
  std::string path;
  std::string body;
};

CtlRequest action(std::string_view type) {
  return {"PUT", "/actions", json_text(Json{{"action_type", type}})};
}

}  // namespace

Result<HttpResponse> send_api_request(const std::string& socket_path, std::string_view method,
                                      std::string_view path, std::string_view body,
                                      int timeout_seconds) {
  Fd socket = TRY(connect_to(socket_path, timeout_seconds));
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, path);
  if (!body.empty())
    request += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  request += "\r\n";
  request += body;
  TRY(send_all(socket.get(), request));
  return read_response(socket.get());
}

int run_ctl(int argc, char** argv) {
  CLI::App app("Talks to a Wisp (or Firecracker) started with --api-sock", "wisp ctl");
  std::string socket_path;
  app.add_option("--api-sock", socket_path, "The API socket")->required()->type_name("PATH");
  int timeout = 10;
  app.add_option("--timeout", timeout, "Seconds to wait for the answer")
      ->check(CLI::Range(1, 3600));
  app.require_subcommand(1);
  CtlRequest request;
  auto simple = [&](const char* name, const char* help, CtlRequest what) {
    app.add_subcommand(name, help)->callback([&request, what] { request = what; });
  };
  simple("info", "The instance's ID, state and version (GET /)", {"GET", "/", ""});
  simple("config", "The whole configuration (GET /vm/config)", {"GET", "/vm/config", ""});
  simple("start", "Boots the configured VM (InstanceStart)", action("InstanceStart"));
  simple("pause", "Holds every vCPU", {"PATCH", "/vm", json_text(Json{{"state", "Paused"}})});
  simple("resume", "Lets the vCPUs run again",
         {"PATCH", "/vm", json_text(Json{{"state", "Resumed"}})});
  simple("ctrl-alt-del", "Ctrl+Alt+Del on the guest's keyboard (SendCtrlAltDel)",
         action("SendCtrlAltDel"));
  simple("stop", "Ends the VM and Wisp, as SIGTERM does", action("InstanceStop"));
  simple("flush-metrics", "Writes a metrics line now", action("FlushMetrics"));
  std::string drive_id, drive_path;
  CLI::App* swap = app.add_subcommand("swap-drive", "Gives a running VM's drive another file");
  swap->add_option("ID", drive_id, "The drive's ID")->required();
  swap->add_option("FILE", drive_path, "The new file")->required();
  swap->callback([&] {
    request = {"PATCH", "/drives/" + drive_id,
               json_text(Json{{"drive_id", drive_id}, {"path_on_host", drive_path}})};
  });
  CLI::App* raw = app.add_subcommand("request", "Any request: METHOD PATH [JSON]");
  raw->add_option("METHOD", request.method)
      ->required()
      ->check(CLI::IsMember({"GET", "PUT", "PATCH"}));
  raw->add_option("PATH", request.path)->required();
  raw->add_option("JSON", request.body, "The body");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : kExitUsage;
  }
  auto response =
      send_api_request(socket_path, request.method, request.path, request.body, timeout);
  if (!response) {
    log::error("{}", response.error().message());
    return kExitError;
  }
  if (response->status >= 300) {
    auto body = Json::parse(response->body, nullptr, false);
    bool has_fault = body.is_object() && body.contains("fault_message");
    bool fault_is_text = has_fault && body["fault_message"].is_string();
    log::error("{} {}: {}", request.method, request.path,
               fault_is_text ? body["fault_message"].get<std::string>() : response->body);
    return kExitRefused;
  }
  if (!response->body.empty()) {
    auto body = Json::parse(response->body, nullptr, false);
    fmt::print("{}\n", body.is_discarded() ? response->body : json_text(body, 2));
  }
  return 0;
}

}  // namespace wisp::api
