#include "devices/vhost_user/frontend.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "devices/virtio/virtio_spec.h"
#include "vmm/base/unix_address.h"

namespace wisp::vhost_user {
namespace {

constexpr size_t kMaxFds = kMaxMemoryRegions;

std::string_view request_name(Request request) {
  switch (request) {
    case Request::kGetFeatures:
      return "GET_FEATURES";
    case Request::kSetFeatures:
      return "SET_FEATURES";
    case Request::kSetOwner:
      return "SET_OWNER";
    case Request::kSetMemTable:
      return "SET_MEM_TABLE";
    case Request::kSetVringNum:
      return "SET_VRING_NUM";
    case Request::kSetVringAddr:
      return "SET_VRING_ADDR";
    case Request::kSetVringBase:
      return "SET_VRING_BASE";
    case Request::kGetVringBase:
      return "GET_VRING_BASE";
    case Request::kSetVringKick:
      return "SET_VRING_KICK";
    case Request::kSetVringCall:
      return "SET_VRING_CALL";
    case Request::kGetProtocolFeatures:
      return "GET_PROTOCOL_FEATURES";
    case Request::kSetProtocolFeatures:
      return "SET_PROTOCOL_FEATURES";
    case Request::kGetQueueNum:
      return "GET_QUEUE_NUM";
    case Request::kSetVringEnable:
      return "SET_VRING_ENABLE";
  }
  return "?";
}

Result<void> set_timeouts(int socket, std::chrono::milliseconds timeout) {
  timeval value{};
  value.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  value.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  if (::setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &value, sizeof(value)) != 0 ||
      ::setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &value, sizeof(value)) != 0)
    return fail_errno("setsockopt SO_RCVTIMEO/SO_SNDTIMEO");
  return {};
}

}  // namespace

Result<std::unique_ptr<Frontend>> Frontend::connect(
    const std::string& socket_path, std::chrono::milliseconds patience,
    const std::function<Result<void>()>& still_starting) {
  std::optional<sockaddr_un> address = unix_socket_address(socket_path);
  if (!address)
    return fail("vhost-user socket {}: the path is longer than {} bytes", socket_path,
                kMaxUnixSocketPath);
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket.valid()) return fail_errno("socket");
    if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(*address)) ==
        0)
      return adopt(std::move(socket), socket_path);
    int error = errno;
    bool not_yet = error == ENOENT || error == ECONNREFUSED;
    if (!not_yet || std::chrono::steady_clock::now() >= deadline)
      return fail_errno(fmt::format("connecting to the vhost-user back end at {}", socket_path),
                        error);
    TRY(still_starting());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<std::unique_ptr<Frontend>> Frontend::adopt(Fd socket, std::string name,
                                                  std::chrono::milliseconds reply_timeout) {
  TRY(set_timeouts(socket.get(), reply_timeout));
  std::unique_ptr<Frontend> frontend(
      new Frontend(std::move(socket), std::move(name), reply_timeout));
  TRY_CONTEXT(frontend->handshake(), fmt::format("vhost-user back end {}", frontend->name_));
  return frontend;
}

// SET_OWNER opens the session; then the features, and the protocol features when offered:
// REPLY_ACK lets a back end refuse a request instead of failing silently.
Result<void> Frontend::handshake() {
  TRY(send(Request::kSetOwner, {}, {}));
  uint64_t offered = TRY(get_u64(Request::kGetFeatures));
  protocol_features_ = offered & virtio::feature_bit(kFeatureProtocolFeatures);
  features_ = offered & ~virtio::feature_bit(kFeatureProtocolFeatures);
  if (!protocol_features_) return {};
  uint64_t protocol = TRY(get_u64(Request::kGetProtocolFeatures));
  uint64_t wanted = protocol & virtio::feature_bit(kProtocolReplyAck);
  TRY(send(Request::kSetProtocolFeatures, wanted));
  reply_ack_ = wanted != 0;
  return {};
}

Result<void> Frontend::set_features(uint64_t driver_features) {
  uint64_t features = driver_features;
  if (protocol_features_) features |= virtio::feature_bit(kFeatureProtocolFeatures);
  return send(Request::kSetFeatures, features);
}

Result<void> Frontend::set_memory_table(const GuestMemory& memory) {
  if (memory.shared_file() < 0)
    return fail("guest memory is private to Wisp; a vhost-user back end needs it shared");
  const auto& regions = memory.regions();
  if (regions.size() > kMaxMemoryRegions)
    return fail("{} memory regions are more than vhost-user's {}", regions.size(),
                kMaxMemoryRegions);
  MemoryTable table{};
  std::array<int, kMaxMemoryRegions> fds{};
  table.region_count = static_cast<uint32_t>(regions.size());
  for (size_t i = 0; i < regions.size(); ++i) {
    table.regions[i] = {regions[i].guest_address, regions[i].size(),
                        reinterpret_cast<uint64_t>(regions[i].mapping.data()),
                        regions[i].file_offset};
    fds[i] = memory.shared_file();
  }
  // The payload holds only the regions in use.
  size_t size = offsetof(MemoryTable, regions) + regions.size() * sizeof(MemoryRegion);
  return send_and_acknowledge(Request::kSetMemTable,
                              std::span(reinterpret_cast<const uint8_t*>(&table), size),
                              std::span(fds.data(), regions.size()));
}

