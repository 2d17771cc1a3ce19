// QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), the legacy port interface
// only, so that tiny guests written for QEMU learn their machine unchanged: a 16-bit write to the
// selector port picks an item, and each byte read from the data port returns the item's next byte
// (0 past its end). No DMA interface; data writes are ignored, as in QEMU 2.4 and later.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "firmware/memory_map.h"
#include "vmm/base/bus.h"

namespace wisp {

// What the items describe.
struct FwCfgMachine {
  uint64_t memory_bytes;
  uint32_t cpus;
  std::string cmdline;
  std::vector<RamRange> ram;  // ram_ranges(memory_bytes): becomes the file etc/e820
};

class FwCfg final : public BusDevice {
 public:
  static constexpr uint64_t kSelectorOffset = 0;  // port 0x510, 16-bit writes
  static constexpr uint64_t kDataOffset = 1;      // port 0x511, 8-bit reads

  // Item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h).
  static constexpr uint16_t kSignature = 0x0000;    // "QEMU"
  static constexpr uint16_t kId = 0x0001;           // le32 feature bits
  static constexpr uint16_t kUuid = 0x0002;         // 16 bytes, all zero
  static constexpr uint16_t kRamSize = 0x0003;      // le64, bytes
  static constexpr uint16_t kNoGraphic = 0x0004;    // le16, 1
  static constexpr uint16_t kNbCpus = 0x0005;       // le16
  static constexpr uint16_t kMaxCpus = 0x000f;      // le16
  static constexpr uint16_t kCmdlineSize = 0x0014;  // le32, with the NUL
  static constexpr uint16_t kCmdlineData = 0x0015;  // NUL-terminated
  static constexpr uint16_t kFileDir = 0x0019;      // be32 count, then the file entries
  static constexpr uint16_t kFileFirst = 0x0020;    // the first file's key
  // Bit 14 of a key asks for write access, which the legacy interface no longer grants: the item
  // reads as without it.
  static constexpr uint16_t kWriteChannel = 0x4000;

  static constexpr uint32_t kIdTraditional = 1;  // bit 0 of FW_CFG_ID; bit 1 (DMA) stays clear
  static constexpr size_t kFileEntryBytes = 64;  // be32 size, be16 key, be16 reserved, name
  static constexpr size_t kFileNameBytes = 56;
  static constexpr size_t kE820EntryBytes = 20;  // le64 address, le64 length, le32 type
  static constexpr uint32_t kE820Ram = 1;

  explicit FwCfg(const FwCfgMachine& machine);

  // As QEMU's port pair: a byte read at either port reads data; wider reads see 0.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  // A 16-bit write at the selector selects; byte writes are data writes, ignored.
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  void select(uint16_t key);  // under mutex_, or from the constructor

  std::map<uint16_t, std::vector<uint8_t>> items_;  // built once, read-only afterwards
  std::mutex mutex_;                                // vCPU threads read and select concurrently
  const std::vector<uint8_t>* selected_ = nullptr;  // null: an undefined key, zero bytes long
  size_t position_ = 0;
};

}  // namespace wisp
