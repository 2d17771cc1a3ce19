#include "devices/virtio/vsock.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "vmm/base/unix_address.h"

namespace wisp::virtio {
namespace {

// §5.10.4 struct virtio_vsock_config: le64 guest_cid.
std::vector<uint8_t> vsock_config(uint64_t guest_cid) {
  std::vector<uint8_t> bytes(sizeof(guest_cid));
  std::memcpy(bytes.data(), &guest_cid, sizeof(guest_cid));
  return bytes;
}

// The longest "CONNECT <port>\n" line the host may send (as Firecracker reads at most 32 bytes).
constexpr size_t kMaxConnectLine = 32;

// "CONNECT <port>" (the word in any case, as Firecracker takes it), without its newline.
std::optional<uint32_t> parse_connect_line(std::string_view line) {
  auto next_word = [&line]() -> std::string_view {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    size_t end = 0;
    while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
    std::string_view word = line.substr(0, end);
    line.remove_prefix(end);
    return word;
  };
  std::string_view command = next_word();
  std::string_view number = next_word();
  if (!next_word().empty() || command.size() != 7) return std::nullopt;
  for (size_t i = 0; i < command.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(command[i])) != "CONNECT"[i]) return std::nullopt;
  uint32_t port = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), port);
  if (number.empty() || error != std::errc() || end != number.data() + number.size())
    return std::nullopt;
  return port;
}

bool would_block(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

// Copies the first out.size() bytes of the chain's readable buffers; false if guest memory fails.
bool read_chain(const GuestMemory& memory, const DescriptorChain& chain, std::span<uint8_t> out) {
  for (const GuestBuffer& buffer : chain.buffers()) {
    if (out.empty()) break;
    if (buffer.device_writable) break;
    size_t part = std::min<size_t>(out.size(), buffer.length);
    if (!memory.read(buffer.address, out.first(part))) return false;
    out = out.subspan(part);
  }
  return out.empty();
}

bool write_chain(const GuestMemory& memory, const DescriptorChain& chain,
                 std::span<const uint8_t> bytes) {
  for (const GuestBuffer& buffer : chain.buffers()) {
    if (bytes.empty()) break;
    if (!buffer.device_writable) continue;
    size_t part = std::min<size_t>(bytes.size(), buffer.length);
    if (!memory.write(buffer.address, bytes.first(part))) return false;
    bytes = bytes.subspan(part);
  }
  return bytes.empty();
}

}  // namespace

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(const GuestMemory& memory,
                                                         VsockDeviceOptions options, IrqLine& irq,
                                                         DeviceWorker& worker) {
  std::optional<sockaddr_un> address = unix_socket_address(options.uds_path);
  if (options.uds_path.empty() || !address)
    return fail("vsock socket {}: a unix socket path has 1 to {} bytes", options.uds_path,
                kMaxUnixSocketPath);
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return fail_errno("vsock: socket");
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&*address), sizeof(*address)) != 0) {
    int error = errno;
    if (error == EADDRINUSE)
      return fail("vsock socket {}: the file exists (a stale socket of an earlier run? remove it)",
                  options.uds_path);
    return fail_errno(fmt::format("vsock socket {}: bind", options.uds_path), error);
  }
  struct stat file {};
  ::stat(options.uds_path.c_str(), &file);
  if (::listen(listener.get(), SOMAXCONN) != 0) {
    int error = errno;
    ::unlink(options.uds_path.c_str());
    return fail_errno(fmt::format("vsock socket {}: listen", options.uds_path), error);
  }
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    ::unlink(options.uds_path.c_str());
    return fail_errno("vsock: epoll_create1");
  }
  return std::unique_ptr<VsockDevice>(new VsockDevice(memory, std::move(options),
                                                      std::move(listener), std::move(epoll),
                                                      file.st_dev, file.st_ino, irq, worker));
}

