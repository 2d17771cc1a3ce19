#include "firmware/aml.h"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

namespace wisp::aml {
namespace {

// Opcodes and prefixes, ACPI 6.x §20.2.
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kOneOp = 0x01;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0a;
constexpr uint8_t kWordPrefix = 0x0b;
constexpr uint8_t kDWordPrefix = 0x0c;
constexpr uint8_t kStringPrefix = 0x0d;
constexpr uint8_t kQWordPrefix = 0x0e;
constexpr uint8_t kScopeOp = 0x10;
constexpr uint8_t kBufferOp = 0x11;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kDualNamePrefix = 0x2e;
constexpr uint8_t kMultiNamePrefix = 0x2f;
constexpr uint8_t kExtOpPrefix = 0x5b;
constexpr uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
constexpr char kRootChar = '\\';
constexpr char kParentPrefixChar = '^';
constexpr size_t kNameSegLength = 4;
constexpr size_t kMaxMultiNameSegments = 255;
constexpr size_t kMaxPackageElements = 255;  // NumElements is a ByteData

// PkgLength (§20.2.4): a one-byte encoding holds 0..63 in bits 0-5; longer encodings put the
// count of following bytes in bits 6-7 of the lead byte, the low nibble in its bits 0-3, and the
// rest in the following bytes, up to 28 bits in all.
constexpr size_t kPkgLengthOneByteMax = 0x3f;
constexpr size_t kPkgLengthMax = (size_t{1} << 28) - 1;

// Resource descriptors (§6.4).
constexpr uint8_t kMemory32FixedTag = 0x86;          // §6.4.3.4, large item 0x06
constexpr uint16_t kMemory32FixedLength = 9;         // bytes after the 3-byte header
constexpr uint8_t kMemory32FixedWritable = 1u << 0;  // information byte bit 0
constexpr uint8_t kExtendedInterruptTag = 0x89;      // §6.4.3.6, large item 0x09
constexpr uint8_t kInterruptConsumer = 1u << 0;      // Interrupt Vector Flags bit 0
constexpr uint8_t kInterruptEdge = 1u << 1;          // bit 1: 1 = edge, 0 = level
constexpr uint8_t kInterruptActiveLow = 1u << 2;     // bit 2: 1 = active low, 0 = active high
constexpr uint8_t kInterruptShared = 1u << 3;        // bit 3: 1 = shared, 0 = exclusive
constexpr uint8_t kEndTag = 0x79;                    // §6.4.2.9, small item 0x0f, length 1
constexpr uint8_t kEndTagChecksumNone = 0;           // zero: treat the data as checksummed

[[noreturn]] void invalid(std::string_view what) {
  fmt::print(stderr, "wisp: AML builder: {}\n", what);
  std::abort();
}

void append_le(Bytes& out, uint64_t value, size_t size) {
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

bool is_lead_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_lead_name_char(c) || (c >= '0' && c <= '9');
}

// One NameSeg (§20.2.2): a lead character, up to three more, padded with '_'.
void append_name_seg(Bytes& out, std::string_view seg) {
  if (seg.empty() || seg.size() > kNameSegLength || !is_lead_name_char(seg[0])) {
    invalid(fmt::format("bad name segment \"{}\"", seg));
  }
  for (char c : seg) {
    if (!is_name_char(c)) invalid(fmt::format("bad character in name segment \"{}\"", seg));
    out.push_back(static_cast<uint8_t>(c));
  }
  out.insert(out.end(), kNameSegLength - seg.size(), '_');
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  while (true) {
    size_t dot = path.find('.');
    segments.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) return segments;
    path.remove_prefix(dot + 1);
  }
}

// An opcode, then a PkgLength, then `contents` (the shape of Scope, Device, Buffer, Package).
Bytes with_pkg_length(std::span<const uint8_t> opcode, std::span<const uint8_t> contents) {
  Bytes out(opcode.begin(), opcode.end());
  append(out, pkg_length(contents.size()));
  append(out, contents);
  return out;
}

Bytes named_block(std::span<const uint8_t> opcode, std::string_view path,
                  std::span<const uint8_t> terms) {
  Bytes contents = name_string(path);
  append(contents, terms);
  return with_pkg_length(opcode, contents);
}

}  // namespace

void append(Bytes& out, std::span<const uint8_t> term) {
  out.insert(out.end(), term.begin(), term.end());
}

Bytes pkg_length(size_t content_length) {
  if (content_length + 1 <= kPkgLengthOneByteMax) {
    return {static_cast<uint8_t>(content_length + 1)};
  }
  for (size_t following = 1; following <= 3; ++following) {
    size_t total = content_length + 1 + following;
    if (total >= (size_t{1} << (4 + 8 * following))) continue;
    Bytes out{static_cast<uint8_t>((following << 6) | (total & 0x0f))};
    append_le(out, total >> 4, following);
    return out;
  }
  invalid(fmt::format("object of {} bytes exceeds the PkgLength limit of {}", content_length,
                      kPkgLengthMax));
}

