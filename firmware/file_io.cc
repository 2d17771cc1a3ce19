#include "firmware/file_io.h"

#include <unistd.h>

namespace wisp {

Result<void> read_exactly(int fd, uint64_t offset, std::span<uint8_t> target) {
  size_t done = 0;
  while (done < target.size()) {
    ssize_t n =
        ::pread(fd, target.data() + done, target.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read");
    if (n == 0) return fail("unexpected end of file after {} bytes", offset + done);
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace wisp
