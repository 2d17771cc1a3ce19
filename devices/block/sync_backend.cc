#include "devices/block/sync_backend.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/block/disk_image.h"

namespace wisp {
namespace {

int64_t transfer(int fd, const BlockIo& io) {
  ssize_t done;
  do {
    done = io.op == BlockOp::kRead
               ? ::preadv(fd, io.buffers.data(), static_cast<int>(io.buffers.size()),
                          static_cast<off_t>(io.offset))
               : ::pwritev(fd, io.buffers.data(), static_cast<int>(io.buffers.size()),
                           static_cast<off_t>(io.offset));
  } while (done < 0 && errno == EINTR);
  // A short transfer is returned as it is: the device continues it, as it does io_uring's.
  return done < 0 ? -errno : done;
}

}  // namespace

int64_t run_block_io_now(int fd, const BlockIo& io) {
  switch (io.op) {
    case BlockOp::kRead:
    case BlockOp::kWrite:
      return transfer(fd, io);
    case BlockOp::kFlush:
      return ::fdatasync(fd) < 0 ? -errno : 0;
    case BlockOp::kDiscard:
      return discard_file_range(fd, io.offset, io.length);
    case BlockOp::kWriteZeroes:
      return zero_file_range(fd, io.offset, io.length);
  }
  return -EINVAL;
}

Result<ReadyCompletions> ReadyCompletions::create() {
  Fd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event.valid()) return fail_errno("eventfd");
  return ReadyCompletions(std::move(event));
}

void ReadyCompletions::announce() const {
  if (ready_.empty()) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof(one));
}

void ReadyCompletions::reap(const std::function<void(const BlockCompletion&)>& done) {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(event_.get(), &count, sizeof(count));
  // `done` may queue more work (a short transfer continued): that goes into ready_ afresh.
  reaping_.swap(ready_);
  for (const BlockCompletion& completion : reaping_) done(completion);
  reaping_.clear();
  announce();
}

Result<std::unique_ptr<BlockBackend>> SyncBackend::create(Fd fd) {
  ReadyCompletions ready = TRY(ReadyCompletions::create());
  return std::unique_ptr<BlockBackend>(new SyncBackend(std::move(fd), std::move(ready)));
}

bool SyncBackend::enqueue(const BlockIo& io) {
  ready_.add({io.tag, run_block_io_now(fd_.get(), io)});
  return true;
}

int SyncBackend::sync_now() {
  return ::fdatasync(fd_.get()) < 0 ? -errno : 0;
}

}  // namespace wisp
