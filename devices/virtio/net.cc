#include "devices/virtio/net.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace wisp::virtio {
namespace {

// §5.1.4 Device configuration layout, up to mtu.
#pragma pack(push, 1)
struct NetConfig {
  uint8_t mac[6];
  uint16_t status;
  uint16_t max_virtqueue_pairs;
  uint16_t mtu;
};
#pragma pack(pop)
static_assert(sizeof(NetConfig) == 12);

constexpr uint16_t kNetStatusLinkUp = 1;  // VIRTIO_NET_S_LINK_UP

// §5.1.6.5 Control Virtqueue: classes, commands and acks.
constexpr uint8_t kControlOk = 0;                  // VIRTIO_NET_OK
constexpr uint8_t kControlError = 1;               // VIRTIO_NET_ERR
constexpr uint8_t kControlClassMq = 4;             // VIRTIO_NET_CTRL_MQ
constexpr uint8_t kControlMqPairsSet = 0;          // VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET
constexpr uint8_t kControlClassGuestOffloads = 5;  // VIRTIO_NET_CTRL_GUEST_OFFLOADS
constexpr uint8_t kControlGuestOffloadsSet = 0;    // VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET
// The longest command Wisp serves (class, command, a u64); longer ones are answered with an error.
constexpr size_t kMaxControlCommandBytes = 64;

uint64_t net_features(const NetBackend& backend) {
  uint64_t features = feature_bit(kNetFeatureMac) | feature_bit(kNetFeatureStatus) |
                      feature_bit(kNetFeatureMtu) | feature_bit(kNetFeatureMrgRxbuf) |
                      feature_bit(kNetFeatureCtrlVq) | feature_bit(kNetFeatureCtrlGuestOffloads);
  if (backend.queue_pairs() > 1) features |= feature_bit(kNetFeatureMq);
  if (backend.accepts_offloads()) {
    // The TAP takes partial checksums and TCP and UDP GSO frames (virtio_net_hdr_to_skb); UDP_L4
    // only on kernels that also know the USO receive offloads (6.2).
    features |= feature_bit(kNetFeatureCsum) | feature_bit(kNetFeatureHostTso4) |
                feature_bit(kNetFeatureHostTso6) | feature_bit(kNetFeatureHostEcn) |
                feature_bit(kNetFeatureHostUfo);
    if (backend.supported_receive_offloads() & net_offload::kUso4)
      features |= feature_bit(kNetFeatureHostUso);
  }
  return features | guest_features_for(backend.supported_receive_offloads());
}

std::vector<uint8_t> net_config(const NetDeviceOptions& options, uint16_t pairs) {
  NetConfig config{};
  std::memcpy(config.mac, options.mac.data(), sizeof(config.mac));
  config.status = kNetStatusLinkUp;
  config.max_virtqueue_pairs = pairs;
  config.mtu = options.mtu;
  std::vector<uint8_t> bytes(sizeof(config));
  std::memcpy(bytes.data(), &config, sizeof(config));
  return bytes;
}

}  // namespace

NetDevice::NetDevice(const GuestMemory& memory, NetDeviceOptions options,
                     std::unique_ptr<NetBackend> backend, IrqLine& irq, DeviceWorker& worker,
                     ReceiveWatch receive_watch)
    : VirtioDevice(memory,
                   Identity{kDeviceIdNet, net_features(*backend),
                            static_cast<uint16_t>(2 * backend->queue_pairs() + 1), kQueueSize,
                            net_config(options, backend->queue_pairs())},
                   irq, worker),
      options_(std::move(options)),
      backend_(std::move(backend)),
      receive_watch_(std::move(receive_watch)),
      pairs_(backend_->queue_pairs()) {
  for (Pair& pair : pairs_) pair.frame.resize(kReceiveBufferBytes);
}

std::optional<std::string> NetDevice::refuse_features(uint64_t features) const {
  if (auto missing = missing_net_feature_dependency(features)) return std::string(*missing);
  return std::nullopt;
}

