// The one place that knows where devices live. It hands each device its resources (a port range
// or a virtio-mmio window from layout.h, a GSI, an irqfd, an ioeventfd per queue, a thread of its
// own), puts it on a bus, and records it in the PlatformDescription from which the firmware
// describes the machine (ACPI DSDT, MP table, command line). Devices never learn their address.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/legacy/i8042.h"
#include "devices/legacy/serial.h"
#include "devices/vhost_user/frontend.h"
#include "devices/virtio/block.h"
#include "devices/virtio/virtio_device.h"
#include "firmware/platform.h"
#include "vmm/base/bus.h"
#include "vmm/base/guest_memory.h"
#include "vmm/config.h"
#include "vmm/device_thread.h"
#include "vmm/event_loop.h"
#include "vmm/kvm.h"
#include "vmm/seccomp_filter.h"

namespace wisp {

class DeviceManager {
 public:
  DeviceManager(const KvmVm& vm, const GuestMemory& memory, Bus& port_bus, Bus& mmio_bus)
      : vm_(vm), memory_(memory), port_bus_(port_bus), mmio_bus_(mmio_bus) {}
  ~DeviceManager();
  DeviceManager(const DeviceManager&) = delete;
  DeviceManager& operator=(const DeviceManager&) = delete;

  // A 16550A UART at `port` on interrupt line `gsi`, writing to `output`.
  Result<std::shared_ptr<Serial>> add_serial(uint16_t port, uint32_t gsi, ByteSink& output);
  // The i8042 keyboard controller at 0x60-0x64 with its keyboard on IRQ 1; its reset command
  // stops the VM through `stopper`.
  Result<std::shared_ptr<I8042>> add_i8042(VmStopper& stopper);
  // The pvpanic port, described in the DSDT for the guest's driver.
  Result<void> add_pvpanic(std::shared_ptr<BusDevice> device);
  // A virtio-blk device for `disk`, on its own thread.
  Result<void> add_disk(const DiskConfig& disk);
  // Serves disk `index` (in the order added) from the image at `path` from now on, with the disk's
  // access mode, cache and I/O engine; its capacity becomes the new image's, which a running
  // guest is told of. The image is opened and checked here (this thread may block, and opens
  // files: the main thread's seccomp kind); the swap itself happens on the disk's thread between
  // requests. On failure the disk keeps its image. Any thread, also while the vCPUs run, but not
  // once stop() has begun.
  Result<void> replace_disk(size_t index, const std::string& path);
  // A virtio-net device on a TAP, with up to `cpus` queue pairs, on its own thread.
  Result<void> add_nic(const NetConfig& nic, uint32_t cpus);
  // A virtio-fs device whose queues `backend` serves; its thread relays the back end's
  // interrupts and watches for it going away.
  Result<void> add_fs(const FsConfig& fs, vhost_user::Frontend& backend);
  // A virtio-vsock device listening on `vsock.uds_path`, on its own thread (`wisp-vsock0`),
  // which also serves its host sockets.
  Result<void> add_vsock(const VsockConfig& vsock);

  const PlatformDescription& platform() const { return platform_; }

  // Starts the device threads, each under its kind's seccomp filter (call with the signals the
  // VMM handles blocked).
  Result<void> start(SeccompMode seccomp);
  // Stops every device thread once its device has finished what was in flight and flushed its
  // writable disks. The vCPUs must have stopped first. Idempotent.
  void stop();

 private:
  // A virtio device with what the manager gave it.
  struct VirtioSlot {
    std::string name;
    ThreadKind kind;
    std::unique_ptr<IrqLine> irq;
    std::unique_ptr<DeviceThread> thread;
    std::vector<EventFd> queue_notifiers;
    std::vector<EventFd> backend_calls;  // a vhost-user back end's, one per queue
    std::unique_ptr<virtio::VirtioDevice> device;
  };

  Result<uint64_t> allocate_mmio_window();
  Result<uint32_t> allocate_gsi();
  // Who waits on a queue's notifications: the device's thread, or a vhost-user back end (the
  // thread then watches them only once told to).
  enum class Notified { kByThread, kByBackend };
  // Places `slot.device` in a new window: bus, ioeventfds, description.
  Result<void> attach_virtio(VirtioSlot& slot, uint32_t gsi,
                             Notified notified = Notified::kByThread);
  // A new slot named `name` with an interrupt line and a thread.
  Result<std::unique_ptr<VirtioSlot>> new_virtio_slot(std::string name, ThreadKind kind,
                                                      uint32_t& gsi);

  const KvmVm& vm_;
  const GuestMemory& memory_;
  Bus& port_bus_;
  Bus& mmio_bus_;
  PlatformDescription platform_;
  size_t next_window_ = 0;
  size_t next_gsi_ = 0;
  std::vector<std::unique_ptr<IrqLine>> legacy_irqs_;
  std::vector<std::unique_ptr<VirtioSlot>> virtio_;
  // Each disk, in the order added, with the configuration its image was opened with.
  struct Disk {
    VirtioSlot* slot;
    virtio::BlockDevice* device;
    DiskConfig config;
  };
  std::vector<Disk> disks_;
  std::mutex replace_mutex_;  // one disk swap at a time
  uint32_t disk_count_ = 0;
  uint32_t nic_count_ = 0;
  uint32_t fs_count_ = 0;
  uint32_t vsock_count_ = 0;
};

}  // namespace wisp
