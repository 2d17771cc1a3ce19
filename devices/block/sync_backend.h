// The back end used where io_uring is not available (an old kernel, a seccomp filter, EPERM):
// each operation runs at once with plain system calls on the device's worker thread, and its
// completion is reaped through an eventfd like io_uring's.
#pragma once

#include <memory>
#include <vector>

#include "devices/block/block_backend.h"
#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp {

// Runs one operation with system calls: bytes transferred, 0, or -errno.
int64_t run_block_io_now(int fd, const BlockIo& io);

// Completions that are ready at once, announced through an eventfd.
class ReadyCompletions {
 public:
  static Result<ReadyCompletions> create();
  void add(const BlockCompletion& completion) { ready_.push_back(completion); }
  void announce() const;  // signals the eventfd if anything is waiting
  void reap(const std::function<void(const BlockCompletion&)>& done);
  int fd() const { return event_.get(); }
  size_t count() const { return ready_.size(); }

 private:
  explicit ReadyCompletions(Fd event) : event_(std::move(event)) {}
  Fd event_;
  std::vector<BlockCompletion> ready_;
  std::vector<BlockCompletion> reaping_;
};

class SyncBackend final : public BlockBackend {
 public:
  static Result<std::unique_ptr<BlockBackend>> create(Fd fd);

  std::string_view name() const override { return "sync"; }
  bool enqueue(const BlockIo& io) override;
  void submit() override { ready_.announce(); }
  int completion_fd() const override { return ready_.fd(); }
  void reap(const std::function<void(const BlockCompletion&)>& done) override { ready_.reap(done); }
  uint32_t in_flight() const override { return static_cast<uint32_t>(ready_.count()); }
  int sync_now() override;

 private:
  SyncBackend(Fd fd, ReadyCompletions ready) : fd_(std::move(fd)), ready_(std::move(ready)) {}
  Fd fd_;
  ReadyCompletions ready_;
};

}  // namespace wisp
