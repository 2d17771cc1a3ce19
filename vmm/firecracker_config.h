// `wisp --no-api --config-file FILE`: Firecracker's configuration file (the objects of its API,
// src/firecracker/swagger/firecracker.yaml, under the keys of its VmmConfig), mapped onto what
// Wisp runs, so that it starts what `firecracker --no-api --config-file FILE` starts:
//
// - boot-source: kernel_image_path, initrd_path, boot_args (Firecracker's default command line
//   without it), then `pci=off` as Firecracker adds it, and for the root drive
//   `root=/dev/vda` (or `root=PARTUUID=...`) and `ro` or `rw`;
// - machine-config: vcpu_count, mem_size_mib (1 vCPU and 128 MiB without it), gdb_socket_path
//   (the guest waits for gdb, as Firecracker's does); smt, track_dirty_pages, cpu_template and
//   huge_pages only as their defaults;
// - drives: virtio-blk disks, the root drive first (/dev/vda); io_engine Sync (the default) or
//   Async (io_uring); cache_type Unsafe or Writeback, both Wisp's writeback, which honours the
//   guest's flushes;
// - network-interfaces: host_dev_name (the TAP) and guest_mac;
// - logger: level, and log_path, where Wisp's log then goes;
// - vsock: guest_cid and uds_path (vsock_id, deprecated, is accepted and not used), as --vsock;
// - balloon, mmds-config, entropy, metrics, pmem, memory-hotplug and cpu-config are
//   refused as not supported yet, as are rate limiters, vhost-user drives and MTUs.
//
// Unknown keys are errors naming their path, as are values of the wrong type.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "vmm/base/log.h"
#include "vmm/base/result.h"
#include "vmm/cli.h"
#include "vmm/config.h"

namespace wisp {

// Firecracker's kernel command line when boot-source has no boot_args
// (src/vmm/src/vmm_config/boot_source.rs, DEFAULT_KERNEL_CMDLINE).
inline constexpr std::string_view kFirecrackerDefaultCmdline =
    "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux i8042.dumbkbd "
    "swiotlb=noforce";
// Where Firecracker's API socket is without --api-sock.
inline constexpr std::string_view kFirecrackerDefaultApiSocket = "/run/firecracker.socket";
// Guest memory without machine-config (DEFAULT_MEM_SIZE_MIB).
inline constexpr uint64_t kFirecrackerDefaultMemoryMib = 128;

// A logger level as Firecracker takes it (Error, Warning, Info, Debug, Trace, Off; any case) as
// Wisp's: Trace is Debug, and Off still reports errors.
Result<log::Level> parse_firecracker_log_level(std::string_view text);

// Firecracker's vsock object (its config file's "vsock" section, the body of PUT /vsock):
// {"guest_cid": N, "uds_path": "PATH", "vsock_id": "ID" (deprecated, ignored)}. The CID must be 3
// to 2^32 - 2 and the socket's directory exist. Errors are usage errors that name the JSON path of
// the bad value under `path` ("vsock.guest_cid: ...").
Result<VsockConfig> read_firecracker_vsock(const nlohmann::json& value, const std::string& path);

// Reads Firecracker's configuration at `path` into `command`, whose VmConfig starts as
// Firecracker's defaults. Errors start with the path and name the JSON path of the bad value.
Result<void> apply_firecracker_config_file(const std::string& path, Command& command);

// The same from the file's text; `name` starts the errors.
Result<void> apply_firecracker_config_text(std::string_view text, std::string_view name,
                                           Command& command);

// The same from the parsed document (the API builds one from its PUT bodies).
Result<void> apply_firecracker_config(const nlohmann::json& document, std::string_view name,
                                      Command& command);

// One of the document's sections as the API's PUT bodies carry them, checked as the whole file's
// would be: "boot-source", "machine-config", "logger", "vsock", or one element of "drives" or
// "network-interfaces". What it sets lands in `scratch` (the logger's level and path, say);
// errors name `path` and the keys below it.
Result<void> check_firecracker_section(std::string_view section, const nlohmann::json& value,
                                       std::string_view path, Command& scratch);

}  // namespace wisp