VsockDevice::VsockDevice(const GuestMemory& memory, VsockDeviceOptions options, Fd listener,
                         Fd epoll, dev_t socket_device, ino_t socket_inode, IrqLine& irq,
                         DeviceWorker& worker)
    : VirtioDevice(memory,
                   Identity{kDeviceIdVsock, 0, 3, kQueueSize, vsock_config(options.guest_cid)}, irq,
                   worker),
      options_(std::move(options)),
      listener_(std::move(listener)),
      epoll_(std::move(epoll)),
      socket_device_(socket_device),
      socket_inode_(socket_inode),
      scratch_(sizeof(VsockHeader) + kMaxPayloadBytes) {}

VsockDevice::~VsockDevice() {
  // Only the socket this device bound: another process may have put its own there since.
  struct stat file {};
  if (::stat(options_.uds_path.c_str(), &file) == 0 && file.st_dev == socket_device_ &&
      file.st_ino == socket_inode_)
    ::unlink(options_.uds_path.c_str());
}

void VsockDevice::warn(std::string_view what) {
  if (warnings_.allow("virtio-vsock")) log::warn("{}: {}", name(), what);
}

// ---- Activation and reset -----------------------------------------------------------------------

void VsockDevice::activate(std::vector<std::optional<VirtQueue>> queues) {
  rx_ring_ = std::move(queues[kVsockRxQueue]);
  tx_ring_ = std::move(queues[kVsockTxQueue]);
  // The event queue's buffers stay with the device: the only event, TRANSPORT_RESET (§5.10.6.6),
  // follows a migration, which Wisp does not do.
  rx_chain_held_ = false;
  // Host connections wait in the listener's backlog until the driver is there to take them.
  watch_listener(true);
}

void VsockDevice::reset() {
  watch_listener(false);
  accept_paused_ = false;
  while (!connections_.empty()) remove_connection(connections_.begin()->first);
  rx_waiting_.clear();
  loose_resets_.clear();
  last_local_port_ = (1u << 30) - 1;
  rx_chain_held_ = false;
  rx_ring_.reset();
  tx_ring_.reset();
}

void VsockDevice::watch_listener(bool watch) {
  if (watch == listening_) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenerId;
  if (::epoll_ctl(epoll_.get(), watch ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener_.get(), &event) <
      0) {
    log::error("{}: epoll_ctl on the listener: {}", name(), std::strerror(errno));
    return;
  }
  listening_ = watch;
}

void VsockDevice::process_queue(uint16_t queue) {
  if (queue == kVsockTxQueue) process_tx();
  // New rx buffers, or packets owed after the tx queue's: either way, deliver what waits.
  if (queue == kVsockTxQueue || queue == kVsockRxQueue) deliver_rx();
}

// ---- The connection table -----------------------------------------------------------------------

VsockDevice::Connection* VsockDevice::find(uint64_t id) {
  auto found = connections_.find(id);
  return found == connections_.end() ? nullptr : found->second.get();
}

VsockDevice::Connection* VsockDevice::find(uint32_t local_port, uint32_t peer_port) {
  auto found = by_ports_.find({local_port, peer_port});
  return found == by_ports_.end() ? nullptr : find(found->second);
}

VsockDevice::Connection& VsockDevice::add_connection(Fd socket, Connection::State state) {
  uint64_t id = next_id_++;
  auto connection = std::make_unique<Connection>(id, std::move(socket), state);
  Connection& added = *connection;
  connections_.emplace(id, std::move(connection));
  return added;
}

void VsockDevice::set_ports(Connection& connection, uint32_t local_port, uint32_t peer_port) {
  connection.local_port = local_port;
  connection.peer_port = peer_port;
  by_ports_[{local_port, peer_port}] = connection.id;
}

