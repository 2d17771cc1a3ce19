#include "vmm/console_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "vmm/base/log.h"

namespace wisp {
namespace {

// A descriptor for the file `fd` refers to whose writes never block. Standard output is shared
// with the shell that started Wisp, so its own flags stay as they are where possible: a terminal,
// pipe or FIFO is opened again (a new open file description, made non-blocking). Regular files
// and block devices never make a writer wait for a reader, so a copy of `fd` does. Only what
// cannot be opened again (a socket) gets O_NONBLOCK on the shared description, put back at exit.
struct Writer {
  Fd fd;
  int restore_flags = -1;
  bool character_device = false;  // /dev/null and the like: never makes a writer wait
};

Result<Writer> open_writer(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) < 0) return fail_errno("fstat");
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return fail_errno("fcntl F_GETFL");
  bool character_device = S_ISCHR(status.st_mode);
  if (S_ISREG(status.st_mode) || S_ISBLK(status.st_mode) || (flags & O_NONBLOCK)) {
    Fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy.valid()) return fail_errno("dup");
    return Writer{std::move(copy), -1, character_device};
  }
  std::string path = fmt::format("/proc/self/fd/{}", fd);
  Fd reopened(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (reopened.valid()) return Writer{std::move(reopened), -1, character_device};
  Fd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) return fail_errno("dup");
  if (::fcntl(copy.get(), F_SETFL, flags | O_NONBLOCK) < 0) return fail_errno("fcntl F_SETFL");
  return Writer{std::move(copy), flags, character_device};
}

}  // namespace

Result<std::unique_ptr<ConsoleOutput>> ConsoleOutput::create(int fd, std::string name,
                                                             OnError on_error, EventLoop& loop,
                                                             VmStopper& stopper) {
  Writer writer = TRY_CONTEXT(open_writer(fd), fmt::format("opening {}", name));
  std::unique_ptr<ConsoleOutput> output(new ConsoleOutput(
      std::move(writer.fd), std::move(name), on_error, loop, stopper, TRY(EventFd::create())));
  output->restore_flags_ = writer.restore_flags;
  TRY(output->start());
  // What epoll takes is non-blocking (a terminal, pipe, FIFO or socket), and a character device
  // such as /dev/null never waits: those are written at once while nothing waits in the buffer.
  // A file goes through the event loop, since a disk can make a write wait.
  output->writes_directly_ = output->pollable_ || writer.character_device;
  return output;
}

Result<void> ConsoleOutput::start() {
  TRY(loop_.watch(wake_.fd(), [this] { on_wake(); }));
  // epoll refuses what is always writable (regular files, /dev/null): those are written on wake.
  if (loop_.watch_writable(writer_.get(), [this] { on_writable(); })) {
    TRY(loop_.set_watching(writer_.get(), false));
  } else {
    pollable_ = false;
  }
  return {};
}

ConsoleOutput::~ConsoleOutput() {
  loop_.unwatch(wake_.fd());
  if (pollable_) loop_.unwatch(writer_.get());
  if (restore_flags_ >= 0) ::fcntl(writer_.get(), F_SETFL, restore_flags_);
}

void ConsoleOutput::write(std::span<const uint8_t> bytes) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    if (broken_) return;
    if (size_ == 0 && writes_directly_) {
      // Never blocks. What the reader does not take now, and any error, goes to the event loop.
      ssize_t written = ::write(writer_.get(), bytes.data(), bytes.size());
      if (written > 0) bytes = bytes.subspan(static_cast<size_t>(written));
      if (bytes.empty()) return;
    }
    was_empty = size_ == 0;
    size_t taken = std::min(bytes.size(), kCapacity - size_);
    for (size_t i = 0; i < taken; ++i) buffer_[(head_ + size_ + i) % kCapacity] = bytes[i];
    size_ += taken;
    dropped_ += bytes.size() - taken;
  }
  if (was_empty) wake_.signal();
}

size_t ConsoleOutput::room() const {
  std::lock_guard lock(mutex_);
  return broken_ ? SIZE_MAX : kCapacity - size_;
}

