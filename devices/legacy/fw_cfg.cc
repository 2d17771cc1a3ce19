#include "devices/legacy/fw_cfg.h"

#include <iterator>
#include <utility>

namespace wisp {

namespace {

void append_le(std::vector<uint8_t>& out, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void append_be(std::vector<uint8_t>& out, uint64_t value, size_t bytes) {
  for (size_t i = bytes; i-- > 0;) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

std::vector<uint8_t> le(uint64_t value, size_t bytes) {
  std::vector<uint8_t> out;
  append_le(out, value, bytes);
  return out;
}

}  // namespace

FwCfg::FwCfg(const FwCfgMachine& machine) {
  items_[kSignature] = {'Q', 'E', 'M', 'U'};
  items_[kId] = le(kIdTraditional, 4);
  items_[kUuid] = std::vector<uint8_t>(16, 0);
  items_[kRamSize] = le(machine.memory_bytes, 8);
  items_[kNoGraphic] = le(1, 2);
  items_[kNbCpus] = le(machine.cpus, 2);
  items_[kMaxCpus] = le(machine.cpus, 2);
  items_[kCmdlineSize] = le(machine.cmdline.size() + 1, 4);
  std::vector<uint8_t>& cmdline = items_[kCmdlineData];
  cmdline.assign(machine.cmdline.begin(), machine.cmdline.end());
  cmdline.push_back(0);

  // The RAM map, as QEMU's etc/e820 gives it: RAM ranges only (the boot protocols' e820 maps
  // reserve the legacy BIOS area besides).
  std::vector<uint8_t> e820;
  for (const RamRange& range : machine.ram) {
    append_le(e820, range.start, 8);
    append_le(e820, range.size, 8);
    append_le(e820, kE820Ram, 4);
  }

  // The files, sorted by name as in QEMU's directory, get keys from kFileFirst on.
  std::pair<std::string, std::vector<uint8_t>> files[] = {{"etc/e820", std::move(e820)}};
  std::vector<uint8_t>& directory = items_[kFileDir];
  append_be(directory, std::size(files), 4);
  uint16_t key = kFileFirst;
  for (auto& [name, data] : files) {
    append_be(directory, data.size(), 4);
    append_be(directory, key, 2);
    append_be(directory, 0, 2);
    name.resize(kFileNameBytes, '\0');
    directory.insert(directory.end(), name.begin(), name.end());
    items_[key++] = std::move(data);
  }

  select(kSignature);
}

void FwCfg::read(uint64_t, std::span<uint8_t> data) {
  if (data.size() != 1) return store_le(data, 0);
  std::lock_guard lock(mutex_);
  data[0] = selected_ && position_ < selected_->size() ? (*selected_)[position_++] : 0;
}

void FwCfg::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != kSelectorOffset || data.size() != 2) return;
  std::lock_guard lock(mutex_);
  select(static_cast<uint16_t>(load_le(data)));
}

void FwCfg::select(uint16_t key) {
  auto item = items_.find(static_cast<uint16_t>(key & ~kWriteChannel));
  selected_ = item == items_.end() ? nullptr : &item->second;
  position_ = 0;
}

}  // namespace wisp
