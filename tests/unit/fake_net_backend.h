// A NetBackend for unit tests: frames queued by the test are received (each led by its 12-byte
// virtio-net header), frames sent are recorded with their header and bytes, and the calls that
// configure the back end (receive offloads, queue pairs) are recorded in order.
#pragma once

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include "devices/net/net_backend.h"
#include "devices/virtio/net_header.h"
#include "vmm/base/fd.h"

namespace wisp::test {

// Every net_offload bit.
inline constexpr uint32_t kAllReceiveOffloads =
    net_offload::kChecksum | net_offload::kTso4 | net_offload::kTso6 | net_offload::kTsoEcn |
    net_offload::kUfo | net_offload::kUso4 | net_offload::kUso6;

class FakeNetBackend final : public NetBackend {
 public:
  struct Config {
    uint16_t pairs = 1;
    bool accepts_offloads = true;
    uint32_t supported_offloads = kAllReceiveOffloads;
    bool with_eventfds = false;  // receive_fd gives an eventfd per pair (else -1)
  };
  struct SentFrame {
    uint16_t pair;
    virtio::NetHeader header;
    std::vector<uint8_t> bytes;  // the frame after the header
    size_t first_iov_bytes;      // the length of the first iovec (the header's)
  };
  struct PairCall {
    uint16_t pair;
    bool enabled;
  };

  FakeNetBackend() : FakeNetBackend(Config{}) {}
  explicit FakeNetBackend(Config config) : config_(config), waiting_(config.pairs) {
    if (config.with_eventfds)
      for (uint16_t i = 0; i < config.pairs; ++i)
        eventfds_.emplace_back(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }

  uint16_t queue_pairs() const override { return config_.pairs; }
  bool accepts_offloads() const override { return config_.accepts_offloads; }
  uint32_t supported_receive_offloads() const override { return config_.supported_offloads; }
  Result<void> set_receive_offloads(uint32_t offloads) override {
    offload_calls.push_back(offloads);
    if (fail_offloads) return fail("the fake back end refuses offloads");
    if (offloads & ~config_.supported_offloads)
      return fail("offloads {:#x} are not supported", offloads);
    offloads_ = offloads;
    return {};
  }
  Result<void> set_pair_enabled(uint16_t pair, bool enabled) override {
    pair_calls.push_back({pair, enabled});
    return {};
  }
  int receive_fd(uint16_t pair) const override {
    return pair < eventfds_.size() ? eventfds_[pair].get() : -1;
  }
  ssize_t receive(uint16_t pair, std::span<uint8_t> buffer) override {
    ++receive_calls;
    if (receive_error != 0) return -receive_error;
    std::deque<std::vector<uint8_t>>& frames = waiting_.at(pair);
    if (frames.empty()) return -EAGAIN;
    std::vector<uint8_t> frame = std::move(frames.front());
    frames.pop_front();
    size_t length = std::min(frame.size(), buffer.size());  // a TAP truncates as well
    std::memcpy(buffer.data(), frame.data(), length);
    return static_cast<ssize_t>(length);
  }
  ssize_t send(uint16_t pair, std::span<const iovec> frame) override {
    ++send_calls;
    if (full_sends > 0) {
      --full_sends;
      return -EAGAIN;
    }
    if (send_error != 0) return -send_error;
    std::vector<uint8_t> all;
    for (const iovec& part : frame) {
      auto* base = static_cast<const uint8_t*>(part.iov_base);
      all.insert(all.end(), base, base + part.iov_len);
    }
    SentFrame record{pair, {}, {}, frame.empty() ? 0 : frame[0].iov_len};
    if (all.size() >= sizeof(record.header)) {
      std::memcpy(&record.header, all.data(), sizeof(record.header));
      record.bytes.assign(all.begin() + sizeof(record.header), all.end());
    }
    sent.push_back(std::move(record));
    return static_cast<ssize_t>(all.size());
  }

  // ---- The test's side. ----
  // Queues a frame for `pair`: `header`, then `bytes`.
  void push(const virtio::NetHeader& header, std::span<const uint8_t> bytes, uint16_t pair = 0) {
    std::vector<uint8_t> frame(sizeof(header));
    std::memcpy(frame.data(), &header, sizeof(header));
    frame.insert(frame.end(), bytes.begin(), bytes.end());
    push_raw(std::move(frame), pair);
  }
  // Queues a frame as it is, header included (or not).
  void push_raw(std::vector<uint8_t> frame, uint16_t pair = 0) {
    waiting_.at(pair).push_back(std::move(frame));
  }
  size_t waiting(uint16_t pair = 0) const { return waiting_.at(pair).size(); }
  uint32_t offloads() const { return offloads_; }

  std::vector<SentFrame> sent;
  std::vector<uint32_t> offload_calls;
  std::vector<PairCall> pair_calls;
  int receive_calls = 0;
  int send_calls = 0;
  int receive_error = 0;  // errno that receive returns, 0: none
  int send_error = 0;     // errno that send returns, 0: none
  int full_sends = 0;     // sends that find the back end full (-EAGAIN) before the others
  bool fail_offloads = false;

 private:
  Config config_;
  std::vector<std::deque<std::vector<uint8_t>>> waiting_;
  std::vector<Fd> eventfds_;
  uint32_t offloads_ = 0;
};

}  // namespace wisp::test
