/*
 * virtio_net: a functional test of the first virtio-net device on the command line
 * (virtio_mmio.device= words), through the kit's virtio-mmio driver, against the host kernel on
 * the other side of the TAP.
 *
 *  1. negotiates VIRTIO_F_VERSION_1, and VIRTIO_NET_F_MAC, _STATUS, _MTU, _MRG_RXBUF (unless
 *     mrg_rxbuf=off is on the command line) and VIRTIO_F_EVENT_IDX when offered: no offloads, so
 *     every received frame comes whole, its checksums complete;
 *  2. prints the MAC address from the configuration space ("mac: 02:..."), which must be the
 *     mac=MAC of the command line when there is one; the link must be up (with _STATUS);
 *  3. receive queue 0 (by interrupt) gets RX_BUFFERS buffers, of 1024 bytes with MRG_RXBUF (so
 *     that larger frames span two) or 2048 bytes without; transmit queue 1 is polled;
 *  4. with ip=A.B.C.D host=E.F.G.H on the command line: an ARP request for the host's address,
 *     then ICMP echo requests of 1000 bytes (PINGS of them) and of 1400 bytes, each of whose
 *     replies must come from the host's MAC and address with sound IPv4 and ICMP checksums and
 *     the payload sent. ARP requests for the guest's address are answered meanwhile; other frames
 *     (the host's IPv6 neighbour discovery, ...) are skipped. Without ip=, only steps 1 to 3.
 * With hold=MS (and ip=), the receive buffers are posted only MS milliseconds after DRIVER_OK,
 * while the host floods the guest (tests/integration/udp_flood.cc: UDP datagrams to port 9 whose
 * payload is a 32-bit sequence number and FLOOD_PAYLOAD_BYTES - 4 bytes of (sequence + i) & 0xff);
 * then FLOOD_DATAGRAMS of them must come through whole and in order before the pings.
 * Prints "virtio-net: ok" and exits 0, or prints each check that failed and exits 1 (2 when there
 * is no usable network device).
 */
#include "virtio_net.h"
#include "virtio_mmio.h"

#define RX_BUFFERS 32
#define RX_BUFFER_BYTES 2048 /* §5.1.6.3.1: at least 1526 bytes without MRG_RXBUF or GUEST_TSO */
#define RX_BUFFER_BYTES_MERGED 1024
#define MAX_FRAME_BYTES 2048  /* a received frame, reassembled */
#define MAX_OTHER_FRAMES 4096 /* skipped while waiting for an answer, before giving up */
#define PINGS 4
#define PING_BYTES 1000
#define LARGE_PING_BYTES 1400
#define ICMP_ID 0x4b17
#define FLOOD_PORT 9 /* discard */
#define FLOOD_PAYLOAD_BYTES 1000
#define FLOOD_DATAGRAMS 200

#define EXIT_FAILED 1
#define EXIT_NO_DEVICE 2

static struct virtio_device net;
static struct virtq rxq, txq;
KIT_NOINIT static uint8_t rx_buffers[RX_BUFFERS][RX_BUFFER_BYTES] __attribute__((aligned(64)));
static uint8_t rx_buffer_of_head[VIRTQ_MAX_SIZE];
static uint32_t rx_buffer_bytes;
static uint8_t frame[MAX_FRAME_BYTES]; /* the last frame received, without its header */
static uint32_t frame_bytes;
static uint8_t tx_frame[MAX_FRAME_BYTES];
static struct virtio_net_hdr tx_header;

static uint8_t mac[ETH_ADDRESS_BYTES], host_mac[ETH_ADDRESS_BYTES];
static const uint8_t broadcast[ETH_ADDRESS_BYTES] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static uint32_t guest_ip, host_ip;
static struct kit_checks checks = {"virtio-net", 0};

/* ---- Bytes on the wire (big-endian) ---------------------------------------------------- */

static uint16_t get16(const uint8_t* p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t* p) {
  return (uint32_t)get16(p) << 16 | get16(p + 2);
}
static void put16(uint8_t* p, uint16_t value) {
  p[0] = (uint8_t)(value >> 8);
  p[1] = (uint8_t)value;
}
static void put32(uint8_t* p, uint32_t value) {
  put16(p, (uint16_t)(value >> 16));
  put16(p + 2, (uint16_t)value);
}
static bool same_bytes(const uint8_t* a, const uint8_t* b, uint32_t count) {
  for (uint32_t i = 0; i < count; i++)
    if (a[i] != b[i]) return false;
  return true;
}

