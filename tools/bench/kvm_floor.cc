// The floor of the exit-cost benchmark: the cheapest KVM exit loop for the same guest code as
// the kit's exit_loop guest. One vCPU in 64-bit long mode runs the same three-instruction loop
// (out or a byte store to an unbacked address, dec, jnz) N times, then writes to the debug-exit
// port. The VM has what any VMM that boots Linux has in the kernel (irqchip and PIT); the loop
// here answers each exit and does nothing else: no devices, no threads.
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

// Guest physical layout: 2 MiB of RAM; the MMIO target lies in the unbacked 3-4 GiB range, as
// in the kit guest (UNUSED_MMIO_ADDRESS).
constexpr uint64_t kMemoryBytes = 2 << 20;
constexpr uint64_t kGdtAddress = 0x1000;
constexpr uint64_t kPml4Address = 0x2000;
constexpr uint64_t kPdptAddress = 0x3000;
constexpr uint64_t kLowPdAddress = 0x4000;   // maps 0-1 GiB
constexpr uint64_t kHighPdAddress = 0x5000;  // maps 3-4 GiB
constexpr uint64_t kCodeAddress = 0x10000;
constexpr uint32_t kMmioAddress = 0xd0000000;
constexpr uint16_t kLoopPort = 0x80;
constexpr uint16_t kDonePort = 0xf4;

constexpr uint64_t kPresentWritable = 0x3;
constexpr uint64_t kLargePage = 0x80;
constexpr uint16_t kCodeSelector = 0x08;
constexpr uint16_t kDataSelector = 0x10;

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

int checked(int result, const char* what) {
  if (result < 0) die(what);
  return result;
}

void put64(uint8_t* memory, uint64_t address, uint64_t value) {
  std::memcpy(memory + address, &value, sizeof(value));
}

// A flat GDT (null, 64-bit code, data) and page tables that identity-map 0-1 GiB and 3-4 GiB
// with 2 MiB pages.
void write_long_mode_tables(uint8_t* memory) {
  put64(memory, kGdtAddress + kCodeSelector, 0x00af9a000000ffff);
  put64(memory, kGdtAddress + kDataSelector, 0x00cf92000000ffff);
  put64(memory, kPml4Address, kPdptAddress | kPresentWritable);
  put64(memory, kPdptAddress, kLowPdAddress | kPresentWritable);
  put64(memory, kPdptAddress + 3 * 8, kHighPdAddress | kPresentWritable);
  for (uint64_t i = 0; i < 512; ++i) {
    put64(memory, kLowPdAddress + i * 8, (i << 21) | kPresentWritable | kLargePage);
    put64(memory, kHighPdAddress + i * 8,
          ((3ull << 30) + (i << 21)) | kPresentWritable | kLargePage);
  }
}

// 64-bit code: N port writes or N byte stores to kMmioAddress, then an out to kDonePort.
std::vector<uint8_t> loop_code(bool mmio, uint32_t count) {
  std::vector<uint8_t> code;
  auto imm32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  code.push_back(0xba);  // mov edx, kLoopPort
  imm32(kLoopPort);
  code.push_back(0xbe);  // mov esi, kMmioAddress
  imm32(kMmioAddress);
  code.insert(code.end(), {0x48, 0xc7, 0xc1});  // mov rcx, count
  imm32(count);
  std::vector<uint8_t> store = mmio ? std::vector<uint8_t>{0x88, 0x06}  // mov [rsi], al
                                    : std::vector<uint8_t>{0xee};       // out dx, al
  const uint8_t loop_length = static_cast<uint8_t>(store.size() + 5);
  code.insert(code.end(), {0x48, 0x85, 0xc9, 0x74, loop_length});  // test rcx, rcx; jz done
  code.insert(code.end(), store.begin(), store.end());             // loop: the exit
  // dec rcx; jnz loop
  code.insert(code.end(), {0x48, 0xff, 0xc9, 0x75, static_cast<uint8_t>(-loop_length)});
  code.push_back(0xba);  // done: mov edx, kDonePort
  imm32(kDonePort);
  code.insert(code.end(), {0xee, 0xf4});  // out dx, al; hlt
  return code;
}

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool long_code) {
  kvm_segment segment{};
  segment.selector = selector;
  segment.limit = 0xffffffff;
  segment.type = type;
  segment.present = 1;
  segment.s = 1;
  segment.l = long_code ? 1 : 0;
  segment.db = long_code ? 0 : 1;
  segment.g = 1;
  return segment;
}

void enter_long_mode(int vcpu) {
  kvm_sregs sregs{};
  checked(ioctl(vcpu, KVM_GET_SREGS, &sregs), "KVM_GET_SREGS");
  sregs.cs = flat_segment(kCodeSelector, 0xb, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(kDataSelector, 0x3, false);
  sregs.gdt.base = kGdtAddress;
  sregs.gdt.limit = 3 * 8 - 1;
  sregs.cr0 = 0x80000011;  // PG, ET, PE
  sregs.cr3 = kPml4Address;
  sregs.cr4 = 0x20;    // PAE
  sregs.efer = 0x500;  // LMA, LME
  checked(ioctl(vcpu, KVM_SET_SREGS, &sregs), "KVM_SET_SREGS");
  kvm_regs regs{};
  regs.rip = kCodeAddress;
  regs.rflags = 2;
  checked(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
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
  auto* memory = static_cast<uint8_t*>(
      mmap(nullptr, kMemoryBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (memory == MAP_FAILED) die("mmap");
  write_long_mode_tables(memory);
  std::vector<uint8_t> code = loop_code(mmio, count);
  std::memcpy(memory + kCodeAddress, code.data(), code.size());
  kvm_userspace_memory_region region{0, 0, 0, kMemoryBytes, reinterpret_cast<uint64_t>(memory)};
  checked(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
  checked(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
  kvm_pit_config pit{};
  checked(ioctl(vm, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");

  int vcpu = checked(ioctl(vm, KVM_CREATE_VCPU, 0), "KVM_CREATE_VCPU");
  int run_size = checked(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), "KVM_GET_VCPU_MMAP_SIZE");
  auto* run = static_cast<kvm_run*>(
      mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0));
  if (run == MAP_FAILED) die("mmap kvm_run");
  enter_long_mode(vcpu);

  uint64_t exits = 0;
  while (true) {
    checked(ioctl(vcpu, KVM_RUN, 0), "KVM_RUN");
    bool io = run->exit_reason == KVM_EXIT_IO;
    if (io && run->io.port == kDonePort) break;
    if ((io && run->io.port != kLoopPort) || (!io && run->exit_reason != KVM_EXIT_MMIO)) {
      std::fprintf(stderr, "kvm_floor: unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    ++exits;
  }
  std::printf("done %llu exits\n", static_cast<unsigned long long>(exits));
  return exits == count ? 0 : 1;
}
