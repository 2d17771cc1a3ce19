// A directory of Wisp's own under $TMPDIR (else /tmp), made with mkdtemp (mode 0700): for a
// run's sockets and files (virtiofsd's socket, --host-root's run directory).
#pragma once

#include <stdlib.h>

#include <string>
#include <string_view>

#include "vmm/base/result.h"

namespace wisp {

// $TMPDIR/NAME.XXXXXX, made; `name` is e.g. "wisp-virtiofsd".
inline Result<std::string> make_temporary_directory(std::string_view name) {
  const char* tmpdir = ::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/{}.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", name);
  if (!::mkdtemp(pattern.data())) return fail_errno(fmt::format("mkdtemp {}", pattern));
  return pattern;
}

}  // namespace wisp
