// A disk image in /tmp for one test: made with the bytes given, read back whole, removed at the
// end.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace wisp::test {

class TempImage {
 public:
  explicit TempImage(const std::vector<uint8_t>& data) {
    char name[] = "/tmp/wisp-image-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  explicit TempImage(uint64_t bytes, uint8_t fill = 0)
      : TempImage(std::vector<uint8_t>(bytes, fill)) {}
  ~TempImage() { ::unlink(path_.c_str()); }
  TempImage(const TempImage&) = delete;
  TempImage& operator=(const TempImage&) = delete;

  const std::string& path() const { return path_; }
  std::vector<uint8_t> contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string path_;
};

}  // namespace wisp::test