// As Firecracker: host ports for host-initiated streams from 2^30 up, in turn, below 2^31.
std::optional<uint32_t> VsockDevice::allocate_local_port() {
  for (size_t tries = 0; tries <= kMaxConnections; ++tries) {
    last_local_port_ = ((last_local_port_ + 1) & ~(1u << 31)) | (1u << 30);
    if (!local_ports_.contains(last_local_port_)) {
      local_ports_.insert(last_local_port_);
      return last_local_port_;
    }
  }
  return std::nullopt;
}

void VsockDevice::remove_connection(uint64_t id) {
  auto found = connections_.find(id);
  if (found == connections_.end()) return;
  Connection& connection = *found->second;
  if (connection.epoll_events && connection.socket.valid())
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, connection.socket.get(), nullptr);
  if (connection.state != Connection::State::kAwaitingConnect) {
    auto by_port = by_ports_.find({connection.local_port, connection.peer_port});
    if (by_port != by_ports_.end() && by_port->second == id) by_ports_.erase(by_port);
    if (connection.host_initiated) local_ports_.erase(connection.local_port);
  }
  connections_.erase(found);  // closes the host socket
  if (accept_paused_ && rx_ring_) {
    accept_paused_ = false;
    watch_listener(true);
  }
}

void VsockDevice::reset_connection(Connection& connection, std::string_view why) {
  log::debug("{}: resetting the stream from host port {} to guest port {}: {}", name(),
             connection.local_port, connection.peer_port, why);
  if (connection.state == Connection::State::kAwaitingConnect) {
    remove_connection(connection.id);  // the guest never heard of it
    return;
  }
  if (connection.epoll_events)
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, connection.socket.get(), nullptr);
  connection.epoll_events = 0;
  connection.socket.reset();
  connection.send_rst = true;
  queue_rx(connection);
}

void VsockDevice::queue_rx(Connection& connection) {
  if (connection.queued) return;
  connection.queued = true;
  rx_waiting_.push_back(connection.id);
}

void VsockDevice::queue_loose_reset(const VsockHeader& to_answer) {
  if (loose_resets_.size() >= kMaxLooseResets) {
    warn("too many resets owed to the guest; one dropped");
    return;
  }
  VsockHeader reset{};
  reset.src_cid = kVsockHostCid;
  reset.dst_cid = options_.guest_cid;
  reset.src_port = to_answer.dst_port;
  reset.dst_port = to_answer.src_port;
  reset.type = to_answer.type;
  reset.op = kVsockOpRst;
  loose_resets_.push_back(reset);
}

// Which host socket events the connection waits for now. Level-triggered, so only what it can act
// on: a socket left registered while the guest has no credit would wake the thread forever. An
// unregistered socket reports no hang-up either; it is noticed at the next read or write.
void VsockDevice::update_interest(Connection& connection) {
  uint32_t wanted = 0;
  if (connection.socket.valid()) {
    if (connection.state == Connection::State::kAwaitingConnect) {
      wanted = EPOLLIN;
    } else if (connection.state == Connection::State::kEstablished) {
      if (!connection.host_readable && !connection.host_eof && !connection.peer_no_more_receive)
        wanted |= EPOLLIN;
      if (!connection.to_host.empty()) wanted |= EPOLLOUT;
    }
  }
  if (wanted == connection.epoll_events) return;
  epoll_event event{};
  event.events = wanted;
  event.data.u64 = connection.id;
  int operation = wanted == 0                    ? EPOLL_CTL_DEL
                  : connection.epoll_events == 0 ? EPOLL_CTL_ADD
                                                 : EPOLL_CTL_MOD;
  if (::epoll_ctl(epoll_.get(), operation, connection.socket.get(), &event) < 0) {
    log::error("{}: epoll_ctl on a host socket: {}", name(), std::strerror(errno));
    if (operation != EPOLL_CTL_DEL) return reset_connection(connection, "epoll_ctl failed");
  }
  connection.epoll_events = wanted;
}

// ---- Guest to host: the tx queue ----------------------------------------------------------------

