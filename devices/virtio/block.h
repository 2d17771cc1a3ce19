// virtio-blk (virtio 1.x §5.2): a disk served from a BlockBackend. Requests are parsed from the
// queues on the device's worker thread and handed to the back end, which reads and writes guest
// memory directly; a completion writes the status byte, returns the chain and, if the driver
// wants one, interrupts it. Nothing is acknowledged as written before the back end says so, and a
// flush is acknowledged only once fdatasync has returned.
#pragma once

#include <sys/uio.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/block/block_backend.h"
#include "devices/virtio/block_request.h"
#include "devices/virtio/virtio_device.h"

namespace wisp::virtio {

// §5.2.3 Feature bits.
inline constexpr uint32_t kBlockFeatureSizeMax = 1;
inline constexpr uint32_t kBlockFeatureSegMax = 2;
inline constexpr uint32_t kBlockFeatureReadOnly = 5;
inline constexpr uint32_t kBlockFeatureBlockSize = 6;
inline constexpr uint32_t kBlockFeatureFlush = 9;
inline constexpr uint32_t kBlockFeatureMultiQueue = 12;
inline constexpr uint32_t kBlockFeatureDiscard = 13;
inline constexpr uint32_t kBlockFeatureWriteZeroes = 14;

struct BlockDeviceOptions {
  std::string name;  // for log messages, e.g. "blk0"
  uint64_t capacity_bytes = 0;
  bool read_only = false;
  bool discard = false;  // offer DISCARD and WRITE_ZEROES
  uint16_t queue_count = 1;
  std::string serial;  // what GET_ID returns: at most 20 bytes
};

class BlockDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint32_t kMaxSegments = kQueueSize - 2;  // seg_max: all but header and status
  static constexpr uint32_t kMaxSegmentBytes = 1u << 20;    // size_max
  static constexpr uint32_t kMaxDiscardSectors = 1u << 22;  // 2 GiB per discard or write-zeroes

  BlockDevice(const GuestMemory& memory, BlockDeviceOptions options,
              std::unique_ptr<BlockBackend> backend, IrqLine& irq, DeviceWorker& worker);

  std::string_view name() const override { return options_.name; }
  // Readable when the back end has completions for complete_io().
  int completion_fd() const { return backend_->completion_fd(); }
  const BlockBackend& backend() const { return *backend_; }

  // Moves the watch on the old back end's completion_fd() to the new one's; runs on the worker.
  using CompletionWatchMove = std::function<Result<void>(int old_fd, int new_fd)>;
  // Any thread but the worker, while the VM runs (a drive swapped under a running guest, as
  // Firecracker's PATCH /drives): the disk is served from `backend`, an image of `capacity_bytes`,
  // from now on. The worker swaps it in between requests: what the old back end has in flight
  // completes first and a writable disk is flushed, so no request uses its descriptor once it is
  // closed. Then the capacity changes in the configuration space (§5.2.4) and a running driver
  // gets a configuration change notification. If `move_watch` fails, the old back end stays.
  Result<void> replace_backend(std::unique_ptr<BlockBackend> backend, uint64_t capacity_bytes,
                               const CompletionWatchMove& move_watch);

  // Worker thread.
  void complete_io();
  void shut_down() override;

 protected:
  void activate(std::vector<std::optional<VirtQueue>> queues) override;
  void reset() override;
  void process_queue(uint16_t queue) override;

 private:
  // One request handed to the back end, found by its head descriptor index.
  struct InFlight {
    bool busy = false;
    BlockOp op = BlockOp::kRead;
    uint64_t status_address = 0;
    uint64_t offset = 0;     // where the rest of a read or write goes
    uint64_t remaining = 0;  // bytes of a read or write not yet transferred
    uint32_t data_bytes = 0;
    std::vector<iovec> buffers;
    size_t first_buffer = 0;  // a short transfer continues from here
  };
  struct Queue {
    VirtQueue ring;
    std::vector<InFlight> requests;  // one per descriptor index
    bool returned_any = false;       // since the last interrupt check
  };

  bool start_request(uint16_t queue_index, Queue& queue);
  std::optional<uint8_t> submit_request(uint16_t queue_index, Queue& queue);
  std::optional<uint8_t> submit_transfer(uint64_t tag, InFlight& request);
  std::optional<uint8_t> submit_segment_request(uint64_t tag, InFlight& request, uint32_t type);
  uint8_t answer_get_id(uint32_t& written);
  void finish(uint16_t queue_index, uint16_t head, uint8_t status, uint32_t written);
  void on_completion(const BlockCompletion& completion);
  bool continue_transfer(uint64_t tag, InFlight& request, uint64_t transferred);
  void drain(bool return_to_guest);
  void flush_backend();
  bool in_capacity(uint64_t sector, uint64_t bytes) const;

  // Bytes of reads and writes queued in the back end and not yet submitted: past this many, the
  // batch is submitted early.
  static constexpr uint64_t kEarlySubmitBytes = 512 * 1024;
  uint64_t unsubmitted_bytes_ = 0;

  const BlockDeviceOptions options_;
  std::unique_ptr<BlockBackend> backend_;     // worker thread, but for replace_backend's swap
  uint64_t capacity_bytes_;                   // worker thread
  std::vector<std::optional<Queue>> queues_;  // worker thread only
  DescriptorChain chain_;
  BlockRequest request_;
  log::RateLimit warnings_{20};
};

}  // namespace wisp::virtio
