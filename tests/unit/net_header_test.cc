// The virtio-net header's pure functions (devices/virtio/net_header.h), each against a table of
// cases: feature dependencies (§5.1.3.1), the GUEST_* features and the TAP's receive offloads,
// the checks of a transmitted header (§5.1.6.2.2) and the received header a guest may see
// (§5.1.6.4.1).
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "devices/net/net_backend.h"
#include "devices/virtio/net_header.h"
#include "devices/virtio/virtio_spec.h"

using namespace wisp;
using namespace wisp::virtio;
using Catch::Matchers::Contains;

namespace {

constexpr uint64_t bit(uint32_t feature) {
  return feature_bit(feature);
}

NetHeader make_header(uint8_t flags, uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
                      uint16_t csum_start, uint16_t csum_offset, uint16_t num_buffers = 0) {
  return NetHeader{flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers};
}

constexpr uint8_t kNeeds = kNetHeaderNeedsCsum;
constexpr uint8_t kValid = kNetHeaderDataValid;

}  // namespace

TEST_CASE("net header: feature dependencies", "[virtio-net]") {
  struct Case {
    uint64_t features;
    const char* missing;  // a part of the message, or nullptr when consistent
  };
  const uint64_t csum = bit(kNetFeatureCsum), guest_csum = bit(kNetFeatureGuestCsum);
  const Case cases[] = {
      {0, nullptr},
      {bit(kFeatureVersion1) | bit(kNetFeatureMac) | bit(kNetFeatureMrgRxbuf), nullptr},
      {bit(kNetFeatureGuestTso4), "GUEST_TSO4 without GUEST_CSUM"},
      {bit(kNetFeatureGuestTso4) | guest_csum, nullptr},
      {bit(kNetFeatureGuestTso6), "GUEST_TSO6 without GUEST_CSUM"},
      {bit(kNetFeatureGuestUfo), "GUEST_UFO without GUEST_CSUM"},
      {bit(kNetFeatureGuestUso4), "GUEST_USO4 without GUEST_CSUM"},
      {bit(kNetFeatureGuestUso6), "GUEST_USO6 without GUEST_CSUM"},
      {bit(kNetFeatureGuestUso6) | guest_csum, nullptr},
      {bit(kNetFeatureGuestTso4) | csum, "GUEST_TSO4 without GUEST_CSUM"},  // the other CSUM
      {bit(kNetFeatureHostTso4), "HOST_TSO4 without CSUM"},
      {bit(kNetFeatureHostTso4) | guest_csum, "HOST_TSO4 without CSUM"},
      {bit(kNetFeatureHostTso6), "HOST_TSO6 without CSUM"},
      {bit(kNetFeatureHostUfo), "HOST_UFO without CSUM"},
      {bit(kNetFeatureHostUso), "HOST_USO without CSUM"},
      {bit(kNetFeatureHostUso) | csum, nullptr},
      {bit(kNetFeatureGuestEcn) | guest_csum, "GUEST_ECN without GUEST_TSO4 or GUEST_TSO6"},
      {bit(kNetFeatureGuestEcn) | guest_csum | bit(kNetFeatureGuestTso4), nullptr},
      {bit(kNetFeatureGuestEcn) | guest_csum | bit(kNetFeatureGuestTso6), nullptr},
      {bit(kNetFeatureGuestEcn) | guest_csum | bit(kNetFeatureGuestUfo),
       "GUEST_ECN without GUEST_TSO4 or GUEST_TSO6"},
      {bit(kNetFeatureHostEcn) | csum, "HOST_ECN without HOST_TSO4 or HOST_TSO6"},
      {bit(kNetFeatureHostEcn) | csum | bit(kNetFeatureHostTso6), nullptr},
      {bit(kNetFeatureMq), "MQ without CTRL_VQ"},
      {bit(kNetFeatureMq) | bit(kNetFeatureCtrlVq), nullptr},
      {bit(kNetFeatureCtrlGuestOffloads), "CTRL_GUEST_OFFLOADS without CTRL_VQ"},
      {bit(kNetFeatureCtrlGuestOffloads) | bit(kNetFeatureCtrlVq), nullptr},
      // Everything at once is consistent.
      {csum | guest_csum | bit(kNetFeatureCtrlGuestOffloads) | bit(kNetFeatureGuestTso4) |
           bit(kNetFeatureGuestTso6) | bit(kNetFeatureGuestEcn) | bit(kNetFeatureGuestUfo) |
           bit(kNetFeatureHostTso4) | bit(kNetFeatureHostTso6) | bit(kNetFeatureHostEcn) |
           bit(kNetFeatureHostUfo) | bit(kNetFeatureCtrlVq) | bit(kNetFeatureMq) |
           bit(kNetFeatureGuestUso4) | bit(kNetFeatureGuestUso6) | bit(kNetFeatureHostUso),
       nullptr},
  };
  for (const Case& c : cases) {
    INFO("features " << std::hex << c.features);
    std::optional<std::string_view> missing = missing_net_feature_dependency(c.features);
    if (c.missing == nullptr) {
      CHECK_FALSE(missing);
    } else {
      REQUIRE(missing);
      CHECK_THAT(std::string(*missing), Contains(c.missing));
    }
  }
}

