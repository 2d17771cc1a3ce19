// libFuzzer target: the kernel loaders against hostile kernel images.
//
// The input is a kernel file's bytes after a small header that chooses what `wisp run` would be
// told: the format to force (or auto), the guest's memory (1 to 8 MiB in two regions with a hole
// between them, the hole anywhere, or a memory size the regions do not back), the command line's
// length, the raw-image options, the CPU count, the devices the ACPI and MP tables describe, and
// up to two module (initrd) files. Each input is
//   1. handed to the parsers directly: parse_bzimage, parse_elf, find_multiboot_header and
//      detect_format, whose results must keep their promises (a bzImage's parts add up to the
//      file, ELF segments lie inside the file, sorted and not overlapping, a Multiboot header is
//      aligned, inside the search window and checksummed);
//   2. written to a memfd and loaded with load_kernel, as Vm::load_kernel does: an error must be
//      a Result, never a crash, and a kernel that loads must start inside guest memory (its entry
//      point, and the boot information %rsi or %ebx points at), reachable in its entry mode.
// A finding is a crash, a sanitizer report or a __builtin_trap.
//
// Built with -DWISP_FUZZ_SEEDS instead, the same file is a program that writes a seed corpus into
// the directory it is given: minimal images of every format built in code (a bzImage setup header,
// an ELF64 with one PT_LOAD, an ELF32 with a PVH note, Multiboot with the a.out kludge and as an
// ELF32, raw images in each entry mode), so it needs no build tree.
#include <elf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "firmware/boot_config.h"
#include "firmware/bzimage.h"
#include "firmware/elf.h"
#include "firmware/image_file.h"
#include "firmware/kernel_loader.h"
#include "firmware/layout.h"
#include "firmware/multiboot.h"
#include "firmware/platform.h"
#include "tests/fuzz/fuzz_support.h"
#include "vmm/base/guest_memory.h"
#include "vmm/base/log.h"

