// linux-libc-dev 6.1 declares KVM's variable-length structs (kvm_cpuid2, kvm_msrs, ...) with
// __DECLARE_FLEX_ARRAY, which in C++ inserts an empty struct: their size, the offset of their
// entries and the ioctl numbers built from their size all differ from the kernel's C layout.
// KvmList lays them out as C does (an 8-byte header, then the entries), and the ioctl numbers
// below are computed from that header.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace wisp {

struct KvmListHeader {
  uint32_t count;
  uint32_t padding;
};
static_assert(sizeof(KvmListHeader) == 8);

inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, KvmListHeader);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, KvmListHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, KvmListHeader);

template <typename Entry>
class KvmList {
 public:
  explicit KvmList(uint32_t count)
      : storage_((sizeof(KvmListHeader) + count * sizeof(Entry) + 7) / 8) {
    header().count = count;
  }

  KvmListHeader& header() { return *reinterpret_cast<KvmListHeader*>(storage_.data()); }
  uint32_t count() { return header().count; }
  Entry* entries() { return reinterpret_cast<Entry*>(storage_.data() + 1); }
  void* data() { return storage_.data(); }

 private:
  std::vector<uint64_t> storage_;  // 8-byte aligned; the entries start right after the header
};

}  // namespace wisp
