// An Ethernet MAC address: parsed from the command line, or made up for a NIC that has none.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "vmm/base/result.h"

namespace wisp {

using MacAddress = std::array<uint8_t, 6>;

// "52:54:00:12:34:56" (hexadecimal, colon-separated): a unicast address, not all zeros.
Result<MacAddress> parse_mac_address(std::string_view text);
std::string format_mac_address(const MacAddress& mac);
// A locally administered unicast address derived from `seed` (a TAP's name): the same seed
// always gives the same address, so a guest keeps its address (and its DHCP lease) across runs.
MacAddress mac_address_for(std::string_view seed);

}  // namespace wisp