/* The Internet checksum (RFC 1071) of a block, on top of sum (a pseudo-header's): 0 over a block
 * that holds its own correct checksum. */
static uint16_t checksum_from(uint32_t sum, const uint8_t* data, uint32_t length) {
  for (uint32_t i = 0; i + 1 < length; i += 2) sum += get16(data + i);
  if (length & 1) sum += (uint32_t)data[length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}
static uint16_t checksum(const uint8_t* data, uint32_t length) {
  return checksum_from(0, data, length);
}

static void print_mac(const uint8_t* address) {
  for (int i = 0; i < ETH_ADDRESS_BYTES; i++) {
    if (i) serial_putc(':');
    serial_putc("0123456789abcdef"[address[i] >> 4]);
    serial_putc("0123456789abcdef"[address[i] & 0xf]);
  }
}

/* "A.B.C.D" at s, into *address. */
static bool parse_ipv4(const char* s, uint32_t* address) {
  uint32_t value = 0;
  for (int part = 0; part < 4; part++) {
    if (part && *s++ != '.') return false;
    if (*s < '0' || *s > '9') return false;
    uint32_t number = 0;
    while (*s >= '0' && *s <= '9') number = number * 10 + (uint32_t)(*s++ - '0');
    if (number > 255) return false;
    value = value << 8 | number;
  }
  if (*s && *s != ' ') return false;
  *address = value;
  return true;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* "xx:xx:xx:xx:xx:xx" at s, into address. */
static bool parse_mac(const char* s, uint8_t* address) {
  for (int i = 0; i < ETH_ADDRESS_BYTES; i++) {
    if (i && *s++ != ':') return false;
    int high = hex_digit(s[0]), low = high < 0 ? -1 : hex_digit(s[1]);
    if (low < 0) return false;
    address[i] = (uint8_t)(high << 4 | low);
    s += 2;
  }
  return !*s || *s == ' ';
}

/* ---- The device -------------------------------------------------------------------------- */

static const char* post_receive_buffer(unsigned index) {
  struct virtq_buffer buffer = {rx_buffers[index], rx_buffer_bytes, true};
  int head = virtq_submit(&rxq, &buffer, 1, NULL);
  if (head < 0) return "no room in the receive queue";
  rx_buffer_of_head[head] = (uint8_t)index;
  return NULL;
}

static bool set_up(const char* cmdline, bool post_later) {
  if (!virtio_mmio_find(&net, cmdline, VIRTIO_ID_NET)) {
    serial_print("virtio-net: no virtio-mmio network device on the command line\n");
    return false;
  }
  serial_print("virtio-net: device at ");
  serial_print_hex(net.base);
  serial_print(" irq ");
  serial_print_dec(net.irq);
  serial_print("\n");
  uint64_t optional = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                      VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
  if (!cmdline_find(cmdline, "mrg_rxbuf=off")) optional |= VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
  const char* error = virtio_negotiate(&net, 0, optional);
  if (!error) error = virtq_setup(&net, &rxq, VIRTIO_NET_RECEIVEQ, VIRTQ_MAX_SIZE);
  if (!error) error = virtq_setup(&net, &txq, VIRTIO_NET_TRANSMITQ, VIRTQ_MAX_SIZE);
  if (!error) error = virtio_route_interrupt(&net);
  if (!error) {
    virtio_driver_ok(&net);
    virtq_set_wait(&rxq, VIRTQ_WAIT_INTERRUPT);
    rx_buffer_bytes =
        virtio_has_feature(&net, VIRTIO_NET_F_MRG_RXBUF) ? RX_BUFFER_BYTES_MERGED : RX_BUFFER_BYTES;
    if (!post_later)
      for (unsigned i = 0; !error && i < RX_BUFFERS; i++) error = post_receive_buffer(i);
  }
  if (error) {
    serial_print("virtio-net: ");
    serial_print(error);
    serial_print("\n");
    return false;
  }
  serial_print("virtio-net: device features ");
  serial_print_hex(net.device_features);
  serial_print(", negotiated ");
  serial_print_hex(net.features);
  serial_print(", queue sizes ");
  serial_print_dec(rxq.size);
  serial_print(" ");
  serial_print_dec(txq.size);
  serial_print("\n");
  return true;
}

/* The device's configuration: the MAC address (and the one the command line expects), the link
 * status and the MTU. */
static void check_config(const char* cmdline) {
  if (!virtio_has_feature(&net, VIRTIO_NET_F_MAC)) {
    kit_fail(&checks, "VIRTIO_NET_F_MAC is not offered", NULL);
    return;
  }
  for (int i = 0; i < ETH_ADDRESS_BYTES; i++)
    mac[i] = virtio_config_read8(&net, VIRTIO_NET_CONFIG_MAC + (uint32_t)i);
  serial_print("mac: ");
  print_mac(mac);
  serial_print("\n");
  if (mac[0] & 1) kit_fail(&checks, "the MAC address is a multicast address", NULL);
  const char* expected_word = cmdline_find(cmdline, "mac=");
  uint8_t expected[ETH_ADDRESS_BYTES];
  if (expected_word && !parse_mac(expected_word, expected))
    kit_fail(&checks, "mac= on the command line is not a MAC address", expected_word);
  else if (expected_word && !same_bytes(mac, expected, ETH_ADDRESS_BYTES))
    kit_fail(&checks, "the MAC address is not the one on the command line", expected_word);
  if (virtio_has_feature(&net, VIRTIO_NET_F_STATUS) &&
      !(virtio_config_read16(&net, VIRTIO_NET_CONFIG_STATUS) & VIRTIO_NET_S_LINK_UP))
    kit_fail(&checks, "the link is down", NULL);
  if (virtio_has_feature(&net, VIRTIO_NET_F_MTU)) {
    uint16_t mtu = virtio_config_read16(&net, VIRTIO_NET_CONFIG_MTU);
    serial_print("mtu: ");
    serial_print_dec(mtu);
    serial_print("\n");
    if (mtu < 68) kit_fail(&checks, "the MTU is below IPv4's minimum of 68", NULL);
  }
}

/* ---- Frames ------------------------------------------------------------------------------ */

/* Sends tx_frame[0..length) (padded to the Ethernet minimum) as a header and a frame buffer. */
static const char* send(uint32_t length) {
  while (length < ETH_MIN_FRAME_BYTES) tx_frame[length++] = 0;
  tx_header = (struct virtio_net_hdr){0}; /* no offloads: flags 0, GSO_NONE */
  struct virtq_buffer buffers[] = {{&tx_header, sizeof tx_header, false},
                                   {tx_frame, length, false}};
  if (virtq_submit(&txq, buffers, 2, NULL) < 0) return "no room in the transmit queue";
  struct virtq_completion done;
  return virtq_wait(&txq, &done);
}

static void put_ethernet_header(uint8_t* p, const uint8_t* destination, uint16_t type) {
  memcpy(p, destination, ETH_ADDRESS_BYTES);
  memcpy(p + ETH_ADDRESS_BYTES, mac, ETH_ADDRESS_BYTES);
  put16(p + 2 * ETH_ADDRESS_BYTES, type);
}

static const char* send_arp(uint16_t operation, const uint8_t* target_mac, uint32_t target_ip) {
  uint8_t* p = tx_frame;
  put_ethernet_header(p, operation == ARP_REQUEST ? broadcast : target_mac, ETH_TYPE_ARP);
  p += ETH_HEADER_BYTES;
  put16(p, 1); /* hardware: Ethernet */
  put16(p + 2, ETH_TYPE_IPV4);
  p[4] = ETH_ADDRESS_BYTES;
  p[5] = 4;
  put16(p + 6, operation);
  memcpy(p + 8, mac, ETH_ADDRESS_BYTES);
  put32(p + 14, guest_ip);
  if (operation == ARP_REQUEST)
    memset(p + 18, 0, ETH_ADDRESS_BYTES);
  else
    memcpy(p + 18, target_mac, ETH_ADDRESS_BYTES);
  put32(p + 24, target_ip);
  return send(ETH_HEADER_BYTES + ARP_BYTES);
}

/* Takes the next used receive buffer, checks its header and used length; the first one of a
 * frame says in num_buffers how many follow. Puts the buffer back into the queue. */
static const char* take_receive_buffer(bool first, uint16_t* num_buffers) {
  struct virtq_completion done;
  const char* error = virtq_wait(&rxq, &done);
  if (error) return error;
  unsigned index = rx_buffer_of_head[done.head];
  const uint8_t* buffer = rx_buffers[index];
  uint32_t data = 0, length = done.written;
  if (length > rx_buffer_bytes) return "the used length is larger than the receive buffer";
  if (first) {
    struct virtio_net_hdr header;
    memcpy(&header, buffer, sizeof header);
    /* §5.1.6.4.1: no GUEST_CSUM, so flags 0 and complete checksums; no GUEST_TSO*, no GSO; one
     * buffer without MRG_RXBUF. */
    if (length < sizeof header + ETH_HEADER_BYTES) return "a used length shorter than a frame";
    if (header.flags) return "flags in the header of a received frame, without GUEST_CSUM";
    if (header.gso_type) return "a received GSO frame, without GUEST_TSO*";
    if (header.num_buffers == 0 ||
        (!virtio_has_feature(&net, VIRTIO_NET_F_MRG_RXBUF) && header.num_buffers != 1))
      return "num_buffers is not 1 without MRG_RXBUF, or is 0";
    *num_buffers = header.num_buffers;
    data = sizeof header;
    frame_bytes = 0;
  }
  if (frame_bytes + length - data > sizeof frame) return "a received frame is too long";
  memcpy(frame + frame_bytes, buffer + data, length - data);
  frame_bytes += length - data;
  return post_receive_buffer(index);
}

/* Receives the next frame into frame[0..frame_bytes), and answers it if it is an ARP request
 * for the guest's address (the host asks before it replies to a ping, unless the guest's request
 * told it already). */
static const char* receive(void) {
  uint16_t num_buffers = 0;
  const char* error = take_receive_buffer(true, &num_buffers);
  for (uint16_t i = 1; !error && i < num_buffers; i++) error = take_receive_buffer(false, NULL);
  if (error) return error;
  const uint8_t* arp = frame + ETH_HEADER_BYTES;
  if (frame_bytes >= ETH_HEADER_BYTES + ARP_BYTES && get16(frame + 12) == ETH_TYPE_ARP &&
      get16(arp + 6) == ARP_REQUEST && get32(arp + 24) == guest_ip) {
    uint8_t asker[ETH_ADDRESS_BYTES];
    memcpy(asker, arp + 8, ETH_ADDRESS_BYTES);
    return send_arp(ARP_REPLY, asker, get32(arp + 14));
  }
  return NULL;
}

/* ---- ARP and ping ------------------------------------------------------------------------ */

static bool is_arp_reply_from_host(void) {
  const uint8_t* arp = frame + ETH_HEADER_BYTES;
  return frame_bytes >= ETH_HEADER_BYTES + ARP_BYTES && get16(frame + 12) == ETH_TYPE_ARP &&
         get16(arp + 6) == ARP_REPLY && get32(arp + 14) == host_ip && get32(arp + 24) == guest_ip;
}

static bool resolve_host(void) {
  const char* error = send_arp(ARP_REQUEST, NULL, host_ip);
  for (int frames = 0; !error && frames < MAX_OTHER_FRAMES; frames++) {
    error = receive();
    if (error || !is_arp_reply_from_host()) continue;
    memcpy(host_mac, frame + ETH_HEADER_BYTES + 8, ETH_ADDRESS_BYTES);
    serial_print("arp: host at ");
    print_mac(host_mac);
    serial_print("\n");
    return true;
  }
  kit_fail(&checks, "ARP request for the host's address", error ? error : "no reply");
  return false;
}

static uint8_t pattern(uint16_t sequence, uint32_t i) {
  return (uint8_t)(sequence * 31 + i * 7 + (i >> 8));
}

/* Checks the echo reply in frame; NULL when it is sound. */
static const char* check_echo_reply(uint16_t sequence, uint32_t payload) {
  const uint8_t* ip = frame + ETH_HEADER_BYTES;
  uint32_t ip_header = (uint32_t)(ip[0] & 0xf) * 4;
  const uint8_t* icmp = ip + ip_header;
  uint32_t icmp_bytes = ICMP_HEADER_BYTES + payload;
  if (!same_bytes(frame, mac, ETH_ADDRESS_BYTES)) return "not addressed to the guest's MAC";
  if (!same_bytes(frame + ETH_ADDRESS_BYTES, host_mac, ETH_ADDRESS_BYTES))
    return "not from the host's MAC";
  if (ip[0] >> 4 != 4 || ip_header < IPV4_HEADER_BYTES) return "not an IPv4 header";
  if (frame_bytes < ETH_HEADER_BYTES + ip_header + icmp_bytes) return "the frame is too short";
  if (checksum(ip, ip_header) != 0) return "a bad IPv4 header checksum";
  if (get16(ip + 2) != ip_header + icmp_bytes) return "the IPv4 total length is not the request's";
  if (get32(ip + 12) != host_ip || get32(ip + 16) != guest_ip) return "the wrong IPv4 addresses";
  if (icmp[1] != 0) return "ICMP code not 0";
  if (checksum(icmp, icmp_bytes) != 0) return "a bad ICMP checksum";
  for (uint32_t i = 0; i < payload; i++)
    if (icmp[ICMP_HEADER_BYTES + i] != pattern(sequence, i)) return "the payload differs";
  return NULL;
}

static void ping(uint16_t sequence, uint32_t payload) {
  uint8_t* ip = tx_frame + ETH_HEADER_BYTES;
  uint8_t* icmp = ip + IPV4_HEADER_BYTES;
  uint32_t icmp_bytes = ICMP_HEADER_BYTES + payload;
  put_ethernet_header(tx_frame, host_mac, ETH_TYPE_IPV4);
  memset(ip, 0, IPV4_HEADER_BYTES);
  ip[0] = 0x45; /* version 4, 5 words */
  put16(ip + 2, (uint16_t)(IPV4_HEADER_BYTES + icmp_bytes));
  put16(ip + 4, sequence);
  put16(ip + 6, 0x4000); /* don't fragment */
  ip[8] = 64;            /* TTL */
  ip[9] = IPV4_PROTOCOL_ICMP;
  put32(ip + 12, guest_ip);
  put32(ip + 16, host_ip);
  put16(ip + 10, checksum(ip, IPV4_HEADER_BYTES));
  icmp[0] = ICMP_ECHO_REQUEST;
  icmp[1] = 0;
  put16(icmp + 2, 0);
  put16(icmp + 4, ICMP_ID);
  put16(icmp + 6, sequence);
  for (uint32_t i = 0; i < payload; i++) icmp[ICMP_HEADER_BYTES + i] = pattern(sequence, i);
  put16(icmp + 2, checksum(icmp, icmp_bytes));

  const char* error = send(ETH_HEADER_BYTES + IPV4_HEADER_BYTES + icmp_bytes);
  for (int frames = 0; !error && frames < MAX_OTHER_FRAMES; frames++) {
    error = receive();
    const uint8_t* reply_ip = frame + ETH_HEADER_BYTES;
    const uint8_t* reply_icmp = reply_ip + (reply_ip[0] & 0xf) * 4;
    if (error || frame_bytes < ETH_HEADER_BYTES + IPV4_HEADER_BYTES + ICMP_HEADER_BYTES ||
        get16(frame + 12) != ETH_TYPE_IPV4 || reply_ip[9] != IPV4_PROTOCOL_ICMP ||
        reply_icmp + ICMP_HEADER_BYTES > frame + frame_bytes || reply_icmp[0] != ICMP_ECHO_REPLY ||
        get16(reply_icmp + 4) != ICMP_ID || get16(reply_icmp + 6) != sequence)
      continue;
    error = check_echo_reply(sequence, payload);
    if (error) break;
    serial_print("ping: ");
    serial_print_dec(payload);
    serial_print(" bytes from the host: seq ");
    serial_print_dec(sequence);
    serial_print("\n");
    return;
  }
  serial_print("virtio-net: FAILED: ping seq ");
  serial_print_dec(sequence);
  serial_print(" of ");
  serial_print_dec(payload);
  serial_print(" bytes: ");
  serial_print(error ? error : "no reply");
  serial_print("\n");
  checks.failures++;
}

/* Is frame a flood datagram (to the guest, UDP port FLOOD_PORT)? Checks it when it is. */
static bool is_flood_datagram(uint32_t* sequence, const char** error) {
  const uint8_t* ip = frame + ETH_HEADER_BYTES;
  const uint8_t* udp = ip + IPV4_HEADER_BYTES;
  uint32_t udp_bytes = UDP_HEADER_BYTES + FLOOD_PAYLOAD_BYTES;
  if (frame_bytes < ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES ||
      get16(frame + 12) != ETH_TYPE_IPV4 || ip[0] != 0x45 || ip[9] != IPV4_PROTOCOL_UDP ||
      get32(ip + 16) != guest_ip || get16(udp + 2) != FLOOD_PORT)
    return false;
  uint32_t pseudo_header = (guest_ip >> 16) + (guest_ip & 0xffff) + (get32(ip + 12) >> 16) +
                           (get32(ip + 12) & 0xffff) + IPV4_PROTOCOL_UDP + udp_bytes;
  *error = NULL;
  if (frame_bytes < ETH_HEADER_BYTES + IPV4_HEADER_BYTES + udp_bytes ||
      get16(ip + 2) != IPV4_HEADER_BYTES + udp_bytes || get16(udp + 4) != udp_bytes)
    *error = "the wrong length";
  else if (checksum(ip, IPV4_HEADER_BYTES) != 0)
    *error = "a bad IPv4 header checksum";
  else if (get16(udp + 6) != 0 && checksum_from(pseudo_header, udp, udp_bytes) != 0)
    *error = "a bad UDP checksum";
  if (*error) return true;
  const uint8_t* payload = udp + UDP_HEADER_BYTES;
  *sequence = get32(payload);
  for (uint32_t i = 4; !*error && i < FLOOD_PAYLOAD_BYTES; i++)
    if (payload[i] != (uint8_t)(*sequence + i)) *error = "the payload differs";
  return true;
}

/* hold=MS: no receive buffers for that long while the host floods the TAP, then they are posted
 * and the datagrams queued meanwhile must come through whole, in order. */
static void hold_then_take_flood(uint64_t milliseconds) {
  serial_print("flood: holding the receive buffers back\n");
  uint32_t expirations = lapic_timer_expirations;
  lapic_timer_start((uint32_t)(milliseconds * 1000));
  while (lapic_timer_expirations == expirations) cpu_wait_for_interrupt();
  const char* error = NULL;
  for (unsigned i = 0; !error && i < RX_BUFFERS; i++) error = post_receive_buffer(i);
  uint32_t datagrams = 0, first = 0, last = 0;
  for (int frames = 0; !error && datagrams < FLOOD_DATAGRAMS && frames < MAX_OTHER_FRAMES;
       frames++) {
    uint32_t sequence = 0;
    error = receive();
    if (error || !is_flood_datagram(&sequence, &error)) continue;
    if (!error && datagrams && sequence <= last) error = "out of order";
    if (!datagrams) first = sequence;
    last = sequence;
    datagrams++;
  }
  if (!error && datagrams < FLOOD_DATAGRAMS) error = "too few datagrams";
  serial_print("flood: ");
  serial_print_dec(datagrams);
  serial_print(" datagrams, sequence ");
  serial_print_dec(first);
  serial_print(" to ");
  serial_print_dec(last);
  serial_print("\n");
  if (error) kit_fail(&checks, "the flood's datagrams", error);
}

int guest_main(const char* cmdline) {
  uint64_t hold = 0;
  const char* hold_word = cmdline_find(cmdline, "hold=");
  if (hold_word) parse_dec(hold_word, &hold);
  if (!set_up(cmdline, hold != 0)) return EXIT_NO_DEVICE;
  check_config(cmdline);
  const char* ip_word = cmdline_find(cmdline, "ip=");
  const char* host_word = cmdline_find(cmdline, "host=");
  if (ip_word && !checks.failures) {
    if (!parse_ipv4(ip_word, &guest_ip) || !host_word || !parse_ipv4(host_word, &host_ip)) {
      kit_fail(&checks, "ip=A.B.C.D needs host=E.F.G.H on the command line", NULL);
    } else {
      if (hold) hold_then_take_flood(hold);
      if (!checks.failures && resolve_host()) {
        uint16_t sequence = 1;
        for (int i = 0; i < PINGS; i++) ping(sequence++, PING_BYTES);
        ping(sequence++, LARGE_PING_BYTES);
      }
    }
    serial_print("interrupts: ");
    serial_print_dec(net.interrupts);
    serial_print("\n");
    if (net.interrupts == 0) kit_fail(&checks, "no interrupt was handled", NULL);
  }
  return kit_checks_passed(&checks) ? 0 : EXIT_FAILED;
}