Result<void> Frontend::start_vring(const GuestMemory& memory, const VringSetup& vring) {
  auto user_address = [&memory](uint64_t guest_address) -> Result<uint64_t> {
    std::span<uint8_t> bytes = TRY(memory.slice(guest_address, 1));
    return reinterpret_cast<uint64_t>(bytes.data());
  };
  VringAddress address{};
  address.index = vring.index;
  address.descriptor = TRY(user_address(vring.descriptor_table));
  address.used = TRY(user_address(vring.used_ring));
  address.available = TRY(user_address(vring.available_ring));
  TRY(send(Request::kSetVringNum, VringState{vring.index, vring.size}));
  TRY(send(Request::kSetVringBase, VringState{vring.index, 0}));
  TRY(send(Request::kSetVringAddr, address));
  std::array<int, 1> kick{vring.kick_fd};
  std::array<int, 1> call{vring.call_fd};
  TRY(send(Request::kSetVringKick, uint64_t{vring.index}, kick));
  TRY(send(Request::kSetVringCall, uint64_t{vring.index}, call));
  // With protocol features a ring starts disabled (vhost-user.rst "Ring states").
  if (protocol_features_) TRY(send(Request::kSetVringEnable, VringState{vring.index, 1}));
  return {};
}

Result<uint16_t> Frontend::stop_vring(uint16_t index) {
  TRY(send(Request::kGetVringBase, VringState{index, 0}));
  VringState state{};
  TRY(receive_reply(Request::kGetVringBase,
                    std::span(reinterpret_cast<uint8_t*>(&state), sizeof(state))));
  if (state.index != index)
    return fail("{}: GET_VRING_BASE answered for ring {}, not {}", name_, state.index, index);
  return static_cast<uint16_t>(state.num);
}

Result<void> Frontend::send(Request request, std::span<const uint8_t> payload,
                            std::span<const int> fds, bool need_reply) {
  Header header{static_cast<uint32_t>(request), kVersion | (need_reply ? kFlagNeedReply : 0u),
                static_cast<uint32_t>(payload.size())};
  std::array<iovec, 2> parts{iovec{&header, sizeof(header)},
                             iovec{const_cast<uint8_t*>(payload.data()), payload.size()}};
  msghdr message{};
  message.msg_iov = parts.data();
  message.msg_iovlen = payload.empty() ? 1 : 2;
  alignas(cmsghdr) std::array<uint8_t, CMSG_SPACE(sizeof(int) * kMaxFds)> control{};
  if (!fds.empty()) {
    if (fds.size() > kMaxFds) return fail("{}: too many descriptors for one message", name_);
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* descriptors = CMSG_FIRSTHDR(&message);
    descriptors->cmsg_level = SOL_SOCKET;
    descriptors->cmsg_type = SCM_RIGHTS;
    descriptors->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(descriptors), fds.data(), sizeof(int) * fds.size());
  }
  size_t total = sizeof(header) + payload.size();
  ssize_t sent = ::sendmsg(socket_.get(), &message, MSG_NOSIGNAL);
  if (sent < 0) return fail_errno(fmt::format("{}: sending {}", name_, request_name(request)));
  // A unix stream socket takes a message this small whole, or blocks until it can.
  if (static_cast<size_t>(sent) != total)
    return fail("{}: sending {}: only {} of {} bytes went", name_, request_name(request), sent,
                total);
  return {};
}

Result<void> Frontend::read_exactly(std::span<uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::recv(socket_.get(), bytes.data() + done, bytes.size() - done, 0);
    if (got == 0) return fail("the back end hung up");
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return fail("no answer within {} ms", reply_timeout_.count());
      return fail_errno("recv");
    }
    done += static_cast<size_t>(got);
  }
  return {};
}

Result<void> Frontend::receive_reply(Request request, std::span<uint8_t> payload) {
  auto context = [&] { return fmt::format("{}: the reply to {}", name_, request_name(request)); };
  Header header{};
  TRY_CONTEXT(read_exactly(std::span(reinterpret_cast<uint8_t*>(&header), sizeof(header))),
              context());
  if (header.request != static_cast<uint32_t>(request) || !(header.flags & kFlagReply) ||
      (header.flags & kVersionMask) != kVersion)
    return fail("{}: got request {} with flags {:#x}", context(), header.request, header.flags);
  if (header.size != payload.size())
    return fail("{}: {} bytes of payload, not {}", context(), header.size, payload.size());
  TRY_CONTEXT(read_exactly(payload), context());
  return {};
}

Result<uint64_t> Frontend::get_u64(Request request) {
  TRY(send(request, {}, {}));
  uint64_t value = 0;
  TRY(receive_reply(request, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(value))));
  return value;
}

Result<void> Frontend::send_and_acknowledge(Request request, std::span<const uint8_t> payload,
                                            std::span<const int> fds) {
  TRY(send(request, payload, fds, reply_ack_));
  if (!reply_ack_) return {};
  uint64_t status = 0;
  TRY(receive_reply(request, std::span(reinterpret_cast<uint8_t*>(&status), sizeof(status))));
  if (status != 0)
    return fail("{}: the back end refused {} (status {})", name_, request_name(request), status);
  return {};
}

}  // namespace wisp::vhost_user
