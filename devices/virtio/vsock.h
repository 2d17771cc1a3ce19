// virtio-vsock (virtio 1.2 §5.10) with Firecracker's host side (its docs/vsock.md): guest stream
// sockets meet AF_UNIX sockets on the host.
//
// - Host-initiated: a host process connects to `uds_path`, which the device binds and listens on,
//   and writes "CONNECT <port>\n"; the device picks a host port, sends the guest OP_REQUEST from
//   (2, host port) to (guest CID, port), and once the guest answers OP_RESPONSE writes
//   "OK <host port>\n" to the host socket. A guest that answers OP_RST gets the host socket closed.
// - Guest-initiated: an OP_REQUEST to (2, P) connects to the unix socket `<uds_path>_P`;
// OP_RESPONSE
//   if that worked, OP_RST if not.
//
// Then bytes flow both ways as OP_RW under credit-based flow control (§5.10.6.3). Everything runs
// on the device's thread: its queues' notifications, and an epoll set of its own (host_events_fd)
// over the listener and every connection's socket, all non-blocking. Only stream sockets (type 1)
// are served, and no feature bits are offered (§5.10.3: stream is then implied).
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "devices/virtio/virtio_device.h"
#include "devices/virtio/vsock_connection.h"
#include "devices/virtio/vsock_packet.h"
#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp::virtio {

struct VsockDeviceOptions {
  std::string name;  // for log messages, e.g. "vsock0"
  uint64_t guest_cid = 3;
  std::string uds_path;  // the listening socket; `<uds_path>_<port>` for guest-initiated streams
};

class VsockDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr size_t kMaxConnections = 1024;
  // The largest payload of one packet either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
  static constexpr uint32_t kMaxPayloadBytes = 64 * 1024;
  // Resets owed for packets that belong to no connection; past this many, more are dropped (the
  // guest then sees its connect time out) so that a guest that never reads cannot grow the list.
  static constexpr size_t kMaxLooseResets = 256;

  // Binds `options.uds_path` and listens on it. As Firecracker, a file already there is an error
  // (EADDRINUSE), not removed: it may be another VMM's live socket. The device removes the socket
  // file when it is destroyed.
  static Result<std::unique_ptr<VsockDevice>> create(const GuestMemory& memory,
                                                     VsockDeviceOptions options, IrqLine& irq,
                                                     DeviceWorker& worker);
  ~VsockDevice() override;

  std::string_view name() const override { return options_.name; }
  uint64_t guest_cid() const { return options_.guest_cid; }
  const std::string& uds_path() const { return options_.uds_path; }

  // Readable when a host socket has something for the device: the device thread then calls
  // process_host_events().
  int host_events_fd() const { return epoll_.get(); }
  // ---- Worker thread. ----
  void process_host_events();
  size_t connection_count() const { return connections_.size(); }

 protected:
  void activate(std::vector<std::optional<VirtQueue>> queues) override;
  void reset() override;
  void process_queue(uint16_t queue) override;

 private:
  using Connection = VsockConnection;
  using PortPair = std::pair<uint32_t, uint32_t>;  // (local port, peer port)
  static constexpr uint64_t kListenerId = 0;       // epoll data of the listener

  VsockDevice(const GuestMemory& memory, VsockDeviceOptions options, Fd listener, Fd epoll,
              dev_t socket_device, ino_t socket_inode, IrqLine& irq, DeviceWorker& worker);

  // Guest to host: the tx queue.
  void process_tx();
  void handle_packet(const DescriptorChain& chain);
  void handle_connection_packet(Connection& connection, const VsockHeader& header,
                                std::span<const uint8_t> payload);
  void handle_guest_request(const VsockHeader& header);
  void receive_payload(Connection& connection, std::span<const uint8_t> payload);
  void handle_shutdown(Connection& connection, uint32_t flags);

  // Host to guest: the rx queue.
  void deliver_rx();
  uint32_t fill_rx_packet(const DescriptorChain& chain);
  uint32_t connection_packet(Connection& connection, const DescriptorChain& chain);
  uint32_t read_host_data(Connection& connection, const DescriptorChain& chain);
  uint32_t write_packet(const DescriptorChain& chain, const VsockHeader& header,
                        std::span<const uint8_t> payload = {});
  VsockHeader header_for(Connection& connection, uint16_t op);

  // The host sockets.
  void accept_host_connections();
  void handle_socket_event(uint64_t id, uint32_t events);
  void read_connect_command(Connection& connection);
  void flush_to_host(Connection& connection);
  void finish_if_done(Connection& connection);
  void update_interest(Connection& connection);
  void watch_listener(bool watch);

  Connection* find(uint64_t id);
  Connection* find(uint32_t local_port, uint32_t peer_port);
  Connection& add_connection(Fd socket, Connection::State state);
  void set_ports(Connection& connection, uint32_t local_port, uint32_t peer_port);
  std::optional<uint32_t> allocate_local_port();
  // Something to send: the connection goes to the back of the rx list.
  void queue_rx(Connection& connection);
  // The host socket is closed now and OP_RST goes to the guest; the entry lives until it has.
  void reset_connection(Connection& connection, std::string_view why);
  void remove_connection(uint64_t id);
  void queue_loose_reset(const VsockHeader& to_answer);
  void warn(std::string_view what);

  const VsockDeviceOptions options_;
  Fd listener_;
  Fd epoll_;
  dev_t socket_device_;  // the socket file as bound: removed at the end only if still ours
  ino_t socket_inode_;
  bool listening_ = false;
  bool accept_paused_ = false;  // accept failed (no descriptors left): retried when a stream ends

  std::optional<VirtQueue> rx_ring_;
  std::optional<VirtQueue> tx_ring_;
  DescriptorChain tx_chain_;
  DescriptorChain rx_chain_;
  bool rx_chain_held_ = false;  // rx_chain_ was popped and waits for a packet

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::map<PortPair, uint64_t> by_ports_;
  std::set<uint32_t> local_ports_;  // host ports picked for host-initiated connections
  uint32_t last_local_port_ = (1u << 30) - 1;
  uint64_t next_id_ = kListenerId + 1;
  std::deque<uint64_t> rx_waiting_;       // connections with packets for the guest, in turn
  std::deque<VsockHeader> loose_resets_;  // OP_RST for packets of no connection
  std::vector<uint8_t> scratch_;          // a header and the largest payload
  log::RateLimit warnings_{20};
};

}  // namespace wisp::virtio
