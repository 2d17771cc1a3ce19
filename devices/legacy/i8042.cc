#include "devices/legacy/i8042.h"

namespace wisp {

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == kCommandOffset && !data.empty() && data[0] == kPulseResetCommand)
    stopper_.request_stop({StopKind::kReset});
}

}  // namespace wisp
