#include "vmm/device_thread.h"

#include <future>
#include <system_error>

#include "vmm/base/log.h"
#include "vmm/base/signal_stack.h"

namespace wisp {

Result<std::unique_ptr<DeviceThread>> DeviceThread::create(std::string name) {
  EventLoop loop = TRY(EventLoop::create());
  EventFd tasks_ready = TRY(EventFd::create());
  std::unique_ptr<DeviceThread> thread(
      new DeviceThread(std::move(name), std::move(loop), std::move(tasks_ready)));
  TRY(thread->loop_.watch(thread->tasks_ready_.fd(),
                          [raw = thread.get()] { raw->run_pending_tasks(); }));
  return thread;
}

DeviceThread::~DeviceThread() {
  stop([] {});
}

Result<void> DeviceThread::start(const std::function<Result<void>()>& setup) {
  std::promise<Result<void>> ready;
  std::future<Result<void>> set_up = ready.get_future();
  try {
    thread_ = std::jthread([this, &setup, &ready] {
      use_alternate_signal_stack();
      // Thread names are at most 15 characters.
      pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
      Result<void> result = setup();
      bool serve = result.has_value();
      ready.set_value(std::move(result));  // `setup` and `ready` end with start()
      if (!serve) return;
      if (auto served = loop_.run(); !served) log::error("{}: {}", name_, served.error().message());
    });
  } catch (const std::system_error& error) {
    return fail("starting the thread {}: {}", name_, error.code().message());
  }
  thread_id_ = thread_.get_id();
  if (Result<void> result = set_up.get(); !result) {
    thread_ = {};  // joins: the thread has ended
    return std::unexpected(result.error().context(name_));
  }
  return {};
}

void DeviceThread::stop(const std::function<void()>& last_task) {
  if (!thread_.joinable()) return;
  run_and_wait([&] {
    last_task();
    loop_.quit();
  });
  thread_.join();
}

bool DeviceThread::on_this_thread() const {
  return std::this_thread::get_id() == thread_id_;
}

void DeviceThread::run_and_wait(const std::function<void()>& task) {
  // Before start() and after stop() nothing else runs the device: run the task here.
  if (!thread_.joinable() || on_this_thread()) return task();
  std::unique_lock lock(mutex_);
  pending_.push_back(Task{&task, {}});
  uint64_t ticket = ++tasks_queued_;
  tasks_ready_.signal();
  task_done_.wait(lock, [&] { return tasks_finished_ >= ticket; });
}

void DeviceThread::post(std::function<void()> task) {
  // Before start() and after stop() nothing else runs the device: run the task here.
  if (!thread_.joinable()) return task();
  std::lock_guard lock(mutex_);
  pending_.push_back(Task{nullptr, std::move(task)});
  tasks_ready_.signal();
}

void DeviceThread::run_pending_tasks() {
  tasks_ready_.drain();
  std::unique_lock lock(mutex_);
  while (!pending_.empty()) {
    Task task = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    if (task.waited) {
      (*task.waited)();
    } else {
      task.posted();
    }
    lock.lock();
    if (task.waited) {
      ++tasks_finished_;
      task_done_.notify_all();
    }
  }
}

}  // namespace wisp
