// The vhost-user front end against the real virtiofsd (QEMU's, which --share runs): Wisp starts
// it for a directory, hands it shared memory and a request queue, and the test, as the guest's
// FUSE driver, sends INIT, LOOKUP, OPEN, READ and MKDIR through the ring and reads the answers.
// Needs root (virtiofsd's sandbox) and /usr/lib/qemu/virtiofsd (or $WISP_VIRTIOFSD).
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/temp_file.h"
#include "tests/unit/test_memory.h"
#include "tests/unit/virtio_fake_driver.h"
#include "vmm/file_shares.h"

using wisp::Fd;
using wisp::test::FakeQueue;
using wisp::test::readable;
using wisp::test::writable;

namespace {

constexpr uint64_t kVersion1 = wisp::virtio::feature_bit(wisp::virtio::kFeatureVersion1);
constexpr uint64_t kRequestIn = 0x10000;  // the request, as the driver writes it
constexpr uint64_t kReplyOut = 0x20000;   // where the back end writes the reply
constexpr uint32_t kReplyBytes = 0x10000;
constexpr char kContent[] = "written by the host\n";

// The guest's side: a request queue in shared memory served by virtiofsd.
class FuseSession {
 public:
  explicit FuseSession(const std::string& directory, bool read_only) {
    wisp::VmConfig config;
    config.filesystems.push_back({"test", "", directory, read_only});
    auto shares = wisp::FileShares::start(config);
    REQUIRE(shares);
    shares_ = std::move(*shares);
    wisp::vhost_user::Frontend& backend = shares_->backend(0);
    REQUIRE((backend.features() & kVersion1));
    REQUIRE(backend.set_features(kVersion1));
    REQUIRE(backend.set_memory_table(memory_));
    const auto& layout = queue_.layout();
    REQUIRE(backend.start_vring(
        memory_, {1, layout.size, layout.descriptor_table, layout.available_ring, layout.used_ring,
                  kick_.get(), call_.get()}));
  }

  // Sends one FUSE request and returns the reply's header and body.
  std::pair<fuse_out_header, std::vector<uint8_t>> call(uint32_t opcode, uint64_t node,
                                                        std::span<const uint8_t> body) {
    fuse_in_header in{};
    in.len = static_cast<uint32_t>(sizeof(in) + body.size());
    in.opcode = opcode;
    in.unique = ++unique_;
    in.nodeid = node;
    REQUIRE(memory_.write_obj(kRequestIn, in));
    REQUIRE(memory_.write(kRequestIn + sizeof(in), body));
    queue_.make_available(
        queue_.add_chain({readable(kRequestIn, in.len), writable(kReplyOut, kReplyBytes)}));
    INFO("FUSE opcode " << opcode);
    uint64_t one = 1;
    REQUIRE(::write(kick_.get(), &one, sizeof(one)) == sizeof(one));
    // libvhost-user also signals a call eventfd when it receives it, so a call alone does not
    // mean a reply: wait for calls until the used ring has one.
    for (int calls = 0; calls < 10 && queue_.used_pending() == 0; ++calls) {
      pollfd ready{call_.get(), POLLIN, 0};
      REQUIRE(::poll(&ready, 1, 10000) == 1);
      uint64_t count = 0;
      REQUIRE(::read(call_.get(), &count, sizeof(count)) == sizeof(count));
    }
    REQUIRE(queue_.used_pending() == 1);
    auto used = queue_.take_used();
    REQUIRE(used.length >= sizeof(fuse_out_header));
    auto out = memory_.read_obj<fuse_out_header>(kReplyOut);
    REQUIRE(out);
    CHECK(out->unique == in.unique);
    REQUIRE(out->len == used.length);
    std::vector<uint8_t> reply(used.length - sizeof(fuse_out_header));
    REQUIRE(memory_.read(kReplyOut + sizeof(fuse_out_header), reply));
    return {*out, reply};
  }