Bytes name_string(std::string_view path) {
  Bytes out;
  if (!path.empty() && path[0] == kRootChar) {
    out.push_back(kRootChar);
    path.remove_prefix(1);
  } else {
    while (!path.empty() && path[0] == kParentPrefixChar) {
      out.push_back(kParentPrefixChar);
      path.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segments = split_segments(path);
  if (segments.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segments.size() > 2) {
    if (segments.size() > kMaxMultiNameSegments) invalid("name path has too many segments");
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segments.size()));
  }
  for (std::string_view seg : segments) append_name_seg(out, seg);
  return out;
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  Bytes out;
  if (value <= UINT8_MAX) {
    out.push_back(kBytePrefix);
    append_le(out, value, 1);
  } else if (value <= UINT16_MAX) {
    out.push_back(kWordPrefix);
    append_le(out, value, 2);
  } else if (value <= UINT32_MAX) {
    out.push_back(kDWordPrefix);
    append_le(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    append_le(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    if (c <= 0) invalid(fmt::format("string \"{}\" is not 7-bit ASCII without NUL", text));
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

Bytes name(std::string_view path, std::span<const uint8_t> object) {
  Bytes out{kNameOp};
  append(out, name_string(path));
  append(out, object);
  return out;
}

Bytes package(std::span<const Bytes> elements) {
  if (elements.size() > kMaxPackageElements) {
    invalid(
        fmt::format("package of {} elements (at most {})", elements.size(), kMaxPackageElements));
  }
  Bytes contents{static_cast<uint8_t>(elements.size())};
  for (const Bytes& element : elements) append(contents, element);
  return with_pkg_length(std::array{kPackageOp}, contents);
}

Bytes buffer(std::span<const uint8_t> data) {
  Bytes contents = integer(data.size());  // BufferSize
  append(contents, data);
  return with_pkg_length(std::array{kBufferOp}, contents);
}

Bytes scope(std::string_view path, std::span<const uint8_t> terms) {
  return named_block(std::array{kScopeOp}, path, terms);
}

Bytes device(std::string_view path, std::span<const uint8_t> terms) {
  return named_block(std::array{kExtOpPrefix, kDeviceOp}, path, terms);
}

Bytes memory32_fixed(Access access, uint32_t base, uint32_t length) {
  Bytes out{kMemory32FixedTag};
  append_le(out, kMemory32FixedLength, 2);
  out.push_back(access == Access::kReadWrite ? kMemory32FixedWritable : 0);
  append_le(out, base, 4);
  append_le(out, length, 4);
  return out;
}

Bytes eisa_id(std::string_view id) {
  auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (id.size() != 7 || !is_upper(id[0]) || !is_upper(id[1]) || !is_upper(id[2]))
    invalid(fmt::format("EISA ID \"{}\" is not three capitals and four hex digits", id));
  // Three 5-bit letters ('A' is 1), then four hex digits, stored big-endian in the dword's bytes.
  uint32_t letters =
      (uint32_t(id[0] - '@') << 10) | (uint32_t(id[1] - '@') << 5) | uint32_t(id[2] - '@');
  uint32_t digits = 0;
  for (int i = 3; i < 7; ++i) {
    int digit = hex(id[i]);
    if (digit < 0) invalid(fmt::format("EISA ID \"{}\" has a bad hex digit", id));
    digits = (digits << 4) | static_cast<uint32_t>(digit);
  }
  uint32_t big_endian = (letters << 16) | digits;
  uint32_t value = ((big_endian >> 24) & 0xff) | ((big_endian >> 8) & 0xff00) |
                   ((big_endian << 8) & 0xff0000) | ((big_endian << 24) & 0xff000000);
  return integer(value);
}

Bytes io_port(uint16_t base, uint8_t length) {
  constexpr uint8_t kIoPortTag = 0x47;  // small item, type 8, length 7
  constexpr uint8_t kDecode16 = 0x01;
  Bytes out{kIoPortTag, kDecode16};
  append_le(out, base, 2);  // minimum base
  append_le(out, base, 2);  // maximum base
  out.push_back(1);         // alignment
  out.push_back(length);
  return out;
}

Bytes interrupt(uint32_t gsi, Trigger trigger, Polarity polarity, Sharing sharing) {
  uint8_t flags = kInterruptConsumer;
  if (trigger == Trigger::kEdge) flags |= kInterruptEdge;
  if (polarity == Polarity::kActiveLow) flags |= kInterruptActiveLow;
  if (sharing == Sharing::kShared) flags |= kInterruptShared;
  constexpr uint8_t kInterruptCount = 1;
  constexpr uint16_t kLength = 2 + 4 * kInterruptCount;  // flags, count, the interrupt numbers
  Bytes out{kExtendedInterruptTag};
  append_le(out, kLength, 2);
  out.push_back(flags);
  out.push_back(kInterruptCount);
  append_le(out, gsi, 4);
  return out;
}

Bytes resource_template(std::span<const Bytes> descriptors) {
  Bytes data;
  for (const Bytes& descriptor : descriptors) append(data, descriptor);
  data.push_back(kEndTag);
  data.push_back(kEndTagChecksumNone);
  return buffer(data);
}

}  // namespace wisp::aml
