#include "firmware/elf.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

namespace wisp {
namespace {

constexpr uint32_t kMaxProgramHeaders = 128;
constexpr uint64_t kMaxNoteBytes = 64 * 1024;
constexpr uint32_t kXenElfnotePhys32Entry = 18;  // XEN_ELFNOTE_PHYS32_ENTRY

// The fields of Elf32_Ehdr/Elf64_Ehdr the loader uses, whichever the class.
struct Header {
  bool is_64bit;
  uint16_t type, machine;
  uint64_t entry, phoff;
  uint16_t phentsize, phnum;
};

// The fields of Elf32_Phdr/Elf64_Phdr the loader uses.
struct ProgramHeader {
  uint32_t type;
  uint64_t offset, paddr, filesz, memsz;
};

template <typename T>
Result<T> read_struct(const ImageFile& file, uint64_t offset) {
  T value;
  TRY(file.read(offset, std::span(reinterpret_cast<uint8_t*>(&value), sizeof(T))));
  return value;
}

Result<Header> read_header(const ImageFile& file) {
  auto ident = TRY(file.head(EI_NIDENT));
  if (!looks_like_elf(ident)) return fail("not an ELF file");
  if (ident.size() < EI_NIDENT) return fail("truncated ELF header");
  if (ident[EI_DATA] != ELFDATA2LSB) return fail("a big-endian ELF file cannot run on x86");
  if (ident[EI_CLASS] == ELFCLASS64) {
    auto h = TRY(read_struct<Elf64_Ehdr>(file, 0));
    return Header{true, h.e_type, h.e_machine, h.e_entry, h.e_phoff, h.e_phentsize, h.e_phnum};
  }
  if (ident[EI_CLASS] == ELFCLASS32) {
    auto h = TRY(read_struct<Elf32_Ehdr>(file, 0));
    return Header{false, h.e_type, h.e_machine, h.e_entry, h.e_phoff, h.e_phentsize, h.e_phnum};
  }
  return fail("unknown ELF class {}", ident[EI_CLASS]);
}

Result<void> check_header(const Header& h) {
  if (h.type != ET_EXEC) return fail("the ELF file is not an executable (e_type {})", h.type);
  uint16_t machine = h.is_64bit ? EM_X86_64 : EM_386;
  if (h.machine != machine) return fail("the ELF file is not for x86 (e_machine {})", h.machine);
  uint16_t entry_size = h.is_64bit ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
  if (h.phnum == 0) return fail("the ELF file has no program headers");
  if (h.phnum > kMaxProgramHeaders)
    return fail("the ELF file has {} program headers (at most {})", h.phnum, kMaxProgramHeaders);
  if (h.phentsize != entry_size)
    return fail("the ELF program header size is {}, expected {}", h.phentsize, entry_size);
  return {};
}

Result<ProgramHeader> read_program_header(const ImageFile& file, const Header& h, uint16_t i) {
  uint64_t offset = h.phoff + uint64_t{i} * h.phentsize;
  if (offset < h.phoff) return fail("ELF program headers wrap around");
  if (h.is_64bit) {
    auto p = TRY(read_struct<Elf64_Phdr>(file, offset));
    return ProgramHeader{p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
  }
  auto p = TRY(read_struct<Elf32_Phdr>(file, offset));
  return ProgramHeader{p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz};
}

Result<ElfSegment> load_segment(const ImageFile& file, const ProgramHeader& p) {
  if (p.filesz > p.memsz)
    return fail("ELF segment at {:#x}: file size {:#x} exceeds memory size {:#x}", p.paddr,
                p.filesz, p.memsz);
  if (p.offset > file.size() || p.filesz > file.size() - p.offset)
    return fail("ELF segment at {:#x} runs past the end of the file", p.paddr);
  if (p.paddr + p.memsz < p.paddr) return fail("ELF segment at {:#x} wraps around", p.paddr);
  return ElfSegment{p.offset, p.filesz, p.paddr, p.memsz};
}

// Walks the notes of one PT_NOTE segment (each: namesz, descsz, type, name, desc; 4-aligned).
Result<std::optional<uint32_t>> find_pvh_entry(const ImageFile& file, const ProgramHeader& p) {
  if (p.filesz > kMaxNoteBytes) return fail("ELF note segment of {} bytes is too large", p.filesz);
  std::vector<uint8_t> notes(p.filesz);
  TRY(file.read(p.offset, notes));
  auto align4 = [](uint64_t n) { return (n + 3) & ~uint64_t{3}; };
  uint64_t at = 0;
  while (at + sizeof(Elf32_Nhdr) <= notes.size()) {
    Elf32_Nhdr note;
    std::memcpy(&note, notes.data() + at, sizeof(note));
    uint64_t name_at = at + sizeof(note);
    uint64_t desc_at = name_at + align4(note.n_namesz);
    uint64_t next = desc_at + align4(note.n_descsz);
    if (next > notes.size()) return fail("a truncated ELF note");
    bool is_xen = note.n_namesz == 4 && std::memcmp(notes.data() + name_at, "Xen", 4) == 0;
    if (is_xen && note.n_type == kXenElfnotePhys32Entry) {
      if (note.n_descsz != 4 && note.n_descsz != 8)
        return fail("the PVH entry note has a {}-byte value", note.n_descsz);
      uint32_t entry;
      std::memcpy(&entry, notes.data() + desc_at, sizeof(entry));
      return std::optional<uint32_t>(entry);
    }
    at = next;
  }
  return std::optional<uint32_t>();
}

Result<void> check_no_overlap(std::vector<ElfSegment>& segments) {
  std::sort(segments.begin(), segments.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.address < b.address; });
  for (size_t i = 1; i < segments.size(); ++i) {
    if (segments[i].address < segments[i - 1].end())
      return fail("ELF segments at {:#x} and {:#x} overlap", segments[i - 1].address,
                  segments[i].address);
  }
  return {};
}

}  // namespace

bool looks_like_elf(std::span<const uint8_t> head) {
  return head.size() >= 4 && std::memcmp(head.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfImage> parse_elf(const ImageFile& file) {
  Header header = TRY(read_header(file));
  TRY(check_header(header));
  ElfImage image;
  image.is_64bit = header.is_64bit;
  image.entry = header.entry;
  for (uint16_t i = 0; i < header.phnum; ++i) {
    ProgramHeader p = TRY(read_program_header(file, header, i));
    if (p.type == PT_LOAD && p.memsz > 0) image.segments.push_back(TRY(load_segment(file, p)));
    if (p.type == PT_NOTE && !image.pvh_entry) image.pvh_entry = TRY(find_pvh_entry(file, p));
  }
  if (image.segments.empty()) return fail("the ELF file has no loadable segments");
  TRY(check_no_overlap(image.segments));
  return image;
}

Result<uint64_t> load_elf_segments(const GuestMemory& memory, const ImageFile& file,
                                   const ElfImage& image) {
  for (const ElfSegment& segment : image.segments) {
    std::span<uint8_t> target = TRY_CONTEXT(
        memory.slice(segment.address, segment.memory_size),
        fmt::format("ELF segment at {:#x} ({:#x} bytes)", segment.address, segment.memory_size));
    TRY(file.read(segment.file_offset, target.first(segment.file_size)));
    std::fill(target.begin() + static_cast<ptrdiff_t>(segment.file_size), target.end(), 0);
  }
  return image.segments.back().end();
}

}  // namespace wisp