namespace {

using namespace wisp;
using namespace wisp::fuzz;

// ---- The input format ----
// [0]       the format: value % 8 → auto, bzimage, pvh, multiboot, elf, raw, auto, auto
// [1]       guest memory: 1 + value % 8 MiB, backed by the regions below
// [2]       the hole: none if 0, else (value & 31) * 256 KiB on, ((value >> 5) + 1) * 256 KiB long
// [3]       flags (below)
// [4..7]    with kFlagDeclaredMemory: the memory size the loader is told, in 4 KiB pages (le32)
// [8..9]    the command line's length (le16), up to 64 KiB
// [10..13]  --load-address (le32), [14..17] --entry (le32)
// [18]      CPUs: 1 + value % 255
// [19]      devices: value % 16 virtio-mmio windows; COM1 (bit 4); COM2 (bit 5); bit 6: the
//           virtio windows' GSIs from 20 on, past the I/O APIC's pins for some; pvpanic (bit 7)
// [20]      modules: value % 3 files; [21..22], [23..24] their sizes in 64-byte units (le16)
// then      the kernel file
constexpr uint8_t kFlagDeclaredMemory = 1 << 0;  // memory_size from [4..7], not the regions'
constexpr uint8_t kFlagLoadAddress = 1 << 1;     // --load-address given
constexpr uint8_t kFlagEntry = 1 << 2;           // --entry given
constexpr uint8_t kFlagEntryMode = 1 << 3;       // --entry-mode given: bits 4-5 % 3
constexpr uint8_t kEntryModeShift = 4;
constexpr uint8_t kFlagEntryHigh = 1 << 6;   // --entry + 4 GiB
constexpr uint8_t kFlagLoadHigh = 1 << 7;    // --load-address + 4 GiB
constexpr uint8_t kDevicesCom1 = 1 << 4;     // in [19]
constexpr uint8_t kDevicesCom2 = 1 << 5;     // in [19]
constexpr uint8_t kDevicesBadGsis = 1 << 6;  // in [19]
constexpr uint8_t kDevicesPvPanic = 1 << 7;  // in [19]
constexpr size_t kHeaderBytes = 25;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kHoleUnit = 256 << 10;

constexpr KernelFormat kFormats[8] = {
    KernelFormat::kAuto, KernelFormat::kBzImage, KernelFormat::kPvh,  KernelFormat::kMultiboot,
    KernelFormat::kElf,  KernelFormat::kRaw,     KernelFormat::kAuto, KernelFormat::kAuto};
constexpr EntryMode kEntryModes[3] = {EntryMode::kReal, EntryMode::kProtected, EntryMode::kLong};

struct Input {
  KernelFormat format = KernelFormat::kAuto;
  uint64_t memory_bytes = 0;              // the regions' extent
  uint64_t hole_start = 0, hole_end = 0;  // empty: no hole
  uint64_t declared_memory_bytes = 0;     // what the loader is told
  size_t cmdline_length = 0;
  RawImageOptions raw;
  uint32_t cpus = 1;
  PlatformDescription platform;
  std::vector<uint64_t> module_sizes;
  std::span<const uint8_t> kernel;
};

[[maybe_unused]] bool parse(const uint8_t* data, size_t size, Input& input) {
  if (size < kHeaderBytes) return false;
  input.format = kFormats[data[0] % 8];
  input.memory_bytes = (1 + data[1] % 8) * kMiB;
  if (data[2] != 0) {
    input.hole_start = (data[2] & 31) * kHoleUnit;
    input.hole_end = input.hole_start + ((data[2] >> 5) + 1) * kHoleUnit;
  }
  uint8_t flags = data[3];
  input.declared_memory_bytes =
      flags & kFlagDeclaredMemory ? uint64_t{le32(data + 4)} << 12 : input.memory_bytes;
  input.cmdline_length = le16(data + 8);
  if (flags & kFlagLoadAddress)
    input.raw.load_address = le32(data + 10) + (flags & kFlagLoadHigh ? 1ull << 32 : 0);
  if (flags & kFlagEntry)
    input.raw.entry = le32(data + 14) + (flags & kFlagEntryHigh ? 1ull << 32 : 0);
  if (flags & kFlagEntryMode) input.raw.entry_mode = kEntryModes[(flags >> kEntryModeShift) % 3];
  input.cpus = 1 + data[18] % 255;
  uint8_t devices = data[19];
  if (devices & kDevicesCom1)
    input.platform.devices.push_back({PlatformDeviceKind::kSerial8250, layout::kCom1Port,
                                      layout::kUartPortCount, layout::kCom1Irq});
  if (devices & kDevicesCom2)
    input.platform.devices.push_back({PlatformDeviceKind::kSerial8250, layout::kCom2Port,
                                      layout::kUartPortCount, layout::kCom2Irq});
  if (devices & kDevicesPvPanic)
    input.platform.devices.push_back({PlatformDeviceKind::kPvPanic, layout::kPvPanicPort, 1, 0});
  for (uint32_t i = 0; i < devices % 16u; ++i) {
    uint32_t gsi = devices & kDevicesBadGsis ? 20 + i : layout::kDeviceGsis[i];
    input.platform.devices.push_back({PlatformDeviceKind::kVirtioMmio,
                                      layout::kVirtioMmioStart + i * layout::kVirtioMmioWindowBytes,
                                      static_cast<uint32_t>(layout::kVirtioMmioWindowBytes), gsi});
  }
  for (int i = 0; i < data[20] % 3; ++i)
    input.module_sizes.push_back(le16(data + 21 + 2 * i) * 64u);
  input.kernel = std::span(data + kHeaderBytes, size - kHeaderBytes);
  return true;
}

// ---- 1. The parsers alone ----
[[maybe_unused]] void fuzz_parsers(std::span<const uint8_t> file) {
  std::span<const uint8_t> head = file.first(std::min<size_t>(file.size(), kBzImageHeadBytes));
  if (auto image = parse_bzimage(head, file.size())) {
    if (!looks_like_bzimage(head)) finding("a bzImage without its header magic");
    if (image->setup_bytes + image->kernel_bytes != file.size())
      finding("a bzImage whose setup and kernel are not the file");
    if (image->setup_header.size() > head.size() - 0x1f1)
      finding("a setup header past the file's start");
    if (image->protocol_version < 0x020c) finding("a bzImage of a protocol before 2.12");
  }

  ImageFile bytes = ImageFile::from_bytes({file.begin(), file.end()}, "fuzz");
  if (auto elf = parse_elf(bytes)) {
    if (!looks_like_elf(file)) finding("an ELF without its magic");
    if (elf->segments.empty()) finding("an ELF without segments");
    for (size_t i = 0; i < elf->segments.size(); ++i) {
      const ElfSegment& segment = elf->segments[i];
      if (segment.file_offset > file.size() ||
          segment.file_size > file.size() - segment.file_offset)
        finding("an ELF segment past the end of the file");
      if (segment.file_size > segment.memory_size) finding("an ELF segment larger in the file");
      if (segment.end() < segment.address) finding("an ELF segment that wraps around");
      if (i > 0 && segment.address < elf->segments[i - 1].end())
        finding("ELF segments unsorted or overlapping");
    }
  }

  std::span<const uint8_t> search =
      file.first(std::min<size_t>(file.size(), kMultibootSearchBytes));
  if (auto at = find_multiboot_header(search)) {
    if (*at % 4 != 0 || *at + 12 > search.size()) finding("a Multiboot header out of place");
    uint32_t magic = le32(search.data() + *at);
    uint32_t sum = magic + le32(search.data() + *at + 4) + le32(search.data() + *at + 8);
    if (magic != kMultibootHeaderMagic || sum != 0) finding("a Multiboot header that is none");
  }

  if (auto format = detect_format(bytes)) {
    if (*format == KernelFormat::kBzImage && !looks_like_bzimage(search))
      finding("a bzImage detected without its header");
    if ((*format == KernelFormat::kPvh || *format == KernelFormat::kElf) && !looks_like_elf(file))
      finding("an ELF detected without its magic");
    if (*format == KernelFormat::kRaw || *format == KernelFormat::kAuto)
      finding("a format detected that is no format");
  }
}

// ---- 2. load_kernel ----
// A file the loader opens by path: a memfd, reused from input to input.
class MemoryFile {
 public:
  explicit MemoryFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) finding("memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  void set(std::span<const uint8_t> bytes) {
    if (::ftruncate(fd_, 0) != 0) finding("ftruncate");
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      if (n <= 0) finding("writing a memfd");
      done += static_cast<size_t>(n);
    }
  }
  // A file of `size` zero bytes.
  void set_size(uint64_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::ftruncate(fd_, static_cast<off_t>(size)) != 0)
      finding("ftruncate");
  }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

