#include "firmware/reset_vector.h"

#include <array>

#include "firmware/layout.h"

namespace wisp {

Result<void> write_reset_vector(const GuestMemory& memory) {
  static_assert(layout::kI8042CommandPort == 0x64);
  constexpr std::array<uint8_t, 7> kStub = {
      0xb0, 0xfe,  // mov al, 0xfe      ; i8042 "pulse reset line"
      0xe6, 0x64,  // out 0x64, al
      0xf4,        // hlt
      0xeb, 0xfd,  // jmp hlt
  };
  return memory.write(layout::kResetVectorAddress, kStub);
}

}  // namespace wisp