bool ConsoleOutput::empty() const {
  std::lock_guard lock(mutex_);
  return size_ == 0 || broken_;
}

uint64_t ConsoleOutput::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void ConsoleOutput::on_wake() {
  wake_.drain();
  if (!watching_writable_) flush();
}

void ConsoleOutput::on_writable() {
  flush();
}

void ConsoleOutput::flush() {
  bool wrote = false;
  while (write_out()) wrote = true;
  if (wrote && on_room_) on_room_();
}

// Writes the buffered bytes once (at most two pieces of the ring); true if some went.
bool ConsoleOutput::write_out() {
  iovec pieces[2];
  int count = 0;
  {
    // Writers only fill the free part of the ring, so the bytes named here stay put unlocked.
    std::lock_guard lock(mutex_);
    if (size_ == 0 || broken_) {
      watch_writable(false);
      return false;
    }
    size_t first = std::min(size_, kCapacity - head_);
    pieces[count++] = {buffer_.data() + head_, first};
    if (first < size_) pieces[count++] = {buffer_.data(), size_ - first};
  }
  ssize_t written = ::writev(writer_.get(), pieces, count);
  if (written > 0) {
    consume(static_cast<size_t>(written));
    return true;
  }
  if (written < 0 && errno == EINTR) return true;
  if (written < 0 && errno == EAGAIN) {
    watch_writable(true);  // an unpollable writer tries again on the next wake
    return false;
  }
  fail(written < 0 ? errno : EIO);
  return false;
}

void ConsoleOutput::consume(size_t count) {
  std::lock_guard lock(mutex_);
  head_ = (head_ + count) % kCapacity;
  size_ -= count;
}

void ConsoleOutput::watch_writable(bool enabled) {
  if (!pollable_ || watching_writable_ == enabled) return;
  watching_writable_ = enabled;
  (void)loop_.set_watching(writer_.get(), enabled);
}

void ConsoleOutput::fail(int error) {
  {
    std::lock_guard lock(mutex_);
    broken_ = true;
    size_ = 0;
  }
  watch_writable(false);
  std::string what = fmt::format("cannot write {}: {}", name_, std::strerror(error));
  if (on_error_ == OnError::kStopTheVm) {
    stopper_.request_stop({StopKind::kError, 0, what});
  } else {
    log::warn("{}; the guest's further output to it is discarded", what);
  }
  if (on_room_) on_room_();  // a broken output takes everything: the guest must not wait on it
}

Result<std::unique_ptr<SerialOutput>> SerialOutput::open(const SerialConfig& config,
                                                         EventLoop& loop, VmStopper& stopper) {
  auto output = std::make_unique<SerialOutput>();
  using OnError = ConsoleOutput::OnError;
  if (config.mode == SerialMode::kStdio || config.mode == SerialMode::kTee) {
    output->outputs_.push_back(TRY(ConsoleOutput::create(
        STDOUT_FILENO, "standard output", OnError::kReportAndDiscard, loop, stopper)));
  }
  if (config.mode == SerialMode::kFile || config.mode == SerialMode::kTee) {
    // O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of blocking the open.
    output->file_.reset(
        ::open(config.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644));
    if (!output->file_.valid() && errno == ENXIO)
      return fail("cannot open serial output {}: a FIFO with no reader", config.path);
    if (!output->file_.valid())
      return fail_errno(fmt::format("cannot open serial output {}", config.path));
    output->outputs_.push_back(TRY(ConsoleOutput::create(
        output->file_.get(), "serial output " + config.path, OnError::kStopTheVm, loop, stopper)));
  }
  auto& outputs = output->outputs_;
  if (outputs.size() == 2) {
    output->combined_ = std::make_unique<TeeSink>(*outputs[0], *outputs[1]);
  } else if (outputs.empty()) {
    output->combined_ = std::make_unique<NullSink>();
  }
  output->sink_ = output->combined_ ? output->combined_.get() : outputs[0].get();
  return output;
}

}  // namespace wisp