void NetDevice::activate(std::vector<std::optional<VirtQueue>> queues) {
  // §5.1.2: without MQ the device has one pair, and the control queue is queue 2.
  size_t usable_pairs = negotiated(kNetFeatureMq) ? pairs_.size() : 1;
  control_queue_ = static_cast<uint16_t>(2 * usable_pairs);
  for (size_t index = 0; index < usable_pairs; ++index) {
    Pair& pair = pairs_[index];
    pair.receive_ring = std::move(queues[2 * index]);
    pair.transmit_ring = std::move(queues[2 * index + 1]);
    pair.stash.assign(pair.receive_ring ? pair.receive_ring->size() : 0, DescriptorChain{});
    pair.stash_first = pair.stash_count = 0;
    pair.stash_bytes = 0;
    pair.frame_bytes = 0;
  }
  control_ring_ = std::move(queues[control_queue_index()]);
  guest_offloads_ = guest_offload_features(driver_features());
  if (auto set = backend_->set_receive_offloads(receive_offloads_for(guest_offloads_)); !set)
    log::error("{}: {}", name(), set.error().message());
  set_active_pairs(1);  // §5.1.6.5.5: only the first pair until the driver asks for more
}

void NetDevice::reset() {
  for (uint16_t index = 0; index < pairs_.size(); ++index) {
    set_watching(index, false);
    Pair& pair = pairs_[index];
    pair.receive_ring.reset();
    pair.transmit_ring.reset();
    pair.stash_count = 0;
    pair.stash_bytes = 0;
    pair.frame_bytes = 0;  // the frame read but not delivered is lost, as on a real NIC's reset
  }
  control_ring_.reset();
  guest_offloads_ = 0;
  if (auto set = backend_->set_receive_offloads(0); !set)
    log::error("{}: {}", name(), set.error().message());
  active_pairs_ = 1;
  for (uint16_t index = 1; index < pairs_.size(); ++index)
    (void)backend_->set_pair_enabled(index, false);
}

void NetDevice::shut_down() {
  for (size_t index = 0; index < pairs_.size(); ++index)
    log::info("{}: queue pair {}: {} frames sent, {} received", name(), index,
              pairs_[index].transmitted, pairs_[index].received);
  if (counters_.transmit_dropped || counters_.receive_dropped)
    log::info("{}: {} frames to send and {} received were dropped", name(),
              counters_.transmit_dropped, counters_.receive_dropped);
}

void NetDevice::set_watching(uint16_t pair, bool watch) {
  if (pairs_[pair].watching == watch) return;
  pairs_[pair].watching = watch;
  receive_watch_(pair, watch);
}

void NetDevice::set_active_pairs(uint16_t count) {
  active_pairs_ = count;
  for (uint16_t index = 0; index < pairs_.size(); ++index) {
    bool active = index < count;
    if (auto set = backend_->set_pair_enabled(index, active); !set)
      log::error("{}: {}", name(), set.error().message());
    set_watching(index, active && pairs_[index].receive_ring.has_value());
  }
}

void NetDevice::process_queue(uint16_t queue) {
  if (queue == control_queue_index()) return serve_control_queue();
  uint16_t pair = queue / 2;
  if (pair >= pairs_.size() || pair >= active_pairs_) return;
  if (queue % 2 == 1) return transmit(pair);
  // The guest posted receive buffers: frames may flow again.
  if (pairs_[pair].receive_ring) set_watching(pair, true);
  receive(pair);
}

void NetDevice::receive_ready(uint16_t pair) {
  if (pair < pairs_.size()) receive(pair);
}

// ---- Receive ----------------------------------------------------------------------------------

void NetDevice::receive(uint16_t pair_index) {
  Pair& pair = pairs_[pair_index];
  if (!pair.receive_ring || pair_index >= active_pairs_ || needs_reset()) return;
  bool returned_any = false;
  for (int frames = 0; frames < kReceiveBudget; ++frames) {
    if (pair.frame_bytes == 0) {
      Read read = read_frame(pair_index, pair);
      if (read == Read::kEmpty) break;
      if (read == Read::kDropped) continue;
    }
    Delivery delivery = deliver_frame(pair);
    if (delivery == Delivery::kBroken) return;
    if (delivery == Delivery::kNeedBuffers) {
      // §2.7.10: ask to be notified of new buffers, and look once more in case they came
      // meanwhile; without them, stop reading from the back end until they come.
      if (pair.receive_ring->enable_notification_and_check()) continue;
      set_watching(pair_index, false);
      break;
    }
    returned_any = true;
  }
  if (returned_any) interrupt_if_needed(*pair.receive_ring);
}

