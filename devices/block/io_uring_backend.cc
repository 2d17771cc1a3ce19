#include "devices/block/io_uring_backend.h"

#include <unistd.h>

#include "vmm/base/log.h"

namespace wisp {

Result<std::unique_ptr<BlockBackend>> IoUringBackend::create(Fd fd, uint32_t depth) {
  ReadyCompletions ready = TRY(ReadyCompletions::create());
  std::unique_ptr<IoUringBackend> backend(new IoUringBackend(std::move(fd), std::move(ready)));
  if (int error = io_uring_queue_init(depth, &backend->ring_, 0); error < 0)
    return fail_errno("io_uring_queue_init", -error);
  backend->ring_ready_ = true;
  if (int error = io_uring_register_eventfd(&backend->ring_, backend->ready_.fd()); error < 0)
    return fail_errno("io_uring_register_eventfd", -error);
  return std::unique_ptr<BlockBackend>(std::move(backend));
}

IoUringBackend::~IoUringBackend() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

bool IoUringBackend::enqueue(const BlockIo& io) {
  if (io.op == BlockOp::kDiscard || io.op == BlockOp::kWriteZeroes) {
    ready_.add({io.tag, run_block_io_now(fd_.get(), io)});
    return true;
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) return false;
  int fd = fd_.get();
  auto count = static_cast<unsigned>(io.buffers.size());
  switch (io.op) {
    case BlockOp::kRead:
      io_uring_prep_readv(sqe, fd, io.buffers.data(), count, io.offset);
      break;
    case BlockOp::kWrite:
      io_uring_prep_writev(sqe, fd, io.buffers.data(), count, io.offset);
      break;
    default:  // kFlush
      io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      break;
  }
  io_uring_sqe_set_data64(sqe, io.tag);
  ++in_ring_;
  return true;
}

void IoUringBackend::submit() {
  ready_.announce();
  while (io_uring_sq_ready(&ring_) > 0) {
    int submitted = io_uring_submit(&ring_);
    if (submitted >= 0 || submitted == -EINTR) continue;
    // The ring holds at most `depth` operations, so its completion queue cannot overflow and
    // the kernel has no reason to refuse; if it does, the requests wait for the next submit.
    log::error("io_uring_submit: {}", std::strerror(-submitted));
    return;
  }
}

void IoUringBackend::reap(const std::function<void(const BlockCompletion&)>& done) {
  ready_.reap(done);
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
    BlockCompletion completion{io_uring_cqe_get_data64(cqe), cqe->res};
    io_uring_cqe_seen(&ring_, cqe);
    --in_ring_;
    done(completion);
  }
}

int IoUringBackend::sync_now() {
  return ::fdatasync(fd_.get()) < 0 ? -errno : 0;
}

}  // namespace wisp
