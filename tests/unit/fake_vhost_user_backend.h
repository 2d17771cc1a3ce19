// A fake vhost-user back end for unit tests: it serves one end of a socketpair on a thread of its
// own, answers what a back end must answer (features, protocol features, ring bases, and the
// acknowledgements REPLY_ACK asks for) and records every message with the descriptors that came
// with it, so that a test can check what the front end said, in order.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "devices/vhost_user/protocol.h"
#include "vmm/base/fd.h"

namespace wisp::test {

class FakeVhostUserBackend {
 public:
  struct Message {
    vhost_user::Request request;
    uint32_t flags;
    std::vector<uint8_t> payload;
    std::vector<Fd> fds;

    // The payload as a T; a shorter payload (a memory table of fewer regions) fills its start.
    template <typename T>
    T as() const {
      T value{};
      REQUIRE(!payload.empty());
      std::memcpy(&value, payload.data(), std::min(payload.size(), sizeof(T)));
      return value;
    }
  };

  FakeVhostUserBackend(uint64_t features, uint64_t protocol_features)
      : features_(features), protocol_features_(protocol_features) {
    int ends[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0);
    frontend_end_.reset(ends[0]);
    backend_end_.reset(ends[1]);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeVhostUserBackend() {
    hang_up();
    thread_.join();
  }

  // The front end's side of the connection (once).
  Fd take_frontend_socket() { return std::move(frontend_end_); }
  // The status REPLY_ACK answers with from now on (0: done).
  void set_ack_status(uint64_t status) { ack_status_ = status; }
  // Stops answering anything: a back end that hangs.
  void go_silent() { silent_ = true; }
  // Closes the back end's side: the front end sees it hang up.
  void hang_up() { ::shutdown(backend_end_.get(), SHUT_RDWR); }

  // The messages received so far, moved out, once there are at least `count` (or 5 s passed).
  std::vector<Message> take_messages(size_t count = 0) {
    for (int waited = 0; waited < 5000; ++waited) {
      {
        std::lock_guard lock(mutex_);
        if (messages_.size() >= count) return std::move(messages_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard lock(mutex_);
    return std::move(messages_);
  }

 private:
  void serve() {
    while (true) {
      vhost_user::Header header{};
      std::vector<Fd> fds;
      if (!receive(&header, sizeof(header), &fds)) return;
      std::vector<uint8_t> payload(header.size);
      if (header.size && !receive(payload.data(), payload.size(), nullptr)) return;
      auto request = static_cast<vhost_user::Request>(header.request);
      if (!silent_) answer(request, header.flags, payload);
      std::lock_guard lock(mutex_);
      messages_.push_back({request, header.flags, std::move(payload), std::move(fds)});
    }
  }

  void answer(vhost_user::Request request, uint32_t flags, const std::vector<uint8_t>& payload) {
    switch (request) {
      case vhost_user::Request::kGetFeatures:
        return reply(request, features_);
      case vhost_user::Request::kGetProtocolFeatures:
        return reply(request, protocol_features_);
      case vhost_user::Request::kGetVringBase: {
        vhost_user::VringState state{};
        std::memcpy(&state, payload.data(), std::min(payload.size(), sizeof(state)));
        state.num = 7;  // where the back end stopped
        return reply(request, state);
      }
      default:
        if (flags & vhost_user::kFlagNeedReply) reply(request, ack_status_.load());
    }
  }

  template <typename T>
  void reply(vhost_user::Request request, const T& value) {
    vhost_user::Header header{static_cast<uint32_t>(request),
                              vhost_user::kVersion | vhost_user::kFlagReply, sizeof(T)};
    std::vector<uint8_t> bytes(sizeof(header) + sizeof(T));
    std::memcpy(bytes.data(), &header, sizeof(header));
    std::memcpy(bytes.data() + sizeof(header), &value, sizeof(T));
    [[maybe_unused]] ssize_t sent = ::send(backend_end_.get(), bytes.data(), bytes.size(), 0);
  }

  bool receive(void* data, size_t size, std::vector<Fd>* fds) {
    size_t done = 0;
    while (done < size) {
      iovec part{static_cast<uint8_t*>(data) + done, size - done};
      alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int) * 8)] = {};
      msghdr message{};
      message.msg_iov = &part;
      message.msg_iovlen = 1;
      message.msg_control = control;
      message.msg_controllen = sizeof(control);
      ssize_t got = ::recvmsg(backend_end_.get(), &message, MSG_CMSG_CLOEXEC);
      if (got <= 0) return false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          if (fds) {
            fds->emplace_back(fd);
          } else {
            ::close(fd);
          }
        }
      }
      done += static_cast<size_t>(got);
    }
    return true;
  }

  uint64_t features_;
  uint64_t protocol_features_;
  std::atomic<uint64_t> ack_status_{0};
  std::atomic<bool> silent_{false};
  Fd frontend_end_;
  Fd backend_end_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Message> messages_;
};

}  // namespace wisp::test
