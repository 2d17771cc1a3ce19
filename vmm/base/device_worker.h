// The thread that serves a device's queues, as the device sees it: the device hands it work
// that must not race with the queue processing it does there (activating queues, a reset).
#pragma once

#include <functional>

namespace wisp {

class DeviceWorker {
 public:
  virtual ~DeviceWorker() = default;
  // Runs `task` on the worker thread and returns once it has run (at once when called there).
  virtual void run_and_wait(const std::function<void()>& task) = 0;
  // Runs `task` on the worker thread later, after the task running now; the caller goes on.
  virtual void post(std::function<void()> task) = 0;
};

// A worker for tests and for devices with no thread of their own: runs tasks in the caller.
class InlineWorker final : public DeviceWorker {
 public:
  void run_and_wait(const std::function<void()>& task) override { task(); }
  void post(std::function<void()> task) override { task(); }
};

}  // namespace wisp
