#include "vmm/device_manager.h"

#include "devices/block/io_uring_backend.h"
#include "devices/block/sync_backend.h"
#include "devices/net/tap.h"
#include "devices/virtio/block.h"
#include "devices/virtio/fs.h"
#include "devices/virtio/mmio_transport.h"
#include "devices/virtio/net.h"
#include "devices/virtio/vsock.h"
#include "firmware/layout.h"

namespace wisp {
namespace {

// A level-triggered line through KVM_IRQ_LINE (the legacy devices on the ISA IRQs).
class KvmIrqLine final : public IrqLine {
 public:
  KvmIrqLine(const KvmVm& vm, uint32_t gsi) : vm_(vm), gsi_(gsi) {}
  void set_level(bool high) override {
    if (auto result = vm_.set_irq_line(gsi_, high); !result)
      log::error("raising IRQ {}: {}", gsi_, result.error().message());
  }

 private:
  const KvmVm& vm_;
  uint32_t gsi_;
};

// An edge-triggered line through an irqfd: a write to the eventfd makes KVM raise and lower the
// GSI without the VMM entering the kernel's irqchip code itself.
//
// Edge, not level with a resample fd (as Firecracker and Cloud Hypervisor do too): the state that
// matters lives in the transport's InterruptStatus, which the guest's handler reads and
// acknowledges before it walks every used ring, so an edge per new event loses nothing, and no
// resample round trip is needed on each end of interrupt. The ACPI and MP tables say edge,
// active high, so the I/O APIC pin is programmed to match.
class IrqfdLine final : public IrqLine {
 public:
  explicit IrqfdLine(EventFd event) : event_(std::move(event)) {}
  void set_level(bool high) override {
    if (high) event_.signal();
  }
  void pulse() override { event_.signal(); }
  int fd() const { return event_.fd(); }

