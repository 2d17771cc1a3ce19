// The transport-independent core of a virtio 1.x device (§2, §3): feature negotiation, the device
// status state machine, the queues' configuration, interrupt status, the configuration space
// and reset. A device type (block, net, ...) derives from it and serves its queues.
//
// Two threads meet here. A transport calls the register-side methods from vCPU threads, holding
// mutex(). Queue processing runs on the device's worker thread (DeviceWorker) and never takes
// that mutex: the queues pass to the worker at DRIVER_OK and back at reset through
// DeviceWorker::run_and_wait, and what the worker reports (interrupt status, DEVICE_NEEDS_RESET)
// is atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "devices/virtio/virtio_spec.h"
#include "devices/virtio/virtqueue.h"
#include "vmm/base/device_worker.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/irq_line.h"
#include "vmm/base/log.h"

namespace wisp::virtio {

class VirtioDevice {
 public:
  struct Identity {
    uint32_t device_id;           // §5: 2 for a block device, ...
    uint64_t features;            // device-type features; VERSION_1, INDIRECT_DESC, EVENT_IDX added
    uint16_t queue_count;         // virtqueues the device has
    uint16_t max_queue_size;      // QueueNumMax: a power of two
    std::vector<uint8_t> config;  // the device configuration space's initial bytes
  };

  // What every device offers besides its type's features (§6): virtio 1.x, and the split
  // ring's indirect descriptors and event index.
  static constexpr uint64_t kTransportFeatures = feature_bit(kFeatureVersion1) |
                                                 feature_bit(kFeatureRingIndirectDesc) |
                                                 feature_bit(kFeatureRingEventIdx);

  VirtioDevice(const GuestMemory& memory, Identity identity, IrqLine& irq, DeviceWorker& worker);
  virtual ~VirtioDevice() = default;
  VirtioDevice(const VirtioDevice&) = delete;
  VirtioDevice& operator=(const VirtioDevice&) = delete;

  // A short name for log messages, e.g. "blk0".
  virtual std::string_view name() const = 0;

  // ---- Register side: vCPU threads, with mutex() held by the transport. ----
  std::mutex& mutex() { return mutex_; }
  uint32_t device_id() const { return identity_.device_id; }
  uint64_t device_features() const { return device_features_; }
  // One 32-bit half of the driver's features (§2.2); ignored once FEATURES_OK is set.
  void set_driver_features(uint32_t word, uint32_t value);
  uint8_t status() const;
  // §2.1, §3.1.1: 0 resets the device; otherwise the driver adds status bits in order.
  void set_status(uint8_t status);

  uint16_t queue_count() const { return identity_.queue_count; }
  uint16_t max_queue_size() const { return identity_.max_queue_size; }
  enum class QueuePart { kDescriptorTable, kAvailableRing, kUsedRing };
  // The queue's configuration may change only while the queue is not ready (§4.2.2.2, and
  // §2.7 for the size); a change to a live queue is ignored and, once the driver is running,
  // puts the device into DEVICE_NEEDS_RESET.
  void set_queue_size(uint16_t queue, uint32_t size);
  void set_queue_address(uint16_t queue, QueuePart part, uint64_t address);
  uint64_t queue_address(uint16_t queue, QueuePart part) const;
  bool queue_ready(uint16_t queue) const;
  void set_queue_ready(uint16_t queue, bool ready);

  uint32_t interrupt_status() const { return interrupt_status_.load(); }
  void acknowledge_interrupt(uint32_t bits) { interrupt_status_.fetch_and(~bits); }
  uint32_t config_generation() const { return config_generation_.load(); }
  // The device configuration space (§2.5): bytes past its end read as zero; writes go to
  // write_config_bytes, which ignores them unless the device type says otherwise.
  void read_config(uint64_t offset, std::span<uint8_t> data) const;
  void write_config(uint64_t offset, std::span<const uint8_t> data);

  // ---- Device side: any thread but the worker, without mutex() (it takes it). ----
  // The device changed `bytes.size()` bytes of its configuration space at `offset` (a disk's
  // capacity): they read back changed, after a reset too, the generation moves (§2.5.1), and a
  // running driver gets a configuration change notification (§4.2.2: InterruptStatus bit 1).
  void change_config(uint64_t offset, std::span<const uint8_t> bytes);

  // ---- Worker side: the device's worker thread. ----
  // The driver notified `queue` (an ioeventfd fired): serves it if the device is running.
  void notify_queue(uint16_t queue);
  // Before the VMM exits: finish or fail what is in flight and make written data durable.
  virtual void shut_down() {}

 protected:
  // Hooks for device types, each on the worker thread.
  // The driver set DRIVER_OK: `queues[i]` is queue i if the driver made it ready.
  virtual void activate(std::vector<std::optional<VirtQueue>> queues) = 0;
  // The driver reset the device: wait for what is in flight, then drop the queues. The guest
  // must see no write into its memory after this returns.
  virtual void reset() = 0;
  // Pop and serve what the driver made available on an active queue.
  virtual void process_queue(uint16_t queue) = 0;
  virtual void write_config_bytes(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {}
  // Why the device type refuses a set of driver features it offered (a feature without one it
  // depends on), or nothing to accept it.
  virtual std::optional<std::string> refuse_features(uint64_t /*features*/) const {
    return std::nullopt;
  }

  // Helpers for device types (worker thread).
  bool negotiated(uint32_t feature) const { return driver_features_ & feature_bit(feature); }
  uint64_t driver_features() const { return driver_features_; }
  bool needs_reset() const { return needs_reset_.load(); }
  // Interrupts the driver if it wants one for what `queue` returned (§2.7.7.2).
  void interrupt_if_needed(VirtQueue& queue);
  // Interrupts the driver for used buffers that someone else (a vhost-user back end) returned,
  // having decided itself that the driver wants the interrupt.
  void signal_used_buffers() { raise_interrupt(kInterruptUsedBuffer); }
  DeviceWorker& worker() { return worker_; }
  // The device cannot go on (a malformed ring): DEVICE_NEEDS_RESET and a configuration change
  // interrupt (§2.1.2), logged rate-limited.
  void fail_device(std::string_view why);
  const GuestMemory& memory() const { return memory_; }
  std::vector<uint8_t>& config_bytes() { return config_; }
  void bump_config_generation() { config_generation_.fetch_add(1); }

 private:
  struct QueueState {
    QueueLayout layout;  // its size is requested_size once checked against QueueNumMax
    uint32_t requested_size = 0;
    bool ready = false;
  };

  bool features_acceptable() const;
  void start_running();
  void reset_registers();
  void refuse_live_queue_change(uint16_t queue, std::string_view what);
  void raise_interrupt(uint32_t bits);

  const GuestMemory& memory_;
  const Identity identity_;
  const uint64_t device_features_;
  IrqLine& irq_;
  DeviceWorker& worker_;

  std::mutex mutex_;  // the register side's state below
  uint64_t driver_features_ = 0;
  uint8_t status_ = 0;
  std::vector<QueueState> queues_;
  std::vector<uint8_t> config_;
  std::vector<uint8_t> config_after_reset_;  // identity_.config, with change_config's changes

  std::atomic<uint32_t> interrupt_status_{0};
  std::atomic<uint32_t> config_generation_{0};
  std::atomic<bool> needs_reset_{false};
  bool running_on_worker_ = false;  // worker thread only: the queues were activated
  mutable log::RateLimit warnings_{20};
};

}  // namespace wisp::virtio
