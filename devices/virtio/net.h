// virtio-net (virtio 1.x §5.1): a NIC whose frames go through a NetBackend (a TAP device). The
// header in front of each frame passes through to the TAP, which does the checksum and
// segmentation offloads the guest and the host agreed on; mergeable receive buffers, multiqueue
// and the control queue are served here. Everything runs on the device's worker thread, woken by
// the queues' notifications and by the back end's receive descriptors becoming readable.
//
// Receive: a frame is read from the back end into the device's buffer (one per queue pair,
// allocated at start) and copied into the guest's buffers once enough are there for it. While
// that frame waits, nothing more is read: frames the guest does not take wait in the TAP
// (bounded by its queue), and the device neither spins nor grows. Transmit: each chain is checked
// and written to the TAP straight from guest memory, the header from a checked copy; the guest is
// interrupted once per batch.
#pragma once

#include <sys/uio.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/net/mac_address.h"
#include "devices/net/net_backend.h"
#include "devices/virtio/net_header.h"
#include "devices/virtio/virtio_device.h"

namespace wisp::virtio {

struct NetDeviceOptions {
  std::string name;  // for log messages, e.g. "net0"
  MacAddress mac{};
  uint16_t mtu = 1500;
};

class NetDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  // Frames read from the back end per wake-up before the thread serves its other queues.
  static constexpr int kReceiveBudget = 128;
  // The receive buffer: a header and the largest frame a TAP may hand over, with room to spare.
  static constexpr size_t kReceiveBufferBytes = sizeof(NetHeader) + 69632;

  // Starts or stops calls of receive_ready(pair) when the back end's receive descriptor for
  // `pair` is readable (the device thread's loop).
  using ReceiveWatch = std::function<void(uint16_t pair, bool watch)>;

  NetDevice(const GuestMemory& memory, NetDeviceOptions options,
            std::unique_ptr<NetBackend> backend, IrqLine& irq, DeviceWorker& worker,
            ReceiveWatch receive_watch);

  std::string_view name() const override { return options_.name; }
  uint16_t queue_pairs() const { return static_cast<uint16_t>(pairs_.size()); }
  NetBackend& backend() { return *backend_; }

  // Worker thread: frames wait in the back end for `pair`.
  void receive_ready(uint16_t pair);

  // What happened to frames so far (worker thread, or after it stopped).
  struct Counters {
    uint64_t transmitted = 0;
    uint64_t transmit_dropped = 0;  // malformed, or refused by the back end
    uint64_t received = 0;
    uint64_t receive_dropped = 0;  // too large for the guest's buffers, or not for this guest
  };
  const Counters& counters() const { return counters_; }
  // Logs (with -v) the frames each queue pair moved: which pairs the guest used.
  void shut_down() override;

 protected:
  void activate(std::vector<std::optional<VirtQueue>> queues) override;
  void reset() override;
  void process_queue(uint16_t queue) override;
  std::optional<std::string> refuse_features(uint64_t features) const override;

 private:
  // A queue pair: receive queue 2N, transmit queue 2N + 1 (§5.1.2).
  struct Pair {
    std::optional<VirtQueue> receive_ring;
    std::optional<VirtQueue> transmit_ring;
    // Receive chains popped but not yet filled, in ring order: a circular buffer as large as the
    // ring (a frame may need several with MRG_RXBUF, and the ring may not have them all yet).
    std::vector<DescriptorChain> stash;
    size_t stash_first = 0;
    size_t stash_count = 0;
    uint64_t stash_bytes = 0;    // writable bytes in the stash
    std::vector<uint8_t> frame;  // the receive buffer, allocated once
    size_t frame_bytes = 0;      // a frame (with its header) waiting for guest buffers; 0: none
    bool watching = false;       // receive_ready is called when the back end has frames
    uint64_t transmitted = 0;    // frames, for the log at shut-down
    uint64_t received = 0;
  };
  enum class Read { kFrame, kEmpty, kDropped };
  enum class Delivery { kDelivered, kNeedBuffers, kDropped, kBroken };

  uint16_t control_queue_index() const { return control_queue_; }
  void set_watching(uint16_t pair, bool watch);
  void set_active_pairs(uint16_t count);
  void receive(uint16_t pair);
  Read read_frame(uint16_t pair_index, Pair& pair);
  Delivery deliver_frame(Pair& pair);
  Delivery fill_stash(Pair& pair, bool merge);
  bool copy_into_chain(const DescriptorChain& chain, std::span<const uint8_t> bytes);
  void transmit(uint16_t pair);
  bool send_frame(uint16_t pair);  // false if the frame was dropped
  bool gather_frame(NetHeader& header);
  template <typename Serve>
  void serve_each_chain(VirtQueue& ring, Serve serve);
  void serve_control_queue();
  uint32_t answer_control_command();
  uint8_t run_control_command(std::span<const uint8_t> command);
  void drop_received(std::string_view why);
  void drop_transmitted(std::string_view why);

  const NetDeviceOptions options_;
  std::unique_ptr<NetBackend> backend_;
  ReceiveWatch receive_watch_;
  std::vector<Pair> pairs_;
  std::optional<VirtQueue> control_ring_;
  uint16_t control_queue_ = 2;  // §5.1.2: 2N with MQ (N = max_virtqueue_pairs), else 2
  uint16_t active_pairs_ = 1;
  uint64_t guest_offloads_ = 0;  // the GUEST_* offloads the driver has enabled
  DescriptorChain chain_;        // the transmit or control chain being served
  NetHeader transmit_header_{};  // the checked copy of the header being sent
  std::vector<iovec> transmit_iov_;
  Counters counters_;
  log::RateLimit warnings_{20};
};

}  // namespace wisp::virtio
