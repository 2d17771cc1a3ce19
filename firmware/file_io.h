// Reading host files into memory with pread, named errors, and no short reads.
#pragma once

#include <cstdint>
#include <span>

#include "vmm/base/result.h"

namespace wisp {

// Fills `target` from `fd` at `offset`; a file that ends early is an error.
Result<void> read_exactly(int fd, uint64_t offset, std::span<uint8_t> target);

}  // namespace wisp