void VsockDevice::process_tx() {
  if (!tx_ring_ || needs_reset()) return;
  bool returned_any = false;
  do {
    while (true) {
      auto popped = tx_ring_->pop(tx_chain_);
      if (!popped) return fail_device(popped.error().message());
      if (!*popped) break;
      handle_packet(tx_chain_);
      // §5.10.6.5: tx buffers are read-only; nothing is written into them.
      if (auto pushed = tx_ring_->push_used(tx_chain_.head(), 0); !pushed)
        return fail_device(pushed.error().message());
      returned_any = true;
    }
  } while (tx_ring_->enable_notification_and_check());
  if (returned_any) interrupt_if_needed(*tx_ring_);
}

void VsockDevice::handle_packet(const DescriptorChain& chain) {
  VsockHeader header;
  uint64_t readable = chain.readable_bytes();
  if (readable < sizeof(header)) {
    warn(fmt::format("a tx packet of {} bytes is shorter than its header; dropped", readable));
    return;
  }
  auto* header_bytes = reinterpret_cast<uint8_t*>(&header);
  if (!read_chain(memory(), chain, {header_bytes, sizeof(header)})) {
    warn("a tx packet's header is outside guest memory; dropped");
    return;
  }
  // §5.10.6.5: the guest's packets come from its CID; anything else is not a flow of this device.
  if (header.src_cid != options_.guest_cid || header.dst_cid != kVsockHostCid) {
    warn(fmt::format("a packet from CID {} to CID {} (the guest is {}, the host {}); dropped",
                     header.src_cid, header.dst_cid, options_.guest_cid, kVsockHostCid));
    return;
  }
  Connection* connection = find(header.dst_port, header.src_port);
  // §5.10.6.5: an unknown type is answered with OP_RST.
  if (header.type != kVsockTypeStream) {
    warn(fmt::format("a packet of type {} (only streams, type 1, are served)", header.type));
    if (connection) return reset_connection(*connection, "a packet of another type");
    if (header.op != kVsockOpRst) queue_loose_reset(header);
    return;
  }
  if (header.len > kMaxPayloadBytes || header.len > readable - sizeof(header)) {
    // A stream whose payload is lost is broken: reset it rather than pass on a gap.
    warn(fmt::format("a packet says {} payload bytes, its chain has {}", header.len,
                     readable - sizeof(header)));
    if (connection) return reset_connection(*connection, "a malformed packet");
    if (header.op != kVsockOpRst) queue_loose_reset(header);
    return;
  }
  std::span<uint8_t> packet(scratch_.data(), sizeof(header) + header.len);
  if (header.len > 0 && !read_chain(memory(), chain, packet)) {
    warn("a tx packet's payload is outside guest memory");
    if (connection) return reset_connection(*connection, "a payload outside guest memory");
    if (header.op != kVsockOpRst) queue_loose_reset(header);
    return;
  }
  if (!connection) {
    if (header.op == kVsockOpRequest) return handle_guest_request(header);
    // Firecracker's answer to a packet of no stream: OP_RST (never to an OP_RST).
    if (header.op != kVsockOpRst) queue_loose_reset(header);
    return;
  }
  handle_connection_packet(*connection, header, packet.subspan(sizeof(header)));
}

// A guest connects to (2, P): the host side is whoever listens on `<uds_path>_P`.
void VsockDevice::handle_guest_request(const VsockHeader& header) {
  if (connections_.size() >= kMaxConnections) {
    warn(fmt::format("{} streams are open already; a connection request is refused",
                     kMaxConnections));
    return queue_loose_reset(header);
  }
  std::string path = fmt::format("{}_{}", options_.uds_path, header.dst_port);
  std::optional<sockaddr_un> address = unix_socket_address(path);
  if (!address) {
    warn(fmt::format("{} is too long for a unix socket path; connection refused", path));
    return queue_loose_reset(header);
  }
  Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket.valid()) {
    warn(fmt::format("socket: {}", std::strerror(errno)));
    return queue_loose_reset(header);
  }
  // A unix socket connects at once or not at all (EAGAIN: the listener's backlog is full).
  if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&*address), sizeof(*address)) != 0) {
    log::debug("{}: guest port {} to host port {}: connect {}: {}", name(), header.src_port,
               header.dst_port, path, std::strerror(errno));
    return queue_loose_reset(header);
  }
  Connection& connection = add_connection(std::move(socket), Connection::State::kEstablished);
  set_ports(connection, header.dst_port, header.src_port);
  connection.peer_buf_alloc = header.buf_alloc;
  connection.peer_fwd_cnt = header.fwd_cnt;
  connection.send_response = true;
  queue_rx(connection);
  update_interest(connection);
  log::debug("{}: guest port {} connected to {}", name(), header.src_port, path);
}

