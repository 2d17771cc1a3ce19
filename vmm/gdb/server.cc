#include "vmm/gdb/server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "vmm/base/log.h"
#include "vmm/gdb/x86_registers.h"

namespace wisp::gdb {
namespace {

constexpr uint8_t kInt3 = 0xcc;
constexpr uint64_t kPageSize = 4096;
constexpr int kSigint = 2, kSigtrap = 5;
constexpr int kHangUpWaitMs = 1000;
// What one 'm' reply may carry: two hex digits a byte, within the packet size gdb was given.
constexpr size_t kMaxMemoryBytes = PacketReader::kMaxPacketBytes / 2 - 16;

// "ADDR,LENGTH" (hex) at the start of `text`; the rest after it in `rest`.
std::optional<std::pair<uint64_t, uint64_t>> parse_range(std::string_view text,
                                                         std::string_view* rest = nullptr) {
  size_t comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  size_t end = text.find_first_of(":;", comma);
  auto address = parse_hex_number(text.substr(0, comma));
  auto length = parse_hex_number(text.substr(comma + 1, end - comma - 1));
  if (!address || !length) return std::nullopt;
  if (rest) *rest = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  return std::pair{*address, *length};
}

std::string hex_text(std::string_view text) {
  return to_hex({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

}  // namespace

Server::Server(int listen_fd, std::vector<Vcpu*> vcpus, const GuestMemory& memory,
               DebugController& controller, VmStopper& stopper, EventFd quit, EventFd stopped)
    : listen_fd_(listen_fd),
      vcpus_(std::move(vcpus)),
      memory_(memory),
      controller_(controller),
      stopper_(stopper),
      quit_(std::move(quit)),
      stopped_(std::move(stopped)) {
  controller_.set_on_stop([this] { stopped_.signal(); });
}

Server::~Server() {
  stop();
}

Result<void> Server::start(SeccompMode seccomp) {
  try {
    thread_ = std::thread([this, seccomp] {
      pthread_setname_np(pthread_self(), "wisp-gdb");
      if (auto sandboxed = install_seccomp_filter(ThreadKind::kDebugger, seccomp); !sandboxed) {
        stopper_.request_stop({StopKind::kError, 0, sandboxed.error().message()});
        return;
      }
      serve();
    });
  } catch (const std::system_error& error) {
    return fail("starting the thread wisp-gdb: {}", error.code().message());
  }
  return {};
}

void Server::stop() {
  if (!thread_.joinable()) return;
  quit_.signal();
  thread_.join();
}

void Server::serve() {
  while (true) {
    pollfd fds[] = {{listen_fd_, POLLIN, 0}, {quit_.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[1].revents) return;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve_client(client);
    // Only then the guest goes on: a guest that ends at once would otherwise close the socket
    // before gdb has acknowledged the detach.
    wait_for_hang_up(client);
    ::close(client);
    client_ = -1;
    if (!running_) {
      if (auto released = controller_.release_all(std::nullopt); !released)
        log::warn("gdb: {}", released.error().message());
    }
  }
}

// gdb acknowledges the detach's reply, then hangs up: closing first would break its pipe.
void Server::wait_for_hang_up(int client) {
  while (true) {
    pollfd fds[] = {{client, POLLIN, 0}, {quit_.fd(), POLLIN, 0}};
    char ignored[64];
    if (::poll(fds, 2, kHangUpWaitMs) <= 0 || fds[1].revents) return;
    if (::read(client, ignored, sizeof(ignored)) <= 0) return;
  }
}

void Server::serve_client(int client) {
  log::info("gdb: connected; the guest is stopped");
  client_ = client;
  if (!controller_.hold_all()) return;  // the VM is stopping
  running_ = false;
  detached_ = false;
  current_ = 0;
  last_stop_ = controller_.take_stop_event();
  if (last_stop_.cause == StopEvent::Cause::kInterrupt)
    last_stop_.cause = StopEvent::Cause::kAttach;
  PacketReader reader;
  while (!detached_) {
    pollfd fds[] = {{client, POLLIN, 0}, {stopped_.fd(), POLLIN, 0}, {quit_.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (fds[2].revents) return;
    if (fds[1].revents) {
      stopped_.drain();
      if (running_) {
        if (!controller_.hold_all()) return;
        running_ = false;
        last_stop_ = controller_.take_stop_event();
        send_packet(client, stop_reply(last_stop_));
      }
    }
    if (!fds[0].revents) continue;
    uint8_t bytes[4096];
    ssize_t count = ::read(client, bytes, sizeof(bytes));
    if (count <= 0) {
      log::info("gdb: the debugger went away; the guest goes on");
      if (running_ && !controller_.hold_all()) return;
      running_ = false;
      detach();
      return;
    }
    for (Incoming& incoming : reader.feed({bytes, static_cast<size_t>(count)})) {
      if (incoming.kind == Incoming::Kind::kInterrupt) {
        if (!running_) continue;
        if (!controller_.hold_all()) return;
        running_ = false;
        last_stop_ = controller_.take_stop_event();
        send_packet(client, stop_reply(last_stop_));
        continue;
      }
      bool good = incoming.kind == Incoming::Kind::kPacket;
      // A debugger that sent its last packet ('k', 'D') and hung up still has it carried out.
      (void)::send(client, good ? "+" : "-", 1, MSG_NOSIGNAL);
      if (!good) continue;
      // In all-stop mode gdb sends nothing but Ctrl-C while the guest runs.
      std::optional<std::string> reply = running_ ? "E01" : handle(incoming.payload);
      if (reply && !send_packet(client, *reply)) return;
    }
  }
}

bool Server::send_packet(int client, std::string_view payload) {
  std::string framed = frame_packet(payload);
  size_t sent = 0;
  while (sent < framed.size()) {
    ssize_t count = ::send(client, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) return false;
    sent += static_cast<size_t>(count);
  }
  return true;
}

std::optional<std::string> Server::handle(std::string_view packet) {
  if (packet.empty()) return "";
  std::string_view rest = packet.substr(1);
  switch (packet[0]) {
    case '?':
      return stop_reply(last_stop_);
    case 'g':
      return read_registers();
    case 'G':
      return write_registers(rest);
    case 'p':
      return read_register(rest);
    case 'P':
      return write_register(rest);
    case 'm':
      return read_memory(rest);
    case 'M':
      return write_memory(rest, false);
    case 'X':
      return write_memory(rest, true);
    case 'c':
      return resume("c");
    case 's':
      return resume(fmt::format("s:{:x}", current_ + 1));
    case 'Z':
    case 'z':
      return breakpoint(rest, packet[0] == 'Z');
    case 'D':
      return detach();
    case 'k':
      stopper_.request_stop({StopKind::kUserQuit, 0, "gdb killed the guest"});
      detached_ = true;
      return std::nullopt;
    case 'H': {
      // Hg/Hc THREAD: the vCPU later packets are about; 0 and -1 keep the current one.
      auto thread = parse_hex_number(packet.substr(2));
      if (thread && *thread >= 1 && *thread <= vcpus_.size()) current_ = *thread - 1;
      return "OK";
    }
    case 'T': {
      auto thread = parse_hex_number(rest);
      return thread && *thread >= 1 && *thread <= vcpus_.size() ? "OK" : "E01";
    }
    case 'v':
      if (packet == "vCont?") return "vCont;c;C;s;S;t";
      if (packet.starts_with("vCont;")) return resume(packet.substr(6));
      return "";
    case 'q':
      return handle_query(packet);
    default:
      return "";  // not supported
  }
}

std::optional<std::string> Server::handle_query(std::string_view packet) {
  if (packet.starts_with("qSupported"))
    return fmt::format("PacketSize={:x};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+",
                       PacketReader::kMaxPacketBytes);
  if (packet.starts_with("qXfer:features:read:target.xml:")) {
    auto range = parse_range(packet.substr(std::strlen("qXfer:features:read:target.xml:")));
    if (!range) return "E00";
    const std::string& xml = target_xml();
    if (range->first >= xml.size()) return "l";
    std::string chunk = xml.substr(range->first, range->second);
    return (range->first + chunk.size() >= xml.size() ? "l" : "m") + chunk;
  }
  if (packet.starts_with("qXfer:")) return "E00";
  if (packet == "qAttached") return "1";
  if (packet == "qC") return fmt::format("QC{:x}", current_ + 1);
  if (packet == "qfThreadInfo") {
    std::string threads = "m";
    for (size_t i = 0; i < vcpus_.size(); ++i)
      threads += fmt::format("{}{:x}", i ? "," : "", i + 1);
    return threads;
  }
  if (packet == "qsThreadInfo") return "l";
  if (packet.starts_with("qThreadExtraInfo,")) {
    auto thread = parse_hex_number(packet.substr(std::strlen("qThreadExtraInfo,")));
    if (!thread || *thread < 1 || *thread > vcpus_.size()) return "E01";
    return hex_text(fmt::format("vCPU {}", *thread - 1));
  }
  if (packet.starts_with("qRcmd,")) return monitor(packet.substr(6));
  if (packet.starts_with("qSymbol")) return "OK";
  return "";
}

// vCont actions ("c", "s:2", "C05;c", ...): the vCPU to single-step, if any; every other runs.
std::optional<std::string> Server::resume(std::string_view actions) {
  std::optional<uint32_t> step;
  while (!actions.empty()) {
    std::string_view action = actions.substr(0, actions.find(';'));
    actions.remove_prefix(std::min(actions.size(), action.size() + 1));
    if (action.empty() || (action[0] != 's' && action[0] != 'S')) continue;
    size_t colon = action.find(':');
    auto thread = colon == std::string_view::npos ? std::optional<uint64_t>(current_ + 1)
                                                  : parse_hex_number(action.substr(colon + 1));
    if (!step && thread && *thread >= 1 && *thread <= vcpus_.size())
      step = static_cast<uint32_t>(*thread - 1);
  }
  if (auto released = controller_.release_all(step); !released) {
    log::warn("gdb: {}", released.error().message());
    return "E01";
  }
  running_ = true;
  return std::nullopt;
}

std::string Server::stop_reply(const StopEvent& event) const {
  int signal = event.cause == StopEvent::Cause::kInterrupt ? kSigint : kSigtrap;
  std::string reply = fmt::format("T{:02x}thread:{:x};", signal, event.vcpu + 1);
  switch (event.cause) {
    case StopEvent::Cause::kSoftwareBreakpoint:
      return reply + "swbreak:;";
    case StopEvent::Cause::kHardwareBreakpoint:
      return reply + "hwbreak:;";
    case StopEvent::Cause::kWatchpoint: {
      const char* kind = event.watch_type == BreakpointType::kWrite  ? "watch"
                         : event.watch_type == BreakpointType::kRead ? "rwatch"
                                                                     : "awatch";
      return reply + fmt::format("{}:{:x};", kind, event.watch_address);
    }
    default:
      return reply;
  }
}

std::optional<VcpuRegisters> Server::current_state() {
  auto regs = current().registers();
  auto sregs = current().special_registers();
  auto fpu = current().fpu();
  if (!regs || !sregs || !fpu) return std::nullopt;
  return VcpuRegisters{*regs, *sregs, *fpu};
}

bool Server::set_current_state(const VcpuRegisters& state) {
  return current().set_registers(state.regs) && current().set_special_registers(state.sregs) &&
         current().set_fpu(state.fpu);
}

std::string Server::read_registers() {
  auto state = current_state();
  return state ? to_hex(read_all(*state)) : "E01";
}

std::string Server::write_registers(std::string_view hex) {
  auto bytes = from_hex(hex);
  auto state = current_state();
  if (!bytes || !state || !write_all(*state, *bytes)) return "E01";
  return set_current_state(*state) ? "OK" : "E01";
}

std::string Server::read_register(std::string_view packet) {
  auto number = parse_hex_number(packet);
  auto state = current_state();
  if (!number || !state) return "E01";
  auto bytes = read_one(*state, *number);
  return bytes ? to_hex(*bytes) : "E01";
}

std::string Server::write_register(std::string_view packet) {
  size_t equals = packet.find('=');
  if (equals == std::string_view::npos) return "E01";
  auto number = parse_hex_number(packet.substr(0, equals));
  auto bytes = from_hex(packet.substr(equals + 1));
  auto state = current_state();
  if (!number || !bytes || !state || !write_one(*state, *number, *bytes)) return "E01";
  return set_current_state(*state) ? "OK" : "E01";
}

std::string Server::read_memory(std::string_view packet) {
  auto range = parse_range(packet);
  if (!range) return "E01";
  auto [address, length] = *range;
  std::vector<uint8_t> buffer(std::min<uint64_t>(length, kMaxMemoryBytes));
  size_t count = access_memory(address, buffer, false);
  if (count == 0 && length != 0) return "E14";
  buffer.resize(count);
  // gdb sees the guest's own bytes, not the int3 of a breakpoint.
  for (const auto& [at, saved] : software_)
    if (at >= address && at - address < count) buffer[at - address] = saved.second;
  return to_hex(buffer);
}

std::string Server::write_memory(std::string_view packet, bool binary) {
  std::string_view data;
  auto range = parse_range(packet, &data);
  if (!range) return "E01";
  auto [address, length] = *range;
  std::vector<uint8_t> bytes;
  if (binary) {
    bytes.assign(data.begin(), data.end());
  } else if (auto decoded = from_hex(data)) {
    bytes = std::move(*decoded);
  }
  if (bytes.size() != length) return "E01";
  // Where a breakpoint's int3 sits, what gdb writes becomes the byte it hides; the int3 stays.
  for (auto& [at, saved] : software_) {
    if (at < address || at - address >= length) continue;
    saved.second = bytes[at - address];
    bytes[at - address] = kInt3;
  }
  return access_memory(address, bytes, true) == length ? "OK" : "E14";
}

std::string Server::breakpoint(std::string_view packet, bool insert) {
  auto type = parse_hex_number(packet.substr(0, packet.find(',')));
  auto range = parse_range(packet.substr(std::min(packet.size(), packet.find(',') + 1)));
  if (!type || !range || *type > 4) return "";
  auto [address, length] = *range;
  if (*type != 0) {
    auto kind = static_cast<BreakpointType>(*type);
    bool done = insert ? controller_.add_hardware(kind, address, length)
                       : controller_.remove_hardware(kind, address, length);
    return done ? "OK" : "E01";
  }
  if (!insert) {
    auto found = software_.find(address);
    if (found == software_.end()) return "OK";
    (void)memory_.write(found->second.first, std::span(&found->second.second, 1));
    software_.erase(found);
    controller_.remove_software(address);
    return "OK";
  }
  if (software_.count(address)) return "OK";
  auto physical = physical_address(address);
  uint8_t original = 0;
  if (!physical || !memory_.read(*physical, std::span(&original, 1)) ||
      !memory_.write(*physical, std::span(&kInt3, 1)))
    return "E01";
  software_[address] = {*physical, original};
  controller_.add_software(address);
  return "OK";
}

std::string Server::monitor(std::string_view hex_command) {
  auto bytes = from_hex(hex_command);
  if (!bytes) return "E01";
  std::string command(bytes->begin(), bytes->end());
  std::string output;
  if (command == "phys on") {
    physical_ = true;
    output = "memory addresses are guest-physical\n";
  } else if (command == "phys off") {
    physical_ = false;
    output = "memory addresses are linear, through the current vCPU's page tables\n";
  } else {
    output = "wisp's monitor commands: phys on, phys off (how gdb's addresses are read)\n";
  }
  send_packet(client_, "O" + hex_text(output));
  return "OK";
}

// Ends the session: the breakpoints go. The vCPUs are let go once gdb has hung up (serve).
std::string Server::detach() {
  for (const auto& [address, saved] : software_)
    (void)memory_.write(saved.first, std::span(&saved.second, 1));
  software_.clear();
  controller_.clear_breakpoints();
  detached_ = true;
  log::info("gdb: detached; the guest goes on");
  return "OK";
}

size_t Server::access_memory(uint64_t address, std::span<uint8_t> buffer, bool write) {
  size_t done = 0;
  while (done < buffer.size()) {
    uint64_t at = address + done;
    size_t chunk = std::min<uint64_t>(buffer.size() - done, kPageSize - at % kPageSize);
    auto physical = physical_address(at);
    if (!physical) break;
    auto slice = memory_.slice(*physical, chunk);
    if (!slice) break;
    if (write) {
      std::memcpy(slice->data(), buffer.data() + done, chunk);
    } else {
      std::memcpy(buffer.data() + done, slice->data(), chunk);
    }
    done += chunk;
  }
  return done;
}

std::optional<uint64_t> Server::physical_address(uint64_t address) {
  if (physical_) return address;
  auto translated = current().translate(address);
  if (!translated) return std::nullopt;
  return *translated;
}

}  // namespace wisp::gdb
