// A device's own thread (`wisp-blk0`, ...): an epoll loop woken by the device's ioeventfds and
// its back end's completions, which also runs the tasks the device hands it from vCPU threads
// (DeviceWorker::run_and_wait). Started once the VM runs, stopped before the VMM exits.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/base/device_worker.h"
#include "vmm/event_loop.h"

namespace wisp {

class DeviceThread final : public DeviceWorker {
 public:
  static Result<std::unique_ptr<DeviceThread>> create(std::string name);
  ~DeviceThread() override;

  // Before start(), or on the thread: calls `handler` on the thread whenever `fd` is readable.
  Result<void> watch(int fd, EventLoop::Handler handler) {
    return loop_.watch(fd, std::move(handler));
  }
  // Before start(), or on the thread: no more calls for `fd`.
  void unwatch(int fd) { loop_.unwatch(fd); }

  // On the thread: pauses or resumes calls for a watched fd.
  Result<void> set_watching(int fd, bool enabled) { return loop_.set_watching(fd, enabled); }

  // Starts the thread, which first runs `setup` (its seccomp filter) and waits for its result.
  // Fails (the process may not create a thread, or `setup` failed) without aborting.
  Result<void> start(const std::function<Result<void>()>& setup = [] { return Result<void>{}; });
  // Runs `last_task` on the thread (e.g. the device's shut_down), then ends the thread and joins
  // it. Does nothing if the thread never started.
  void stop(const std::function<void()>& last_task);

  void run_and_wait(const std::function<void()>& task) override;
  void post(std::function<void()> task) override;

 private:
  DeviceThread(std::string name, EventLoop loop, EventFd tasks_ready)
      : name_(std::move(name)), loop_(std::move(loop)), tasks_ready_(std::move(tasks_ready)) {}
  void run_pending_tasks();
  bool on_this_thread() const;

  std::string name_;
  EventLoop loop_;
  EventFd tasks_ready_;
  std::jthread thread_;
  std::thread::id thread_id_;

  std::mutex mutex_;
  std::condition_variable task_done_;
  // In the order they came: a task a caller waits for (and owns), or one posted.
  struct Task {
    const std::function<void()>* waited = nullptr;
    std::function<void()> posted;
  };
  std::deque<Task> pending_;
  uint64_t tasks_queued_ = 0;
  uint64_t tasks_finished_ = 0;
};

}  // namespace wisp
