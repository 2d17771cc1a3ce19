/*
 * virtio-net, the numbers and the header ("Virtual I/O Device (VIRTIO) Version 1.1", §5.1), for
 * guests that drive a network device through virtio_mmio.h; and the Ethernet, ARP, IPv4 and ICMP
 * numbers a guest needs to talk to the host across it.
 */
#pragma once

#include <stdint.h>

/* Feature bits (§5.1.3). */
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* The configuration space (§5.1.4, struct virtio_net_config): byte offsets of its fields. */
#define VIRTIO_NET_CONFIG_MAC 0    /* u8[6], with VIRTIO_NET_F_MAC */
#define VIRTIO_NET_CONFIG_STATUS 6 /* le16, with VIRTIO_NET_F_STATUS */
#define VIRTIO_NET_CONFIG_MTU 10   /* le16, with VIRTIO_NET_F_MTU */
#define VIRTIO_NET_S_LINK_UP 1

/* The receive queue of pair N is 2N, its transmit queue 2N + 1 (§5.1.2). */
#define VIRTIO_NET_RECEIVEQ 0
#define VIRTIO_NET_TRANSMITQ 1

/* The header in front of every frame either way (§5.1.6, struct virtio_net_hdr): 12 bytes under
 * VIRTIO_F_VERSION_1, num_buffers included, with or without VIRTIO_NET_F_MRG_RXBUF. */
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "§5.1.6 virtio_net_hdr");

/* Ethernet II, ARP for IPv4 over Ethernet (RFC 826), IPv4 (RFC 791), ICMP echo (RFC 792), UDP
 * (RFC 768).
 * Multi-byte fields on the wire are big-endian. */
#define ETH_ADDRESS_BYTES 6
#define ETH_HEADER_BYTES 14
#define ETH_MIN_FRAME_BYTES 60 /* without the FCS */
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806
#define ARP_BYTES 28
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define IPV4_HEADER_BYTES 20
#define IPV4_PROTOCOL_ICMP 1
#define IPV4_PROTOCOL_UDP 17
#define UDP_HEADER_BYTES 8
#define ICMP_HEADER_BYTES 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
