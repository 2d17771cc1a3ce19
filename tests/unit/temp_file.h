// A file of the test's own under /tmp, removed when the test is done. Unique names matter: ctest
// runs the unit tests in parallel, each in its own process.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

namespace wisp::test {

class TempFile {
 public:
  explicit TempFile(const std::string& stem, const std::string& contents = "")
      : path_("/tmp/wisp-" + stem + "-XXXXXX") {
    int fd = ::mkstemp(path_.data());
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace wisp::test
