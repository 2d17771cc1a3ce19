#include <catch2/catch.hpp>

#include "vmm/event_loop.h"

using namespace wisp;

TEST_CASE("each quit ends one run of the event loop") {
  auto loop = EventLoop::create();
  REQUIRE(loop);
  loop->quit();  // before run(): the run still ends
  REQUIRE(loop->run());

  // The quit above is used up: this run serves its events until its own quit.
  auto event = EventFd::create();
  REQUIRE(event);
  int calls = 0;
  REQUIRE(loop->watch(event->fd(), [&] {
    event->drain();
    if (++calls == 3) {
      loop->quit();
    } else {
      event->signal();
    }
  }));
  event->signal();
  REQUIRE(loop->run());
  CHECK(calls == 3);
}

TEST_CASE("a paused watch is not served until resumed") {
  auto loop = EventLoop::create();
  auto paused = EventFd::create();
  auto other = EventFd::create();
  REQUIRE((loop && paused && other));
  int paused_calls = 0;
  REQUIRE(loop->watch(paused->fd(), [&] {
    paused->drain();
    ++paused_calls;
    loop->quit();
  }));
  REQUIRE(loop->watch(other->fd(), [&] {
    other->drain();
    loop->quit();
  }));
  REQUIRE(loop->set_watching(paused->fd(), false));
  paused->signal();
  other->signal();
  REQUIRE(loop->run());
  CHECK(paused_calls == 0);
  REQUIRE(loop->set_watching(paused->fd(), true));
  REQUIRE(loop->run());
  CHECK(paused_calls == 1);
}
