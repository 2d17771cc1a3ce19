// Pausing a running VM (the API's PATCH /vm, `wisp ctl pause`): each vCPU thread passes
// hold_if_paused() before every KVM_RUN and waits there while the VM is paused. The pausing
// thread asks, kicks the vCPUs out of KVM_RUN, and waits until all of them are held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace wisp {

class VcpuPause {
 public:
  // On a vCPU thread: returns at once unless paused, else once resumed or the VM stops.
  void hold_if_paused(const std::atomic<bool>& stopping);

  // Asks the vCPUs to stop at their next pass (the caller then kicks them).
  void request();
  // Waits until `count` vCPUs are held, or `timeout` passes, or the VM stops (then false).
  bool wait_until_held(size_t count, std::chrono::milliseconds timeout,
                       const std::atomic<bool>& stopping);
  // Lets the held vCPUs go on.
  void release();
  // Wakes held vCPUs so that they see the VM stopping (call after setting `stopping`).
  void wake_for_stop();

 private:
  std::atomic<bool> requested_{false};  // read without the lock on every pass
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t held_ = 0;
};

}  // namespace wisp
