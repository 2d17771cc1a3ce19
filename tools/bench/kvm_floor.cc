// The floor of the exit-cost benchmark: the cheapest possible KVM exit loop. One vCPU in real
// mode writes to a port (or an unbacked address) N times and halts; the loop here answers each
// exit and does nothing else. No irqchip, no devices, no threads.
// usage: kvm_floor port|mmio N
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr uint64_t kMemoryBytes = 0x10000;
constexpr uint64_t kCodeAddress = 0x1000;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

int checked(int result, const char* what) {
  if (result < 0) die(what);
  return result;
}

// 16-bit code: the loop of N port writes or N writes to segment 0x2000 (unbacked), then hlt.
std::vector<uint8_t> loop_code(bool mmio, uint32_t count) {
  std::vector<uint8_t> code;
  auto imm32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  if (mmio) {
    code = {0xb8, 0x00, 0x20, 0x8e, 0xd8};  // mov ax, 0x2000; mov ds, ax
  } else {
    code = {0xba, 0x80, 0x00};  // mov dx, 0x80
  }
  code.insert(code.end(), {0x66, 0xb9});  // mov ecx, count
  imm32(count);
  code.insert(code.end(), {0x66, 0x85, 0xc9, 0x74});  // test ecx, ecx; jz done
  code.push_back(mmio ? 0x07 : 0x05);                 // over the loop below
  if (mmio) {
    code.insert(code.end(), {0xa2, 0x00, 0x00});        // loop: mov [0], al
    code.insert(code.end(), {0x66, 0x49, 0x75, 0xf9});  // dec ecx; jnz loop
  } else {
    code.push_back(0xee);                               // loop: out dx, al
    code.insert(code.end(), {0x66, 0x49, 0x75, 0xfb});  // dec ecx; jnz loop
  }
  code.push_back(0xf4);  // done: hlt
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s port|mmio N\n", argv[0]);
    return 2;
  }
  bool mmio = std::strcmp(argv[1], "mmio") == 0;
  uint32_t count = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));

  int kvm = checked(open("/dev/kvm", O_RDWR | O_CLOEXEC), "open /dev/kvm");
  int vm = checked(ioctl(kvm, KVM_CREATE_VM, 0), "KVM_CREATE_VM");
  void* memory =
      mmap(nullptr, kMemoryBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) die("mmap");
  std::vector<uint8_t> code = loop_code(mmio, count);
  std::memcpy(static_cast<uint8_t*>(memory) + kCodeAddress, code.data(), code.size());
  kvm_userspace_memory_region region{0, 0, 0, kMemoryBytes, reinterpret_cast<uint64_t>(memory)};
  checked(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");

  int vcpu = checked(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
  int run_size = checked(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
  auto* run = static_cast<kvm_run*>(
      mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
  if (run == MAP_FAILED) die("mmap kvm_run");
  kvm_sregs sregs{};
  checked(ioctl(vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  checked(ioctl(vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
  kvm_regs regs{};
  regs.rip = kCodeAddress;
  regs.rflags = 2;
  checked(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");

  uint64_t exits = 0;
  while (true) {
    checked(ioctl(vcpu, KVM_RUN, 0), "KVM_RUN");
    if (run->exit_reason == KVM_EXIT_HLT) break;
    if (run->exit_reason != KVM_EXIT_IO && run->exit_reason != KVM_EXIT_MMIO) {
      std::fprintf(stderr, "kvm_floor: unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    ++exits;
  }
  std::printf("done %llu exits\n", static_cast<unsigned long long>(exits));
  return exits == count ? 0 : 1;
}
