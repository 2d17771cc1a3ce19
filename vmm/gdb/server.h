// The gdb stub: one debugger at a time, on a thread of its own (wisp-gdb), speaking the remote
// serial protocol. Each vCPU is a thread; the VM stops as a whole (all-stop) when gdb connects,
// at a breakpoint, watchpoint or step, or on Ctrl-C. Memory goes through the current vCPU's page
// tables (KVM_TRANSLATE), or is physical after `monitor phys on`.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vmm/base/guest_memory.h"
#include "vmm/base/result.h"
#include "vmm/base/vm_stop.h"
#include "vmm/event_loop.h"
#include "vmm/gdb/debug_controller.h"
#include "vmm/gdb/packet.h"
#include "vmm/gdb/x86_registers.h"
#include "vmm/seccomp_filter.h"
#include "vmm/vcpu.h"

namespace wisp::gdb {

class Server {
 public:
  Server(int listen_fd, std::vector<Vcpu*> vcpus, const GuestMemory& memory,
         DebugController& controller, VmStopper& stopper, EventFd quit, EventFd stopped);
  ~Server();

  // Starts the wisp-gdb thread under its seccomp filter.
  Result<void> start(SeccompMode seccomp);
  // Ends the thread (the controller must have been shut down first) and joins it.
  void stop();

 private:
  void serve();
  void serve_client(int client);
  void wait_for_hang_up(int client);
  bool send_packet(int client, std::string_view payload);
  // A packet's reply; nothing when the VM was let go (the reply comes when it stops).
  std::optional<std::string> handle(std::string_view packet);
  std::optional<std::string> handle_query(std::string_view packet);
  std::optional<std::string> resume(std::string_view actions);
  std::string stop_reply(const StopEvent& event) const;
  // The current vCPU's registers, read from KVM or written back.
  std::optional<VcpuRegisters> current_state();
  bool set_current_state(const VcpuRegisters& state);
  std::string read_registers();
  std::string write_registers(std::string_view hex);
  std::string read_register(std::string_view packet);
  std::string write_register(std::string_view packet);
  std::string read_memory(std::string_view packet);
  std::string write_memory(std::string_view packet, bool binary);
  std::string breakpoint(std::string_view packet, bool insert);
  std::string monitor(std::string_view hex_command);
  std::string detach();
  // Copies between guest memory at `address` (linear, or physical) and `buffer`: how many bytes
  // could be.
  size_t access_memory(uint64_t address, std::span<uint8_t> buffer, bool write);
  std::optional<uint64_t> physical_address(uint64_t address);
  Vcpu& current() { return *vcpus_[current_]; }

  int listen_fd_;
  std::vector<Vcpu*> vcpus_;
  const GuestMemory& memory_;
  DebugController& controller_;
  VmStopper& stopper_;
  EventFd quit_;
  EventFd stopped_;  // a vCPU stopped the VM while it ran
  std::thread thread_;

  // The session's state.
  bool running_ = false;
  bool physical_ = false;
  size_t current_ = 0;
  StopEvent last_stop_;
  std::map<uint64_t, std::pair<uint64_t, uint8_t>> software_;  // linear → (physical, original)
  bool detached_ = false;
  int client_ = -1;
};

}  // namespace wisp::gdb
