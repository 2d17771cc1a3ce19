// The VMM's asynchronous side: one epoll loop on the main thread serving the console's input,
// signals and wake-ups from other threads.
#pragma once

#include <functional>
#include <map>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace wisp {

class EventLoop {
 public:
  using Handler = std::function<void()>;

  static Result<EventLoop> create();

  // Calls `handler` whenever `fd` is readable (or hung up), until removed.
  Result<void> watch(int fd, Handler handler);
  // Calls `handler` whenever `fd` can be written (or has an error), until removed.
  Result<void> watch_writable(int fd, Handler handler);
  void unwatch(int fd);
  // Pauses or resumes calls of a watched fd's handler (it stays registered).
  Result<void> set_watching(int fd, bool enabled);

  // Serves events until quit() is called (from a handler or any thread). Each quit() ends one
  // run(), also when it came before run() started.
  Result<void> run();
  void quit();

 private:
  struct Watch {
    Handler handler;
    uint32_t events;  // EPOLLIN or EPOLLOUT
  };

  EventLoop(Fd epoll, Fd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}
  Result<void> add(int fd, Handler handler, uint32_t events);

  Fd epoll_;
  Fd wake_;  // eventfd: quit() from another thread
  std::map<int, Watch> watches_;
};

// An eventfd used as a wake-up signal between threads.
class EventFd {
 public:
  static Result<EventFd> create();
  void signal() const;
  void drain() const;
  int fd() const { return fd_.get(); }

 private:
  explicit EventFd(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

// SIGINT, SIGTERM, SIGHUP (the terminal went away) and SIGQUIT, which stop a VM the same way
// whether or not there is a terminal: blocked on the calling thread (and so in every thread it
// starts later), and a signalfd that is readable when one arrives.
Result<Fd> take_stop_signals();

}  // namespace wisp