TEST_CASE("net header: GUEST_* features and the TAP's receive offloads", "[virtio-net]") {
  struct Case {
    uint64_t features;
    uint32_t offloads;
  };
  const Case cases[] = {
      {0, 0},
      {bit(kNetFeatureGuestCsum), net_offload::kChecksum},
      {bit(kNetFeatureGuestTso4), net_offload::kTso4},
      {bit(kNetFeatureGuestTso6), net_offload::kTso6},
      {bit(kNetFeatureGuestEcn), net_offload::kTsoEcn},
      {bit(kNetFeatureGuestUfo), net_offload::kUfo},
      {bit(kNetFeatureGuestUso4), net_offload::kUso4},
      {bit(kNetFeatureGuestUso6), net_offload::kUso6},
      {bit(kNetFeatureGuestCsum) | bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestTso6),
       net_offload::kChecksum | net_offload::kTso4 | net_offload::kTso6},
  };
  for (const Case& c : cases) {
    INFO("features " << std::hex << c.features);
    CHECK(receive_offloads_for(c.features) == c.offloads);
    CHECK(guest_features_for(c.offloads) == c.features);
    // Other features change nothing.
    uint64_t others = bit(kNetFeatureCsum) | bit(kNetFeatureHostTso4) | bit(kNetFeatureMac) |
                      bit(kNetFeatureMrgRxbuf) | bit(kFeatureVersion1);
    CHECK(receive_offloads_for(c.features | others) == c.offloads);
    CHECK(guest_offload_features(c.features | others) == c.features);
  }
  // Bits the table does not know are not features.
  CHECK(guest_features_for(0x80000000u) == 0);
  uint32_t all = net_offload::kChecksum | net_offload::kTso4 | net_offload::kTso6 |
                 net_offload::kTsoEcn | net_offload::kUfo | net_offload::kUso4 | net_offload::kUso6;
  CHECK(receive_offloads_for(guest_features_for(all)) == all);
  CHECK(guest_offload_features(~uint64_t{0}) == guest_features_for(all));
}

