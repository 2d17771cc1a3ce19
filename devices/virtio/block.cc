#include "devices/virtio/block.h"

#include <poll.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "devices/block/disk_image.h"
#include "devices/virtio/virtio_spec.h"

namespace wisp::virtio {
namespace {

// §5.2.4 Device configuration layout (struct virtio_blk_config, up to write_zeroes_may_unmap).
#pragma pack(push, 1)
struct BlockConfig {
  uint64_t capacity;  // in 512-byte sectors
  uint32_t size_max;
  uint32_t seg_max;
  uint16_t cylinders;
  uint8_t heads;
  uint8_t sectors;
  uint32_t blk_size;
  uint8_t physical_block_exp;
  uint8_t alignment_offset;
  uint16_t min_io_size;
  uint32_t opt_io_size;
  uint8_t writeback;
  uint8_t unused0;
  uint16_t num_queues;
  uint32_t max_discard_sectors;
  uint32_t max_discard_seg;
  uint32_t discard_sector_alignment;
  uint32_t max_write_zeroes_sectors;
  uint32_t max_write_zeroes_seg;
  uint8_t write_zeroes_may_unmap;
  uint8_t unused1[3];
};
#pragma pack(pop)
static_assert(sizeof(BlockConfig) == 60);
static_assert(offsetof(BlockConfig, blk_size) == 20);
static_assert(offsetof(BlockConfig, num_queues) == 34);
static_assert(offsetof(BlockConfig, max_discard_sectors) == 36);
static_assert(offsetof(BlockConfig, write_zeroes_may_unmap) == 56);

// Discards are aligned to 4 KiB: a punched hole frees whole host pages.
constexpr uint32_t kDiscardAlignmentSectors = 8;

uint64_t block_features(const BlockDeviceOptions& options) {
  uint64_t features = feature_bit(kBlockFeatureSizeMax) | feature_bit(kBlockFeatureSegMax) |
                      feature_bit(kBlockFeatureBlockSize) | feature_bit(kBlockFeatureFlush);
  if (options.read_only) features |= feature_bit(kBlockFeatureReadOnly);
  if (options.queue_count > 1) features |= feature_bit(kBlockFeatureMultiQueue);
  if (options.discard && !options.read_only)
    features |= feature_bit(kBlockFeatureDiscard) | feature_bit(kBlockFeatureWriteZeroes);
  return features;
}

std::vector<uint8_t> block_config(const BlockDeviceOptions& options) {
  BlockConfig config{};
  config.capacity = options.capacity_bytes / kSectorBytes;
  config.size_max = BlockDevice::kMaxSegmentBytes;
  config.seg_max = BlockDevice::kMaxSegments;
  config.blk_size = kSectorBytes;
  config.num_queues = options.queue_count;
  config.max_discard_sectors = BlockDevice::kMaxDiscardSectors;
  config.max_discard_seg = 1;
  config.discard_sector_alignment = kDiscardAlignmentSectors;
  config.max_write_zeroes_sectors = BlockDevice::kMaxDiscardSectors;
  config.max_write_zeroes_seg = 1;
  config.write_zeroes_may_unmap = 1;
  std::vector<uint8_t> bytes(sizeof(config));
  std::memcpy(bytes.data(), &config, sizeof(config));
  return bytes;
}

const char* operation_name(BlockOp op) {
  switch (op) {
    case BlockOp::kRead:
      return "read";
    case BlockOp::kWrite:
      return "write";
    case BlockOp::kFlush:
      return "flush";
    case BlockOp::kDiscard:
      return "discard";
    case BlockOp::kWriteZeroes:
      return "write-zeroes";
  }
  return "?";
}

uint64_t make_tag(uint16_t queue, uint16_t head) {
  return (uint64_t{queue} << 16) | head;
}

}  // namespace

BlockDevice::BlockDevice(const GuestMemory& memory, BlockDeviceOptions options,
                         std::unique_ptr<BlockBackend> backend, IrqLine& irq, DeviceWorker& worker)
    : VirtioDevice(memory,
                   Identity{kDeviceIdBlock, block_features(options), options.queue_count,
                            kQueueSize, block_config(options)},
                   irq, worker),
      options_(std::move(options)),
      backend_(std::move(backend)),
      capacity_bytes_(options_.capacity_bytes) {}

void BlockDevice::activate(std::vector<std::optional<VirtQueue>> queues) {
  queues_.clear();
  for (std::optional<VirtQueue>& ring : queues) {
    if (!ring) {
      queues_.emplace_back();
      continue;
    }
    uint16_t size = ring->size();
    queues_.emplace_back(Queue{std::move(*ring), std::vector<InFlight>(size), false});
  }
}

void BlockDevice::reset() {
  drain(false);
  queues_.clear();
}

void BlockDevice::shut_down() {
  drain(true);
  flush_backend();
}

void BlockDevice::flush_backend() {
  if (options_.read_only) return;
  if (int error = backend_->sync_now(); error < 0)
    log::error("{}: flushing the disk: {}", name(), std::strerror(-error));
}

Result<void> BlockDevice::replace_backend(std::unique_ptr<BlockBackend> backend,
                                          uint64_t capacity_bytes,
                                          const CompletionWatchMove& move_watch) {
  Result<void> moved;
  worker().run_and_wait([&] {
    drain(true);
    flush_backend();
    moved = move_watch(backend_->completion_fd(), backend->completion_fd());
    if (!moved) return;
    std::swap(backend_, backend);
    capacity_bytes_ = capacity_bytes;
  });
  TRY(moved);
  backend.reset();  // the old one: nothing on the worker refers to it any more
  uint64_t sectors = capacity_bytes / kSectorBytes;
  change_config(offsetof(BlockConfig, capacity),
                std::span(reinterpret_cast<const uint8_t*>(&sectors), sizeof(sectors)));
  return {};
}

// Waits for every operation in flight. At reset nothing more is written to the guest (it may be
// reusing the memory); at shutdown the requests are completed as usual.
void BlockDevice::drain(bool return_to_guest) {
  backend_->submit();  // nothing queued may be left unstarted while we wait for it
  while (backend_->in_flight() > 0) {
    pollfd ready{backend_->completion_fd(), POLLIN, 0};
    ::poll(&ready, 1, -1);
    if (return_to_guest) {
      complete_io();
    } else {
      backend_->reap([](const BlockCompletion&) {});
    }
  }
}

void BlockDevice::process_queue(uint16_t queue_index) {
  if (queue_index >= queues_.size() || !queues_[queue_index]) return;
  Queue& queue = *queues_[queue_index];
  bool broken = false;
  do {
    while (!broken) {
      auto popped = queue.ring.pop(chain_);
      if (!popped) {
        fail_device(popped.error().message());
        broken = true;
      } else if (!*popped) {
        break;
      } else if (!start_request(queue_index, queue)) {
        broken = true;
      } else if (unsubmitted_bytes_ >= kEarlySubmitBytes) {
        // Large transfers start one by one and what finished returns at once (a read from the
        // page cache completes inside the submission), so the guest refills the queue while the
        // next one is copied instead of waiting for the whole batch.
        backend_->submit();
        unsubmitted_bytes_ = 0;
        complete_io();
      }
    }
  } while (!broken && queue.ring.enable_notification_and_check());
  // Also when the ring broke: what was queued before must start, or reset and shut_down would
  // wait for it for ever.
  backend_->submit();
  unsubmitted_bytes_ = 0;
  if (queue.returned_any) {
    queue.returned_any = false;
    interrupt_if_needed(queue.ring);
  }
}

// Starts the request in chain_; false when the queue is broken.
bool BlockDevice::start_request(uint16_t queue_index, Queue& queue) {
  uint16_t head = chain_.head();
  if (queue.requests[head].busy) {
    fail_device(fmt::format("descriptor {} was made available again while in flight", head));
    return false;
  }
  if (auto parsed = parse_block_request(memory(), chain_, request_); !parsed) {
    // No status byte to answer in: return the chain untouched.
    if (warnings_.allow("virtio-blk")) log::warn("{}: {}", name(), parsed.error().message());
    if (auto pushed = queue.ring.push_used(head, 0); !pushed) {
      fail_device(pushed.error().message());
      return false;
    }
    queue.returned_any = true;
    return true;
  }
  if (std::optional<uint8_t> status = submit_request(queue_index, queue)) {
    uint32_t written = 0;
    if (*status == kBlockStatusOk && request_.type == kBlockTypeGetId)
      *status = answer_get_id(written);
    InFlight& request = queue.requests[head];
    request.status_address = request_.status_address;
    finish(queue_index, head, *status, written);
  }
  return true;
}

bool BlockDevice::in_capacity(uint64_t sector, uint64_t bytes) const {
  uint64_t capacity = capacity_bytes_ / kSectorBytes;
  return sector <= capacity && (bytes + kSectorBytes - 1) / kSectorBytes <= capacity - sector;
}

// Hands request_ to the back end, or returns the status to answer at once.
std::optional<uint8_t> BlockDevice::submit_request(uint16_t queue_index, Queue& queue) {
  if (!request_.type) return kBlockStatusIoError;  // a header shorter than 16 bytes
  uint32_t type = *request_.type;
  InFlight& request = queue.requests[chain_.head()];
  uint64_t tag = make_tag(queue_index, chain_.head());
  request.status_address = request_.status_address;
  request.data_bytes = static_cast<uint32_t>(std::min<uint64_t>(request_.data_bytes, UINT32_MAX));
  switch (type) {
    case kBlockTypeIn:
    case kBlockTypeOut:
      if (type == kBlockTypeOut && options_.read_only) return kBlockStatusIoError;
      if (request_.data_bytes % kSectorBytes != 0 ||
          !in_capacity(request_.sector, request_.data_bytes))
        return kBlockStatusIoError;
      request.op = type == kBlockTypeIn ? BlockOp::kRead : BlockOp::kWrite;
      return submit_transfer(tag, request);
    case kBlockTypeFlush:
      request.op = BlockOp::kFlush;
      request.busy = true;
      if (!backend_->enqueue({BlockOp::kFlush, 0, 0, {}, tag})) {
        request.busy = false;
        return kBlockStatusIoError;
      }
      return std::nullopt;
    case kBlockTypeGetId:
      return kBlockStatusOk;
    case kBlockTypeDiscard:
    case kBlockTypeWriteZeroes:
      return submit_segment_request(tag, request, type);
    default:
      return kBlockStatusUnsupported;
  }
}

std::optional<uint8_t> BlockDevice::submit_transfer(uint64_t tag, InFlight& request) {
  request.buffers.clear();
  for (const GuestBuffer& piece : request_.data) {
    auto host = memory().slice(piece.address, piece.length);
    if (!host) return kBlockStatusIoError;  // checked when popped; guest RAM does not move
    request.buffers.push_back(iovec{host->data(), host->size()});
  }
  unsubmitted_bytes_ += request_.data_bytes;
  request.offset = request_.sector * kSectorBytes;
  request.remaining = request_.data_bytes;
  request.first_buffer = 0;
  if (request.remaining == 0) return kBlockStatusOk;
  request.busy = true;
  if (!continue_transfer(tag, request, 0)) {
    request.busy = false;
    return kBlockStatusIoError;
  }
  return std::nullopt;
}

// Discard and write-zeroes carry one segment (max_discard_seg and max_write_zeroes_seg are 1).
std::optional<uint8_t> BlockDevice::submit_segment_request(uint64_t tag, InFlight& request,
                                                           uint32_t type) {
  bool write_zeroes = type == kBlockTypeWriteZeroes;
  if (!options_.discard) return kBlockStatusUnsupported;
  if (options_.read_only) return kBlockStatusIoError;
  BlockSegment segment;
  if (request_.data_bytes != sizeof(segment)) return kBlockStatusIoError;
  auto copied = read_from_buffers(memory(), request_.data, 0,
                                  std::span(reinterpret_cast<uint8_t*>(&segment), sizeof(segment)));
  if (!copied) return kBlockStatusIoError;
  // §5.2.6.2: unmap is for write-zeroes only, and no other flag exists.
  uint32_t allowed_flags = write_zeroes ? kBlockSegmentFlagUnmap : 0;
  if (segment.flags & ~allowed_flags) return kBlockStatusUnsupported;
  uint64_t bytes = uint64_t{segment.sector_count} * kSectorBytes;
  if (segment.sector_count > kMaxDiscardSectors || !in_capacity(segment.sector, bytes))
    return kBlockStatusIoError;
  // A punched hole reads back as zeroes: write-zeroes with unmap may free the space too.
  bool unmap = !write_zeroes || (segment.flags & kBlockSegmentFlagUnmap);
  request.op = unmap ? BlockOp::kDiscard : BlockOp::kWriteZeroes;
  request.busy = true;
  if (!backend_->enqueue({request.op, segment.sector * kSectorBytes, bytes, {}, tag})) {
    request.busy = false;
    return kBlockStatusIoError;
  }
  return std::nullopt;
}

uint8_t BlockDevice::answer_get_id(uint32_t& written) {
  // §5.2.6.1: up to 20 bytes, NUL-padded when shorter.
  uint8_t id[kBlockIdBytes] = {};
  std::memcpy(id, options_.serial.data(), std::min<size_t>(options_.serial.size(), sizeof(id)));
  size_t length = std::min<uint64_t>(request_.data_bytes, sizeof(id));
  auto copied = write_to_buffers(memory(), request_.data, std::span(id, length));
  if (!copied) return kBlockStatusIoError;
  written = static_cast<uint32_t>(*copied);
  return kBlockStatusOk;
}

// Sends the rest of a read or write, after `transferred` more bytes were done; false if the back
// end would not take it.
bool BlockDevice::continue_transfer(uint64_t tag, InFlight& request, uint64_t transferred) {
  request.offset += transferred;
  request.remaining -= transferred;
  std::vector<iovec>& buffers = request.buffers;
  while (transferred > 0) {
    iovec& buffer = buffers[request.first_buffer];
    if (transferred < buffer.iov_len) {
      buffer.iov_base = static_cast<uint8_t*>(buffer.iov_base) + transferred;
      buffer.iov_len -= transferred;
      break;
    }
    transferred -= buffer.iov_len;
    ++request.first_buffer;
  }
  std::span<const iovec> rest(buffers.data() + request.first_buffer,
                              buffers.size() - request.first_buffer);
  return backend_->enqueue({request.op, request.offset, request.remaining, rest, tag});
}

void BlockDevice::complete_io() {
  backend_->reap([this](const BlockCompletion& completion) { on_completion(completion); });
  backend_->submit();  // the rest of short transfers
  for (std::optional<Queue>& queue : queues_) {
    if (!queue || !queue->returned_any) continue;
    queue->returned_any = false;
    interrupt_if_needed(queue->ring);
  }
}

void BlockDevice::on_completion(const BlockCompletion& completion) {
  auto queue_index = static_cast<uint16_t>(completion.tag >> 16);
  auto head = static_cast<uint16_t>(completion.tag);
  if (queue_index >= queues_.size() || !queues_[queue_index]) return;  // reset meanwhile
  InFlight& request = queues_[queue_index]->requests[head];
  if (!request.busy) return;
  uint8_t status = kBlockStatusOk;
  if (completion.result < 0) {
    if (warnings_.allow("virtio-blk"))
      log::warn("{}: {} failed: {}", name(), operation_name(request.op),
                std::strerror(static_cast<int>(-completion.result)));
    status = kBlockStatusIoError;
  } else if (request.op == BlockOp::kRead || request.op == BlockOp::kWrite) {
    auto transferred = static_cast<uint64_t>(completion.result);
    if (transferred == 0 || transferred > request.remaining) {
      // The image ended early (it shrank under us) or the back end misbehaved.
      status = kBlockStatusIoError;
    } else if (transferred < request.remaining) {
      if (continue_transfer(completion.tag, request, transferred)) return;
      status = kBlockStatusIoError;
    }
  }
  request.busy = false;
  uint32_t written =
      request.op == BlockOp::kRead && status == kBlockStatusOk ? request.data_bytes : 0;
  finish(queue_index, head, status, written);
}

// Writes the status byte and returns the chain with the bytes written into it.
void BlockDevice::finish(uint16_t queue_index, uint16_t head, uint8_t status, uint32_t written) {
  Queue& queue = *queues_[queue_index];
  InFlight& request = queue.requests[head];
  request.busy = false;
  auto stored = memory().write_obj(request.status_address, status);
  auto pushed = queue.ring.push_used(head, written + (stored ? 1 : 0));
  if (!pushed) return fail_device(pushed.error().message());
  queue.returned_any = true;
}

}  // namespace wisp::virtio
