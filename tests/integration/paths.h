// Where the integration tests find the wisp binary and the tiny guests (set by CMake).
#pragma once

#include <string>

namespace wisp::test {

inline const std::string kWisp = WISP_BINARY;

inline std::string tiny_guest(const std::string& name) {
  return std::string(TINY_GUEST_DIR) + "/" + name + ".bzImage";
}

// A guest of the test-guest kit (guest/kit): "<guest>.<format>.<elf|bin>".
inline std::string kit_guest(const std::string& file) {
  return std::string(KIT_GUEST_DIR) + "/" + file;
}

}  // namespace wisp::test
