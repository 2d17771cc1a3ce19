#include "vmm/gdb/packet.h"

#include <charconv>

namespace wisp::gdb {
namespace {

constexpr uint8_t kInterruptByte = 0x03;
constexpr uint8_t kEscapeXor = 0x20;

std::optional<uint8_t> hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

}  // namespace

std::vector<Incoming> PacketReader::feed(std::span<const uint8_t> bytes) {
  std::vector<Incoming> out;
  for (uint8_t byte : bytes) {
    switch (state_) {
      case State::kIdle:
        if (byte == '$') {
          payload_.clear();
          sum_ = 0;
          overflowed_ = false;
          state_ = State::kPayload;
        } else if (byte == kInterruptByte) {
          out.push_back({Incoming::Kind::kInterrupt, {}});
        }
        break;  // '+', '-' and anything else between packets
      case State::kPayload:
      case State::kEscape:
        if (state_ == State::kPayload && byte == '#') {
          state_ = State::kChecksum1;
          received_sum_ = 0;
          break;
        }
        sum_ = static_cast<uint8_t>(sum_ + byte);
        if (state_ == State::kPayload && byte == '}') {
          state_ = State::kEscape;
          break;
        }
        if (payload_.size() < kMaxPacketBytes) {
          payload_.push_back(
              static_cast<char>(state_ == State::kEscape ? byte ^ kEscapeXor : byte));
        } else {
          overflowed_ = true;
        }
        state_ = State::kPayload;
        break;
      case State::kChecksum1:
      case State::kChecksum2: {
        std::optional<uint8_t> digit = hex_digit(static_cast<char>(byte));
        received_sum_ = static_cast<uint8_t>((received_sum_ << 4) | digit.value_or(0));
        if (state_ == State::kChecksum1) {
          state_ = digit ? State::kChecksum2 : State::kIdle;
          if (!digit) out.push_back({Incoming::Kind::kBadChecksum, {}});
          break;
        }
        state_ = State::kIdle;
        bool good = digit && received_sum_ == sum_ && !overflowed_;
        out.push_back({good ? Incoming::Kind::kPacket : Incoming::Kind::kBadChecksum,
                       good ? std::move(payload_) : std::string()});
        payload_.clear();
        break;
      }
    }
  }
  return out;
}

std::string frame_packet(std::string_view payload) {
  std::string framed = "$";
  uint8_t sum = 0;
  for (char c : payload) {
    if (c == '#' || c == '$' || c == '}' || c == '*') {
      framed.push_back('}');
      sum = static_cast<uint8_t>(sum + '}');
      c = static_cast<char>(c ^ kEscapeXor);
    }
    framed.push_back(c);
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  }
  constexpr char kDigits[] = "0123456789abcdef";
  framed.push_back('#');
  framed.push_back(kDigits[sum >> 4]);
  framed.push_back(kDigits[sum & 0xf]);
  return framed;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (uint8_t byte : bytes) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0xf]);
  }
  return text;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    auto high = hex_digit(text[i]), low = hex_digit(text[i + 1]);
    if (!high || !low) return std::nullopt;
    bytes.push_back(static_cast<uint8_t>(*high << 4 | *low));
  }
  return bytes;
}

std::optional<uint64_t> parse_hex_number(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace wisp::gdb
