#include "devices/virtio/net_header.h"

#include "devices/net/net_backend.h"
#include "devices/virtio/virtio_spec.h"

namespace wisp::virtio {
namespace {

constexpr uint64_t bit(uint32_t feature) {
  return feature_bit(feature);
}

// A GUEST_* feature and the TAP offload that lets the host hand the guest such frames.
struct ReceiveOffload {
  uint32_t feature;
  uint32_t offload;
};
constexpr ReceiveOffload kReceiveOffloads[] = {
    {kNetFeatureGuestCsum, net_offload::kChecksum}, {kNetFeatureGuestTso4, net_offload::kTso4},
    {kNetFeatureGuestTso6, net_offload::kTso6},     {kNetFeatureGuestEcn, net_offload::kTsoEcn},
    {kNetFeatureGuestUfo, net_offload::kUfo},       {kNetFeatureGuestUso4, net_offload::kUso4},
    {kNetFeatureGuestUso6, net_offload::kUso6},
};

// A feature and one of the features it needs (§5.1.3.1): each entry is checked alone, and a
// feature with alternatives (GUEST_ECN, HOST_ECN) is listed in feature_needs_any below.
struct Dependency {
  uint32_t feature;
  uint32_t needs;
  std::string_view message;
};
constexpr Dependency kDependencies[] = {
    {kNetFeatureGuestTso4, kNetFeatureGuestCsum, "GUEST_TSO4 without GUEST_CSUM"},
    {kNetFeatureGuestTso6, kNetFeatureGuestCsum, "GUEST_TSO6 without GUEST_CSUM"},
    {kNetFeatureGuestUfo, kNetFeatureGuestCsum, "GUEST_UFO without GUEST_CSUM"},
    {kNetFeatureGuestUso4, kNetFeatureGuestCsum, "GUEST_USO4 without GUEST_CSUM"},
    {kNetFeatureGuestUso6, kNetFeatureGuestCsum, "GUEST_USO6 without GUEST_CSUM"},
    {kNetFeatureHostTso4, kNetFeatureCsum, "HOST_TSO4 without CSUM"},
    {kNetFeatureHostTso6, kNetFeatureCsum, "HOST_TSO6 without CSUM"},
    {kNetFeatureHostUfo, kNetFeatureCsum, "HOST_UFO without CSUM"},
    {kNetFeatureHostUso, kNetFeatureCsum, "HOST_USO without CSUM"},
    {kNetFeatureMq, kNetFeatureCtrlVq, "MQ without CTRL_VQ"},
    {kNetFeatureCtrlGuestOffloads, kNetFeatureCtrlVq, "CTRL_GUEST_OFFLOADS without CTRL_VQ"},
};

// The GSO type a transmitted frame may carry, and the feature that allows it.
std::optional<uint32_t> transmit_gso_feature(uint8_t gso_type) {
  switch (gso_type) {
    case kNetGsoTcpV4:
      return kNetFeatureHostTso4;
    case kNetGsoTcpV6:
      return kNetFeatureHostTso6;
    case kNetGsoUdp:
      return kNetFeatureHostUfo;
    case kNetGsoUdpL4:
      return kNetFeatureHostUso;
    default:
      return std::nullopt;
  }
}

// The GUEST_* features a received GSO type needs (USO: either family's).
uint64_t receive_gso_features(uint8_t gso_type) {
  switch (gso_type) {
    case kNetGsoTcpV4:
      return bit(kNetFeatureGuestTso4);
    case kNetGsoTcpV6:
      return bit(kNetFeatureGuestTso6);
    case kNetGsoUdp:
      return bit(kNetFeatureGuestUfo);
    case kNetGsoUdpL4:
      return bit(kNetFeatureGuestUso4) | bit(kNetFeatureGuestUso6);
    default:
      return 0;
  }
}

}  // namespace

std::optional<std::string_view> missing_net_feature_dependency(uint64_t features) {
  for (const Dependency& dependency : kDependencies) {
    if ((features & bit(dependency.feature)) && !(features & bit(dependency.needs)))
      return dependency.message;
  }
  if ((features & bit(kNetFeatureGuestEcn)) &&
      !(features & (bit(kNetFeatureGuestTso4) | bit(kNetFeatureGuestTso6))))
    return "GUEST_ECN without GUEST_TSO4 or GUEST_TSO6";
  if ((features & bit(kNetFeatureHostEcn)) &&
      !(features & (bit(kNetFeatureHostTso4) | bit(kNetFeatureHostTso6))))
    return "HOST_ECN without HOST_TSO4 or HOST_TSO6";
  return std::nullopt;
}

uint32_t receive_offloads_for(uint64_t guest_features) {
  uint32_t offloads = 0;
  for (const ReceiveOffload& entry : kReceiveOffloads)
    if (guest_features & bit(entry.feature)) offloads |= entry.offload;
  return offloads;
}

uint64_t guest_features_for(uint32_t receive_offloads) {
  uint64_t features = 0;
  for (const ReceiveOffload& entry : kReceiveOffloads)
    if (receive_offloads & entry.offload) features |= bit(entry.feature);
  return features;
}

uint64_t guest_offload_features(uint64_t features) {
  return features & guest_features_for(~0u);
}

std::optional<std::string_view> check_transmit_header(const NetHeader& header, uint64_t negotiated,
                                                      uint64_t frame_bytes) {
  if (frame_bytes < kNetMinFrameBytes) return "the frame is shorter than an Ethernet header";
  if (frame_bytes > kNetMaxFrameBytes) return "the frame is longer than 64 KiB and its headers";
  bool needs_checksum = header.flags & kNetHeaderNeedsCsum;
  if (needs_checksum) {
    if (!(negotiated & bit(kNetFeatureCsum))) return "NEEDS_CSUM without VIRTIO_NET_F_CSUM";
    if (uint64_t{header.csum_start} + header.csum_offset + 2 > frame_bytes)
      return "the checksum's place lies past the end of the frame";
  }
  uint8_t gso = header.gso_type & static_cast<uint8_t>(~kNetGsoEcn);
  if (gso == kNetGsoNone) {
    if (header.gso_type & kNetGsoEcn) return "the ECN flag on a frame without GSO";
    return std::nullopt;
  }
  std::optional<uint32_t> feature = transmit_gso_feature(gso);
  if (!feature) return "an unknown GSO type";
  if (!(negotiated & bit(*feature))) return "a GSO type whose feature was not negotiated";
  if ((header.gso_type & kNetGsoEcn) && !(negotiated & bit(kNetFeatureHostEcn)))
    return "GSO with ECN without VIRTIO_NET_F_HOST_ECN";
  if (!needs_checksum) return "GSO without NEEDS_CSUM";
  if (header.gso_size == 0) return "GSO with a segment size of 0";
  if (header.hdr_len > frame_bytes) return "the GSO header length is past the end of the frame";
  if (header.gso_size > frame_bytes) return "the GSO segment size is larger than the frame";
  return std::nullopt;
}

std::optional<std::string_view> prepare_receive_header(NetHeader& header, uint64_t guest_offloads,
                                                       uint16_t num_buffers) {
  bool guest_checksums = guest_offloads & bit(kNetFeatureGuestCsum);
  uint8_t gso = header.gso_type & static_cast<uint8_t>(~kNetGsoEcn);
  if (gso != kNetGsoNone) {
    if (!(guest_offloads & receive_gso_features(gso)))
      return "a GSO frame of a type the guest did not accept";
    if ((header.gso_type & kNetGsoEcn) && !(guest_offloads & bit(kNetFeatureGuestEcn)))
      return "a GSO frame with ECN the guest did not accept";
  }
  if (!guest_checksums) {
    // §5.1.6.4.1: without GUEST_CSUM the flags are zero and the checksum is complete.
    if (header.flags & kNetHeaderNeedsCsum) return "a partial checksum the guest did not accept";
    header.flags = 0;
  } else {
    header.flags &= kNetHeaderNeedsCsum | kNetHeaderDataValid;
  }
  header.num_buffers = num_buffers;
  return std::nullopt;
}

}  // namespace wisp::virtio
