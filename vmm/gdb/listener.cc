#include "vmm/gdb/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

#include "vmm/base/log.h"

namespace wisp::gdb {
namespace {

Result<uint16_t> parse_port(std::string_view text) {
  uint16_t port = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    return fail("--gdb: '{}' is not a port number (0 to 65535)", text);
  return port;
}

}  // namespace

Result<Address> parse_address(std::string_view text) {
  Address address;
  if (text.starts_with("unix:") && text.size() > 5) {
    address.kind = Address::Kind::kUnix;
    address.path = text.substr(5);
    if (address.path.size() >= sizeof(sockaddr_un::sun_path))
      return fail("--gdb {}: the socket's path is too long", text);
    return address;
  }
  if (!text.starts_with("tcp:"))
    return fail("--gdb '{}' is not tcp:[HOST:]PORT or unix:PATH", text);
  std::string_view rest = text.substr(4);
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos) {
    address.host = rest.substr(0, colon);
    in_addr parsed{};
    if (::inet_pton(AF_INET, address.host.c_str(), &parsed) != 1)
      return fail("--gdb {}: '{}' is not an IPv4 address", text, address.host);
    rest = rest.substr(colon + 1);
  }
  address.port = TRY(parse_port(rest));
  return address;
}

Result<std::unique_ptr<Listener>> Listener::open(const Address& address) {
  Fd fd(::socket(address.kind == Address::Kind::kTcp ? AF_INET : AF_UNIX,
                 SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail_errno("--gdb: socket");
  std::string description, unix_path;
  if (address.kind == Address::Kind::kTcp) {
    int reuse = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse));
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.host.c_str(), &in.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0)
      return fail_errno(fmt::format("--gdb: bind {}:{}", address.host, address.port));
    socklen_t length = sizeof(in);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&in), &length);
    description = fmt::format("{}:{}", address.host, ntohs(in.sin_port));
  } else {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::strncpy(un.sun_path, address.path.c_str(), sizeof(un.sun_path) - 1);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&un), sizeof(un)) != 0)
      return fail_errno(fmt::format("--gdb: bind {}", address.path));
    description = unix_path = address.path;
  }
  if (::listen(fd.get(), 1) != 0) return fail_errno("--gdb: listen");
  log::write(log::Level::kInfo, fmt::format("gdb: listening on {}", description));
  return std::unique_ptr<Listener>(
      new Listener(std::move(fd), std::move(description), std::move(unix_path)));
}

Listener::~Listener() {
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace wisp::gdb
