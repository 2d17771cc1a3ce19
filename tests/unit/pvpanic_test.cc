#include <catch2/catch.hpp>

#include "devices/legacy/pvpanic.h"

using namespace wisp;

TEST_CASE("pvpanic: reads give the events it takes, and PANICKED calls the handler") {
  int panics = 0;
  PvPanic device([&] { ++panics; });
  uint8_t value = 0;
  device.read(0, std::span(&value, 1));
  CHECK(value == (PvPanic::kPanicked | PvPanic::kCrashLoaded));

  auto write = [&](uint8_t events) { device.write(0, std::span<const uint8_t>(&events, 1)); };
  write(PvPanic::kCrashLoaded);  // a kdump kernel was loaded: logged, not a panic
  write(0);
  write(0x80);  // an event it does not know
  CHECK(panics == 0);
  write(PvPanic::kPanicked);
  write(PvPanic::kPanicked | PvPanic::kCrashLoaded);
  CHECK(panics == 2);
  device.write(0, {});  // an empty access does nothing
  CHECK(panics == 2);
}
