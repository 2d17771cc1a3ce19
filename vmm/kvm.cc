#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include "vmm/kvm_list.h"

namespace wisp {

Result<int> checked_ioctl(int fd, unsigned long request, unsigned long argument,
                          std::string_view what) {
  int ret;
  do {
    ret = ::ioctl(fd, request, argument);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0) return fail_errno(what);
  return ret;
}

Result<void> KvmVm::register_ioeventfd(uint64_t address, uint32_t length, uint64_t value,
                                       int event_fd) const {
  kvm_ioeventfd request{};
  request.datamatch = value;
  request.addr = address;
  request.len = length;
  request.fd = event_fd;
  request.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
  TRY(checked_ioctl(fd_.get(), KVM_IOEVENTFD, &request, "KVM_IOEVENTFD"));
  return {};
}

Result<void> KvmVm::register_irqfd(uint32_t gsi, int event_fd) const {
  kvm_irqfd request{};
  request.fd = static_cast<uint32_t>(event_fd);
  request.gsi = gsi;
  TRY(checked_ioctl(fd_.get(), KVM_IRQFD, &request, "KVM_IRQFD"));
  return {};
}

Result<void> KvmVm::set_irq_line(uint32_t gsi, bool high) const {
  kvm_irq_level level{};
  level.irq = gsi;
  level.level = high ? 1 : 0;
  TRY(checked_ioctl(fd_.get(), KVM_IRQ_LINE, &level, "KVM_IRQ_LINE"));
  return {};
}

Result<void> KvmVm::deny_msrs(std::span<const std::pair<uint32_t, uint32_t>> ranges) const {
  kvm_msr_filter filter{};
  if (ranges.size() > std::size(filter.ranges)) return fail("more MSR ranges than KVM filters");
  // A clear bit denies. Each bitmap needs a bit per MSR of its range; KVM copies them.
  constexpr uint32_t kMaxMsrsPerRange = 0x600 * 8;
  static constexpr uint8_t kNoneAllowed[kMaxMsrsPerRange / 8] = {};
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  for (size_t i = 0; i < ranges.size(); ++i) {
    auto [first, count] = ranges[i];
    if (count == 0 || count > kMaxMsrsPerRange) return fail("an MSR range of {} MSRs", count);
    filter.ranges[i] = {KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, count, first,
                        const_cast<uint8_t*>(kNoneAllowed)};
  }
  TRY(checked_ioctl(fd_.get(), KVM_X86_SET_MSR_FILTER, &filter, "KVM_X86_SET_MSR_FILTER"));
  return {};
}

Result<void> KvmVm::exit_on_denied_msrs() const {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
  TRY(checked_ioctl(fd_.get(), KVM_ENABLE_CAP, &cap, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)"));
  return {};
}

Result<KvmSystem> KvmSystem::open(const char* path) {
  Fd fd(::open(path, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT)
      return fail(
          "{} does not exist: KVM is not available on this host (is the kvm module "
          "loaded?)",
          path);
    if (err == EACCES || err == EPERM)
      return fail("{}: permission denied (add yourself to the kvm group or run as root)", path);
    return fail_errno(fmt::format("open {}", path), err);
  }
  int version = TRY(checked_ioctl(fd.get(), KVM_GET_API_VERSION, 0ul, "KVM_GET_API_VERSION"));
  if (version != KVM_API_VERSION)
    return fail("KVM API version {} is not the supported {}", version, KVM_API_VERSION);
  return KvmSystem(std::move(fd));
}

int KvmSystem::check(long capability) const {
  int ret = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return ret < 0 ? 0 : ret;
}

Result<void> KvmSystem::require(long capability, std::string_view name) const {
  if (check(capability) <= 0) return fail("KVM lacks a required capability: {}", name);
  return {};
}

Result<std::vector<kvm_cpuid_entry2>> KvmSystem::supported_cpuid() const {
  // Grow the buffer until KVM stops answering E2BIG.
  for (uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
    KvmList<kvm_cpuid_entry2> cpuid(capacity);
    if (::ioctl(fd_.get(), kKvmGetSupportedCpuid, cpuid.data()) == 0)
      return std::vector<kvm_cpuid_entry2>(cpuid.entries(), cpuid.entries() + cpuid.count());
    if (errno != E2BIG) return fail_errno("KVM_GET_SUPPORTED_CPUID");
  }
  return fail("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Result<size_t> KvmSystem::vcpu_mmap_size() const {
  int size = TRY(checked_ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0ul, "KVM_GET_VCPU_MMAP_SIZE"));
  return static_cast<size_t>(size);
}

Result<Fd> KvmSystem::create_vm() const {
  int vm = TRY(checked_ioctl(fd_.get(), KVM_CREATE_VM, 0ul, "KVM_CREATE_VM"));
  return Fd(vm);
}

}  // namespace wisp