NetDevice::Read NetDevice::read_frame(uint16_t pair_index, Pair& pair) {
  ssize_t bytes = backend_->receive(pair_index, pair.frame);
  if (bytes == -EAGAIN || bytes == -EWOULDBLOCK || bytes == -EINTR) return Read::kEmpty;
  if (bytes < 0) {
    // The back end is broken (the TAP was deleted, ...): stop listening rather than spin on it.
    log::error("{}: receiving from the network: {}; receive stopped", name(),
               std::strerror(static_cast<int>(-bytes)));
    set_watching(pair_index, false);
    return Read::kEmpty;
  }
  if (static_cast<size_t>(bytes) < sizeof(NetHeader) + kNetMinFrameBytes ||
      static_cast<size_t>(bytes) > sizeof(NetHeader) + kNetMaxFrameBytes) {
    drop_received(fmt::format("a {}-byte frame from the network", bytes));
    return Read::kDropped;
  }
  pair.frame_bytes = static_cast<size_t>(bytes);
  return Read::kFrame;
}

// Pops receive chains into the stash until it can hold the waiting frame: all of it with
// MRG_RXBUF, one chain without.
NetDevice::Delivery NetDevice::fill_stash(Pair& pair, bool merge) {
  VirtQueue& ring = *pair.receive_ring;
  while (merge ? pair.stash_bytes < pair.frame_bytes : pair.stash_count == 0) {
    if (pair.stash_count == pair.stash.size()) return Delivery::kDropped;  // the whole ring
    DescriptorChain& slot = pair.stash[(pair.stash_first + pair.stash_count) % pair.stash.size()];
    auto popped = ring.pop(slot);
    if (!popped) {
      fail_device(popped.error().message());
      return Delivery::kBroken;
    }
    if (!*popped) return Delivery::kNeedBuffers;
    if (slot.writable_bytes() < sizeof(NetHeader)) {
      // §5.1.6.3.1: every receive buffer holds at least a header. Returned unused.
      if (warnings_.allow("virtio-net"))
        log::warn("{}: a receive chain of {} writable bytes is too small", name(),
                  slot.writable_bytes());
      if (auto pushed = ring.push_used(slot.head(), 0); !pushed) {
        fail_device(pushed.error().message());
        return Delivery::kBroken;
      }
      continue;
    }
    ++pair.stash_count;
    pair.stash_bytes += slot.writable_bytes();
  }
  return Delivery::kDelivered;
}

NetDevice::Delivery NetDevice::deliver_frame(Pair& pair) {
  bool merge = negotiated(kNetFeatureMrgRxbuf);
  Delivery filled = fill_stash(pair, merge);
  if (filled == Delivery::kNeedBuffers || filled == Delivery::kBroken) return filled;
  DescriptorChain& first = pair.stash[pair.stash_first];
  if (filled == Delivery::kDropped || (!merge && first.writable_bytes() < pair.frame_bytes)) {
    drop_received(fmt::format("a {}-byte frame does not fit the guest's receive buffers",
                              pair.frame_bytes - sizeof(NetHeader)));
    pair.frame_bytes = 0;
    return Delivery::kDropped;
  }
  // How many chains the frame fills, in order.
  size_t chains = 0;
  for (uint64_t room = 0; room < pair.frame_bytes; ++chains)
    room += pair.stash[(pair.stash_first + chains) % pair.stash.size()].writable_bytes();

  NetHeader header;
  std::memcpy(&header, pair.frame.data(), sizeof(header));
  if (auto why = prepare_receive_header(header, guest_offloads_, static_cast<uint16_t>(chains))) {
    drop_received(*why);
    pair.frame_bytes = 0;
    return Delivery::kDropped;
  }
  std::memcpy(pair.frame.data(), &header, sizeof(header));

  VirtQueue& ring = *pair.receive_ring;
  std::span<const uint8_t> rest(pair.frame.data(), pair.frame_bytes);
  for (size_t index = 0; index < chains; ++index) {
    DescriptorChain& chain = pair.stash[pair.stash_first];
    size_t bytes = std::min<uint64_t>(rest.size(), chain.writable_bytes());
    if (!copy_into_chain(chain, rest.first(bytes))) return Delivery::kBroken;
    if (auto added = ring.add_used(chain.head(), static_cast<uint32_t>(bytes)); !added) {
      fail_device(added.error().message());
      return Delivery::kBroken;
    }
    rest = rest.subspan(bytes);
    pair.stash_bytes -= chain.writable_bytes();
    pair.stash_first = (pair.stash_first + 1) % pair.stash.size();
    --pair.stash_count;
  }
  ring.publish_used();  // all of the frame's buffers at once: the driver reads them together
  pair.frame_bytes = 0;
  ++counters_.received;
  ++pair.received;
  return Delivery::kDelivered;
}