void VsockDevice::handle_connection_packet(Connection& connection, const VsockHeader& header,
                                           std::span<const uint8_t> payload) {
  if (header.op == kVsockOpRst) {
    // The guest refused or aborted the stream: the host socket is closed, nothing is answered.
    log::debug("{}: the guest reset the stream from host port {} to guest port {}", name(),
               connection.local_port, connection.peer_port);
    return remove_connection(connection.id);
  }
  if (connection.send_rst) return;  // being reset: the guest hears so next
  // §5.10.6.3: every packet of a stream carries the sender's credit.
  connection.peer_buf_alloc = header.buf_alloc;
  connection.peer_fwd_cnt = header.fwd_cnt;
  if (connection.host_readable && connection.peer_credit() > 0) queue_rx(connection);

  if (connection.state == Connection::State::kRequestSent) {
    if (header.op != kVsockOpResponse)
      return reset_connection(connection, "the guest did not answer the request with a response");
    connection.state = Connection::State::kEstablished;
    std::string ack = fmt::format("OK {}\n", connection.local_port);
    connection.to_host.push({reinterpret_cast<const uint8_t*>(ack.data()), ack.size()});
    connection.ack_bytes = ack.size();
    log::debug("{}: host port {} connected to guest port {}", name(), connection.local_port,
               connection.peer_port);
    flush_to_host(connection);
    if (find(connection.id)) update_interest(connection);
    return;
  }
  switch (header.op) {
    case kVsockOpRw:
      return receive_payload(connection, payload);
    case kVsockOpCreditUpdate:
      return;  // taken above
    case kVsockOpCreditRequest:
      connection.send_credit_update = true;
      return queue_rx(connection);
    case kVsockOpShutdown:
      return handle_shutdown(connection, header.flags);
    default:
      return reset_connection(connection, fmt::format("unexpected op {}", header.op));
  }
}

void VsockDevice::receive_payload(Connection& connection, std::span<const uint8_t> payload) {
  if (connection.peer_no_more_send)
    return reset_connection(connection, "data after the guest's shutdown");
  // §5.10.6.3: the guest sends only what its credit allows; past it, the stream is reset (as
  // Firecracker does) rather than the buffer grown.
  if (payload.size() > VsockConnection::kBufferBytes - connection.buffered())
    return reset_connection(connection, "the guest sent more than its credit");
  connection.rx_cnt += static_cast<uint32_t>(payload.size());
  if (!connection.to_host.empty()) {
    connection.to_host.push(payload);
    return;  // behind what waits; the socket is watched for room
  }
  ssize_t sent =
      ::send(connection.socket.get(), payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0 && !would_block(errno))
    return reset_connection(connection,
                            fmt::format("writing to the host: {}", std::strerror(errno)));
  size_t taken = sent < 0 ? 0 : static_cast<size_t>(sent);
  connection.fwd_cnt += static_cast<uint32_t>(taken);
  connection.to_host.push(payload.subspan(taken));
  if (connection.owes_credit_update()) {
    connection.send_credit_update = true;
    queue_rx(connection);
  }
  update_interest(connection);
}

