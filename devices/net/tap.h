// A Linux TAP device as a virtio-net back end: one non-blocking descriptor per queue pair
// (IFF_MULTI_QUEUE when there are several), frames led by the 12-byte virtio-net header
// (IFF_VNET_HDR, TUNSETVNETHDRSZ), and the receive offloads the guest accepted (TUNSETOFFLOAD).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "devices/net/net_backend.h"
#include "vmm/base/fd.h"

namespace wisp {

class Tap final : public NetBackend {
 public:
  // Opens the TAP device `name`, or creates it if it does not exist (which needs
  // CAP_NET_ADMIN); a TAP Wisp created is not persistent, so it goes away with Wisp.
  static Result<std::unique_ptr<Tap>> open(const std::string& name, uint16_t queue_pairs);
  // Serves `fd`, a TAP descriptor opened by someone else (an orchestrator), through a copy of
  // it. Without IFF_VNET_HDR on it, no offloads are offered.
  static Result<std::unique_ptr<Tap>> adopt(int fd);

  const std::string& name() const { return name_; }
  // Whether Wisp created the device (it then disappears when Wisp exits).
  bool created() const { return created_; }
  // The device's MTU on the host, which the guest is offered (VIRTIO_NET_F_MTU).
  uint16_t mtu() const { return mtu_; }

  uint16_t queue_pairs() const override { return static_cast<uint16_t>(queues_.size()); }
  bool accepts_offloads() const override { return vnet_header_; }
  uint32_t supported_receive_offloads() const override { return supported_offloads_; }
  Result<void> set_receive_offloads(uint32_t offloads) override;
  Result<void> set_pair_enabled(uint16_t pair, bool enabled) override;
  int receive_fd(uint16_t pair) const override { return queues_[pair].get(); }
  ssize_t receive(uint16_t pair, std::span<uint8_t> buffer) override;
  // frame[0] must be the header, exactly 12 bytes.
  ssize_t send(uint16_t pair, std::span<const iovec> frame) override;

 private:
  Tap() = default;
  Result<void> finish_setup();
  uint32_t probe_offloads() const;

  std::string name_;
  std::vector<Fd> queues_;
  bool vnet_header_ = true;
  bool created_ = false;
  uint16_t mtu_ = 1500;
  uint32_t supported_offloads_ = 0;
  std::vector<bool> attached_;
};

}  // namespace wisp