GuestMemory make_guest_memory(const Input& input) {
  GuestMemory memory;
  auto add = [&](uint64_t start, uint64_t end) {
    if (start >= end) return;
    auto mapping = Mapping::anonymous(end - start);
    if (!mapping || !memory.add_region(start, std::move(*mapping))) finding("guest memory");
  };
  if (input.hole_start < input.hole_end) {
    add(0, std::min(input.hole_start, input.memory_bytes));
    add(input.hole_end, input.memory_bytes);
  } else {
    add(0, input.memory_bytes);
  }
  return memory;
}

bool inside(const GuestMemory& memory, uint64_t address) {
  return static_cast<bool>(memory.slice(address, 1));
}

[[maybe_unused]] void fuzz_load(const Input& input) {
  static MemoryFile kernel("wisp-fuzz-kernel");
  static MemoryFile modules[2] = {MemoryFile("wisp-fuzz-module-a"),
                                  MemoryFile("wisp-fuzz-module-b")};
  kernel.set(input.kernel);
  BootConfig config;
  config.kernel_path = kernel.path();
  for (size_t i = 0; i < input.module_sizes.size(); ++i) {
    modules[i].set_size(input.module_sizes[i]);
    config.initrd_paths.push_back(modules[i].path());
  }
  config.cmdline.assign(input.cmdline_length, 'c');
  config.memory_size = input.declared_memory_bytes;
  config.cpu_count = input.cpus;
  config.format = input.format;
  config.raw = input.raw;
  config.platform = input.platform;

  GuestMemory memory = make_guest_memory(input);
  auto entry = load_kernel(memory, config);
  if (!entry) {
    if (entry.error().message().empty()) finding("an error without a message");
    return;
  }
  if (!inside(memory, entry->rip)) finding("a kernel that starts outside guest memory");
  switch (entry->mode) {
    case EntryMode::kReal:
      if (entry->rip >= kMiB) finding("a real-mode entry above 1 MiB");
      break;
    case EntryMode::kProtected:
      if (entry->rip >> 32) finding("a protected-mode entry above 4 GiB");
      if (!inside(memory, entry->rsp - 1)) finding("a 32-bit entry's stack outside guest memory");
      break;
    case EntryMode::kLong:
      if (entry->rip >= layout::kIdentityMappedBytes)
        finding("a long-mode entry the boot page tables do not map");
      break;
  }
  // The boot information a format hands over: boot_params in %rsi, PVH or Multiboot info in %ebx.
  if (entry->rsi && !inside(memory, entry->rsi)) finding("boot_params outside guest memory");
  if (entry->rbx && !inside(memory, entry->rbx)) finding("boot information outside guest memory");
}

}  // namespace