// §5.10.6.4: the guest will send or receive no more. Once both, and what it sent is written out,
// the stream ends with OP_RST, which a guest closing its socket waits for.
void VsockDevice::handle_shutdown(Connection& connection, uint32_t flags) {
  if (flags & kVsockShutdownSend) connection.peer_no_more_send = true;
  if (flags & kVsockShutdownReceive) connection.peer_no_more_receive = true;
  update_interest(connection);
  finish_if_done(connection);
}

void VsockDevice::finish_if_done(Connection& connection) {
  if (!connection.peer_no_more_send || !connection.to_host.empty() || connection.send_rst) return;
  if (connection.peer_no_more_receive || connection.host_eof) {
    reset_connection(connection, "both sides are done");
    return;
  }
  // Half-closed: the host reads its EOF and may still answer.
  if (!connection.host_write_shut) {
    ::shutdown(connection.socket.get(), SHUT_WR);
    connection.host_write_shut = true;
  }
}

// ---- Host to guest: the rx queue ----------------------------------------------------------------

void VsockDevice::deliver_rx() {
  if (!rx_ring_ || needs_reset()) return;
  bool returned_any = false;
  while (!loose_resets_.empty() || !rx_waiting_.empty()) {
    if (!rx_chain_held_) {
      auto popped = rx_ring_->pop(rx_chain_);
      if (!popped) return fail_device(popped.error().message());
      if (!*popped) {
        // §2.7.10: ask for a notification of new buffers, and look once more in case they came.
        if (rx_ring_->enable_notification_and_check()) continue;
        break;
      }
      if (rx_chain_.writable_bytes() < sizeof(VsockHeader)) {
        warn(fmt::format("an rx chain of {} writable bytes cannot hold a header",
                         rx_chain_.writable_bytes()));
        if (auto pushed = rx_ring_->push_used(rx_chain_.head(), 0); !pushed)
          return fail_device(pushed.error().message());
        returned_any = true;
        continue;
      }
      rx_chain_held_ = true;
    }
    uint32_t written = fill_rx_packet(rx_chain_);
    if (written == 0) break;  // nothing to send after all: the chain waits for the next packet
    rx_chain_held_ = false;
    if (auto pushed = rx_ring_->push_used(rx_chain_.head(), written); !pushed)
      return fail_device(pushed.error().message());
    returned_any = true;
  }
  if (returned_any) interrupt_if_needed(*rx_ring_);
}

// One packet into `chain`: its length, or 0 if nothing is owed after all.
uint32_t VsockDevice::fill_rx_packet(const DescriptorChain& chain) {
  if (!loose_resets_.empty()) {
    VsockHeader reset = loose_resets_.front();
    loose_resets_.pop_front();
    return write_packet(chain, reset);
  }
  while (!rx_waiting_.empty()) {
    uint64_t id = rx_waiting_.front();
    rx_waiting_.pop_front();
    Connection* connection = find(id);
    if (!connection) continue;
    connection->queued = false;
    uint32_t written = connection_packet(*connection, chain);
    if (written == 0) continue;
    // Another turn if it has more: the streams share the rx queue in turn.
    if (Connection* still = find(id)) {
      bool more = still->send_rst || still->send_request || still->send_response ||
                  still->send_shutdown || still->send_credit_update ||
                  (still->host_readable && still->peer_credit() > 0);
      if (more) queue_rx(*still);
    }
    return written;
  }
  return 0;
}

VsockHeader VsockDevice::header_for(Connection& connection, uint16_t op) {
  VsockHeader header{};
  header.src_cid = kVsockHostCid;
  header.dst_cid = options_.guest_cid;
  header.src_port = connection.local_port;
  header.dst_port = connection.peer_port;
  header.type = kVsockTypeStream;
  header.op = op;
  header.buf_alloc = VsockConnection::kBufferBytes;
  header.fwd_cnt = connection.fwd_cnt;
  connection.fwd_cnt_sent = connection.fwd_cnt;  // every packet tells the guest our credit
  return header;
}

