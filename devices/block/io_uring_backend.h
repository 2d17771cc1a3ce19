// The default disk back end: reads, writes and flushes go through io_uring (liburing), many in
// flight at once, straight between the image and guest memory; completions wake the device's
// worker through an eventfd registered with the ring. Discard and write-zeroes, metadata
// operations, run at once with fallocate and complete through the same path.
#pragma once

#include <liburing.h>

#include <memory>

#include "devices/block/block_backend.h"
#include "devices/block/sync_backend.h"
#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp {

class IoUringBackend final : public BlockBackend {
 public:
  // `depth`: the most operations in flight at once. Fails where io_uring is unavailable (ENOSYS
  // on an old kernel, EPERM under a seccomp filter or io_uring_disabled).
  static Result<std::unique_ptr<BlockBackend>> create(Fd fd, uint32_t depth);
  ~IoUringBackend() override;

  std::string_view name() const override { return "io_uring"; }
  bool enqueue(const BlockIo& io) override;
  void submit() override;
  int completion_fd() const override { return ready_.fd(); }
  void reap(const std::function<void(const BlockCompletion&)>& done) override;
  uint32_t in_flight() const override { return in_ring_ + static_cast<uint32_t>(ready_.count()); }
  int sync_now() override;

 private:
  IoUringBackend(Fd fd, ReadyCompletions ready) : fd_(std::move(fd)), ready_(std::move(ready)) {}

  Fd fd_;
  io_uring ring_{};
  bool ring_ready_ = false;
  // Signalled by the ring for its completions and by ready_ for the immediate ones.
  ReadyCompletions ready_;
  uint32_t in_ring_ = 0;
};

}  // namespace wisp
