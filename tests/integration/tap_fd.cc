// tap_fd [--no-vnet-hdr | --tun] NAME FD PROGRAM ARGS...: opens the TAP device NAME (creating it
// if it does not exist, which needs CAP_NET_ADMIN) as an orchestrator would hand one to a VMM, with
// IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (without IFF_VNET_HDR, or a TUN device instead, when told),
// moves the descriptor to FD and runs PROGRAM with it open there, for the tests of
// `wisp run --net fd=FD`.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  int arg = 1;
  short flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (arg < argc && std::strcmp(argv[arg], "--no-vnet-hdr") == 0) {
    flags = IFF_TAP | IFF_NO_PI;
    ++arg;
  } else if (arg < argc && std::strcmp(argv[arg], "--tun") == 0) {
    flags = IFF_TUN | IFF_NO_PI;
    ++arg;
  }
  if (argc - arg < 3) {
    std::fprintf(stderr, "usage: tap_fd [--no-vnet-hdr | --tun] NAME FD PROGRAM ARGS...\n");
    return 2;
  }
  const char* name = argv[arg];
  int target = std::atoi(argv[arg + 1]);
  int fd = ::open("/dev/net/tun", O_RDWR);
  if (fd < 0) {
    std::perror("tap_fd: open /dev/net/tun");
    return 2;
  }
  ifreq request{};
  std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  request.ifr_flags = flags;
  if (::ioctl(fd, TUNSETIFF, &request) < 0) {
    std::perror("tap_fd: TUNSETIFF");
    return 2;
  }
  if (fd != target) {
    if (::dup2(fd, target) < 0) {  // the copy is not close-on-exec
      std::perror("tap_fd: dup2");
      return 2;
    }
    ::close(fd);
  }
  ::execv(argv[arg + 2], argv + arg + 2);
  std::perror("tap_fd: execv");
  return 2;
}
