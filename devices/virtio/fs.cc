#include "devices/virtio/fs.h"

#include <linux/fuse.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace wisp::virtio {
namespace {

std::vector<uint8_t> fs_config(std::string_view tag) {
  std::vector<uint8_t> config(kFsTagBytes + sizeof(uint32_t), 0);  // the tag is NUL-padded
  std::memcpy(config.data(), tag.data(), std::min(tag.size(), kFsTagBytes));
  uint32_t request_queues = FsDevice::kRequestQueues;
  std::memcpy(config.data() + kFsTagBytes, &request_queues, sizeof(request_queues));
  return config;
}

}  // namespace

Result<void> FsDevice::check_backend(const vhost_user::Frontend& backend) {
  uint64_t missing = kTransportFeatures & ~backend.features();
  if (missing)
    return fail("vhost-user back end {} lacks virtio features {:#x}", backend.name(), missing);
  return {};
}

// No virtio-fs feature bits are offered: VIRTIO_FS_F_NOTIFICATION needs a notification queue
// that QEMU's virtiofsd does not serve.
FsDevice::FsDevice(const GuestMemory& memory, FsDeviceOptions options,
                   vhost_user::Frontend& backend, IrqLine& irq, DeviceWorker& worker)
    : VirtioDevice(memory,
                   Identity{kDeviceIdFs, 0, kQueueCount, kQueueSize, fs_config(options.tag)}, irq,
                   worker),
      options_(std::move(options)),
      backend_(backend) {}

void FsDevice::connect_signals(FsQueueSignals signals, SetWatching set_watching) {
  signals_ = std::move(signals);
  set_watching_ = std::move(set_watching);
}

// On the worker, inside the driver's DRIVER_OK write: the talk with the back end is posted to
// run after it, so that the vCPU does not wait on another process.
void FsDevice::activate(std::vector<std::optional<VirtQueue>> queues) {
  queues_ = std::move(queues);
  if (backend_lost_) return take_over("the back end is gone");
  uint64_t activation = ++activations_;
  worker().post([this, activation] { start_backend(activation); });
}

void FsDevice::start_backend(uint64_t activation) {
  if (activation != activations_ || state_ != Backend::kIdle || backend_lost_) return;
  if (auto handed = hand_over_queues(); !handed) {
    take_over(handed.error().message());
    return;
  }
  state_ = Backend::kServing;
  log::debug("{}: {} serves the queues", options_.name, backend_.name());
}

Result<void> FsDevice::hand_over_queues() {
  TRY(backend_.set_features(driver_features()));
  TRY(backend_.set_memory_table(memory()));
  for (uint16_t index = 0; index < queues_.size(); ++index) {
    if (!queues_[index]) continue;
    const QueueLayout& layout = queues_[index]->layout();
    TRY(backend_.start_vring(
        memory(), vhost_user::VringSetup{index, layout.size, layout.descriptor_table,
                                         layout.available_ring, layout.used_ring,
                                         signals_.kicks.at(index), signals_.calls.at(index)}));
  }
  return {};
}

// The driver's reset: the guest must see no write into its memory once it returns, so the
// rings are stopped here, on the vCPU's time, each round trip bounded by the reply timeout.
void FsDevice::reset() {
  ++activations_;
  stop_backend();
  if (state_ == Backend::kGone)
    for (int kick : signals_.kicks) set_watching_(kick, false);
  state_ = Backend::kIdle;
  queues_.clear();
}

void FsDevice::shut_down() {
  stop_backend();
}

void FsDevice::stop_backend() {
  if (state_ != Backend::kServing) return;
  state_ = Backend::kIdle;
  for (uint16_t index = 0; index < queues_.size(); ++index) {
    if (!queues_[index]) continue;
    if (auto stopped = backend_.stop_vring(index); !stopped)
      return take_over(fmt::format("stopping queue {}: {}", index, stopped.error().message()));
  }
}

void FsDevice::backend_used_buffers() {
  if (state_ == Backend::kServing) signal_used_buffers();
}

void FsDevice::backend_hung_up() {
  uint8_t byte = 0;
  ssize_t got = ::recv(backend_.socket_fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  set_watching_(backend_.socket_fd(), false);
  // Anything it says unasked breaks the protocol as surely as silence does.
  take_over(got == 0 ? "the back end hung up" : "the back end spoke unasked");
}

void FsDevice::take_over(std::string_view why) {
  if (!backend_lost_)
    log::error("{}: {} ({}); the guest's requests fail with EIO from now on", options_.name, why,
               backend_.name());
  backend_lost_ = true;
  state_ = Backend::kGone;
  if (queues_.empty()) return;  // not activated: the queues are taken when they are
  for (auto& queue : queues_)
    if (queue) queue->resume_from_used_ring();
  for (int kick : signals_.kicks) set_watching_(kick, true);
  // What the back end had not finished waits in the rings: answer it now.
  for (uint16_t index = 0; index < queues_.size(); ++index) process_queue(index);
}

void FsDevice::process_queue(uint16_t queue) {
  if (state_ != Backend::kGone || queue >= queues_.size() || !queues_[queue]) return;
  VirtQueue& ring = *queues_[queue];
  while (true) {
    auto popped = ring.pop(chain_);
    if (!popped) return fail_device(popped.error().message());
    if (!*popped) break;
    fail_request(ring, chain_, queue == 0);
  }
  interrupt_if_needed(ring);
}

// §5.11.6: a request is a FUSE message, the in header first in the readable part; the out header
// goes first in the writable part. The high-priority queue carries FORGETs, which get no reply.
void FsDevice::fail_request(VirtQueue& queue, const DescriptorChain& chain, bool is_hiprio) {
  uint32_t written = 0;
  std::span<const GuestBuffer> buffers = chain.buffers();
  auto writable = std::find_if(buffers.begin(), buffers.end(),
                               [](const GuestBuffer& buffer) { return buffer.device_writable; });
  if (!is_hiprio && !buffers.empty() && !buffers.front().device_writable &&
      writable != buffers.end() && buffers.front().length >= sizeof(fuse_in_header) &&
      writable->length >= sizeof(fuse_out_header)) {
    auto in = memory().read_obj<fuse_in_header>(buffers.front().address);
    fuse_out_header out{};
    out.len = sizeof(out);
    out.error = -EIO;
    out.unique = in ? in->unique : 0;
    if (in && memory().write_obj(writable->address, out)) written = sizeof(out);
  }
  if (auto pushed = queue.push_used(chain.head(), written); !pushed)
    fail_device(pushed.error().message());
}

}  // namespace wisp::virtio
