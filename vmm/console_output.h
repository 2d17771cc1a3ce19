// Console output that never blocks a vCPU: the UART writes what a non-blocking descriptor takes at
// once, and appends the rest to a bounded buffer that the event loop writes out as fast as the
// reader takes it. While the buffer is nearly full
// the UART shows a busy transmitter, so a guest waits for a slow reader as on a real serial line.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "devices/legacy/serial.h"
#include "vmm/base/fd.h"
#include "vmm/base/vm_stop.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"

namespace wisp {

class ConsoleOutput final : public ByteSink {
 public:
  static constexpr size_t kCapacity = 64 * 1024;

  // What a failed write does. Standard output whose reader went away is reported once and the
  // guest's output is discarded from then on; a file the user named ends the run (status 10),
  // since what it holds is no longer the whole output.
  enum class OnError { kReportAndDiscard, kStopTheVm };

  // Writes to what `fd` refers to, through a descriptor of its own that never blocks. `name` is
  // for messages ("standard output", "serial output out.log").
  static Result<std::unique_ptr<ConsoleOutput>> create(int fd, std::string name, OnError on_error,
                                                       EventLoop& loop, VmStopper& stopper);
  ~ConsoleOutput() override;
  ConsoleOutput(const ConsoleOutput&) = delete;
  ConsoleOutput& operator=(const ConsoleOutput&) = delete;

  // From any thread (the UART's, under its lock).
  void write(std::span<const uint8_t> bytes) override;
  size_t room() const override;

  // On the event loop's thread: called after a write made room in the buffer.
  void set_room_callback(std::function<void()> callback) { on_room_ = std::move(callback); }
  bool empty() const;
  // Writes what the reader takes now, without waiting for more; the rest stays buffered.
  void flush();
  // Bytes the guest wrote while the buffer was full (it ignored the busy transmitter).
  uint64_t dropped() const;
  const std::string& name() const { return name_; }

 private:
  ConsoleOutput(Fd writer, std::string name, OnError on_error, EventLoop& loop, VmStopper& stopper,
                EventFd wake)
      : writer_(std::move(writer)),
        name_(std::move(name)),
        on_error_(on_error),
        loop_(loop),
        stopper_(stopper),
        wake_(std::move(wake)),
        buffer_(kCapacity) {}

  Result<void> start();
  void on_wake();
  void on_writable();
  bool write_out();
  void consume(size_t count);
  void fail(int error);
  void watch_writable(bool enabled);

  Fd writer_;
  std::string name_;
  OnError on_error_;
  EventLoop& loop_;
  VmStopper& stopper_;
  EventFd wake_;  // the buffer became non-empty
  std::function<void()> on_room_;
  bool pollable_ = true;
  bool writes_directly_ = false;  // from the UART's thread while the buffer is empty
  bool watching_writable_ = false;
  int restore_flags_ = -1;  // the shared file flags to put back, when O_NONBLOCK had to be set

  mutable std::mutex mutex_;
  std::vector<uint8_t> buffer_;  // a ring: size_ bytes from head_
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t dropped_ = 0;
  bool broken_ = false;  // a write failed: output is discarded
};

// Writes every byte to two sinks (the terminal and a log file); as full as the fuller one.
class TeeSink final : public ByteSink {
 public:
  TeeSink(ByteSink& first, ByteSink& second) : first_(first), second_(second) {}
  void write(std::span<const uint8_t> bytes) override {
    first_.write(bytes);
    second_.write(bytes);
  }
  size_t room() const override { return std::min(first_.room(), second_.room()); }

 private:
  ByteSink& first_;
  ByteSink& second_;
};

class NullSink final : public ByteSink {
 public:
  void write(std::span<const uint8_t>) override {}
};

// The host side of one UART's output, as its --serial setting asks: the sink the UART writes to
// and the buffered outputs behind it.
class SerialOutput {
 public:
  static Result<std::unique_ptr<SerialOutput>> open(const SerialConfig& config, EventLoop& loop,
                                                    VmStopper& stopper);
  ByteSink& sink() { return *sink_; }
  const std::vector<std::unique_ptr<ConsoleOutput>>& outputs() const { return outputs_; }

 private:
  Fd file_;  // for file= and tee=
  std::vector<std::unique_ptr<ConsoleOutput>> outputs_;
  std::unique_ptr<ByteSink> combined_;  // a tee or a null sink
  ByteSink* sink_ = nullptr;
};

}  // namespace wisp
