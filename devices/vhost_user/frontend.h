// The front end of a vhost-user connection (QEMU's docs/interop/vhost-user.rst): Wisp hands a
// device's virtqueues to a back end in another process (virtiofsd), which maps guest RAM from the
// memory table's file descriptors and serves the rings itself. Wisp keeps the register side
// (feature negotiation, status, queue configuration) and only tells the back end where things are.
//
// Every request is a blocking round trip on a unix socket, bounded by a timeout: a back end that
// stops answering is an error, never a hang. Not thread-safe: one thread at a time talks on it
// (the main thread at start, then the device's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "devices/vhost_user/protocol.h"
#include "vmm/base/fd.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"

namespace wisp::vhost_user {

// Where one virtqueue is and how it is signalled, for start_vring.
struct VringSetup {
  uint16_t index;
  uint16_t size;
  uint64_t descriptor_table;  // guest-physical addresses
  uint64_t available_ring;
  uint64_t used_ring;
  int kick_fd;  // the back end waits on it: KVM signals it when the guest notifies the queue
  int call_fd;  // the back end signals it when it has used buffers
};

class Frontend {
 public:
  static constexpr std::chrono::milliseconds kReplyTimeout{5000};

  // Connects to the back end listening at `socket_path`, retrying for `patience` while the
  // socket is missing or refuses (a back end just started) and `still_starting` finds nothing
  // wrong, then takes ownership of the session and learns the back end's features.
  static Result<std::unique_ptr<Frontend>> connect(
      const std::string& socket_path, std::chrono::milliseconds patience,
      const std::function<Result<void>()>& still_starting = [] { return Result<void>{}; });
  // The same over a socket already connected (tests: one end of a socketpair).
  static Result<std::unique_ptr<Frontend>> adopt(
      Fd socket, std::string name, std::chrono::milliseconds reply_timeout = kReplyTimeout);

  const std::string& name() const { return name_; }
  // Readable when the back end hung up (or broke the protocol by speaking unasked).
  int socket_fd() const { return socket_.get(); }
  // The virtio features the back end offers (without VHOST_USER_F_PROTOCOL_FEATURES).
  uint64_t features() const { return features_; }

  // Activation, in the order QEMU uses: the driver's features, the memory table, then each ring.
  Result<void> set_features(uint64_t driver_features);
  // Needs guest RAM mapped from a file (GuestMemory::shared_file).
  Result<void> set_memory_table(const GuestMemory& memory);
  Result<void> start_vring(const GuestMemory& memory, const VringSetup& vring);
  // Stops a ring (GET_VRING_BASE): once it returns, the back end no longer touches it. Returns
  // the next available index the back end would have served.
  Result<uint16_t> stop_vring(uint16_t index);

 private:
  Frontend(Fd socket, std::string name, std::chrono::milliseconds reply_timeout)
      : socket_(std::move(socket)), name_(std::move(name)), reply_timeout_(reply_timeout) {}
  Result<void> handshake();
  Result<void> send(Request request, std::span<const uint8_t> payload, std::span<const int> fds,
                    bool need_reply = false);
  template <typename T>
  Result<void> send(Request request, const T& payload, std::span<const int> fds = {},
                    bool need_reply = false) {
    return send(request, std::span(reinterpret_cast<const uint8_t*>(&payload), sizeof(T)), fds,
                need_reply);
  }
  // Reads the reply to `request`, whose payload must be exactly `payload.size()` bytes.
  Result<void> receive_reply(Request request, std::span<uint8_t> payload);
  Result<uint64_t> get_u64(Request request);
  // With REPLY_ACK, waits for the back end's verdict on a request sent with need_reply.
  Result<void> send_and_acknowledge(Request request, std::span<const uint8_t> payload,
                                    std::span<const int> fds);
  Result<void> read_exactly(std::span<uint8_t> bytes);

  Fd socket_;
  std::string name_;
  std::chrono::milliseconds reply_timeout_;
  uint64_t features_ = 0;
  bool protocol_features_ = false;  // VHOST_USER_F_PROTOCOL_FEATURES negotiated
  bool reply_ack_ = false;          // VHOST_USER_PROTOCOL_F_REPLY_ACK negotiated
};

}  // namespace wisp::vhost_user
