#include "vmm/console.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "vmm/base/signal_stack.h"

namespace wisp {
namespace {

// For the fatal-signal path, which may not take locks or allocate.
std::atomic<int> g_raw_fd{-1};
termios g_saved_termios;

void restore_on_fatal_signal(int signal) {
  restore_terminal_after_fatal_error();
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

// The handlers run on an alternate stack (every thread has its own: use_alternate_signal_stack),
// so that a stack overflow still restores the terminal. (SIGHUP and SIGQUIT are not fatal:
// Vm::run serves them as a request to stop.)
void install_fatal_handlers() {
  use_alternate_signal_stack();
  for (int signal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
    struct sigaction action {};
    action.sa_handler = restore_on_fatal_signal;
    action.sa_flags = SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, nullptr);
  }
}

}  // namespace

void restore_terminal_after_fatal_error() {
  int fd = g_raw_fd.load();
  if (fd >= 0) tcsetattr(fd, TCSANOW, &g_saved_termios);
}

std::unique_ptr<RawTerminal> RawTerminal::enter(int fd) {
  std::unique_ptr<RawTerminal> guard(new RawTerminal());
  termios mode;
  // A run in the background (`wisp run ... &`) leaves the terminal to the foreground job.
  if (!::isatty(fd) || ::tcgetpgrp(fd) != ::getpgrp() || tcgetattr(fd, &mode) < 0) return guard;
  guard->fd_ = fd;
  guard->saved_ = mode;
  g_saved_termios = mode;
  g_raw_fd.store(fd);
  install_fatal_handlers();
  cfmakeraw(&mode);
  tcsetattr(fd, TCSANOW, &mode);
  return guard;
}

RawTerminal::~RawTerminal() {
  if (fd_ < 0) return;
  g_raw_fd.store(-1);
  tcsetattr(fd_, TCSANOW, &saved_);
}

Result<void> ConsoleInput::start() {
  serial_.set_receive_space_callback([this] { space_.signal(); });
  TRY(loop_.watch(space_.fd(), [this] { on_space(); }));
  Result<void> watched = loop_.watch(fd_, [this] { on_readable(); });
  if (watched) {
    watching_input_ = true;
  } else {
    // Regular files and /dev/null cannot be polled: they are always readable, so they are read
    // whenever the UART has room.
    pollable_ = false;
    deliver();
  }
  return {};
}

bool ConsoleInput::read_input() {
  uint8_t buffer[512];
  ssize_t n = ::read(fd_, buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return false;
  if (n <= 0) {  // end of input (or an error): the guest keeps running without it
    if (watching_input_) loop_.unwatch(fd_);
    watching_input_ = false;
    input_closed_ = true;
    return false;
  }
  translate(std::span<const uint8_t>(buffer, static_cast<size_t>(n)));
  return true;
}

void ConsoleInput::on_readable() {
  if (read_input()) deliver();
}

void ConsoleInput::translate(std::span<const uint8_t> input) {
  for (uint8_t byte : input) {
    if (after_escape_) {
      after_escape_ = false;
      if (byte == kQuit) {
        stopper_.request_stop({StopKind::kUserQuit});
        return;
      }
      if (byte != kEscape) pending_.push_back(kEscape);
      pending_.push_back(byte);
    } else if (byte == kEscape) {
      after_escape_ = true;
    } else {
      pending_.push_back(byte);
    }
  }
}

void ConsoleInput::on_space() {
  space_.drain();
  deliver();
}

// Offers pending input to the UART; stops reading the host while the guest has not caught up.
void ConsoleInput::deliver() {
  while (true) {
    std::span<const uint8_t> rest(pending_.data() + pending_offset_,
                                  pending_.size() - pending_offset_);
    pending_offset_ += serial_.receive(rest);
    bool drained = pending_offset_ == pending_.size();
    if (drained) {
      pending_.clear();
      pending_offset_ = 0;
    }
    if (input_closed_) return;
    if (!pollable_) {
      if (drained && read_input()) continue;
      return;
    }
    if (!drained && watching_input_) {
      loop_.unwatch(fd_);
      watching_input_ = false;
    } else if (drained && !watching_input_) {
      watching_input_ = static_cast<bool>(loop_.watch(fd_, [this] { on_readable(); }));
    }
    return;
  }
}

}  // namespace wisp
