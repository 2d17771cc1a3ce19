// The gdb remote serial protocol's framing: "$payload#cs" packets, '+'/'-' acknowledgements and
// the interrupt byte (Ctrl-C) that gdb sends while the target runs. Binary escapes ('}') are
// decoded; run-length encoding is never sent by gdb and not accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wisp::gdb {

// What the bytes from gdb amount to, one at a time.
struct Incoming {
  enum class Kind { kPacket, kInterrupt, kBadChecksum };
  Kind kind;
  std::string payload;  // kPacket: unescaped
};

// Splits the byte stream from gdb into packets. Garbage between packets and acknowledgements is
// skipped; a packet longer than kMaxPacketBytes is dropped (gdb learns the limit from
// qSupported).
class PacketReader {
 public:
  static constexpr size_t kMaxPacketBytes = 16384;

  // Feeds bytes; returns what they completed.
  std::vector<Incoming> feed(std::span<const uint8_t> bytes);

 private:
  enum class State { kIdle, kPayload, kEscape, kChecksum1, kChecksum2 };
  State state_ = State::kIdle;
  std::string payload_;
  uint8_t sum_ = 0;
  uint8_t received_sum_ = 0;
  bool overflowed_ = false;
};

// "$payload#cs", with '#', '$', '}' and '*' escaped.
std::string frame_packet(std::string_view payload);

// Hex helpers: two lowercase digits per byte; little-endian numbers as gdb's 'g' packet wants.
std::string to_hex(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);
std::optional<uint64_t> parse_hex_number(std::string_view text);

}  // namespace wisp::gdb