 private:
  EventFd event_;
};

struct OpenedDisk {
  std::unique_ptr<BlockBackend> backend;
  uint64_t size_bytes;
};

// The most requests a disk has in flight: every queue full.
uint32_t disk_depth(const DiskConfig& disk) {
  return uint32_t{disk.queues} * virtio::BlockDevice::kQueueSize;
}

Result<OpenedDisk> open_disk(const DiskConfig& disk, uint32_t depth) {
  DiskImage image = TRY(DiskImage::open(disk.path, disk.access, disk.cache));
  if (disk.io == DiskIo::kIoUring) {
    Fd copy(::dup(image.fd.get()));  // shares the open file, and so its lock
    if (!copy.valid()) return fail_errno("dup");
    auto backend = IoUringBackend::create(std::move(copy), depth);
    if (backend) return OpenedDisk{std::move(*backend), image.size_bytes};
    log::info("disk {}: {}; using synchronous I/O instead", disk.path, backend.error().message());
  }
  return OpenedDisk{TRY(SyncBackend::create(std::move(image.fd))), image.size_bytes};
}

}  // namespace

DeviceManager::~DeviceManager() {
  stop();
}

Result<uint64_t> DeviceManager::allocate_mmio_window() {
  uint64_t address = layout::kVirtioMmioStart + next_window_ * layout::kVirtioMmioWindowBytes;
  if (address + layout::kVirtioMmioWindowBytes > layout::kVirtioMmioEnd)
    return fail("no virtio-mmio window left for another device");
  ++next_window_;
  return address;
}

Result<uint32_t> DeviceManager::allocate_gsi() {
  if (next_gsi_ >= std::size(layout::kDeviceGsis))
    return fail("no interrupt line left for another device ({} in use)", next_gsi_);
  return layout::kDeviceGsis[next_gsi_++];
}

Result<void> DeviceManager::add_pvpanic(std::shared_ptr<BusDevice> device) {
  TRY(port_bus_.add(layout::kPvPanicPort, 1, std::move(device), "pvpanic"));
  platform_.devices.push_back({PlatformDeviceKind::kPvPanic, layout::kPvPanicPort, 1, 0});
  return {};
}

Result<std::shared_ptr<Serial>> DeviceManager::add_serial(uint16_t port, uint32_t gsi,
                                                          ByteSink& output) {
  legacy_irqs_.push_back(std::make_unique<KvmIrqLine>(vm_, gsi));
  auto serial = std::make_shared<Serial>(*legacy_irqs_.back(), output);
  TRY(port_bus_.add(port, layout::kUartPortCount, serial, fmt::format("UART at {:#x}", port)));
  platform_.devices.push_back({PlatformDeviceKind::kSerial8250, port, layout::kUartPortCount, gsi});
  return serial;
}

Result<std::shared_ptr<I8042>> DeviceManager::add_i8042(VmStopper& stopper) {
  legacy_irqs_.push_back(std::make_unique<KvmIrqLine>(vm_, layout::kI8042KeyboardIrq));
  auto i8042 = std::make_shared<I8042>(stopper, *legacy_irqs_.back());
  TRY(port_bus_.add(layout::kI8042DataPort, I8042::kPortCount, i8042, "i8042"));
  platform_.devices.push_back({PlatformDeviceKind::kI8042, layout::kI8042DataPort,
                               I8042::kPortCount, layout::kI8042KeyboardIrq});
  return i8042;
}

Result<std::unique_ptr<DeviceManager::VirtioSlot>> DeviceManager::new_virtio_slot(std::string name,
                                                                                  ThreadKind kind,
                                                                                  uint32_t& gsi) {
  auto slot = std::make_unique<VirtioSlot>();
  slot->name = std::move(name);
  slot->kind = kind;
  gsi = TRY(allocate_gsi());
  auto irq = std::make_unique<IrqfdLine>(TRY(EventFd::create()));
  TRY_CONTEXT(vm_.register_irqfd(gsi, irq->fd()), slot->name);
  slot->irq = std::move(irq);
  slot->thread = TRY(DeviceThread::create("wisp-" + slot->name));
  return slot;
}

Result<void> DeviceManager::add_disk(const DiskConfig& disk) {
  uint32_t gsi = 0;
  std::unique_ptr<VirtioSlot> slot =
      TRY(new_virtio_slot(fmt::format("blk{}", disk_count_), ThreadKind::kBlockDevice, gsi));

  OpenedDisk opened = TRY_CONTEXT(open_disk(disk, disk_depth(disk)), slot->name);
  virtio::BlockDeviceOptions options{
      slot->name,   opened.size_bytes, disk.access == DiskAccess::kReadOnly,
      disk.discard, disk.queues,       disk.serial};
  auto device = std::make_unique<virtio::BlockDevice>(
      memory_, std::move(options), std::move(opened.backend), *slot->irq, *slot->thread);
  virtio::BlockDevice* block = device.get();
  TRY(slot->thread->watch(block->completion_fd(), [block] { block->complete_io(); }));
  slot->device = std::move(device);
  TRY(attach_virtio(*slot, gsi));
  log::debug("{}: {} ({} bytes, {} I/O)", slot->name, disk.path, opened.size_bytes,
             block->backend().name());
  disks_.push_back({slot.get(), block, disk});
  virtio_.push_back(std::move(slot));
  ++disk_count_;
  return {};
}

Result<void> DeviceManager::replace_disk(size_t index, const std::string& path) {
  std::lock_guard lock(replace_mutex_);
  if (index >= disks_.size())
    return fail("replacing disk {}: there are {} disks", index, disks_.size());
  Disk& disk = disks_[index];
  DiskConfig config = disk.config;
  config.path = path;
  OpenedDisk opened = TRY_CONTEXT(open_disk(config, disk_depth(config)), disk.slot->name);
  DeviceThread& thread = *disk.slot->thread;
  virtio::BlockDevice* block = disk.device;
  auto move_watch = [&thread, block](int old_fd, int new_fd) -> Result<void> {
    TRY(thread.watch(new_fd, [block] { block->complete_io(); }));
    thread.unwatch(old_fd);
    return {};
  };
  TRY_CONTEXT(block->replace_backend(std::move(opened.backend), opened.size_bytes, move_watch),
              fmt::format("{}: replacing {} with {}", disk.slot->name, disk.config.path, path));
  log::info("{}: now {} ({} bytes, {} I/O)", disk.slot->name, path, opened.size_bytes,
            block->backend().name());
  disk.config = std::move(config);
  return {};
}

Result<void> DeviceManager::add_nic(const NetConfig& nic, uint32_t cpus) {
  uint32_t gsi = 0;
  std::unique_ptr<VirtioSlot> slot =
      TRY(new_virtio_slot(fmt::format("net{}", nic_count_), ThreadKind::kNetDevice, gsi));
  // One queue pair per vCPU, as the guest's driver uses no more.
  auto pairs = static_cast<uint16_t>(std::min<uint32_t>(nic.queues, cpus));
  std::unique_ptr<Tap> tap =
      TRY_CONTEXT(nic.fd >= 0 ? Tap::adopt(nic.fd) : Tap::open(nic.tap, pairs), slot->name);
  Tap* backend = tap.get();
  virtio::NetDeviceOptions options{slot->name, nic.mac.value_or(mac_address_for(tap->name())),
                                   tap->mtu()};
  log::debug("{}: tap {}{} ({} queue pairs, MTU {}, receive offloads {:#x}), MAC {}", slot->name,
             tap->name(), tap->created() ? " (created)" : "", tap->queue_pairs(), tap->mtu(),
             tap->supported_receive_offloads(), format_mac_address(options.mac));
  DeviceThread* thread = slot->thread.get();
  auto watch = [thread, backend, name = slot->name](uint16_t pair, bool on) {
    if (auto set = thread->set_watching(backend->receive_fd(pair), on); !set)
      log::error("{}: {}", name, set.error().message());
  };
  auto device = std::make_unique<virtio::NetDevice>(memory_, std::move(options), std::move(tap),
                                                    *slot->irq, *thread, std::move(watch));
  virtio::NetDevice* net = device.get();
  for (uint16_t pair = 0; pair < backend->queue_pairs(); ++pair) {
    int fd = backend->receive_fd(pair);
    TRY(thread->watch(fd, [net, pair] { net->receive_ready(pair); }));
    TRY(thread->set_watching(fd, false));  // until the driver has receive buffers
  }
  slot->device = std::move(device);
  TRY(attach_virtio(*slot, gsi));
  virtio_.push_back(std::move(slot));
  ++nic_count_;
  return {};
}

Result<void> DeviceManager::add_fs(const FsConfig& fs, vhost_user::Frontend& backend) {
  static_assert(kMaximumFsTagBytes == virtio::kFsTagBytes);
  TRY(virtio::FsDevice::check_backend(backend));
  uint32_t gsi = 0;
  std::unique_ptr<VirtioSlot> slot =
      TRY(new_virtio_slot(fmt::format("fs{}", fs_count_), ThreadKind::kFsDevice, gsi));
  auto device = std::make_unique<virtio::FsDevice>(
      memory_, virtio::FsDeviceOptions{slot->name, fs.tag}, backend, *slot->irq, *slot->thread);
  virtio::FsDevice* fs_device = device.get();
  slot->device = std::move(device);
  TRY(attach_virtio(*slot, gsi, Notified::kByBackend));

  DeviceThread* thread = slot->thread.get();
  virtio::FsQueueSignals signals;
  for (uint16_t queue = 0; queue < fs_device->queue_count(); ++queue)
    slot->backend_calls.push_back(TRY(EventFd::create()));
  for (uint16_t queue = 0; queue < fs_device->queue_count(); ++queue) {
    EventFd& call = slot->backend_calls[queue];  // the vector no longer grows
    signals.kicks.push_back(slot->queue_notifiers[queue].fd());
    signals.calls.push_back(call.fd());
    TRY(thread->watch(call.fd(), [fs_device, &call] {
      call.drain();
      fs_device->backend_used_buffers();
    }));
  }
  TRY(thread->watch(backend.socket_fd(), [fs_device] { fs_device->backend_hung_up(); }));
  fs_device->connect_signals(std::move(signals), [thread, name = slot->name](int fd, bool on) {
    if (auto set = thread->set_watching(fd, on); !set)
      log::error("{}: {}", name, set.error().message());
  });
  log::debug("{}: tag {}, served by {}", slot->name, fs.tag, backend.name());
  virtio_.push_back(std::move(slot));
  ++fs_count_;
  return {};
}

Result<void> DeviceManager::add_vsock(const VsockConfig& vsock) {
  uint32_t gsi = 0;
  std::unique_ptr<VirtioSlot> slot =
      TRY(new_virtio_slot(fmt::format("vsock{}", vsock_count_), ThreadKind::kVsockDevice, gsi));
  std::unique_ptr<virtio::VsockDevice> device = TRY(virtio::VsockDevice::create(
      memory_, virtio::VsockDeviceOptions{slot->name, vsock.guest_cid, vsock.uds_path}, *slot->irq,
      *slot->thread));
  virtio::VsockDevice* vsock_device = device.get();
  TRY(slot->thread->watch(vsock_device->host_events_fd(),
                          [vsock_device] { vsock_device->process_host_events(); }));
  slot->device = std::move(device);
  TRY(attach_virtio(*slot, gsi));
  log::debug("{}: guest CID {}, listening on {}", slot->name, vsock.guest_cid, vsock.uds_path);
  virtio_.push_back(std::move(slot));
  ++vsock_count_;
  return {};
}

Result<void> DeviceManager::attach_virtio(VirtioSlot& slot, uint32_t gsi, Notified notified) {
  uint64_t window = TRY(allocate_mmio_window());
  virtio::VirtioDevice& device = *slot.device;
  for (uint16_t queue = 0; queue < device.queue_count(); ++queue)
    slot.queue_notifiers.push_back(TRY(EventFd::create()));
  for (uint16_t queue = 0; queue < device.queue_count(); ++queue) {
    EventFd& notifier = slot.queue_notifiers[queue];  // the vector no longer grows
    // KVM signals the notifier when the guest writes this queue's index to QueueNotify.
    TRY_CONTEXT(
        vm_.register_ioeventfd(window + virtio::mmio::kQueueNotify, 4, queue, notifier.fd()),
        slot.name);
    TRY(slot.thread->watch(notifier.fd(), [&device, &notifier, queue] {
      notifier.drain();
      device.notify_queue(queue);
    }));
    if (notified == Notified::kByBackend) TRY(slot.thread->set_watching(notifier.fd(), false));
  }
  auto transport = std::make_shared<virtio::MmioTransport>(device, [&slot](uint16_t queue) {
    // A notification KVM did not catch: deliver it the way the ioeventfd would have.
    slot.queue_notifiers[queue].signal();
  });
  TRY(mmio_bus_.add(window, layout::kVirtioMmioWindowBytes, transport, slot.name));
  platform_.devices.push_back({PlatformDeviceKind::kVirtioMmio, window,
                               static_cast<uint32_t>(layout::kVirtioMmioWindowBytes), gsi});
  return {};
}

Result<void> DeviceManager::start(SeccompMode seccomp) {
  for (auto& slot : virtio_) {
    ThreadKind kind = slot->kind;
    TRY(slot->thread->start([kind, seccomp] { return install_seccomp_filter(kind, seccomp); }));
  }
  return {};
}

void DeviceManager::stop() {
  for (auto& slot : virtio_) {
    virtio::VirtioDevice& device = *slot->device;
    slot->thread->stop([&device] { device.shut_down(); });
  }
}

}  // namespace wisp
