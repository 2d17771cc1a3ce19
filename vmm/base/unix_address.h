// The address of a unix socket at a path: what every bind and connect to one builds.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <optional>
#include <string_view>

namespace wisp {

// The longest path sun_path holds with its NUL.
inline constexpr size_t kMaxUnixSocketPath = sizeof(sockaddr_un::sun_path) - 1;

// The address of `path`, or nothing when it does not fit sun_path.
inline std::optional<sockaddr_un> unix_socket_address(std::string_view path) {
  if (path.size() > kMaxUnixSocketPath) return std::nullopt;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

}  // namespace wisp
