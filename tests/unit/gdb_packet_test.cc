#include "vmm/gdb/packet.h"

#include <catch2/catch.hpp>
#include <string>

using namespace wisp::gdb;

namespace {

std::vector<Incoming> feed(PacketReader& reader, const std::string& bytes) {
  return reader.feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace

TEST_CASE("gdb packets are framed with their checksum, and escaped", "[gdb]") {
  CHECK(frame_packet("OK") == "$OK#9a");
  CHECK(frame_packet("") == "$#00");
  // '#', '$', '}' and '*' go as '}' and the byte xor 0x20.
  CHECK(frame_packet("a#b") ==
        "$a}\x03"
        "b#" +
            to_hex(std::vector<uint8_t>{uint8_t('a' + '}' + 0x03 + 'b')}));
}

TEST_CASE("the reader splits gdb's bytes into packets, interrupts and bad checksums", "[gdb]") {
  PacketReader reader;
  auto first = feed(reader, "+" + frame_packet("qSupported:multiprocess+") + "+\x03");
  REQUIRE(first.size() == 2);
  CHECK(first[0].kind == Incoming::Kind::kPacket);
  CHECK(first[0].payload == "qSupported:multiprocess+");
  CHECK(first[1].kind == Incoming::Kind::kInterrupt);

  // A packet split across reads, with an escaped byte in it.
  std::string framed = frame_packet("X100,1:}");
  CHECK(feed(reader, framed.substr(0, 5)).empty());
  auto split = feed(reader, framed.substr(5));
  REQUIRE(split.size() == 1);
  CHECK(split[0].payload == "X100,1:}");

  auto bad = feed(reader, "$g#00");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].kind == Incoming::Kind::kBadChecksum);
  auto garbage = feed(reader, "$g#zz");
  REQUIRE(garbage.size() == 1);
  CHECK(garbage[0].kind == Incoming::Kind::kBadChecksum);
  // The reader is in step again after them.
  auto next = feed(reader, frame_packet("?"));
  REQUIRE(next.size() == 1);
  CHECK(next[0].payload == "?");
}

TEST_CASE("a packet longer than the reader takes is refused, not cut", "[gdb]") {
  PacketReader reader;
  auto long_one = feed(reader, frame_packet(std::string(PacketReader::kMaxPacketBytes + 1, 'a')));
  REQUIRE(long_one.size() == 1);
  CHECK(long_one[0].kind == Incoming::Kind::kBadChecksum);
  auto fits = feed(reader, frame_packet(std::string(PacketReader::kMaxPacketBytes, 'a')));
  REQUIRE(fits.size() == 1);
  CHECK(fits[0].kind == Incoming::Kind::kPacket);
}

TEST_CASE("hex as gdb writes it", "[gdb]") {
  CHECK(to_hex(std::vector<uint8_t>{0x00, 0xab, 0x7f}) == "00ab7f");
  CHECK(from_hex("00AB7f") == std::vector<uint8_t>{0x00, 0xab, 0x7f});
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("zz"));
  CHECK(parse_hex_number("ffffffff81000000") == 0xffffffff81000000);
  CHECK_FALSE(parse_hex_number(""));
  CHECK_FALSE(parse_hex_number("12g"));
}
