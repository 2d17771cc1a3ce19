// The control-socket start of a VMM, as an orchestrator drives it: the process starts, its
// control socket accepts, the guest is configured through it, and one request starts the guest.
// Wisp: `wisp --api-sock` (Firecracker's API: PUT /boot-source, /machine-config, then
// InstanceStart). QEMU: `-S -qmp unix:...` (the guest loaded but held; qmp_capabilities, then
// `cont`).
#pragma once

#include <string>
#include <vector>

namespace wisp::bench {

struct ControlStart {
  double socket_ms = 0;         // process start to the socket accepting a connection
  double socket_cpu_ms = 0;     // CPU time the VMM used until then (all its threads)
  double start_to_line_ms = 0;  // the start request sent to the guest's first line of output
  int status = -1;              // the VMM's exit status (the guest ends itself)
};

enum class ControlProtocol { kFirecrackerApi, kQmp };

// Runs `argv`, whose control socket is `socket_path`, and starts the guest through it. For the
// Firecracker API `kernel` and `cmdline` are what PUT /boot-source names (QEMU's are on its
// command line). Exits the benchmark with a message when a step fails.
ControlStart measure_control_start(const std::vector<std::string>& argv,
                                   const std::string& socket_path, ControlProtocol protocol,
                                   const std::string& kernel, const std::string& cmdline,
                                   const std::string& memory_mib);

}  // namespace wisp::bench
