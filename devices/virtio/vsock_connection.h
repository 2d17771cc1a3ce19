// One stream between a guest AF_VSOCK socket and a host AF_UNIX socket, as the vsock device keeps
// it: its addresses, its state, the packets it owes the guest, and both directions' credit
// (virtio 1.2 §5.10.6.3 Buffer Space Management).
//
// Guest to host: payload the host socket does not take at once waits in `to_host`, which holds at
// most the buf_alloc the device advertises (a guest that sends past its credit is reset). Host to
// guest: bytes stay in the host socket until the guest has credit and rx buffers for them.
#pragma once

#include <cstdint>
#include <string>

#include "devices/virtio/byte_ring.h"
#include "vmm/base/fd.h"

namespace wisp::virtio {

struct VsockConnection {
  // The receive buffer the device advertises per connection (buf_alloc).
  static constexpr uint32_t kBufferBytes = 256 * 1024;
  // The guest is told of freed buffer space once it believes less than this is left, so that a
  // sender never waits with a full-sized packet in hand.
  static constexpr uint32_t kCreditUpdateThreshold = 64 * 1024;
  // "OK 4294967295\n" and a little room: the host's acknowledgement, queued before any payload.
  static constexpr size_t kAckBytes = 16;

  enum class State {
    kAwaitingConnect,  // host-initiated: the host has not sent its "CONNECT <port>\n" line yet
    kRequestSent,      // host-initiated: OP_REQUEST goes or went to the guest; awaits OP_RESPONSE
    kEstablished,
  };

  VsockConnection(uint64_t key, Fd host_socket, State initial)
      : id(key), socket(std::move(host_socket)), state(initial) {}

  // Payload bytes the guest can take now: peer_free of §5.10.6.3, 0 if its numbers make no sense.
  uint32_t peer_credit() const {
    uint32_t in_flight = tx_cnt - peer_fwd_cnt;  // free-running counters: wrapping arithmetic
    return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
  }
  // Payload bytes received from the guest and not yet written to the host socket.
  uint32_t buffered() const { return rx_cnt - fwd_cnt; }
  // What the guest believes it may still send: the last fwd_cnt it heard of.
  uint32_t guest_view_of_space() const {
    uint32_t used = rx_cnt - fwd_cnt_sent;
    return used > kBufferBytes ? 0 : kBufferBytes - used;
  }
  bool owes_credit_update() const {
    return fwd_cnt != fwd_cnt_sent && guest_view_of_space() < kCreditUpdateThreshold;
  }

  uint64_t id;  // the key of the device's table and of its epoll registration, never reused
  Fd socket;    // closed early once the connection is being reset
  State state;
  bool host_initiated = false;
  uint32_t local_port = 0;   // the host side's port (the guest's dst_port)
  uint32_t peer_port = 0;    // the guest side's port
  std::string connect_line;  // kAwaitingConnect: the bytes of the command read so far

  // Packets owed to the guest, sent in this order as rx buffers come.
  bool send_rst = false;  // then the connection is gone
  bool send_request = false;
  bool send_response = false;
  bool send_shutdown = false;
  bool send_credit_update = false;
  bool queued = false;  // in the device's list of connections with something to send

  // Host to guest.
  bool host_readable = false;  // epoll said so; read until EAGAIN
  bool host_eof = false;       // the host will send no more (OP_SHUTDOWN SEND owed or sent)
  uint32_t tx_cnt = 0;         // payload bytes sent to the guest
  uint32_t peer_buf_alloc = 0;
  uint32_t peer_fwd_cnt = 0;

  // Guest to host.
  ByteRing to_host{kBufferBytes + kAckBytes};
  size_t ack_bytes = 0;            // leading bytes of to_host that are the "OK" line, not payload
  uint32_t rx_cnt = 0;             // payload bytes received from the guest
  uint32_t fwd_cnt = 0;            // of those, written to the host socket
  uint32_t fwd_cnt_sent = 0;       // the fwd_cnt the guest last saw
  bool peer_no_more_send = false;  // OP_SHUTDOWN with SEND
  bool peer_no_more_receive = false;  // OP_SHUTDOWN with RECEIVE
  bool host_write_shut = false;       // shutdown(SHUT_WR) done: the host read its EOF

  uint32_t epoll_events = 0;  // what the device's epoll watches for; 0: not registered
};

}  // namespace wisp::virtio