  template <typename T>
  static std::vector<uint8_t> bytes_of(const T& value, std::string_view name = {}) {
    std::vector<uint8_t> bytes(sizeof(T) + (name.empty() ? 0 : name.size() + 1), 0);
    std::memcpy(bytes.data(), &value, sizeof(T));
    if (!name.empty()) std::memcpy(bytes.data() + sizeof(T), name.data(), name.size());
    return bytes;
  }
  static std::vector<uint8_t> name_bytes(std::string_view name) {
    std::vector<uint8_t> bytes(name.begin(), name.end());
    bytes.push_back(0);
    return bytes;
  }
  template <typename T>
  static T reply_as(const std::vector<uint8_t>& reply) {
    REQUIRE(reply.size() >= sizeof(T));
    T value;
    std::memcpy(&value, reply.data(), sizeof(T));
    return value;
  }

  void init() {
    fuse_init_in init{};
    init.major = FUSE_KERNEL_VERSION;
    init.minor = 31;
    init.max_readahead = 1 << 16;
    auto [out, reply] = call(FUSE_INIT, 0, bytes_of(init));
    REQUIRE(out.error == 0);
    CHECK(reply_as<fuse_init_out>(reply).major == FUSE_KERNEL_VERSION);
  }

  ~FuseSession() {
    if (shares_) CHECK(shares_->backend(0).stop_vring(1));
  }

 private:
  wisp::GuestMemory memory_ = wisp::test::make_shared_guest_memory({{0, 1 << 20}});
  FakeQueue queue_{memory_, 0x1000, 64};
  Fd kick_{::eventfd(0, EFD_CLOEXEC)};
  Fd call_{::eventfd(0, EFD_CLOEXEC)};
  std::unique_ptr<wisp::FileShares> shares_;
  uint64_t unique_ = 0;
};

// A directory with one file in it, removed with all the guest made there when the test ends.
struct SharedDirectory {
  SharedDirectory() {
    REQUIRE(::mkdtemp(path.data()));
    std::ofstream(path + "/hello.txt") << kContent;
  }
  ~SharedDirectory() { std::filesystem::remove_all(path); }
  std::string path = "/tmp/wisp-virtiofsd-share-XXXXXX";
};

}  // namespace

TEST_CASE("virtiofsd: the guest's requests reach the host's files through Wisp's front end",
          "[virtiofsd]") {
  SharedDirectory shared;
  const std::string& directory = shared.path;
  bool read_only = GENERATE(false, true);
  INFO((read_only ? "read-only" : "writable"));
  {
    FuseSession session(directory, read_only);
    session.init();

    auto [looked_up, entry_reply] =
        session.call(FUSE_LOOKUP, FUSE_ROOT_ID, FuseSession::name_bytes("hello.txt"));
    REQUIRE(looked_up.error == 0);
    auto entry = FuseSession::reply_as<fuse_entry_out>(entry_reply);
    CHECK(entry.attr.size == sizeof(kContent) - 1);

    fuse_open_in open{};
    open.flags = O_RDONLY;
    auto [opened, open_reply] = session.call(FUSE_OPEN, entry.nodeid, FuseSession::bytes_of(open));
    REQUIRE(opened.error == 0);
    fuse_read_in read{};
    read.fh = FuseSession::reply_as<fuse_open_out>(open_reply).fh;
    read.size = 4096;
    auto [was_read, data] = session.call(FUSE_READ, entry.nodeid, FuseSession::bytes_of(read));
    REQUIRE(was_read.error == 0);
    CHECK(std::string(data.begin(), data.end()) == kContent);

    fuse_mkdir_in mkdir{};
    mkdir.mode = 0755;
    auto [made, made_reply] =
        session.call(FUSE_MKDIR, FUSE_ROOT_ID, FuseSession::bytes_of(mkdir, "made-by-guest"));
    if (read_only) {
      CHECK(made.error == -EROFS);
      CHECK_FALSE(std::filesystem::exists(directory + "/made-by-guest"));
    } else {
      CHECK(made.error == 0);
      CHECK(std::filesystem::is_directory(directory + "/made-by-guest"));
    }
  }
}

TEST_CASE("virtiofsd: a directory virtiofsd cannot serve is an error naming it", "[virtiofsd]") {
  wisp::VmConfig config;
  wisp::test::TempFile not_a_directory("virtiofsd-not-a-directory", "x");
  const std::string& file = not_a_directory.path();
  config.filesystems.push_back({"test", "", file, false});
  auto shares = wisp::FileShares::start(config);
  REQUIRE_FALSE(shares);
  CHECK_THAT(shares.error().message(), Catch::Contains("--share " + file));
  CHECK_THAT(shares.error().message(), Catch::Contains("virtiofsd exited"));
}
