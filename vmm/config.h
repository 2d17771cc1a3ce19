// Everything `wisp run` is asked to do, parsed and validated before anything is created.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/block/disk_image.h"
#include "devices/net/mac_address.h"
#include "firmware/boot_config.h"
#include "vmm/base/result.h"
#include "vmm/gdb/listener.h"
#include "vmm/seccomp_filter.h"

namespace wisp {

enum class SerialMode { kStdio, kFile, kTee, kNone };  // kTee: the terminal and a file
enum class RebootAction { kExit, kRestart };
enum class PanicAction { kExit, kContinue };  // --on-panic: what a pvpanic report does

struct SerialConfig {
  SerialMode mode = SerialMode::kStdio;
  std::string path;  // for kFile and kTee
};

enum class DiskIo { kIoUring, kSync };  // kSync: plain system calls on the device's thread

// One --disk: a virtio-blk device.
struct DiskConfig {
  std::string path;
  DiskAccess access = DiskAccess::kReadWrite;
  std::string serial;  // what the guest reads as the disk's ID: at most 20 bytes
  DiskCache cache = DiskCache::kWriteback;
  bool discard = false;
  uint16_t queues = 1;
  DiskIo io = DiskIo::kIoUring;
};

inline constexpr uint16_t kMaximumDiskQueues = 16;
inline constexpr size_t kMaximumDisks = 16;

// One --net: a virtio-net device on a TAP, named (tap=) or handed over open (fd=).
struct NetConfig {
  std::string tap;
  int fd = -1;
  std::optional<MacAddress> mac;  // default: derived from the TAP's name
  uint16_t queues = 1;            // queue pairs at most; no more than --cpus are used
};

inline constexpr uint16_t kMaximumNetQueues = 16;
inline constexpr size_t kMaximumNics = 8;

// One --fs or --share: a virtio-fs device served by a vhost-user back end (virtiofsd).
struct FsConfig {
  std::string tag;         // what the guest mounts (mount -t virtiofs TAG DIR): 1 to 36 bytes
  std::string socket;      // --fs: the socket of a back end that is already running
  std::string directory;   // --share: Wisp starts virtiofsd for this directory, and stops it
  bool read_only = false;  // --share: the guest may not change the directory
};

inline constexpr size_t kMaximumFilesystems = 8;
inline constexpr size_t kMaximumFsTagBytes = 36;  // virtio 1.x §5.11.4

// --vsock: a virtio-vsock device whose host side is unix sockets, as Firecracker's: host programs
// connect to `uds_path` and write "CONNECT <port>\n"; the guest's connections to the host's port P
// go to `<uds_path>_P`.
struct VsockConfig {
  uint64_t guest_cid = 0;  // the guest's context ID: 3 to 2^32 - 2 (virtio 1.2 §5.10.4)
  std::string uds_path;
};

inline constexpr uint64_t kMinimumVsockCid = 3;           // 0, 1 reserved; 2 is the host
inline constexpr uint64_t kMaximumVsockCid = 0xfffffffe;  // 0xffffffff reserved (VMADDR_CID_ANY)
// sun_path's 108 bytes with the NUL; `<uds_path>_<port>` must fit too, checked when the guest
// connects (a port has up to 10 digits).
inline constexpr size_t kMaximumUnixSocketPathBytes = 107;

// --memory SIZE[,shared=on|off].
struct MemoryConfig {
  uint64_t bytes = 512ull << 20;
  std::optional<bool> shared;
};

struct VmConfig {
  std::string kernel_path;
  std::vector<std::string> initrd_paths;  // --initrd A,B: one module each
  std::string cmdline = "console=ttyS0";
  uint32_t cpus = 1;
  uint64_t memory_bytes = 512ull << 20;
  SerialConfig serial;                  // COM1, the console
  std::optional<SerialConfig> serial2;  // COM2, only when asked for
  RebootAction on_reboot = RebootAction::kExit;
  PanicAction on_panic = PanicAction::kExit;
  KernelFormat kernel_format = KernelFormat::kAuto;
  RawImageOptions raw;
  uint32_t timeout_seconds = 0;  // 0: none
  std::vector<DiskConfig> disks;
  std::vector<NetConfig> nics;
  bool no_network = false;  // --net none
  std::vector<FsConfig> filesystems;
  std::optional<VsockConfig> vsock;  // --vsock
  // --host-root: the guest's root is the host's (host_root.h); --exec: the command it runs
  // instead of a shell, whose exit status becomes Wisp's.
  bool host_root = false;
  std::string exec_command;
  // --memory ...,shared=on|off: guest RAM in a memfd mapped shared, which a vhost-user back end
  // can map too, or private anonymous memory. Unsaid: shared exactly when virtio-fs needs it.
  std::optional<bool> shared_memory;
  SeccompMode seccomp = kDefaultSeccompMode;
  std::optional<gdb::Address> gdb;  // --gdb: where a debugger connects
  bool gdb_wait = false;  // --gdb-wait: the guest waits for it before its first instruction
  // A bzImage's kernel decompressed (and cached) by Wisp, not by the guest; off with
  // --no-decompress-cache.
  bool decompress_kernel = true;
};

inline constexpr uint64_t kMinimumMemoryBytes = 4ull << 20;
inline constexpr uint32_t kMaximumCpus = 255;  // xAPIC IDs in the MADT
// Guest RAM beyond the host's is allowed (it is reserved lazily), up to this.
inline constexpr uint64_t kMaximumMemoryBytes = 1ull << 40;

// "512M", "2G", "64K", "1T", or a plain number of MiB as QEMU's -m takes it.
Result<uint64_t> parse_size(std::string_view text);
// "stdio", "none", "file=PATH" or "tee=PATH"; `option` names it in errors.
Result<SerialConfig> parse_serial(std::string_view text, std::string_view option = "--serial");
Result<RebootAction> parse_reboot_action(std::string_view text);
// exit or continue.
Result<PanicAction> parse_panic_action(std::string_view text);
// auto, bzimage, pvh, multiboot, elf or raw.
Result<KernelFormat> parse_kernel_format(std::string_view text);
// real, protected or long.
Result<EntryMode> parse_entry_mode(std::string_view text);
// A guest address: decimal or 0x-prefixed hexadecimal.
Result<uint64_t> parse_address(std::string_view text);
// "path=IMG[,readonly=on][,serial=ID][,cache=writeback|none][,discard=on|off][,queues=N]
// [,aio=io_uring|sync]".
Result<DiskConfig> parse_disk(std::string_view text);
// "tap=NAME[,mac=MAC][,queues=N]", "fd=N[,mac=MAC]", or "none" (nothing).
Result<std::optional<NetConfig>> parse_net(std::string_view text);
// "SIZE[,shared=on|off]" or "size=SIZE[,shared=on|off]".
Result<MemoryConfig> parse_memory(std::string_view text);
// "tag=TAG,socket=PATH".
Result<FsConfig> parse_fs(std::string_view text);
// "DIR[,tag=TAG][,readonly=on]"; the tag defaults to "share" then "share1", ... by `index`.
Result<FsConfig> parse_share(std::string_view text, size_t index);
// "cid=N,uds=PATH".
Result<VsockConfig> parse_vsock(std::string_view text);
// Whether guest RAM is shared (see VmConfig::shared_memory).
bool uses_shared_memory(const VmConfig& config);

// One KEY=VALUE field of --disk, --net, --fs or --share, as the parsers above set it; a config
// file (config_file.h) sets its objects' fields through these too, booleans as on or off.
Result<void> set_disk_field(DiskConfig& disk, std::string_view key, std::string_view value);
Result<void> set_net_field(NetConfig& nic, std::string_view key, std::string_view value);
Result<void> set_fs_field(FsConfig& fs, std::string_view key, std::string_view value);
Result<void> set_share_field(FsConfig& fs, std::string_view key, std::string_view value);
Result<void> set_vsock_field(VsockConfig& vsock, std::string_view key, std::string_view value);
// What a NIC needs once its fields are set: one of tap= or fd=, and one queue pair for fd=.
Result<void> check_nic(const NetConfig& nic);
// "TAG='...': a tag has 1 to 36 bytes", named by `option`.
Result<void> check_fs_tag(std::string_view option, std::string_view tag);
// The tag of the index-th --share that names none: share, share1, share2, ...
std::string default_share_tag(size_t index);

// The host-side checks of validate(), one value at a time; each error starts with the value.
Result<void> check_readable(const std::string& path);
Result<void> check_disk_file(const DiskConfig& disk);  // readable, and writable unless read-only
Result<void> check_directory(const std::string& directory);
Result<void> check_memory_size(uint64_t bytes);
// A guest CID from 3 to 2^32 - 2: "guest CID N is reserved (...)".
Result<void> check_vsock_cid(uint64_t cid);
// A vsock's socket path: not empty, short enough for sun_path, in a directory that exists.
Result<void> check_vsock_socket_path(const std::string& path);

// "a,b,c" into its non-empty parts.
std::vector<std::string> split_list(std::string_view text);

// Checks values against each other and the host: the files named, limits, open descriptors.
Result<void> validate(const VmConfig& config);

// A warning for a guest given more RAM than the host has (allowed, as QEMU, Firecracker and
// Cloud Hypervisor allow it), or nothing.
std::optional<std::string> memory_warning(const VmConfig& config, uint64_t host_memory_bytes);

// MemTotal from /proc/meminfo.
Result<uint64_t> host_memory_bytes();

}  // namespace wisp
