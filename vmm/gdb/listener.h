// Where gdb connects: --gdb tcp:[HOST:]PORT or unix:PATH. The socket is made once per run (a
// guest restarted by --on-reboot restart keeps it) and before the guest starts, so that a bad
// address is an error at once and gdb can connect as soon as Wisp says where.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp::gdb {

struct Address {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host = "127.0.0.1";  // kTcp
  uint16_t port = 0;               // kTcp; 0: any free port, reported
  std::string path;                // kUnix
};

// "tcp:PORT", "tcp:HOST:PORT" (HOST an IPv4 address) or "unix:PATH".
Result<Address> parse_address(std::string_view text);

class Listener {
 public:
  // Binds and listens, and logs where (the port chosen for tcp:0).
  static Result<std::unique_ptr<Listener>> open(const Address& address);
  ~Listener();  // removes a unix socket's file

  int fd() const { return fd_.get(); }
  const std::string& description() const { return description_; }

 private:
  Listener(Fd fd, std::string description, std::string unix_path)
      : fd_(std::move(fd)),
        description_(std::move(description)),
        unix_path_(std::move(unix_path)) {}
  Fd fd_;
  std::string description_;  // "127.0.0.1:1234" or the socket's path
  std::string unix_path_;
};

}  // namespace wisp::gdb
