// The API socket (`wisp --api-sock PATH`): a unix stream socket whose connections carry HTTP/1.1
// requests, served on an event loop of the main thread and answered by the FirecrackerApi. First
// the loop that waits for InstanceStart, then the running VM's. A client that sends garbage, too
// much, or goes away loses its connection and nothing else.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "vmm/api/firecracker_api.h"
#include "vmm/api/http_message.h"
#include "vmm/base/fd.h"
#include "vmm/event_loop.h"

namespace wisp::api {

class ApiServer {
 public:
  // Binds and listens on `path`; an existing file there is an error (another VMM's socket, say),
  // as it is for Firecracker. The socket file is removed again with the server.
  static Result<std::unique_ptr<ApiServer>> open(const std::string& path, FirecrackerApi& api);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Serves on `loop` from now on (the listener and every connection move to it).
  Result<void> attach(EventLoop& loop);
  // Stops serving: no loop watches the server's descriptors any more.
  void detach();
  // Reads no more requests until the next attach(): called when InstanceStart built the VM, so
  // that the requests behind it wait for the VM's loop.
  void hold() { held_ = true; }

  static constexpr size_t kMaxConnections = 64;
  // As Firecracker, a metrics line once a minute besides those FlushMetrics asks for.
  static constexpr int kMetricsIntervalSeconds = 60;

 private:
  struct Connection {
    Fd fd;
    HttpRequestReader reader;
    std::string output;  // response bytes the socket has not taken yet
    bool close_after_output = false;
  };

  ApiServer(Fd listener, Fd metrics_timer, std::string path, FirecrackerApi& api)
      : listener_(std::move(listener)),
        metrics_timer_(std::move(metrics_timer)),
        path_(std::move(path)),
        api_(api) {}

  void accept_connections();
  void flush_metrics();
  void on_readable(int fd);
  // Answers the whole requests read so far; false when the connection is to be closed.
  bool answer_requests(Connection& connection);
  // Writes what is pending; false when the connection is to be closed.
  bool write_output(Connection& connection);
  void watch_connection(int fd, bool for_writing);
  void close_connection(int fd);

  Fd listener_;
  Fd metrics_timer_;
  std::string path_;
  FirecrackerApi& api_;
  EventLoop* loop_ = nullptr;
  bool held_ = false;
  std::map<int, std::unique_ptr<Connection>> connections_;
};

}  // namespace wisp::api