#ifndef WISP_FUZZ_SEEDS

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input input;
  if (!parse(data, size, input)) return 0;
  fuzz_parsers(input.kernel);
  fuzz_load(input);
  return 0;
}

#else  // WISP_FUZZ_SEEDS: write a seed corpus

namespace {

// A kernel file under construction.
class Image {
 public:
  explicit Image(size_t size = 0) : bytes_(size, 0) {}
  template <typename T>
  void put(size_t offset, const T& value) {
    put_bytes(offset, &value, sizeof(value));
  }
  void put_bytes(size_t offset, const void* bytes, size_t length) {
    if (offset + length > bytes_.size()) bytes_.resize(offset + length, 0);
    std::memcpy(bytes_.data() + offset, bytes, length);
  }
  std::span<const uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// The header of an input: defaults of a small machine that boots each seed.
class Seed {
 public:
  Seed(KernelFormat format, uint8_t memory_mib = 8) {
    for (uint8_t i = 0; i < 8; ++i)
      if (kFormats[i] == format) header_[0] = i;
    header_[1] = static_cast<uint8_t>(memory_mib - 1);
    header_[19] = kDevicesCom1 | kDevicesPvPanic | 2;  // COM1, pvpanic, two virtio-mmio windows
  }
  Seed& hole(uint8_t value) {
    header_[2] = value;
    return *this;
  }
  Seed& cmdline(uint16_t length) {
    header_[8] = static_cast<uint8_t>(length);
    header_[9] = static_cast<uint8_t>(length >> 8);
    return *this;
  }
  Seed& cpus(uint8_t count) {
    header_[18] = static_cast<uint8_t>(count - 1);
    return *this;
  }
  Seed& modules(uint16_t first_units, uint16_t second_units, uint8_t count) {
    header_[20] = count;
    std::memcpy(header_ + 21, &first_units, 2);
    std::memcpy(header_ + 23, &second_units, 2);
    return *this;
  }
  Seed& declared_memory(uint32_t pages) {
    header_[3] |= kFlagDeclaredMemory;
    std::memcpy(header_ + 4, &pages, 4);
    return *this;
  }
  Seed& raw(uint32_t load_address, uint32_t entry, EntryMode mode) {
    header_[3] |= kFlagLoadAddress | kFlagEntry | kFlagEntryMode;
    header_[3] |= static_cast<uint8_t>(static_cast<int>(mode) << kEntryModeShift);
    std::memcpy(header_ + 10, &load_address, 4);
    std::memcpy(header_ + 14, &entry, 4);
    return *this;
  }
  void write(const std::string& path, const Image& image) {
    write_seed(path, {header_, image.bytes()});
  }

