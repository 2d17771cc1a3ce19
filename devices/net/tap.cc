#include "devices/net/tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

namespace wisp {
namespace {

constexpr int kVirtioNetHeaderBytes = 12;  // struct virtio_net_hdr_v1 (§5.1.6)

ifreq interface_request(const std::string& name) {
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), std::min(name.size(), size_t{IFNAMSIZ - 1}));
  return request;
}

// An AF_INET socket: the handle for the interface ioctls (SIOCGIFMTU, SIOC[GS]IFFLAGS).
Result<Fd> control_socket() {
  Fd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket.valid()) return fail_errno("socket");
  return socket;
}

Result<Fd> open_queue(const std::string& name, bool multi_queue, bool exists) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("open /dev/net/tun");
  ifreq request = interface_request(name);
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
  if (::ioctl(fd.get(), TUNSETIFF, &request) < 0) {
    int err = errno;
    if (err == EPERM && exists)
      return fail("this user may not open it; let it with `ip tuntap add {} mode tap user $USER`",
                  name);
    if (err == EPERM)
      return fail(
          "it does not exist, and creating it needs CAP_NET_ADMIN; create it first with "
          "`ip tuntap add {} mode tap user $USER`",
          name);
    if (err == EINVAL && multi_queue)
      return fail(
          "it exists without multi_queue; recreate it with `ip tuntap add {} mode tap "
          "multi_queue` for queues=N",
          name);
    if (err == EBUSY) return fail("it is in use by another process");
    return fail_errno("TUNSETIFF", err);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<Tap>> Tap::open(const std::string& name, uint16_t queue_pairs) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail("tap '{}': an interface name has 1 to {} characters", name, IFNAMSIZ - 1);
  std::unique_ptr<Tap> tap(new Tap);
  tap->name_ = name;
  tap->created_ = ::if_nametoindex(name.c_str()) == 0;
  for (uint16_t pair = 0; pair < queue_pairs; ++pair)
    tap->queues_.push_back(
        TRY_CONTEXT(open_queue(name, queue_pairs > 1, !tap->created_), "tap " + name));
  if (tap->created_) {
    // Up, as `ip tuntap add` + `ip link set up` would leave it: only addresses remain to add.
    Fd socket = TRY(control_socket());
    ifreq request = interface_request(name);
    if (::ioctl(socket.get(), SIOCGIFFLAGS, &request) == 0) {
      request.ifr_flags |= IFF_UP;
      if (::ioctl(socket.get(), SIOCSIFFLAGS, &request) < 0)
        return fail_errno("tap " + name + ": SIOCSIFFLAGS");
    }
  }
  TRY_CONTEXT(tap->finish_setup(), "tap " + name);
  return tap;
}

