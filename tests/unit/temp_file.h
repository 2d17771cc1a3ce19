// A file of the test's own under /tmp, removed when the test is done. Unique names matter: ctest
// runs the unit tests in parallel, each in its own process.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
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

// A directory of the test's own under the temporary directory, removed with what is in it.
class TempDir {
 public:
  explicit TempDir(const std::string& stem) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("wisp-" + stem + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace wisp::test
