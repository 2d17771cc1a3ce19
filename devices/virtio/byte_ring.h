// A bounded FIFO of bytes: what a vsock connection holds for a host socket that did not take it
// yet. Its storage is allocated when the first bytes wait and released when the last leave, so an
// idle connection, or one whose reader keeps up, costs nothing.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace wisp::virtio {

class ByteRing {
 public:
  explicit ByteRing(size_t capacity) : capacity_(capacity) {}

  size_t size() const { return size_; }
  size_t space() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }

  // Appends `bytes`, which must fit in space().
  void push(std::span<const uint8_t> bytes) {
    assert(bytes.size() <= space());
    if (bytes.empty()) return;
    if (!storage_) storage_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
    size_t tail = (first_ + size_) % capacity_;
    size_t part = std::min(bytes.size(), capacity_ - tail);
    std::memcpy(storage_.get() + tail, bytes.data(), part);
    std::memcpy(storage_.get(), bytes.data() + part, bytes.size() - part);
    size_ += bytes.size();
  }

  // The oldest bytes that lie in one piece (the rest follow once these are popped).
  std::span<const uint8_t> front() const {
    if (empty()) return {};
    return {storage_.get() + first_, std::min(size_, capacity_ - first_)};
  }

  void pop(size_t count) {
    assert(count <= size_);
    size_ -= count;
    first_ = size_ == 0 ? 0 : (first_ + count) % capacity_;
    if (size_ == 0) storage_.reset();
  }

 private:
  size_t capacity_;
  std::unique_ptr<uint8_t[]> storage_;
  size_t first_ = 0;
  size_t size_ = 0;
};

}  // namespace wisp::virtio