Result<std::unique_ptr<Tap>> Tap::adopt(int fd) {
  ifreq request{};
  if (::ioctl(fd, TUNGETIFF, &request) < 0)
    return fail_errno(fmt::format("--net fd={}: TUNGETIFF (is it a TAP descriptor?)", fd));
  if (!(request.ifr_flags & IFF_TAP))
    return fail("--net fd={}: {} is a TUN (layer 3) device; virtio-net needs a TAP", fd,
                request.ifr_name);
  if (!(request.ifr_flags & IFF_NO_PI))
    return fail("--net fd={}: {} was opened without IFF_NO_PI (frames carry packet information)",
                fd, request.ifr_name);
  // A copy, so that the descriptor handed over outlives a guest reboot's new Tap.
  Fd owned(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  int flags = ::fcntl(fd, F_GETFL);
  if (!owned.valid() || flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    return fail_errno(fmt::format("--net fd={}: fcntl", fd));
  std::unique_ptr<Tap> tap(new Tap);
  tap->name_ = request.ifr_name;
  tap->vnet_header_ = request.ifr_flags & IFF_VNET_HDR;
  tap->queues_.push_back(std::move(owned));
  TRY_CONTEXT(tap->finish_setup(), fmt::format("--net fd={} ({})", fd, tap->name_));
  return tap;
}

Result<void> Tap::finish_setup() {
  attached_.assign(queues_.size(), true);
  if (vnet_header_) {
    int header_bytes = kVirtioNetHeaderBytes;
    if (::ioctl(queues_[0].get(), TUNSETVNETHDRSZ, &header_bytes) < 0)
      return fail_errno("TUNSETVNETHDRSZ");
    supported_offloads_ = probe_offloads();
    TRY(set_receive_offloads(0));
  }
  Fd socket = TRY(control_socket());
  ifreq request = interface_request(name_);
  if (::ioctl(socket.get(), SIOCGIFMTU, &request) == 0 && request.ifr_mtu >= 68 &&
      request.ifr_mtu <= UINT16_MAX)
    mtu_ = static_cast<uint16_t>(request.ifr_mtu);
  return {};
}

// The kernel refuses offload bits it does not know (USO before 6.2): try them in groups.
uint32_t Tap::probe_offloads() const {
  using namespace net_offload;
  const uint32_t groups[] = {kChecksum, kTso4 | kTso6, kTsoEcn, kUfo, kUso4 | kUso6};
  uint32_t supported = 0;
  for (uint32_t group : groups) {
    unsigned int candidate = supported | group;
    if (::ioctl(queues_[0].get(), TUNSETOFFLOAD, candidate) == 0) supported = candidate;
    if (!(supported & kChecksum)) break;  // every other offload needs partial checksums
  }
  return supported;
}

Result<void> Tap::set_receive_offloads(uint32_t offloads) {
  if (!vnet_header_) return offloads == 0 ? Result<void>{} : fail("the TAP has no vnet header");
  // The kernel takes USO4 and USO6 only together (tun.c set_offload) and refuses the whole
  // request with one of them: a guest that accepts one gets no USO rather than no offloads.
  constexpr uint32_t kUso = net_offload::kUso4 | net_offload::kUso6;
  if ((offloads & kUso) != kUso) offloads &= ~kUso;
  if (::ioctl(queues_[0].get(), TUNSETOFFLOAD, static_cast<unsigned int>(offloads)) < 0)
    return fail_errno(fmt::format("TUNSETOFFLOAD {:#x}", offloads));
  return {};
}

Result<void> Tap::set_pair_enabled(uint16_t pair, bool enabled) {
  if (pair == 0 || pair >= queues_.size() || attached_[pair] == enabled) return {};
  ifreq request{};
  request.ifr_flags = enabled ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
  if (::ioctl(queues_[pair].get(), TUNSETQUEUE, &request) < 0)
    return fail_errno(fmt::format("tap {}: TUNSETQUEUE for queue {}", name_, pair));
  attached_[pair] = enabled;
  return {};
}

ssize_t Tap::receive(uint16_t pair, std::span<uint8_t> buffer) {
  int fd = queues_[pair].get();
  ssize_t bytes;
  if (vnet_header_) {
    bytes = ::read(fd, buffer.data(), buffer.size());
  } else {
    // No header from the TAP: make up one that asks for nothing.
    std::memset(buffer.data(), 0, kVirtioNetHeaderBytes);
    bytes =
        ::read(fd, buffer.data() + kVirtioNetHeaderBytes, buffer.size() - kVirtioNetHeaderBytes);
    if (bytes >= 0) bytes += kVirtioNetHeaderBytes;
  }
  return bytes < 0 ? -errno : bytes;
}

ssize_t Tap::send(uint16_t pair, std::span<const iovec> frame) {
  // Without a vnet header the TAP takes the bare frame; the header (frame[0]) asked for no
  // offload, as none was offered.
  std::span<const iovec> written = vnet_header_ ? frame : frame.subspan(1);
  ssize_t bytes = ::writev(queues_[pair].get(), written.data(), static_cast<int>(written.size()));
  return bytes < 0 ? -errno : bytes;
}

}  // namespace wisp
