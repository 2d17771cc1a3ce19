#include "vmm/api/api_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <vector>

#include "vmm/base/log.h"
#include "vmm/base/unix_address.h"

namespace wisp::api {
namespace {

constexpr size_t kReadChunk = 4096;

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::open(const std::string& path, FirecrackerApi& api) {
  std::optional<sockaddr_un> address = unix_socket_address(path);
  if (path.empty() || !address)
    return fail_usage("--api-sock {}: a socket path has 1 to {} bytes", path, kMaxUnixSocketPath);
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return fail_errno("socket for the API");
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) < 0) {
    if (errno == EADDRINUSE)
      return fail_usage("--api-sock {}: the file exists (a stale socket? remove it first)", path);
    return fail_errno(fmt::format("binding the API socket {}", path));
  }
  if (::listen(listener.get(), SOMAXCONN) < 0) {
    ::unlink(path.c_str());
    return fail_errno(fmt::format("listening on the API socket {}", path));
  }
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec every{};
  every.it_interval.tv_sec = every.it_value.tv_sec = kMetricsIntervalSeconds;
  if (!timer.valid() || ::timerfd_settime(timer.get(), 0, &every, nullptr) < 0) {
    ::unlink(path.c_str());
    return fail_errno("the metrics timer");
  }
  return std::unique_ptr<ApiServer>(
      new ApiServer(std::move(listener), std::move(timer), path, api));
}

ApiServer::~ApiServer() {
  detach();
  ::unlink(path_.c_str());
}

Result<void> ApiServer::attach(EventLoop& loop) {
  detach();
  loop_ = &loop;
  held_ = false;
  TRY(loop.watch(listener_.get(), [this] { accept_connections(); }));
  TRY(loop.watch(metrics_timer_.get(), [this] { flush_metrics(); }));
  std::vector<int> fds;
  for (auto& [fd, connection] : connections_) fds.push_back(fd);
  for (int fd : fds) {
    bool writing = !connections_.at(fd)->output.empty();
    watch_connection(fd, writing);
    // Requests read while the server was held are answered now (which may close the connection).
    if (!writing) on_readable(fd);
  }
  return {};
}

void ApiServer::detach() {
  if (!loop_) return;
  loop_->unwatch(listener_.get());
  loop_->unwatch(metrics_timer_.get());
  for (auto& [fd, connection] : connections_) loop_->unwatch(fd);
  loop_ = nullptr;
}

void ApiServer::accept_connections() {
  while (true) {
    Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client.valid()) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log::warn("accepting an API connection: {}", std::strerror(errno));
      return;
    }
    if (connections_.size() >= kMaxConnections) {
      log::warn("API connection refused: {} are open already", kMaxConnections);
      continue;  // closed
    }
    int fd = client.get();
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(client);
    connections_.emplace(fd, std::move(connection));
    watch_connection(fd, false);
  }
}

void ApiServer::flush_metrics() {
  uint64_t expirations;
  [[maybe_unused]] ssize_t n = ::read(metrics_timer_.get(), &expirations, sizeof(expirations));
  if (auto flushed = api_.flush_metrics(); !flushed)
    log::warn("metrics: {}", flushed.error().message());
}

void ApiServer::watch_connection(int fd, bool for_writing) {
  if (!loop_) return;
  loop_->unwatch(fd);
  Result<void> watched =
      for_writing
          ? loop_->watch_writable(fd,
                                  [this, fd] {
                                    auto found = connections_.find(fd);
                                    if (found == connections_.end()) return;
                                    if (!write_output(*found->second)) return close_connection(fd);
                                    if (found->second->output.empty()) {
                                      watch_connection(fd, false);
                                      on_readable(fd);  // requests that waited for the write
                                    }
                                  })
          : loop_->watch(fd, [this, fd] { on_readable(fd); });
  if (!watched) {
    log::warn("API connection: {}", watched.error().message());
    connections_.erase(fd);
  }
}

void ApiServer::close_connection(int fd) {
  if (loop_) loop_->unwatch(fd);
  connections_.erase(fd);
}

void ApiServer::on_readable(int fd) {
  auto found = connections_.find(fd);
  if (found == connections_.end()) return;
  Connection& connection = *found->second;
  char buffer[kReadChunk];
  ssize_t count = ::read(fd, buffer, sizeof(buffer));
  // The client went away; what it asked before was answered as it arrived.
  if (count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR)) return close_connection(fd);
  if (count > 0) connection.reader.append(std::string_view(buffer, count));
  if (!answer_requests(connection)) return close_connection(fd);
  if (!connection.output.empty()) watch_connection(fd, true);
}

bool ApiServer::answer_requests(Connection& connection) {
  // One request at a time: its response goes out before the next is answered.
  while (!held_ && connection.output.empty()) {
    auto request = connection.reader.next();
    if (!request) {
      connection.output = format_http_response(fault_response(request.error().message()));
      connection.close_after_output = true;
      return write_output(connection);
    }
    if (!*request) return true;
    HttpResponse response = api_.handle(**request);
    connection.output = format_http_response(response);
    connection.close_after_output = !(*request)->keep_alive;
    if (!write_output(connection)) return false;
  }
  return true;
}

bool ApiServer::write_output(Connection& connection) {
  while (!connection.output.empty()) {
    ssize_t written = ::send(connection.fd.get(), connection.output.data(),
                             connection.output.size(), MSG_NOSIGNAL);
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return false;
    connection.output.erase(0, written);
  }
  return !connection.close_after_output;
}

}  // namespace wisp::api