bool NetDevice::copy_into_chain(const DescriptorChain& chain, std::span<const uint8_t> bytes) {
  for (const GuestBuffer& buffer : chain.buffers()) {
    if (bytes.empty()) break;
    if (!buffer.device_writable) continue;
    size_t part = std::min<size_t>(bytes.size(), buffer.length);
    if (auto written = memory().write(buffer.address, bytes.first(part)); !written) {
      fail_device(written.error().message());
      return false;
    }
    bytes = bytes.subspan(part);
  }
  return true;
}

void NetDevice::drop_received(std::string_view why) {
  ++counters_.receive_dropped;
  if (warnings_.allow("virtio-net")) log::warn("{}: dropped a received frame: {}", name(), why);
}

// ---- Transmit ---------------------------------------------------------------------------------

// Pops every chain the ring has, hands each to `serve` (which returns how many bytes it wrote
// into it) and returns it; the driver is interrupted once for the whole batch (§2.7.7.2). A
// malformed ring puts the device into DEVICE_NEEDS_RESET.
template <typename Serve>
void NetDevice::serve_each_chain(VirtQueue& ring, Serve serve) {
  bool returned_any = false;
  do {
    while (true) {
      auto popped = ring.pop(chain_);
      if (!popped) return fail_device(popped.error().message());
      if (!*popped) break;
      uint32_t written = serve();
      if (auto pushed = ring.push_used(chain_.head(), written); !pushed)
        return fail_device(pushed.error().message());
      returned_any = true;
    }
  } while (ring.enable_notification_and_check());
  if (returned_any) interrupt_if_needed(ring);
}

void NetDevice::transmit(uint16_t pair_index) {
  Pair& pair = pairs_[pair_index];
  if (!pair.transmit_ring || needs_reset()) return;
  serve_each_chain(*pair.transmit_ring, [&] {
    if (send_frame(pair_index)) ++pair.transmitted;
    return 0u;  // §5.1.6.2: nothing is written into a transmit buffer
  });
}

bool NetDevice::send_frame(uint16_t pair) {
  if (!gather_frame(transmit_header_)) return false;
  ssize_t sent = backend_->send(pair, transmit_iov_);
  if (sent == -EAGAIN) {
    // The TAP's socket buffer is full (rare: its default is unlimited): give it a moment.
    pollfd writable{backend_->receive_fd(pair), POLLOUT, 0};
    ::poll(&writable, 1, 100);
    sent = backend_->send(pair, transmit_iov_);
  }
  if (sent < 0) {
    drop_transmitted(
        fmt::format("the network refused it: {}", std::strerror(static_cast<int>(-sent))));
    return false;
  }
  ++counters_.transmitted;
  return true;
}

