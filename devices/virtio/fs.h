// virtio-fs (virtio 1.x §5.11) through vhost-user: the guest's FUSE requests are served by a
// back end in another process (virtiofsd), which maps guest RAM and works the queues itself. Wisp
// keeps the register side and, at DRIVER_OK, hands the back end the driver's features, the memory
// table and each queue with its kick eventfd (which KVM signals on QueueNotify) and call eventfd
// (which the back end signals; Wisp turns it into the transport's interrupt, since virtio-mmio's
// driver reads InterruptStatus before it looks at the rings).
//
// A back end that dies (or stops answering) must not take the guest down: Wisp takes the queues
// back and answers every FUSE request with EIO, so the guest sees I/O errors on the file system
// and can still be shut down cleanly.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/vhost_user/frontend.h"
#include "devices/virtio/virtio_device.h"

namespace wisp::virtio {

inline constexpr uint32_t kDeviceIdFs = 26;
// §5.11.4: tag[36], then le32 num_request_queues.
inline constexpr size_t kFsTagBytes = 36;

struct FsDeviceOptions {
  std::string name;  // for log messages, e.g. "fs0"
  std::string tag;   // what the guest mounts: at most 36 bytes
};

// The eventfds of each queue, by queue index: `kicks` are signalled by KVM when the guest
// notifies, `calls` by the back end when it used buffers.
struct FsQueueSignals {
  std::vector<int> kicks;
  std::vector<int> calls;
};

class FsDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 1024;  // the most libvhost-user back ends take
  static constexpr uint16_t kRequestQueues = 1;
  static constexpr uint16_t kQueueCount = 1 + kRequestQueues;  // hiprio first (§5.11.2)

  // Pauses or resumes the device thread's calls for `fd` (the kicks while the back end serves
  // them, the back end's socket once it is gone).
  using SetWatching = std::function<void(int fd, bool enabled)>;

  // Whether `backend` serves what the device offers the driver: the transport features. The
  // back end's other bits (packed rings, VHOST_F_LOG_ALL, ...) are never offered.
  static Result<void> check_backend(const vhost_user::Frontend& backend);

  FsDevice(const GuestMemory& memory, FsDeviceOptions options, vhost_user::Frontend& backend,
           IrqLine& irq, DeviceWorker& worker);

  std::string_view name() const override { return options_.name; }
  // Before the device runs: the queues' eventfds, and how to turn the thread's watches on and off.
  void connect_signals(FsQueueSignals signals, SetWatching set_watching);

  // ---- Worker thread. ----
  // The back end signalled a call eventfd: it used buffers of a queue.
  void backend_used_buffers();
  // The back end's socket became readable outside a request: it hung up.
  void backend_hung_up();
  // Stops the rings, so that the back end touches guest memory no more.
  void shut_down() override;

 protected:
  void activate(std::vector<std::optional<VirtQueue>> queues) override;
  void reset() override;
  // Only once the back end is gone: the queues are Wisp's again.
  void process_queue(uint16_t queue) override;

 private:
  enum class Backend { kIdle, kServing, kGone };

  void start_backend(uint64_t activation);
  Result<void> hand_over_queues();
  void stop_backend();
  // Takes the queues back and fails what the guest sends from now on.
  void take_over(std::string_view why);
  void fail_request(VirtQueue& queue, const DescriptorChain& chain, bool is_hiprio);

  FsDeviceOptions options_;
  vhost_user::Frontend& backend_;
  FsQueueSignals signals_;
  SetWatching set_watching_;
  // Worker thread only.
  std::vector<std::optional<VirtQueue>> queues_;
  Backend state_ = Backend::kIdle;
  bool backend_lost_ = false;  // for good: a dead back end stays dead
  uint64_t activations_ = 0;   // a start posted before a reset must not run after it
  DescriptorChain chain_;
  log::RateLimit warnings_{10};
};

}  // namespace wisp::virtio
