#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "devices/legacy/fw_cfg.h"
#include "firmware/memory_map.h"

using namespace wisp;

namespace {

// A guest's view of the two ports: select with a 16-bit write, then read bytes from data.
struct Ports {
  FwCfg device;

  explicit Ports(const FwCfgMachine& machine) : device(machine) {}

  void select(uint16_t key) {
    uint8_t bytes[2] = {static_cast<uint8_t>(key), static_cast<uint8_t>(key >> 8)};
    device.write(FwCfg::kSelectorOffset, bytes);
  }
  uint8_t byte() {
    uint8_t value = 0xaa;
    device.read(FwCfg::kDataOffset, std::span(&value, 1));
    return value;
  }
  std::vector<uint8_t> bytes(size_t count) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i < count; ++i) out.push_back(byte());
    return out;
  }
  std::vector<uint8_t> item(uint16_t key, size_t count) {
    select(key);
    return bytes(count);
  }
  uint64_t le(uint16_t key, size_t count) { return load_le(item(key, count)); }
};

uint64_t be(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  for (uint8_t byte : bytes) value = value << 8 | byte;
  return value;
}

FwCfgMachine machine(uint64_t memory, uint32_t cpus, std::string cmdline = "console=ttyS0") {
  return {memory, cpus, std::move(cmdline), ram_ranges(memory)};
}

}  // namespace

TEST_CASE("fw_cfg: the signature, the ID without DMA, the UUID", "[fw_cfg]") {
  Ports ports(machine(64 << 20, 1));
  std::vector<uint8_t> signature = ports.item(FwCfg::kSignature, 4);
  CHECK(std::string(signature.begin(), signature.end()) == "QEMU");
  CHECK(ports.le(FwCfg::kId, 4) == 1);  // traditional interface, no DMA bit
  CHECK(ports.item(FwCfg::kUuid, 17) == std::vector<uint8_t>(17, 0));
  CHECK(ports.le(FwCfg::kNoGraphic, 2) == 1);
}

TEST_CASE("fw_cfg: the signature is selected at start", "[fw_cfg]") {
  Ports ports(machine(64 << 20, 1));
  CHECK(ports.bytes(4) == std::vector<uint8_t>{'Q', 'E', 'M', 'U'});
}

TEST_CASE("fw_cfg: RAM size and CPU counts", "[fw_cfg]") {
  Ports ports(machine(6ull << 30, 3));
  CHECK(ports.le(FwCfg::kRamSize, 8) == 6ull << 30);
  CHECK(ports.le(FwCfg::kNbCpus, 2) == 3);
  CHECK(ports.le(FwCfg::kMaxCpus, 2) == 3);
}

TEST_CASE("fw_cfg: the command line, its size with the NUL", "[fw_cfg]") {
  Ports ports(machine(64 << 20, 1, "a b=c"));
  CHECK(ports.le(FwCfg::kCmdlineSize, 4) == 6);
  std::vector<uint8_t> data = ports.item(FwCfg::kCmdlineData, 6);
  CHECK(std::string(data.begin(), data.end()) == std::string("a b=c\0", 6));

  Ports empty(machine(64 << 20, 1, ""));
  CHECK(empty.le(FwCfg::kCmdlineSize, 4) == 1);
  CHECK(empty.item(FwCfg::kCmdlineData, 2) == std::vector<uint8_t>{0, 0});
}

TEST_CASE("fw_cfg: the file directory lists etc/e820 with the RAM ranges", "[fw_cfg]") {
  uint64_t memory = 5ull << 30;  // 3 GiB below the MMIO hole, 2 GiB from 4 GiB
  Ports ports(machine(memory, 2));
  ports.select(FwCfg::kFileDir);
  REQUIRE(be(ports.bytes(4)) == 1);
  std::vector<uint8_t> entry = ports.bytes(FwCfg::kFileEntryBytes);
  uint32_t size = static_cast<uint32_t>(be(std::span(entry).subspan(0, 4)));
  uint16_t key = static_cast<uint16_t>(be(std::span(entry).subspan(4, 2)));
  CHECK(be(std::span(entry).subspan(6, 2)) == 0);
  std::string name(entry.begin() + 8, entry.end());
  CHECK(name == std::string("etc/e820") + std::string(FwCfg::kFileNameBytes - 8, '\0'));
  CHECK(key == FwCfg::kFileFirst);
  REQUIRE(size == 2 * FwCfg::kE820EntryBytes);
  CHECK(ports.byte() == 0);  // the directory ends there

  std::vector<uint8_t> e820 = ports.item(key, size);
  auto field = [&](size_t entry_index, size_t offset, size_t bytes) {
    return load_le(std::span(e820).subspan(entry_index * FwCfg::kE820EntryBytes + offset, bytes));
  };
  CHECK(field(0, 0, 8) == 0);
  CHECK(field(0, 8, 8) == 3ull << 30);
  CHECK(field(0, 16, 4) == FwCfg::kE820Ram);
  CHECK(field(1, 0, 8) == 4ull << 30);
  CHECK(field(1, 8, 8) == 2ull << 30);
  CHECK(field(1, 16, 4) == FwCfg::kE820Ram);
}

TEST_CASE("fw_cfg: past an item's end and for an undefined key, reads give 0", "[fw_cfg]") {
  Ports ports(machine(64 << 20, 1));
  CHECK(ports.item(FwCfg::kSignature, 6) == std::vector<uint8_t>{'Q', 'E', 'M', 'U', 0, 0});
  CHECK(ports.item(0x0006, 3) == std::vector<uint8_t>{0, 0, 0});
  CHECK(ports.item(0x1234, 2) == std::vector<uint8_t>{0, 0});
  CHECK(ports.item(FwCfg::kFileFirst + 1, 2) == std::vector<uint8_t>{0, 0});
  // Selecting again starts the item over.
  CHECK(ports.item(FwCfg::kSignature, 1) == std::vector<uint8_t>{'Q'});
  // The write-channel bit (14) reads the item as without it.
  CHECK(ports.item(FwCfg::kSignature | FwCfg::kWriteChannel, 1) == std::vector<uint8_t>{'Q'});
}

TEST_CASE("fw_cfg: only 16-bit writes select, and data writes and wide reads do nothing",
          "[fw_cfg]") {
  Ports ports(machine(64 << 20, 2));
  ports.select(FwCfg::kNbCpus);
  // An 8-bit write to the selector port is a data write: ignored, the selection stays.
  uint8_t key_low = FwCfg::kRamSize;
  ports.device.write(FwCfg::kSelectorOffset, std::span(&key_low, 1));
  CHECK(ports.byte() == 2);
  // A data write neither changes the item nor moves the position.
  uint8_t value = 0x55;
  ports.device.write(FwCfg::kDataOffset, std::span(&value, 1));
  CHECK(ports.byte() == 0);
  CHECK(ports.le(FwCfg::kNbCpus, 2) == 2);
  // A 16-bit read sees 0 and moves nothing, as in QEMU; a byte read at the selector reads data.
  ports.select(FwCfg::kSignature);
  uint8_t wide[2] = {0xaa, 0xaa};
  ports.device.read(FwCfg::kSelectorOffset, wide);
  CHECK((wide[0] == 0 && wide[1] == 0));
  uint8_t at_selector = 0;
  ports.device.read(FwCfg::kSelectorOffset, std::span(&at_selector, 1));
  CHECK(at_selector == 'Q');
  CHECK(ports.byte() == 'E');
}
