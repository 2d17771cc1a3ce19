#include "vmm/vm.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <system_error>

#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/debug_exit.h"
#include "devices/legacy/fw_cfg.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/null_device.h"
#include "devices/legacy/pvpanic.h"
#include "firmware/kernel_loader.h"
#include "firmware/layout.h"
#include "firmware/memory_map.h"
#include "vmm/base/signal_stack.h"
#include "vmm/console.h"
#include "vmm/cpuid.h"
#include "vmm/msr_policy.h"
#include "vmm/seccomp_filter.h"

namespace wisp {
namespace {

constexpr uint16_t kPostCodePort = 0x80;
constexpr size_t kMaxUnhandledAddressesLogged = 32;

// A timerfd that becomes readable once, at `deadline` (steady_clock is CLOCK_MONOTONIC), or at
// once if it has passed.
Result<Fd> start_timeout_timer(std::chrono::steady_clock::time_point deadline) {
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer.valid()) return fail_errno("timerfd_create");
  auto since_epoch =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  itimerspec when{};
  when.it_value.tv_sec = since_epoch.count() / 1'000'000'000;
  when.it_value.tv_nsec = since_epoch.count() % 1'000'000'000;
  if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
  if (::timerfd_settime(timer.get(), TFD_TIMER_ABSTIME, &when, nullptr) < 0)
    return fail_errno("timerfd_settime");
  return timer;
}

}  // namespace

Result<std::unique_ptr<Vm>> Vm::create(const VmConfig& config, BootTiming* timing,
                                       const ImageFile* decompressed_kernel,
                                       const gdb::Listener* gdb, const FileShares* shares) {
  KvmSystem kvm = TRY(KvmSystem::open());
  Fd vm_fd = TRY(kvm.create_vm());
  EventLoop loop = TRY(EventLoop::create());
  std::unique_ptr<Vm> vm(new Vm(config, std::move(kvm), std::move(vm_fd), std::move(loop)));
  vm->timing_ = timing;
  vm->shares_ = shares;
  TRY(vm->check_capabilities());
  // The order saves SRCU grace periods, which each of these waits for: quick on a VM whose SRCU
  // is idle, 3 to 20 ms right after another. The MSR filter, then memory (the irqchip and PIT
  // leave a grace period in progress that a memslot would wait out).
  TRY(vm->restrict_msrs());
  TRY(vm->create_memory());
  TRY(vm->create_irqchip());
  TRY(vm->create_devices());
  TRY(vm->load_kernel(decompressed_kernel));
  TRY(vm->create_vcpus());
  if (gdb) TRY(vm->create_debugger(*gdb));
  return vm;
}

Vm::~Vm() {
  stop_vcpus();
  if (devices_) devices_->stop();
}