TEST_CASE("net header: checks of a frame the guest sends", "[virtio-net]") {
  const uint64_t all = bit(kNetFeatureCsum) | bit(kNetFeatureHostTso4) | bit(kNetFeatureHostTso6) |
                       bit(kNetFeatureHostEcn) | bit(kNetFeatureHostUfo) | bit(kNetFeatureHostUso);
  const uint64_t csum_only = bit(kNetFeatureCsum);
  struct Case {
    const char* what;
    NetHeader header;
    uint64_t negotiated;
    uint64_t frame_bytes;
    const char* error;  // a part of the reason, or nullptr when sound
  };
  const Case cases[] = {
      {"a plain frame", make_header(0, 0, 0, 0, 0, 0), 0, 60, nullptr},
      {"the shortest frame", make_header(0, 0, 0, 0, 0, 0), 0, 14, nullptr},
      {"a frame too short", make_header(0, 0, 0, 0, 0, 0), all, 13, "shorter"},
      {"an empty frame", make_header(0, 0, 0, 0, 0, 0), all, 0, "shorter"},
      {"the longest frame", make_header(0, 0, 0, 0, 0, 0), 0, 65553, nullptr},
      {"a frame too long", make_header(0, 0, 0, 0, 0, 0), all, 65554, "longer"},
      {"flags other than NEEDS_CSUM pass", make_header(kValid, 0, 0, 0, 0, 0), 0, 60, nullptr},
      {"num_buffers means nothing", make_header(0, 0, 0, 0, 0, 0, 99), 0, 60, nullptr},
      {"a partial checksum", make_header(kNeeds, 0, 0, 0, 34, 16), csum_only, 60, nullptr},
      {"a partial checksum in the last 2 bytes", make_header(kNeeds, 0, 0, 0, 50, 8), csum_only, 60,
       nullptr},
      {"a checksum one byte past the end", make_header(kNeeds, 0, 0, 0, 50, 9), csum_only, 60,
       "past the end"},
      {"a checksum far past the end", make_header(kNeeds, 0, 0, 0, 0xffff, 0xffff), csum_only,
       65553, "past the end"},
      {"NEEDS_CSUM without CSUM", make_header(kNeeds, 0, 0, 0, 34, 16), 0, 60, "VIRTIO_NET_F_CSUM"},
      {"a checksum ignored without NEEDS_CSUM", make_header(0, 0, 0, 0, 0xffff, 0xffff), 0, 60,
       nullptr},
      {"ECN without GSO", make_header(0, kNetGsoEcn, 0, 0, 0, 0), all, 60, "ECN"},
      {"TCPv4 GSO", make_header(kNeeds, kNetGsoTcpV4, 54, 1448, 34, 16), all, 3000, nullptr},
      {"TCPv6 GSO", make_header(kNeeds, kNetGsoTcpV6, 74, 1428, 54, 16), all, 3000, nullptr},
      {"UDP GSO (UFO)", make_header(kNeeds, kNetGsoUdp, 42, 1400, 34, 6), all, 3000, nullptr},
      {"UDP_L4 GSO (USO)", make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6), all, 3000, nullptr},
      {"TCPv4 GSO with ECN", make_header(kNeeds, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16), all,
       3000, nullptr},
      {"TCPv4 GSO without HOST_TSO4", make_header(kNeeds, kNetGsoTcpV4, 54, 1448, 34, 16),
       all & ~bit(kNetFeatureHostTso4), 3000, "not negotiated"},
      {"TCPv6 GSO without HOST_TSO6", make_header(kNeeds, kNetGsoTcpV6, 74, 1428, 54, 16),
       csum_only, 3000, "not negotiated"},
      {"UFO without HOST_UFO", make_header(kNeeds, kNetGsoUdp, 42, 1400, 34, 6),
       all & ~bit(kNetFeatureHostUfo), 3000, "not negotiated"},
      {"USO without HOST_USO", make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6),
       all & ~bit(kNetFeatureHostUso), 3000, "not negotiated"},
      {"ECN without HOST_ECN", make_header(kNeeds, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16),
       all & ~bit(kNetFeatureHostEcn), 3000, "ECN"},
      {"an unknown GSO type 2", make_header(kNeeds, 2, 54, 1448, 34, 16), all, 3000, "unknown"},
      {"an unknown GSO type 6", make_header(kNeeds, 6, 54, 1448, 34, 16), all, 3000, "unknown"},
      {"an unknown GSO type 0x7f", make_header(kNeeds, 0x7f, 54, 1448, 34, 16), all, 3000,
       "unknown"},
      {"GSO without NEEDS_CSUM", make_header(0, kNetGsoTcpV4, 54, 1448, 34, 16), all, 3000,
       "without NEEDS_CSUM"},
      {"GSO with a segment size of 0", make_header(kNeeds, kNetGsoTcpV4, 54, 0, 34, 16), all, 3000,
       "size of 0"},
      {"a GSO header length at the end", make_header(kNeeds, kNetGsoTcpV4, 3000, 1448, 34, 16), all,
       3000, nullptr},
      {"a GSO header length past the end", make_header(kNeeds, kNetGsoTcpV4, 3001, 1448, 34, 16),
       all, 3000, "header length"},
      {"a GSO segment larger than the frame", make_header(kNeeds, kNetGsoTcpV4, 54, 3001, 34, 16),
       all, 3000, "segment size"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    std::optional<std::string_view> why =
        check_transmit_header(c.header, c.negotiated, c.frame_bytes);
    if (c.error == nullptr) {
      CHECK_FALSE(why);
    } else {
      REQUIRE(why);
      CHECK_THAT(std::string(*why), Contains(c.error));
    }
  }
}

