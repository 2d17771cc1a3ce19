#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "vmm/console_output.h"

using namespace wisp;

namespace {

class RecordingStopper final : public VmStopper {
 public:
  void request_stop(StopReason reason) override { reasons.push_back(std::move(reason)); }
  std::vector<StopReason> reasons;
};

struct Pipe {
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  // Everything in the pipe now, without waiting.
  std::string take() {
    int flags = ::fcntl(read_end.get(), F_GETFL);
    ::fcntl(read_end.get(), F_SETFL, flags | O_NONBLOCK);
    std::string text;
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(read_end.get(), buffer, sizeof(buffer))) > 0) text.append(buffer, n);
    ::fcntl(read_end.get(), F_SETFL, flags);
    return text;
  }
  Fd read_end;
  Fd write_end;
};

struct Console {
  explicit Console(int fd,
                   ConsoleOutput::OnError on_error = ConsoleOutput::OnError::kReportAndDiscard) {
    auto created = ConsoleOutput::create(fd, "the test's pipe", on_error, loop, stopper);
    REQUIRE(created);
    output = std::move(*created);
    // Each pass of the loop below ends once a write made room.
    output->set_room_callback([this] { loop.quit(); });
  }
  void put(const std::string& text) {
    output->write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  // Runs the event loop until it has written something, if anything waits in the buffer.
  void serve() {
    if (!output->empty()) REQUIRE(loop.run());
  }

  EventLoop loop = std::move(EventLoop::create().value());
  RecordingStopper stopper;
  std::unique_ptr<ConsoleOutput> output;
};

}  // namespace

TEST_CASE("console output reaches the reader at once while it keeps up") {
  Pipe pipe;
  Console console(pipe.write_end.get());
  console.put("hello, ");
  console.put("world");
  CHECK(console.output->empty());  // written straight away: the pipe had room
  CHECK(pipe.take() == "hello, world");
  CHECK(console.output->empty());
  CHECK(console.output->room() == ConsoleOutput::kCapacity);
}

TEST_CASE("console output leaves the shared descriptor's flags alone") {
  Pipe pipe;
  int before = ::fcntl(pipe.write_end.get(), F_GETFL);
  REQUIRE((before & O_NONBLOCK) == 0);
  Console console(pipe.write_end.get());
  CHECK(::fcntl(pipe.write_end.get(), F_GETFL) == before);
}

TEST_CASE("a stalled reader fills the buffer: the guest's excess is counted and nothing blocks") {
  Pipe pipe;
  int pipe_bytes = ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ);
  REQUIRE(pipe_bytes > 0);
  Console console(pipe.write_end.get());
  std::string chunk(4096, 'x');
  size_t total = static_cast<size_t>(pipe_bytes) + ConsoleOutput::kCapacity;
  // Fill the pipe through the loop, then the buffer behind it.
  for (size_t sent = 0; sent < static_cast<size_t>(pipe_bytes); sent += chunk.size()) {
    console.put(chunk);
    console.serve();
  }
  for (size_t sent = 0; sent < ConsoleOutput::kCapacity; sent += chunk.size()) console.put(chunk);
  console.output->flush();  // the pipe is full: returns at once
  CHECK(console.output->room() == 0);
  console.put("lost");
  CHECK(console.output->dropped() == 4);

  // The reader catches up: the loop writes the rest as the pipe takes it.
  std::string received;
  while (received.size() < total) {
    received += pipe.take();
    if (!console.output->empty()) console.serve();
  }
  received += pipe.take();
  CHECK(received.size() == total);
  CHECK(received.find("lost") == std::string::npos);
  CHECK(console.output->room() == ConsoleOutput::kCapacity);
}

TEST_CASE("a reader that went away is reported and the output discarded, or stops the VM") {
  ::signal(SIGPIPE, SIG_IGN);  // as wisp's main() does
  Pipe pipe;
  SECTION("standard output") {
    Console console(pipe.write_end.get());
    pipe.read_end.reset();
    console.put("nobody reads this");
    console.serve();  // the failed write reports the room the guest now has
    CHECK(console.output->room() == SIZE_MAX);
    CHECK(console.output->empty());
    CHECK(console.stopper.reasons.empty());
  }
  SECTION("a file the user named") {
    Console console(pipe.write_end.get(), ConsoleOutput::OnError::kStopTheVm);
    pipe.read_end.reset();
    console.put("nobody reads this");
    console.serve();
    REQUIRE(console.stopper.reasons.size() == 1);
    CHECK(console.stopper.reasons[0].kind == StopKind::kError);
    CHECK(console.stopper.reasons[0].detail == "cannot write the test's pipe: Broken pipe");
  }
}

TEST_CASE("console output to a regular file is written on wake-up") {
  std::string name = "/tmp/wisp-console-output-XXXXXX";
  Fd file(::mkstemp(name.data()));
  REQUIRE(file.valid());
  ::unlink(name.c_str());
  Console console(file.get());
  console.put("to the file");
  console.serve();
  char text[32] = {};
  CHECK(::pread(file.get(), text, sizeof(text), 0) == 11);
  CHECK(std::string(text) == "to the file");
}

TEST_CASE("serial file= on a FIFO with no reader fails at once instead of blocking") {
  std::string directory = "/tmp/wisp-fifo-XXXXXX";
  REQUIRE(::mkdtemp(directory.data()));
  std::string fifo = directory + "/console";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto loop = EventLoop::create();
  REQUIRE(loop);
  RecordingStopper stopper;
  auto output = SerialOutput::open({SerialMode::kFile, fifo}, *loop, stopper);
  ::unlink(fifo.c_str());
  ::rmdir(directory.c_str());
  REQUIRE_FALSE(output);
  CHECK(output.error().message() ==
        "cannot open serial output " + fifo + ": a FIFO with no reader");
}

TEST_CASE("a tee is as full as its fuller side") {
  Pipe slow, fast;
  auto loop = EventLoop::create();
  REQUIRE(loop);
  RecordingStopper stopper;
  using OnError = ConsoleOutput::OnError;
  auto first =
      ConsoleOutput::create(slow.write_end.get(), "slow", OnError::kStopTheVm, *loop, stopper);
  auto second =
      ConsoleOutput::create(fast.write_end.get(), "fast", OnError::kStopTheVm, *loop, stopper);
  REQUIRE(first);
  REQUIRE(second);
  // The slow side's reader has not read: its pipe is full.
  ::fcntl(slow.write_end.get(), F_SETFL, O_NONBLOCK);
  std::string filler(4096, 'f');
  while (::write(slow.write_end.get(), filler.data(), filler.size()) > 0) {
  }
  TeeSink tee(**first, **second);
  std::string text(100, 't');
  tee.write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  CHECK((*second)->room() == ConsoleOutput::kCapacity);
  CHECK(tee.room() == ConsoleOutput::kCapacity - 100);
}