Result<void> Vm::check_capabilities() const {
  constexpr std::pair<long, const char*> kRequired[] = {
      {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
      {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
      {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
      {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
      {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
      {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
      {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
      {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
      {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
  };
  for (auto [capability, name] : kRequired) TRY(kvm_.require(capability, name));
  int max_vcpus = kvm_.check(KVM_CAP_MAX_VCPUS);
  if (max_vcpus <= 0) max_vcpus = kvm_.check(KVM_CAP_NR_VCPUS);
  if (max_vcpus > 0 && config_.cpus > static_cast<uint32_t>(max_vcpus))
    return fail_usage("--cpus {} is more than KVM allows on this host ({})", config_.cpus,
                      max_vcpus);
  return {};
}

Result<void> Vm::create_irqchip() {
  uint64_t identity_map = layout::kIdentityMapPageAddress;
  TRY(checked_ioctl(vm_.fd(), KVM_SET_IDENTITY_MAP_ADDR, &identity_map,
                    "KVM_SET_IDENTITY_MAP_ADDR"));
  TRY(checked_ioctl(vm_.fd(), KVM_SET_TSS_ADDR, layout::kTssAddress, "KVM_SET_TSS_ADDR"));
  TRY(checked_ioctl(vm_.fd(), KVM_CREATE_IRQCHIP, 0ul, "KVM_CREATE_IRQCHIP"));
  kvm_pit_config pit{};  // flags 0: KVM also serves the speaker port 0x61
  TRY(checked_ioctl(vm_.fd(), KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2"));
  return {};
}

// The MSR policy (msr_policy.h). A kernel without MSR filters (before 5.10) leaves it to KVM,
// which refuses the MSRs of features out of the guest's CPUID by itself.
Result<void> Vm::restrict_msrs() {
  if (kvm_.check(KVM_CAP_X86_MSR_FILTER) <= 0) {
    log::debug("KVM has no MSR filter (KVM_CAP_X86_MSR_FILTER); MSRs are KVM's alone");
    return {};
  }
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  for (const DeniedMsrRange& range : kDeniedMsrs) ranges.emplace_back(range.first, range.count);
  TRY(vm_.deny_msrs(ranges));
  if (kvm_.check(KVM_CAP_X86_USER_SPACE_MSR) > 0) TRY(vm_.exit_on_denied_msrs());
  return {};
}

// Guest RAM another process can map (virtio-fs's back end): one memfd holds every range.
Result<void> Vm::create_shared_memory_file() {
  Fd file(::memfd_create("wisp-guest-ram", MFD_CLOEXEC));
  if (!file.valid()) return fail_errno("memfd_create for shared guest memory");
  if (::ftruncate(file.get(), static_cast<off_t>(config_.memory_bytes)) != 0)
    return fail_errno(
        fmt::format("sizing shared guest memory to {} MiB", config_.memory_bytes >> 20));
  memory_.set_shared_file(std::move(file));
  return {};
}

Result<void> Vm::create_memory() {
  if (uses_shared_memory(config_)) TRY(create_shared_memory_file());
  uint32_t slot = 0;
  uint64_t file_offset = 0;
  for (const RamRange& range : ram_ranges(config_.memory_bytes)) {
    Mapping mapping =
        TRY_CONTEXT(Mapping::guest_ram(range.size, range.start == 0 ? Mapping::kHugePage : 0,
                                       memory_.shared_file(), file_offset),
                    fmt::format("allocating {} MiB of guest memory", range.size >> 20));
    kvm_userspace_memory_region region{};
    region.slot = slot++;
    region.guest_phys_addr = range.start;
    region.memory_size = range.size;
    region.userspace_addr = reinterpret_cast<uint64_t>(mapping.data());
    TRY(checked_ioctl(vm_.fd(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION"));
    TRY(memory_.add_region(range.start, std::move(mapping), file_offset));
    file_offset += range.size;
  }
  return {};
}

// A UART and the host side of its output. Host input goes to the port that writes to standard
// output (config validation lets only one do so).
Result<void> Vm::add_serial_port(const SerialConfig& config, uint16_t port, uint32_t irq) {
  serial_outputs_.push_back(TRY(SerialOutput::open(config, loop_, *this)));
  SerialOutput& output = *serial_outputs_.back();
  std::shared_ptr<Serial> serial = TRY(devices_->add_serial(port, irq, output.sink()));
  for (const auto& buffered : output.outputs())
    buffered->set_room_callback([uart = serial.get()] { uart->transmit_room_available(); });
  if (config.mode == SerialMode::kStdio || config.mode == SerialMode::kTee) console_ = serial;
  return {};
}

Result<void> Vm::create_devices() {
  devices_ = std::make_unique<DeviceManager>(vm_, memory_, port_bus_, mmio_bus_);
  TRY(add_serial_port(config_.serial, layout::kCom1Port, layout::kCom1Irq));
  if (config_.serial2) TRY(add_serial_port(*config_.serial2, layout::kCom2Port, layout::kCom2Irq));
  i8042_ = TRY(devices_->add_i8042(*this));
  TRY(port_bus_.add(layout::kDebugExitPort, layout::kDebugExitPortCount,
                    std::make_shared<DebugExit>(*this), "debug-exit"));
  FwCfgMachine machine{config_.memory_bytes, config_.cpus, config_.cmdline,
                       ram_ranges(config_.memory_bytes)};
  TRY(port_bus_.add(layout::kFwCfgSelectorPort, layout::kFwCfgPortCount,
                    std::make_shared<FwCfg>(machine), "fw_cfg"));
  TRY(port_bus_.add(layout::kAcpiSleepControlPort, AcpiPowerManagement::kPortCount,
                    std::make_shared<AcpiPowerManagement>(*this, layout::kAcpiS5SleepType,
                                                          layout::kAcpiResetValue),
                    "ACPI PM"));
  TRY(port_bus_.add(kPostCodePort, 1, std::make_shared<NullDevice>(), "POST code"));
  TRY(devices_->add_pvpanic(std::make_shared<PvPanic>([this] { on_guest_panic(); })));
  for (const DiskConfig& disk : config_.disks) TRY(devices_->add_disk(disk));
  for (const NetConfig& nic : config_.nics) TRY(devices_->add_nic(nic, config_.cpus));
  for (size_t i = 0; i < config_.filesystems.size(); ++i) {
    if (!shares_) return fail("file system {} has no back end", config_.filesystems[i].tag);
    TRY(devices_->add_fs(config_.filesystems[i], shares_->backend(i)));
  }
  if (config_.vsock) TRY(devices_->add_vsock(*config_.vsock));
  return {};
}

Result<void> Vm::load_kernel(const ImageFile* decompressed_kernel) {
  BootConfig boot{config_.kernel_path,  config_.initrd_paths, config_.cmdline,
                  config_.memory_bytes, config_.cpus,         config_.kernel_format,
                  config_.raw,          devices_->platform(), decompressed_kernel};
  // Kernels find virtio-mmio devices in the DSDT; one booted with acpi=off finds them on the
  // command line instead (never both: a kernel that has both routes would probe each twice).
  if (cmdline_disables_acpi(boot.cmdline)) {
    std::string devices = virtio_mmio_cmdline(boot.platform);
    if (!devices.empty()) boot.cmdline += " " + devices;
  }
  entry_ = TRY(wisp::load_kernel(memory_, boot));
  return {};
}

Result<void> Vm::create_vcpus() {
  size_t run_size = TRY(kvm_.vcpu_mmap_size());
  std::vector<kvm_cpuid_entry2> supported = TRY(kvm_.supported_cpuid());
  bool tsc_deadline = kvm_.check(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  for (uint32_t index = 0; index < config_.cpus; ++index) {
    std::unique_ptr<Vcpu> vcpu = TRY(Vcpu::create(vm_.fd(), index, run_size));
    TRY(vcpu->set_cpuid(vcpu_cpuid(supported, {index, config_.cpus, tsc_deadline})));
    TRY(vcpu->set_boot_state());
    // Other vCPUs wait in KVM for the INIT/SIPI the guest sends them.
    if (index == 0) TRY(vcpu->set_entry(entry_));
    vcpus_.push_back(std::move(vcpu));
  }
  return {};
}

Result<void> Vm::create_debugger(const gdb::Listener& listener) {
  std::vector<Vcpu*> vcpus;
  for (auto& vcpu : vcpus_) vcpus.push_back(vcpu.get());
  int supported = kvm_.check(KVM_CAP_SET_GUEST_DEBUG2);
  debugger_ = std::make_unique<gdb::DebugController>(vcpus, config_.gdb_wait,
                                                     supported > 0 ? supported : 0);
  gdb_server_ = std::make_unique<gdb::Server>(listener.fd(), vcpus, memory_, *debugger_, *this,
                                              TRY(EventFd::create()), TRY(EventFd::create()));
  return {};
}

Result<StopReason> Vm::run(std::optional<std::chrono::steady_clock::time_point> deadline) {
  // The stop signals arrive through a signalfd; every thread created below inherits the mask.
  Fd signals = TRY(take_stop_signals());
  TRY(loop_.watch(signals.get(), [this] { request_stop({StopKind::kUserQuit}); }));

  std::unique_ptr<RawTerminal> terminal;
  std::unique_ptr<ConsoleInput> input;
  if (console_) {
    terminal = RawTerminal::enter(STDIN_FILENO);
    input = std::make_unique<ConsoleInput>(STDIN_FILENO, *console_, *this, loop_,
                                           TRY(EventFd::create()));
    TRY(input->start());
  }

  Fd timer;
  if (deadline) {
    timer = TRY(start_timeout_timer(*deadline));
    TRY(loop_.watch(timer.get(), [this] { request_stop({StopKind::kTimeout}); }));
  }

  Vcpu::install_kick_signal();
  if (Result<void> started = start_threads(); !started) {
    // What started stops again; the error ends the run (exit status 10).
    stop_vcpus();
    devices_->stop();
    if (console_) console_->set_receive_space_callback(nullptr);
    return std::unexpected(started.error());
  }
  // The main thread's filter comes last: the threads started above must not inherit it.
  if (auto sandboxed = install_seccomp_filter(ThreadKind::kMain, config_.seccomp); !sandboxed)
    request_stop({StopKind::kError, 0, sandboxed.error().message()});
  Result<void> served = loop_.run();
  if (timing_) timing_->mark(BootTiming::Phase::kStopped);
  log::debug("event loop ended; stopping the vCPUs");
  stop_vcpus();
  log::debug("vCPUs stopped; stopping the devices");
  devices_->stop();
  if (console_) console_->set_receive_space_callback(nullptr);
  if (!served) return std::unexpected(served.error());
  StopReason reason = [this] {
    std::lock_guard lock(stop_mutex_);
    return *stop_reason_;
  }();
  if (std::optional<StopReason> cut_off = write_remaining_output(reason)) return *cut_off;
  return reason;
}

// A guest that stopped on its own has its output written out before Wisp exits, however slow the
// reader, unless the deadline passes or a stop signal comes first: then that is the run's end. A
// run stopped by the host writes what the readers take at once. Bytes left are dropped either way.
std::optional<StopReason> Vm::write_remaining_output(const StopReason& reason) {
  bool guest_stopped = reason.kind != StopKind::kTimeout && reason.kind != StopKind::kUserQuit &&
                       reason.kind != StopKind::kError;
  if (guest_stopped && !all_output_written()) {
    log::debug("writing the guest's remaining console output");
    {
      std::lock_guard lock(stop_mutex_);
      writing_remaining_output_ = true;
    }
    for (auto& port : serial_outputs_)
      for (const auto& output : port->outputs())
        output->set_room_callback([this] {
          if (all_output_written()) loop_.quit();
        });
    if (Result<void> served = loop_.run(); !served) log::error("{}", served.error().message());
  }
  for (auto& port : serial_outputs_) {
    for (const auto& output : port->outputs()) {
      output->flush();
      if (uint64_t dropped = output->dropped())
        log::info("{} bytes the guest sent to {} while the UART was busy were dropped", dropped,
                  output->name());
    }
  }
  if (output_cut_off_ && output_cut_off_->kind == StopKind::kTimeout)
    output_cut_off_->detail =
        "the guest stopped, but not all its output was read before the timeout";
  return output_cut_off_;
}

bool Vm::all_output_written() const {
  for (const auto& port : serial_outputs_)
    for (const auto& output : port->outputs())
      if (!output->empty()) return false;
  return true;
}

void Vm::vcpu_thread(Vcpu& vcpu) {
  use_alternate_signal_stack();
  pthread_setname_np(pthread_self(), fmt::format("wisp-vcpu{}", vcpu.index()).c_str());
  if (auto sandboxed = install_seccomp_filter(ThreadKind::kVcpu, config_.seccomp); !sandboxed) {
    request_stop({StopKind::kError, 0, sandboxed.error().message()});
    return;
  }
  vcpu.set_thread(pthread_self());
  if (timing_ && vcpu.index() == 0) timing_->mark(BootTiming::Phase::kFirstRun);
  if (std::optional<StopReason> reason = vcpu.run(*this, stopping_, debugger_.get(), &pause_))
    request_stop(*reason);
  // From here on the thread may be joined: kick() must not signal it any more.
  vcpu.set_thread(0);
}

// The device threads, then one thread per vCPU. A process that may not create more threads gets an
// error, not an abort.
Result<void> Vm::start_threads() {
  TRY(devices_->start(config_.seccomp));
  try {
    for (auto& vcpu : vcpus_) threads_.emplace_back([this, &vcpu] { vcpu_thread(*vcpu); });
  } catch (const std::system_error& error) {
    return fail("starting a vCPU thread: {}", error.code().message());
  }
  if (gdb_server_) TRY(gdb_server_->start(config_.seccomp));
  return {};
}

void Vm::stop_vcpus() {
  stopping_.store(true, std::memory_order_release);
  pause_.wake_for_stop();
  // A debugger holding the vCPUs lets go, and its stub ends, before the vCPUs are joined.
  if (debugger_) debugger_->shut_down();
  if (gdb_server_) gdb_server_->stop();
  for (auto& vcpu : vcpus_) vcpu->kick();
  threads_.clear();  // joins
}

// As QEMU stops a VM: the vCPUs are held out of the guest, and the guest's clock (kvmclock) is
// read so that resume() sets it back and the pause does not show as a jump in the guest's time.
Result<void> Vm::pause() {
  if (paused_) return {};
  constexpr auto kPauseTimeout = std::chrono::seconds(5);
  pause_.request();
  for (auto& vcpu : vcpus_) vcpu->kick();
  if (!pause_.wait_until_held(vcpus_.size(), kPauseTimeout, stopping_)) {
    pause_.release();
    return fail("the vCPUs did not pause within {} s", kPauseTimeout.count());
  }
  paused_clock_ = {};
  if (auto read = checked_ioctl(vm_.fd(), KVM_GET_CLOCK, &paused_clock_, "KVM_GET_CLOCK"); !read) {
    pause_.release();  // not paused, then: the vCPUs go on
    return std::unexpected(read.error());
  }
  for (auto& vcpu : vcpus_) vcpu->tell_guest_it_was_paused();
  paused_ = true;
  log::info("VM paused");
  return {};
}

Result<void> Vm::resume() {
  if (!paused_) return {};
  kvm_clock_data clock{};
  clock.clock = paused_clock_.clock;
  TRY(checked_ioctl(vm_.fd(), KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK"));
  paused_ = false;
  pause_.release();
  log::info("VM resumed");
  return {};
}

std::vector<int> Vm::kvm_fds() const {
  std::vector<int> fds{vm_.fd()};
  for (const auto& vcpu : vcpus_) fds.push_back(vcpu->fd());
  return fds;
}

Result<void> Vm::send_ctrl_alt_del() {
  return i8042_->send_ctrl_alt_del();
}

Result<void> Vm::replace_disk(size_t index, const std::string& path) {
  return devices_->replace_disk(index, path);
}

void Vm::request_stop(StopReason reason) {
  log::debug("stop requested: kind {}, value {}", static_cast<int>(reason.kind),
             reason.debug_exit_value);
  {
    std::lock_guard lock(stop_mutex_);
    if (writing_remaining_output_ && !output_cut_off_) {
      output_cut_off_ = std::move(reason);
      loop_.quit();
      return;
    }
    if (stop_reason_) return;
    stop_reason_ = std::move(reason);
  }
  stopping_.store(true, std::memory_order_release);
  loop_.quit();
}

// A panic ends the run (status 14) unless --on-panic continue; either way stderr says so, so that
// a harness learns of it even when the guest reboots at once (panic=-1).
void Vm::on_guest_panic() {
  if (config_.on_panic == PanicAction::kExit) {
    request_stop({StopKind::kPanic, 0, "the guest panicked (pvpanic)"});
  } else if (!panic_logged_.exchange(true)) {
    log::warn("the guest panicked (pvpanic); it goes on (--on-panic continue)");
  }
}

void Vm::log_unhandled(AccessSpace space, uint64_t address, size_t size, bool write) {
  bool last;
  {
    std::lock_guard lock(unhandled_mutex_);
    if (unhandled_seen_.size() >= kMaxUnhandledAddressesLogged) return;
    if (!unhandled_seen_.insert({space, address}).second) return;
    last = unhandled_seen_.size() == kMaxUnhandledAddressesLogged;
  }
  log::info("unhandled {} {} at {:#x} ({} bytes){}", space == AccessSpace::kPort ? "port" : "MMIO",
            write ? "write" : "read", address, size,
            last ? "; no further unhandled addresses will be logged" : "");
}

void Vm::port_read(uint16_t port, std::span<uint8_t> data) {
  if (port_bus_.read(port, data)) return;
  std::fill(data.begin(), data.end(), 0xff);
  log_unhandled(AccessSpace::kPort, port, data.size(), false);
}

void Vm::port_write(uint16_t port, std::span<const uint8_t> data) {
  if (!port_bus_.write(port, data)) log_unhandled(AccessSpace::kPort, port, data.size(), true);
}

void Vm::mmio_read(uint64_t address, std::span<uint8_t> data) {
  if (mmio_bus_.read(address, data)) return;
  std::fill(data.begin(), data.end(), 0xff);
  log_unhandled(AccessSpace::kMmio, address, data.size(), false);
}

void Vm::mmio_write(uint64_t address, std::span<const uint8_t> data) {
  if (!mmio_bus_.write(address, data))
    log_unhandled(AccessSpace::kMmio, address, data.size(), true);
}

}  // namespace wisp