// Builds transmit_iov_ for chain_: the checked copy of its header, then the frame in guest
// memory. False (the frame dropped) if the chain is malformed.
bool NetDevice::gather_frame(NetHeader& header) {
  uint64_t readable = chain_.readable_bytes();
  if (chain_.writable_bytes() > 0 && warnings_.allow("virtio-net"))
    log::warn("{}: a transmit chain has device-writable buffers; they are ignored", name());
  if (readable < sizeof(NetHeader)) {
    drop_transmitted(fmt::format("{} bytes are shorter than the virtio-net header", readable));
    return false;
  }
  transmit_iov_.clear();
  transmit_iov_.push_back({&header, sizeof(header)});
  size_t header_left = sizeof(header);
  auto* header_bytes = reinterpret_cast<uint8_t*>(&header);
  for (const GuestBuffer& buffer : chain_.buffers()) {
    if (buffer.device_writable) break;
    auto bytes = memory().slice(buffer.address, buffer.length);
    if (!bytes) {
      drop_transmitted(bytes.error().message());
      return false;
    }
    std::span<uint8_t> data = *bytes;
    size_t header_part = std::min(header_left, data.size());
    std::memcpy(header_bytes + sizeof(header) - header_left, data.data(), header_part);
    header_left -= header_part;
    data = data.subspan(header_part);
    if (!data.empty()) transmit_iov_.push_back({data.data(), data.size()});
  }
  header.num_buffers = 0;  // §5.1.6.2: the driver's value means nothing on transmit
  if (auto why = check_transmit_header(header, driver_features(), readable - sizeof(header))) {
    drop_transmitted(*why);
    return false;
  }
  return true;
}

void NetDevice::drop_transmitted(std::string_view why) {
  ++counters_.transmit_dropped;
  if (warnings_.allow("virtio-net")) log::warn("{}: dropped a frame to send: {}", name(), why);
}

// ---- Control queue ----------------------------------------------------------------------------

void NetDevice::serve_control_queue() {
  if (!control_ring_ || needs_reset()) return;
  serve_each_chain(*control_ring_, [this] { return answer_control_command(); });
}

// §5.1.6.5: chain_ holds a command's readable bytes, then one writable ack byte. Runs the
// command and writes the ack: the bytes written (1, or 0 without a place for it).
uint32_t NetDevice::answer_control_command() {
  std::array<uint8_t, kMaxControlCommandBytes> command{};
  size_t length = 0;
  bool too_long = chain_.readable_bytes() > command.size();
  for (const GuestBuffer& buffer : chain_.buffers()) {
    if (buffer.device_writable || too_long) break;
    if (!memory().read(buffer.address, std::span(command).subspan(length, buffer.length)))
      too_long = true;
    length += buffer.length;
  }
  uint8_t ack = too_long ? kControlError : run_control_command(std::span(command).first(length));
  for (const GuestBuffer& buffer : chain_.buffers()) {
    if (!buffer.device_writable) continue;
    return memory().write_obj(buffer.address, ack) ? 1 : 0;
  }
  return 0;
}

uint8_t NetDevice::run_control_command(std::span<const uint8_t> command) {
  if (command.size() < 2) return kControlError;
  uint8_t command_class = command[0], code = command[1];
  std::span<const uint8_t> data = command.subspan(2);
  if (command_class == kControlClassMq && code == kControlMqPairsSet && negotiated(kNetFeatureMq)) {
    uint16_t pairs;
    if (data.size() != sizeof(pairs)) return kControlError;
    std::memcpy(&pairs, data.data(), sizeof(pairs));
    // §5.1.6.5.5: from 1 to max_virtqueue_pairs.
    if (pairs == 0 || pairs > pairs_.size()) return kControlError;
    set_active_pairs(pairs);
    return kControlOk;
  }
  if (command_class == kControlClassGuestOffloads && code == kControlGuestOffloadsSet &&
      negotiated(kNetFeatureCtrlGuestOffloads)) {
    uint64_t offloads;
    if (data.size() != sizeof(offloads)) return kControlError;
    std::memcpy(&offloads, data.data(), sizeof(offloads));
    // §5.1.6.5.6.2: only offloads whose features were negotiated, consistent among themselves.
    if (offloads & ~guest_offload_features(driver_features())) return kControlError;
    if (missing_net_feature_dependency(offloads)) return kControlError;
    if (auto set = backend_->set_receive_offloads(receive_offloads_for(offloads)); !set) {
      log::error("{}: {}", name(), set.error().message());
      return kControlError;
    }
    guest_offloads_ = offloads;
    return kControlOk;
  }
  if (warnings_.allow("virtio-net"))
    log::info("{}: control command class {} command {} is not supported", name(), command_class,
              code);
  return kControlError;
}

}  // namespace wisp::virtio
