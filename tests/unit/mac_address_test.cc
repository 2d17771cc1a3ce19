// MAC addresses (devices/net/mac_address.h): parsing what a user types, formatting, and the
// stable address made up for a NIC that has none.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "devices/net/mac_address.h"

using namespace wisp;
using Catch::Matchers::Contains;

TEST_CASE("MAC address: valid addresses parse", "[virtio-net]") {
  struct Case {
    const char* text;
    MacAddress mac;
  };
  const Case cases[] = {
      {"52:54:00:12:34:56", {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}},
      {"02:00:00:00:00:01", {0x02, 0x00, 0x00, 0x00, 0x00, 0x01}},
      {"aa:BB:cc:DD:ee:FF", {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}},
      {"fe:ff:ff:ff:ff:ff", {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}},
      {"00:00:00:00:00:01", {0, 0, 0, 0, 0, 1}},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto mac = parse_mac_address(c.text);
    REQUIRE(mac);
    CHECK(*mac == c.mac);
  }
}

TEST_CASE("MAC address: invalid addresses are refused with the reason", "[virtio-net]") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "not a MAC address"},
      {"52:54:00:12:34", "not a MAC address"},        // too short
      {"52:54:00:12:34:56:78", "not a MAC address"},  // too long
      {"52:54:00:12:34:56:", "not a MAC address"},    // a trailing colon
      {"52:54:00:12:34:5", "not a MAC address"},      // a digit short
      {"52:54:00:12:34:567", "not a MAC address"},    // a digit more
      {"5:54:00:12:34:56", "not a MAC address"},      // one-digit byte
      {"52-54-00-12-34-56", "not a MAC address"},     // dashes
      {"525400123456", "not a MAC address"},          // no separators
      {"52:54:00:12:34:5g", "not a MAC address"},     // not hexadecimal
      {"52:54:00:12:34:-1", "not a MAC address"},     // a sign
      {"52:54:00:12:34:+1", "not a MAC address"},     // a sign
      {"0x:54:00:12:34:56", "not a MAC address"},     // a prefix
      {" 52:54:00:12:34:56", "not a MAC address"},    // spaces
      {"52:54:00:12:34:56 ", "not a MAC address"},
      {"52:54:00::12:34:56", "not a MAC address"},
      {"01:00:5e:00:00:01", "multicast"},  // IPv4 multicast
      {"33:33:00:00:00:01", "multicast"},  // IPv6 multicast
      {"ff:ff:ff:ff:ff:ff", "multicast"},  // broadcast
      {"00:00:00:00:00:00", "all zeros"},
  };
  for (const Case& c : cases) {
    INFO("'" << c.text << "'");
    auto mac = parse_mac_address(c.text);
    REQUIRE_FALSE(mac);
    CHECK_THAT(mac.error().message(), Contains(c.reason));
  }
}

TEST_CASE("MAC address: formatting round-trips", "[virtio-net]") {
  MacAddress mac = {0x02, 0x0a, 0xb0, 0x00, 0xff, 0x10};
  CHECK(format_mac_address(mac) == "02:0a:b0:00:ff:10");
  auto parsed = parse_mac_address(format_mac_address(mac));
  REQUIRE(parsed);
  CHECK(*parsed == mac);
  CHECK(format_mac_address(*parse_mac_address("52:54:00:AB:CD:EF")) == "52:54:00:ab:cd:ef");
}

TEST_CASE("MAC address: made up from a name, stable, local and unicast", "[virtio-net]") {
  const char* names[] = {
      "",           "tap0", "tap1", "tap10",
      "wisp-net-0", "a",    "b",    "a-very-long-interface-name-beyond-ifnamsiz"};
  std::set<MacAddress> seen;
  for (const char* name : names) {
    INFO("'" << name << "'");
    MacAddress mac = mac_address_for(name);
    CHECK(mac == mac_address_for(name));  // stable
    CHECK((mac[0] & 0x02) != 0);          // locally administered
    CHECK((mac[0] & 0x01) == 0);          // unicast
    CHECK(mac != MacAddress{});
    auto parsed = parse_mac_address(format_mac_address(mac));  // what a user could pass
    REQUIRE(parsed);
    CHECK(*parsed == mac);
    seen.insert(mac);
  }
  CHECK(seen.size() == std::size(names));  // differs for different names
  CHECK(mac_address_for("tap0") != mac_address_for("tap1"));
  // The same value from a std::string as from a literal.
  CHECK(mac_address_for(std::string("tap0")) == mac_address_for("tap0"));
}