// The next packet `connection` owes the guest, in order: reset, request, response, data, shutdown,
// credit update.
uint32_t VsockDevice::connection_packet(Connection& connection, const DescriptorChain& chain) {
  if (connection.send_rst) {
    uint32_t written = write_packet(chain, header_for(connection, kVsockOpRst));
    if (written) remove_connection(connection.id);
    return written;
  }
  if (connection.send_request) {
    connection.send_request = false;
    return write_packet(chain, header_for(connection, kVsockOpRequest));
  }
  if (connection.send_response) {
    connection.send_response = false;
    return write_packet(chain, header_for(connection, kVsockOpResponse));
  }
  if (connection.state == Connection::State::kEstablished && connection.host_readable &&
      !connection.host_eof) {
    if (uint32_t written = read_host_data(connection, chain)) return written;
    if (connection.send_rst) return connection_packet(connection, chain);
  }
  if (connection.send_shutdown) {
    connection.send_shutdown = false;
    VsockHeader header = header_for(connection, kVsockOpShutdown);
    header.flags = kVsockShutdownSend;  // the host will send no more; it may still receive
    return write_packet(chain, header);
  }
  if (connection.send_credit_update || connection.owes_credit_update()) {
    connection.send_credit_update = false;
    return write_packet(chain, header_for(connection, kVsockOpCreditUpdate));
  }
  return 0;
}

// OP_RW with what the host socket has, as much as the guest's credit and the chain allow; or
// notes the host's EOF (an OP_SHUTDOWN is then owed) or that it has nothing more for now.
uint32_t VsockDevice::read_host_data(Connection& connection, const DescriptorChain& chain) {
  if (connection.peer_no_more_receive) {
    connection.host_readable = false;
    return 0;
  }
  uint64_t room = std::min<uint64_t>(
      {chain.writable_bytes() - sizeof(VsockHeader), kMaxPayloadBytes, connection.peer_credit()});
  if (room == 0) return 0;  // the guest's credit update (or more buffers) brings it back
  std::span<uint8_t> payload(scratch_.data() + sizeof(VsockHeader), room);
  ssize_t got = ::recv(connection.socket.get(), payload.data(), payload.size(), MSG_DONTWAIT);
  if (got < 0) {
    if (would_block(errno)) {
      connection.host_readable = false;
      update_interest(connection);
      return 0;
    }
    reset_connection(connection, fmt::format("reading from the host: {}", std::strerror(errno)));
    return 0;
  }
  if (got == 0) {
    connection.host_eof = true;
    connection.host_readable = false;
    connection.send_shutdown = true;
    update_interest(connection);
    finish_if_done(connection);
    return 0;
  }
  VsockHeader header = header_for(connection, kVsockOpRw);
  header.len = static_cast<uint32_t>(got);
  connection.tx_cnt += header.len;
  return write_packet(chain, header, payload.first(static_cast<size_t>(got)));
}

uint32_t VsockDevice::write_packet(const DescriptorChain& chain, const VsockHeader& header,
                                   std::span<const uint8_t> payload) {
  // The payload already sits in scratch_ right after the header's place when it is not empty.
  std::memcpy(scratch_.data(), &header, sizeof(header));
  if (!payload.empty() && payload.data() != scratch_.data() + sizeof(header))
    std::memcpy(scratch_.data() + sizeof(header), payload.data(), payload.size());
  size_t total = sizeof(header) + payload.size();
  if (!write_chain(memory(), chain, std::span(scratch_).first(total))) {
    fail_device("an rx buffer is outside guest memory");
    return 0;
  }
  return static_cast<uint32_t>(total);
}

// ---- The host sockets ---------------------------------------------------------------------------

