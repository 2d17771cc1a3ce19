// udp_flood ADDRESS MILLISECONDS: sends UDP datagrams to ADDRESS port 9 as fast as it can for that
// long, for the virtio_net guest's hold=MS test (guest/kit/guests/virtio_net.c): each payload is
// 1000 bytes, a big-endian 32-bit sequence number (from 0) and then byte i = (sequence + i) & 0xff.
// Prints "udp_flood: N datagrams sent".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: udp_flood ADDRESS MILLISECONDS\n");
    return 2;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(9);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (::inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 || fd < 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    std::perror("udp_flood");
    return 2;
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::atoi(argv[2]));
  uint8_t payload[1000];
  uint32_t sent = 0;
  while (std::chrono::steady_clock::now() < end) {
    uint32_t sequence = sent;
    for (uint32_t i = 0; i < sizeof(payload); ++i) payload[i] = static_cast<uint8_t>(sequence + i);
    uint32_t wire = htonl(sequence);
    std::memcpy(payload, &wire, sizeof(wire));
    // A full queue drops the datagram (ENOBUFS) or not at all: count only what left.
    if (::send(fd, payload, sizeof(payload), 0) == static_cast<ssize_t>(sizeof(payload))) ++sent;
  }
  std::printf("udp_flood: %u datagrams sent\n", sent);
  return 0;
}
