// A virtual machine built from a VmConfig: KVM objects, guest memory, devices on the buses, the
// loaded kernel and one thread per vCPU. run() serves it until it stops and says why.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "devices/legacy/serial.h"
#include "firmware/image_file.h"
#include "vmm/api/vm_control.h"
#include "vmm/base/bus.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/log.h"
#include "vmm/boot_timing.h"
#include "vmm/config.h"
#include "vmm/console_output.h"
#include "vmm/device_manager.h"
#include "vmm/event_loop.h"
#include "vmm/file_shares.h"
#include "vmm/gdb/debug_controller.h"
#include "vmm/gdb/listener.h"
#include "vmm/gdb/server.h"
#include "vmm/kvm.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_pause.h"

namespace wisp {

class Vm final : public VmStopper, public VcpuExitHandler, public api::VmControl {
 public:
  // `timing`, if given, is marked when the first vCPU starts and when the guest stops.
  // `decompressed_kernel`, if given, is the vmlinux of a bzImage kernel, decompressed on the host
  // (host_decompression.h); it must outlive create(). `gdb`, if given, is where a debugger
  // connects (--gdb). `shares` holds the back ends of the config's file systems, if it has any.
  static Result<std::unique_ptr<Vm>> create(const VmConfig& config, BootTiming* timing = nullptr,
                                            const ImageFile* decompressed_kernel = nullptr,
                                            const gdb::Listener* gdb = nullptr,
                                            const FileShares* shares = nullptr);
  ~Vm() override;

  // Runs the vCPUs and the console until the guest or the host stops the VM.
  // `deadline` (CLOCK_MONOTONIC, from --timeout) is one for the whole run: a restarted guest
  // keeps the first boot's.
  Result<StopReason> run(std::optional<std::chrono::steady_clock::time_point> deadline);

  void request_stop(StopReason reason) override;

  // The loop run() serves on the calling thread; others (the API socket) may watch it too.
  EventLoop& event_loop() { return loop_; }

  // api::VmControl, on the thread that called run(), while it runs.
  Result<void> pause() override;
  Result<void> resume() override;
  // Presses and releases Ctrl+Alt+Del on the guest's i8042 keyboard (Firecracker's
  // SendCtrlAltDel); fails only when the keyboard's queue has no room. Any thread.
  Result<void> send_ctrl_alt_del() override;
  // Serves disk `index` (the config's order: --disk, or Firecracker's drives with the root drive
  // first) from the image at `path` (Firecracker's PATCH /drives/{id} path_on_host): same access
  // mode and I/O engine, the new image's capacity, which the guest is told of. The calling thread
  // opens the image and may block; on failure the disk keeps its image. Any thread while the VM
  // runs (a thread of the main seccomp kind, since it opens files), not during its destruction.
  Result<void> replace_disk(size_t index, const std::string& path) override;
  void stop() override { request_stop({StopKind::kUserQuit}); }

  // The descriptors that keep KVM's VM alive: the VM's and every vCPU's.
  std::vector<int> kvm_fds() const;

  void port_read(uint16_t port, std::span<uint8_t> data) override;
  void port_write(uint16_t port, std::span<const uint8_t> data) override;
  void mmio_read(uint64_t address, std::span<uint8_t> data) override;
  void mmio_write(uint64_t address, std::span<const uint8_t> data) override;

 private:
  Vm(const VmConfig& config, KvmSystem kvm, Fd vm_fd, EventLoop loop)
      : config_(config), kvm_(std::move(kvm)), vm_(std::move(vm_fd)), loop_(std::move(loop)) {}

  Result<void> check_capabilities() const;
  Result<void> create_irqchip();
  Result<void> restrict_msrs();
  Result<void> create_shared_memory_file();
  Result<void> create_memory();
  Result<void> create_devices();
  Result<void> create_vcpus();
  Result<void> create_debugger(const gdb::Listener& listener);
  Result<void> load_kernel(const ImageFile* decompressed_kernel);
  Result<void> add_serial_port(const SerialConfig& config, uint16_t port, uint32_t irq);
  std::optional<StopReason> write_remaining_output(const StopReason& reason);
  bool all_output_written() const;
  void vcpu_thread(Vcpu& vcpu);
  Result<void> start_threads();
  void stop_vcpus();
  void on_guest_panic();

  VmConfig config_;
  BootTiming* timing_ = nullptr;
  const FileShares* shares_ = nullptr;
  KvmSystem kvm_;
  KvmVm vm_;
  EventLoop loop_;
  GuestMemory memory_;
  Bus port_bus_;
  Bus mmio_bus_;

  std::vector<std::unique_ptr<SerialOutput>> serial_outputs_;  // COM1's, then COM2's
  std::unique_ptr<DeviceManager> devices_;
  std::shared_ptr<Serial> console_;  // the UART on standard output, which takes host input
  std::shared_ptr<I8042> i8042_;

  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::jthread> threads_;
  CpuEntry entry_;
  // With --gdb: what holds and steps the vCPUs, and the stub that serves gdb.
  std::unique_ptr<gdb::DebugController> debugger_;
  std::unique_ptr<gdb::Server> gdb_server_;

  // pause() holds the vCPUs here, and keeps the guest's clock from advancing while they are.
  VcpuPause pause_;
  bool paused_ = false;
  kvm_clock_data paused_clock_{};

  std::atomic<bool> stopping_{false};
  std::atomic<bool> panic_logged_{false};
  std::mutex stop_mutex_;
  std::optional<StopReason> stop_reason_;
  // After the guest stopped, while its output is written: a timeout or stop signal that cut it off.
  bool writing_remaining_output_ = false;
  std::optional<StopReason> output_cut_off_;

  // Unhandled accesses are logged once per address, for the first few addresses.
  enum class AccessSpace { kPort, kMmio };
  void log_unhandled(AccessSpace space, uint64_t address, size_t size, bool write);
  std::mutex unhandled_mutex_;
  std::set<std::pair<AccessSpace, uint64_t>> unhandled_seen_;
};

}  // namespace wisp
