// The virtio-net header in front of every frame (virtio 1.x §5.1.6, struct virtio_net_hdr with
// num_buffers, 12 bytes under VIRTIO_F_VERSION_1), the feature bits that govern it, and the checks
// and translations between what a guest may ask of the host and what the host hands a guest.
// Pure functions: unit-tested and fuzzed without a device around them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace wisp::virtio {

// §5.1.3 Feature bits.
inline constexpr uint32_t kNetFeatureCsum = 0;               // VIRTIO_NET_F_CSUM
inline constexpr uint32_t kNetFeatureGuestCsum = 1;          // VIRTIO_NET_F_GUEST_CSUM
inline constexpr uint32_t kNetFeatureCtrlGuestOffloads = 2;  // VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
inline constexpr uint32_t kNetFeatureMtu = 3;                // VIRTIO_NET_F_MTU
inline constexpr uint32_t kNetFeatureMac = 5;                // VIRTIO_NET_F_MAC
inline constexpr uint32_t kNetFeatureGuestTso4 = 7;          // VIRTIO_NET_F_GUEST_TSO4
inline constexpr uint32_t kNetFeatureGuestTso6 = 8;          // VIRTIO_NET_F_GUEST_TSO6
inline constexpr uint32_t kNetFeatureGuestEcn = 9;           // VIRTIO_NET_F_GUEST_ECN
inline constexpr uint32_t kNetFeatureGuestUfo = 10;          // VIRTIO_NET_F_GUEST_UFO
inline constexpr uint32_t kNetFeatureHostTso4 = 11;          // VIRTIO_NET_F_HOST_TSO4
inline constexpr uint32_t kNetFeatureHostTso6 = 12;          // VIRTIO_NET_F_HOST_TSO6
inline constexpr uint32_t kNetFeatureHostEcn = 13;           // VIRTIO_NET_F_HOST_ECN
inline constexpr uint32_t kNetFeatureHostUfo = 14;           // VIRTIO_NET_F_HOST_UFO
inline constexpr uint32_t kNetFeatureMrgRxbuf = 15;          // VIRTIO_NET_F_MRG_RXBUF
inline constexpr uint32_t kNetFeatureStatus = 16;            // VIRTIO_NET_F_STATUS
inline constexpr uint32_t kNetFeatureCtrlVq = 17;            // VIRTIO_NET_F_CTRL_VQ
inline constexpr uint32_t kNetFeatureMq = 22;                // VIRTIO_NET_F_MQ
inline constexpr uint32_t kNetFeatureGuestUso4 = 54;         // VIRTIO_NET_F_GUEST_USO4
inline constexpr uint32_t kNetFeatureGuestUso6 = 55;         // VIRTIO_NET_F_GUEST_USO6
inline constexpr uint32_t kNetFeatureHostUso = 56;           // VIRTIO_NET_F_HOST_USO

// §5.1.6 Device Operation: struct virtio_net_hdr.
#pragma pack(push, 1)
struct NetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
#pragma pack(pop)
static_assert(sizeof(NetHeader) == 12);

inline constexpr uint8_t kNetHeaderNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kNetHeaderDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t kNetGsoNone = 0;          // VIRTIO_NET_HDR_GSO_NONE
inline constexpr uint8_t kNetGsoTcpV4 = 1;         // VIRTIO_NET_HDR_GSO_TCPV4
inline constexpr uint8_t kNetGsoUdp = 3;           // VIRTIO_NET_HDR_GSO_UDP
inline constexpr uint8_t kNetGsoTcpV6 = 4;         // VIRTIO_NET_HDR_GSO_TCPV6
inline constexpr uint8_t kNetGsoUdpL4 = 5;         // VIRTIO_NET_HDR_GSO_UDP_L4
inline constexpr uint8_t kNetGsoEcn = 0x80;        // VIRTIO_NET_HDR_GSO_ECN

// The largest frame either way, without its header: a 64 KiB GSO packet with its Ethernet and
// VLAN headers. A guest frame beyond it is refused; the receive buffer holds one of this size.
inline constexpr uint32_t kNetMaxFrameBytes = 65535 + 14 + 4;
inline constexpr uint32_t kNetMinFrameBytes = 14;  // an Ethernet header

// §5.1.3.1 Feature bit requirements: a feature the driver accepted without the one it needs.
// Names the first such feature, or nothing if the set is consistent.
std::optional<std::string_view> missing_net_feature_dependency(uint64_t features);

// The net_offload (TUN_F_*) bits that let the host hand the guest what `guest_features` (the
// GUEST_* bits of a feature set) accept, and back.
uint32_t receive_offloads_for(uint64_t guest_features);
uint64_t guest_features_for(uint32_t receive_offloads);
// The GUEST_* feature bits among all feature bits.
uint64_t guest_offload_features(uint64_t features);

// A frame the guest transmits: why its header cannot be handed on as it is (§5.1.6.2.2), given
// the features negotiated and the frame's length after the header; nothing if it is sound.
std::optional<std::string_view> check_transmit_header(const NetHeader& header, uint64_t negotiated,
                                                      uint64_t frame_bytes);

// A frame the host hands the guest: makes `header` what the guest may see with the GUEST_*
// offloads `guest_offloads` enabled (§5.1.6.4.1), or says why the frame cannot be delivered.
std::optional<std::string_view> prepare_receive_header(NetHeader& header, uint64_t guest_offloads,
                                                       uint16_t num_buffers);

}  // namespace wisp::virtio
