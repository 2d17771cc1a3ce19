#include "vmm/event_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

namespace wisp {

Result<EventLoop> EventLoop::create() {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return fail_errno("epoll_create1");
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return fail_errno("eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wake.get();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) < 0)
    return fail_errno("epoll_ctl");
  return EventLoop(std::move(epoll), std::move(wake));
}

Result<void> EventLoop::watch(int fd, Handler handler) {
  return add(fd, std::move(handler), EPOLLIN);
}

Result<void> EventLoop::watch_writable(int fd, Handler handler) {
  return add(fd, std::move(handler), EPOLLOUT);
}

Result<void> EventLoop::add(int fd, Handler handler, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) return fail_errno("epoll_ctl add");
  watches_[fd] = {std::move(handler), events};
  return {};
}

Result<void> EventLoop::set_watching(int fd, bool enabled) {
  auto watch = watches_.find(fd);
  if (watch == watches_.end()) return fail("fd {} is not watched", fd);
  epoll_event event{};
  event.events = enabled ? watch->second.events : 0u;
  event.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) < 0) return fail_errno("epoll_ctl mod");
  return {};
}

void EventLoop::unwatch(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(fd);
}

void EventLoop::quit() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
}

Result<void> EventLoop::run() {
  constexpr int kMaxEvents = 8;
  epoll_event events[kMaxEvents];
  while (true) {
    int ready = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail_errno("epoll_wait");
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_.get()) {
        // Consumed: a later run() waits for its own quit().
        uint64_t count;
        [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof(count));
        return {};
      }
      auto watch = watches_.find(fd);
      if (watch != watches_.end()) {
        Handler copy = watch->second.handler;  // the handler may unwatch itself
        copy();
      }
    }
  }
}

Result<EventFd> EventFd::create() {
  Fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return fail_errno("eventfd");
  return EventFd(std::move(fd));
}

void EventFd::signal() const {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof(one));
}

void EventFd::drain() const {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(fd_.get(), &count, sizeof(count));
}

Result<Fd> take_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&stop_signals, signal);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  Fd signals(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals.valid()) return fail_errno("signalfd");
  return signals;
}

}  // namespace wisp