TEST_CASE("net header: the received header a guest sees", "[virtio-net]") {
  const uint64_t csum = bit(kNetFeatureGuestCsum);
  const uint64_t all = csum | bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestTso6) |
                       bit(kNetFeatureGuestEcn) | bit(kNetFeatureGuestUfo) |
                       bit(kNetFeatureGuestUso4) | bit(kNetFeatureGuestUso6);
  struct Case {
    const char* what;
    NetHeader header;
    uint64_t guest_offloads;
    uint16_t num_buffers;
    std::optional<NetHeader> expected;  // nothing: the frame cannot be delivered
  };
  const Case cases[] = {
      {"a plain frame", make_header(0, 0, 0, 0, 0, 0, 77), 0, 1, make_header(0, 0, 0, 0, 0, 0, 1)},
      {"num_buffers is set", make_header(0, 0, 0, 0, 0, 0), all, 5,
       make_header(0, 0, 0, 0, 0, 0, 5)},
      {"DATA_VALID without GUEST_CSUM", make_header(kValid, 0, 0, 0, 0, 0), 0, 1,
       make_header(0, 0, 0, 0, 0, 0, 1)},
      {"DATA_VALID with GUEST_CSUM", make_header(kValid, 0, 0, 0, 0, 0), csum, 1,
       make_header(kValid, 0, 0, 0, 0, 0, 1)},
      {"unknown flags go", make_header(0xfc | kValid, 0, 0, 0, 0, 0), csum, 1,
       make_header(kValid, 0, 0, 0, 0, 0, 1)},
      {"unknown flags go without GUEST_CSUM", make_header(0xfc, 0, 0, 0, 0, 0), 0, 1,
       make_header(0, 0, 0, 0, 0, 0, 1)},
      {"a partial checksum with GUEST_CSUM", make_header(kNeeds, 0, 0, 0, 34, 16), csum, 1,
       make_header(kNeeds, 0, 0, 0, 34, 16, 1)},
      {"a partial checksum without GUEST_CSUM", make_header(kNeeds, 0, 0, 0, 34, 16), 0, 1,
       std::nullopt},
      {"TCPv4 GSO accepted", make_header(kNeeds, kNetGsoTcpV4, 54, 1448, 34, 16),
       csum | bit(kNetFeatureGuestTso4), 2, make_header(kNeeds, kNetGsoTcpV4, 54, 1448, 34, 16, 2)},
      {"TCPv4 GSO not accepted", make_header(kNeeds, kNetGsoTcpV4, 54, 1448, 34, 16),
       csum | bit(kNetFeatureGuestTso6), 1, std::nullopt},
      {"TCPv6 GSO not accepted", make_header(kNeeds, kNetGsoTcpV6, 74, 1428, 54, 16),
       csum | bit(kNetFeatureGuestTso4), 1, std::nullopt},
      {"UFO not accepted", make_header(kNeeds, kNetGsoUdp, 42, 1400, 34, 6),
       all & ~bit(kNetFeatureGuestUfo), 1, std::nullopt},
      {"USO with GUEST_USO4 only", make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6),
       csum | bit(kNetFeatureGuestUso4), 1, make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6, 1)},
      {"USO with GUEST_USO6 only", make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6),
       csum | bit(kNetFeatureGuestUso6), 1, make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6, 1)},
      {"USO not accepted", make_header(kNeeds, kNetGsoUdpL4, 42, 1400, 34, 6),
       csum | bit(kNetFeatureGuestTso4), 1, std::nullopt},
      {"ECN accepted", make_header(kNeeds, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16), all, 1,
       make_header(kNeeds, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16, 1)},
      {"ECN not accepted", make_header(kNeeds, kNetGsoTcpV4 | kNetGsoEcn, 54, 1448, 34, 16),
       all & ~bit(kNetFeatureGuestEcn), 1, std::nullopt},
      {"an unknown GSO type", make_header(kNeeds, 2, 54, 1448, 34, 16), all, 1, std::nullopt},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    NetHeader header = c.header;
    std::optional<std::string_view> why =
        prepare_receive_header(header, c.guest_offloads, c.num_buffers);
    if (!c.expected) {
      CHECK(why);
    } else {
      REQUIRE_FALSE(why);
      CHECK(header.flags == c.expected->flags);
      CHECK(header.gso_type == c.expected->gso_type);
      CHECK(header.hdr_len == c.expected->hdr_len);
      CHECK(header.gso_size == c.expected->gso_size);
      CHECK(header.csum_start == c.expected->csum_start);
      CHECK(header.csum_offset == c.expected->csum_offset);
      CHECK(header.num_buffers == c.expected->num_buffers);
    }
  }
}
