// Where a disk's reads and writes go: an image file or block device behind io_uring, or plain
// system calls when io_uring is not available. Operations are asynchronous: the device queues
// them, submits a batch, and reaps completions when completion_fd() is readable. A back end is
// used by one thread (the device's worker).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

namespace wisp {

enum class BlockOp : uint8_t {
  kRead,
  kWrite,
  kFlush,        // fdatasync: what was written before is durable
  kDiscard,      // the range may read as zeroes and its space goes back to the host
  kWriteZeroes,  // the range reads as zeroes
};

struct BlockIo {
  BlockOp op;
  uint64_t offset = 0;             // bytes from the start of the disk
  uint64_t length = 0;             // bytes: the buffers' total for reads and writes
  std::span<const iovec> buffers;  // reads and writes: host memory, alive until completion
  uint64_t tag = 0;                // handed back with the completion
};

struct BlockCompletion {
  uint64_t tag;
  int64_t result;  // bytes transferred (0 for the others), or -errno
};

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;
  virtual std::string_view name() const = 0;

  // Queues `io`; false when the back end cannot take more before some complete.
  virtual bool enqueue(const BlockIo& io) = 0;
  // Starts everything queued since the last call.
  virtual void submit() = 0;
  // Readable (for epoll) while completions are waiting to be reaped.
  virtual int completion_fd() const = 0;
  // Hands each finished operation to `done`, in completion order.
  virtual void reap(const std::function<void(const BlockCompletion&)>& done) = 0;
  // Operations queued or started and not yet reaped.
  virtual uint32_t in_flight() const = 0;
  // Makes every completed write durable now (fdatasync); 0 or -errno.
  virtual int sync_now() = 0;
};

}  // namespace wisp