 private:
  uint8_t header_[kHeaderBytes] = {};
};

constexpr uint32_t kLoad = layout::kKernelLoadAddress;

// A bzImage of boot protocol 2.15: one setup sector after the boot sector, then `kernel_bytes`.
Image bzimage(uint32_t kernel_bytes, uint32_t init_size) {
  Image image(1024 + kernel_bytes);
  image.put<uint8_t>(0x1f1, 1);                                      // setup_sects
  image.put<uint32_t>(0x1f4, kernel_bytes / 16);                     // syssize
  image.put<uint16_t>(0x1fe, 0xaa55);                                // boot_flag
  image.put<uint8_t>(0x200, 0xeb);                                   // jump over the header...
  image.put<uint8_t>(0x201, 0x66);                                   // ...which ends at 0x268
  image.put<uint32_t>(0x202, 0x53726448);                            // "HdrS"
  image.put<uint16_t>(0x206, 0x020f);                                // version
  image.put<uint8_t>(0x211, 0x01);                                   // loadflags: LOADED_HIGH
  image.put<uint32_t>(0x22c, 0x37ffffff);                            // initrd_addr_max
  image.put<uint16_t>(0x236, 0x01);                                  // xloadflags: XLF_KERNEL_64
  image.put<uint32_t>(0x238, 2048);                                  // cmdline_size
  image.put<uint32_t>(0x260, init_size);                             // init_size
  if (kernel_bytes > 0x200) image.put<uint8_t>(1024 + 0x200, 0xf4);  // hlt at the 64-bit entry
  return image;
}

// An ELF64 executable with one PT_LOAD of `code` bytes at `address`, entered at its start.
Image elf64(uint64_t address, uint32_t code, uint64_t bss) {
  Image image;
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_entry = address;
  header.e_phoff = sizeof(Elf64_Ehdr);
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_phentsize = sizeof(Elf64_Phdr);
  header.e_phnum = 1;
  image.put(0, header);
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_flags = PF_R | PF_X;
  load.p_offset = 0x100;
  load.p_vaddr = load.p_paddr = address;
  load.p_filesz = code;
  load.p_memsz = code + bss;
  load.p_align = 0x1000;
  image.put(sizeof(Elf64_Ehdr), load);
  image.put_bytes(0x100 + code - 1, "\xf4", 1);
  return image;
}

// An ELF32 executable with PT_LOADs at `address` (and, if `second`, another after it), and a
// PT_NOTE holding a XEN_ELFNOTE_PHYS32_ENTRY if `pvh_entry` is not 0.
Image elf32(uint32_t address, uint32_t code, uint32_t pvh_entry, bool second) {
  Image image;
  Elf32_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS32;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_386;
  header.e_version = EV_CURRENT;
  header.e_entry = address;
  header.e_phoff = sizeof(Elf32_Ehdr);
  header.e_ehsize = sizeof(Elf32_Ehdr);
  header.e_phentsize = sizeof(Elf32_Phdr);
  std::vector<Elf32_Phdr> headers;
  Elf32_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x200;
  load.p_vaddr = load.p_paddr = address;
  load.p_filesz = code;
  load.p_memsz = code + 0x100;
  headers.push_back(load);
  if (second) {
    load.p_offset = 0x200 + code;
    load.p_vaddr = load.p_paddr = address + 0x2000;
    headers.push_back(load);
  }
  if (pvh_entry) {
    Elf32_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = 0x180;
    note.p_filesz = 20;
    headers.push_back(note);
    Elf32_Nhdr nhdr{4, 4, 18};  // "Xen", a 4-byte value, XEN_ELFNOTE_PHYS32_ENTRY
    image.put(0x180, nhdr);
    image.put_bytes(0x180 + sizeof(nhdr), "Xen", 4);
    image.put<uint32_t>(0x180 + sizeof(nhdr) + 4, pvh_entry);
  }
  header.e_phnum = static_cast<Elf32_Half>(headers.size());
  image.put(0, header);
  for (size_t i = 0; i < headers.size(); ++i)
    image.put(sizeof(Elf32_Ehdr) + i * sizeof(Elf32_Phdr), headers[i]);
  image.put_bytes(0x200 + code * headers.size() - 1, "\xf4", 1);
  return image;
}

// A Multiboot header at `offset` of `image`: memory info wanted, and the a.out kludge's address
// fields (the image from file offset 0 loaded at `load`) when `kludge`.
void multiboot_header(Image& image, size_t offset, bool kludge, uint32_t load) {
  uint32_t flags = kMultibootPageAlignModules | kMultibootWantsMemoryInfo;
  if (kludge) flags |= kMultibootAddressFields;
  MultibootHeader header{
      kMultibootHeaderMagic, flags, 0u - kMultibootHeaderMagic - flags, 0, 0, 0, 0, 0};
  if (kludge) {
    header.header_addr = load + static_cast<uint32_t>(offset);
    header.load_addr = load;
    header.load_end_addr = 0;  // to the end of the file
    header.bss_end_addr = load + 0x2000;
    header.entry_addr = load + 0x40;
  }
  image.put(offset, header);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = seed_directory(argc, argv);
  Seed(KernelFormat::kAuto).cmdline(13).write(dir + "/bzimage", bzimage(0x400, 0x10000));
  Seed(KernelFormat::kBzImage)
      .modules(0x100, 0, 1)
      .cmdline(2000)
      .write(dir + "/bzimage-initrd", bzimage(0x200, 0x400000));
  Seed(KernelFormat::kAuto, 4).hole(0x0c).write(dir + "/bzimage-hole", bzimage(0x800, 0x180000));
  Seed(KernelFormat::kAuto)
      .cmdline(3000)  // longer than the kernel's cmdline_size
      .write(dir + "/bzimage-long-cmdline", bzimage(0x400, 0x10000));
  Seed(KernelFormat::kAuto).write(dir + "/elf64", elf64(kLoad, 0x80, 0x1000));
  Seed(KernelFormat::kElf, 2)
      .declared_memory(0x10000)  // 256 MiB said, 2 MiB backed
      .write(dir + "/elf64-bss", elf64(kLoad, 0x40, 0x80000));
  Seed(KernelFormat::kAuto)
      .modules(4, 0x20, 2)
      .cpus(8)
      .write(dir + "/pvh", elf32(kLoad, 0x100, kLoad + 0x10, true));
  Seed(KernelFormat::kPvh, 3).hole(0x28).write(dir + "/pvh-hole", elf32(kLoad, 0x80, kLoad, false));
  {
    Image kludge(0x300);
    multiboot_header(kludge, 0x20, true, kLoad);
    kludge.put_bytes(0x40, "\xf4", 1);
    Seed(KernelFormat::kAuto).modules(8, 8, 2).cmdline(40).write(dir + "/multiboot-aout", kludge);
  }
  {
    Image elf = elf32(kLoad, 0x100, 0, false);
    multiboot_header(elf, 0x60, false, 0);
    Seed(KernelFormat::kMultiboot).cpus(4).write(dir + "/multiboot-elf", elf);
  }
  Image code(0x100);
  code.put_bytes(0, "\xf4", 1);
  Seed(KernelFormat::kRaw).raw(kLoad, kLoad, EntryMode::kLong).write(dir + "/raw-long", code);
  Seed(KernelFormat::kRaw)
      .raw(0x200000, 0x200000, EntryMode::kProtected)
      .write(dir + "/raw-protected", code);
  Seed(KernelFormat::kRaw).raw(0x10000, 0x10000, EntryMode::kReal).write(dir + "/raw-real", code);
  return 0;
}

#endif  // WISP_FUZZ_SEEDS
