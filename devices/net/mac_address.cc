#include "devices/net/mac_address.h"

#include <charconv>

namespace wisp {

Result<MacAddress> parse_mac_address(std::string_view text) {
  MacAddress mac{};
  std::string_view rest = text;
  for (size_t index = 0; index < mac.size(); ++index) {
    if (index > 0) {
      if (rest.empty() || rest[0] != ':')
        return fail("'{}' is not a MAC address like 52:54:00:12:34:56", text);
      rest.remove_prefix(1);
    }
    if (rest.size() < 2) return fail("'{}' is not a MAC address like 52:54:00:12:34:56", text);
    auto [end, error] = std::from_chars(rest.data(), rest.data() + 2, mac[index], 16);
    if (error != std::errc() || end != rest.data() + 2)
      return fail("'{}' is not a MAC address like 52:54:00:12:34:56", text);
    rest.remove_prefix(2);
  }
  if (!rest.empty()) return fail("'{}' is not a MAC address like 52:54:00:12:34:56", text);
  if (mac[0] & 1) return fail("MAC address {} is a multicast address", text);
  if (mac == MacAddress{}) return fail("MAC address {} is all zeros", text);
  return mac;
}

std::string format_mac_address(const MacAddress& mac) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3],
                     mac[4], mac[5]);
}

MacAddress mac_address_for(std::string_view seed) {
  // FNV-1a: a stable, well-spread hash; no secret is needed.
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : seed) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  MacAddress mac;
  for (size_t index = 0; index < mac.size(); ++index) mac[index] = (hash >> (8 * index)) & 0xff;
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfc) | 0x02);  // locally administered, unicast
  return mac;
}

}  // namespace wisp