void VsockDevice::process_host_events() {
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  int ready = ::epoll_wait(epoll_.get(), events, kMaxEvents, 0);
  if (ready < 0 && errno != EINTR) log::error("{}: epoll_wait: {}", name(), std::strerror(errno));
  for (int i = 0; i < ready; ++i) {
    if (events[i].data.u64 == kListenerId) {
      accept_host_connections();
    } else {
      handle_socket_event(events[i].data.u64, events[i].events);
    }
  }
  deliver_rx();
}

void VsockDevice::accept_host_connections() {
  while (listening_) {
    Fd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!socket.valid()) {
      if (would_block(errno) || errno == ECONNABORTED) return;
      // Out of descriptors, most likely: the listener would stay readable and wake the thread
      // forever, so it is left alone until a stream closes.
      log::error("{}: accept on {}: {}; new host connections wait", name(), options_.uds_path,
                 std::strerror(errno));
      watch_listener(false);
      accept_paused_ = true;
      return;
    }
    if (connections_.size() >= kMaxConnections) {
      warn(
          fmt::format("{} streams are open already; a host connection is closed", kMaxConnections));
      continue;  // closed as `socket` goes
    }
    Connection& connection = add_connection(std::move(socket), Connection::State::kAwaitingConnect);
    connection.host_initiated = true;
    update_interest(connection);
  }
}

void VsockDevice::handle_socket_event(uint64_t id, uint32_t events) {
  Connection* connection = find(id);
  if (!connection || !connection->socket.valid()) return;
  if (connection->state == Connection::State::kAwaitingConnect)
    return read_connect_command(*connection);
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (connection->epoll_events & EPOLLIN)) {
    connection->host_readable = true;
    queue_rx(*connection);
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && !connection->to_host.empty()) {
    flush_to_host(*connection);
    connection = find(id);
    if (!connection) return;
  }
  update_interest(*connection);
}

// The host's first line, "CONNECT <port>\n", read a byte at a time so that nothing after it (the
// stream's first bytes) is taken too.
void VsockDevice::read_connect_command(Connection& connection) {
  while (true) {
    char byte;
    ssize_t got = ::recv(connection.socket.get(), &byte, 1, MSG_DONTWAIT);
    if (got < 0 && would_block(errno)) return;
    if (got <= 0) return remove_connection(connection.id);  // gone before it said where to
    if (byte != '\n') {
      if (connection.connect_line.size() >= kMaxConnectLine) {
        warn(fmt::format("a host connection's first line is longer than {} bytes; closed",
                         kMaxConnectLine));
        return remove_connection(connection.id);
      }
      connection.connect_line += byte;
      continue;
    }
    std::optional<uint32_t> port = parse_connect_line(connection.connect_line);
    if (!port) {
      warn(fmt::format("a host connection sent '{}', not CONNECT <port>; closed",
                       connection.connect_line));
      return remove_connection(connection.id);
    }
    std::optional<uint32_t> local_port = allocate_local_port();
    if (!local_port) return remove_connection(connection.id);
    connection.state = Connection::State::kRequestSent;
    connection.connect_line.clear();
    set_ports(connection, *local_port, *port);
    connection.send_request = true;
    queue_rx(connection);
    update_interest(connection);  // the host waits for "OK" before it may send
    return;
  }
}

void VsockDevice::flush_to_host(Connection& connection) {
  while (!connection.to_host.empty()) {
    std::span<const uint8_t> front = connection.to_host.front();
    ssize_t sent =
        ::send(connection.socket.get(), front.data(), front.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (would_block(errno)) break;
      return reset_connection(connection,
                              fmt::format("writing to the host: {}", std::strerror(errno)));
    }
    size_t taken = static_cast<size_t>(sent);
    size_t ack = std::min(taken, connection.ack_bytes);  // the "OK" line is no payload
    connection.ack_bytes -= ack;
    connection.fwd_cnt += static_cast<uint32_t>(taken - ack);
    connection.to_host.pop(taken);
  }
  if (connection.owes_credit_update()) {
    connection.send_credit_update = true;
    queue_rx(connection);
  }
  finish_if_done(connection);
}

}  // namespace wisp::virtio
