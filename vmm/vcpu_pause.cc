#include "vmm/vcpu_pause.h"

namespace wisp {

void VcpuPause::hold_if_paused(const std::atomic<bool>& stopping) {
  if (!requested_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(mutex_);
  ++held_;
  changed_.notify_all();
  changed_.wait(lock, [&] {
    return !requested_.load(std::memory_order_acquire) || stopping.load(std::memory_order_acquire);
  });
  --held_;
}

void VcpuPause::request() {
  std::lock_guard lock(mutex_);
  requested_.store(true, std::memory_order_release);
}

bool VcpuPause::wait_until_held(size_t count, std::chrono::milliseconds timeout,
                                const std::atomic<bool>& stopping) {
  std::unique_lock lock(mutex_);
  // A vCPU that leaves KVM_RUN to stop never comes back: the wait ends with the VM stopping.
  constexpr auto kRecheck = std::chrono::milliseconds(10);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (held_ < count) {
    if (stopping.load(std::memory_order_acquire)) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    changed_.wait_for(lock, kRecheck);
  }
  return true;
}

void VcpuPause::release() {
  std::lock_guard lock(mutex_);
  requested_.store(false, std::memory_order_release);
  changed_.notify_all();
}

void VcpuPause::wake_for_stop() {
  std::lock_guard lock(mutex_);
  changed_.notify_all();
}

}  // namespace wisp
