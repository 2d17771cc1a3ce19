#include "vmm/seccomp_filter.h"

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "vmm/console.h"
#include "vmm/exit_status.h"

namespace wisp {
namespace {

// What every thread does: wait and wake (epoll, eventfds, futexes), allocate, log, take signals
// (the vCPU kick, the fatal-signal handlers on their alternate stack), end.
constexpr std::initializer_list<int> kEveryThread = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(close),
    SCMP_SYS(futex),
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(sched_yield),
    SCMP_SYS(gettid),
    SCMP_SYS(getpid),
    SCMP_SYS(tgkill),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(newfstatat),
    SCMP_SYS(fstat),
};

// The main thread also builds the VM (again, after a reboot under --on-reboot restart), serves
// the console, signals and timers, and hands KVM's teardown to a child process.
constexpr std::initializer_list<int> kMainThread = {
    SCMP_SYS(openat),
    SCMP_SYS(open),
    SCMP_SYS(access),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(fcntl),
    SCMP_SYS(dup),
    SCMP_SYS(dup2),
    SCMP_SYS(dup3),
    SCMP_SYS(pipe2),
    SCMP_SYS(lseek),
    SCMP_SYS(pread64),
    SCMP_SYS(statx),
    SCMP_SYS(readlink),
    SCMP_SYS(getdents64),
    SCMP_SYS(eventfd2),
    SCMP_SYS(epoll_create1),
    SCMP_SYS(signalfd4),
    SCMP_SYS(timerfd_create),
    SCMP_SYS(timerfd_settime),
    SCMP_SYS(socket),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(clone),
    SCMP_SYS(clone3),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(prctl),
    SCMP_SYS(wait4),
    SCMP_SYS(kill),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(getpgrp),
    SCMP_SYS(close_range),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getrandom),
    SCMP_SYS(fallocate),
    SCMP_SYS(ftruncate),
    SCMP_SYS(uname),
    SCMP_SYS(unlink),        // the gdb stub's unix socket, at exit
    SCMP_SYS(unlinkat),      // --host-root's run directory, at exit
    SCMP_SYS(sendmsg),       // a jailed VMM's KVM descriptors, to its supervisor at exit
    SCMP_SYS(memfd_create),  // shared guest RAM (virtio-fs), again for a restarted guest
    SCMP_SYS(rmdir),         // --share's socket directory, at exit
    SCMP_SYS(accept4),       // the API socket's clients (--api-sock)
    SCMP_SYS(sendto),        // and their responses
                       // Threads started after this filter (a restarted guest's) install their own.
    SCMP_SYS(seccomp),
};

constexpr std::initializer_list<int> kDebuggerThread = {
    SCMP_SYS(poll),   SCMP_SYS(ppoll),    SCMP_SYS(accept4),  SCMP_SYS(accept),
    SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(shutdown),
};

// A vhost-user back end's socket: requests with descriptors out, replies in.
constexpr std::initializer_list<int> kFsDeviceThread = {
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
};

// The host side of virtio-vsock: accepting on its listener, connecting to `<uds_path>_PORT` for
// the guest, and moving bytes on those sockets without blocking.
constexpr std::initializer_list<int> kVsockDeviceThread = {
    SCMP_SYS(socket), SCMP_SYS(connect),  SCMP_SYS(accept4),
    SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(shutdown),
};

// poll: waiting for what is in flight before a reset, a disk swap or the end (BlockDevice::drain).
constexpr std::initializer_list<int> kBlockDeviceThread = {
    SCMP_SYS(io_uring_enter), SCMP_SYS(preadv),    SCMP_SYS(pwritev),
    SCMP_SYS(pread64),        SCMP_SYS(pwrite64),  SCMP_SYS(fdatasync),
    SCMP_SYS(fsync),          SCMP_SYS(fallocate), SCMP_SYS(poll),
};

// ioctl requests, compared on their low 32 bits (the kernel's `unsigned int cmd`).
constexpr unsigned long kRestoreTerminal = TCSETS;  // the fatal-signal handlers, on any thread
constexpr std::initializer_list<unsigned long> kVcpuIoctls = {
    KVM_RUN,
    KVM_IRQ_LINE,
    KVM_IRQ_LINE_STATUS,
    KVM_GET_REGS,
    KVM_GET_SREGS,
    KVM_SET_REGS,
    KVM_SET_SREGS,
    kRestoreTerminal,
    KVM_SET_GUEST_DEBUG,  // a guest's own #BP or #DB handed back while a debugger is attached
};
constexpr std::initializer_list<unsigned long> kDebuggerIoctls = {
    KVM_GET_REGS, KVM_SET_REGS,  KVM_GET_SREGS,       KVM_SET_SREGS,    KVM_GET_FPU,
    KVM_SET_FPU,  KVM_TRANSLATE, KVM_SET_GUEST_DEBUG, kRestoreTerminal,
};
constexpr std::initializer_list<unsigned long> kNetDeviceIoctls = {TUNSETOFFLOAD, TUNSETQUEUE,
                                                                   kRestoreTerminal};
constexpr std::initializer_list<unsigned long> kBlockDeviceIoctls = {kRestoreTerminal};
constexpr std::initializer_list<unsigned long> kFsDeviceIoctls = {kRestoreTerminal};
constexpr std::initializer_list<unsigned long> kVsockDeviceIoctls = {kRestoreTerminal};
// The main thread's ioctls by type (bits 8-15): KVM's, the terminal's and the TAP's ('T'), the
// network interfaces' (SIOC*: 0x89), the block devices' (BLKGETSIZE64: 0x12).
constexpr std::initializer_list<unsigned long> kMainIoctlTypes = {KVMIO, 'T', 0x89, 0x12};

// For the SIGSYS handler, which may not allocate: system call names by number, and what the
// calling thread is.
constexpr int kMaxSyscallNumber = 512;
std::array<const char*, kMaxSyscallNumber> g_syscall_names{};
thread_local const char* t_thread_kind = "unknown";

void append(char* line, size_t& length, size_t capacity, const char* text) {
  while (*text && length + 1 < capacity) line[length++] = *text++;
}

void append_number(char* line, size_t& length, size_t capacity, long value) {
  char digits[24];
  int count = 0;
  unsigned long magnitude = value < 0 ? 0ul - static_cast<unsigned long>(value) : value;
  do {
    digits[count++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude);
  if (value < 0) append(line, length, capacity, "-");
  while (count && length + 1 < capacity) line[length++] = digits[--count];
}

void on_forbidden_call(int, siginfo_t* info, void*) {
  int number = info->si_syscall;
  const char* name = number >= 0 && number < kMaxSyscallNumber && g_syscall_names[number]
                         ? g_syscall_names[number]
                         : "?";
  char line[256];
  size_t length = 0;
  append(line, length, sizeof(line), "wisp: seccomp: a ");
  append(line, length, sizeof(line), t_thread_kind);
  append(line, length, sizeof(line), " thread made a forbidden system call: ");
  append(line, length, sizeof(line), name);
  append(line, length, sizeof(line), " (");
  append_number(line, length, sizeof(line), number);
  append(line, length, sizeof(line), ")\n");
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line, length);
  restore_terminal_after_fatal_error();
  // exit_group itself: a sanitizer's _exit would first make calls the filter refuses.
  ::syscall(SYS_exit_group, kExitError);
}

void prepare_reporting() {
  static bool prepared = false;
  if (prepared) return;
  prepared = true;
  for (int number = 0; number < kMaxSyscallNumber; ++number)
    g_syscall_names[number] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
  struct sigaction action {};
  action.sa_sigaction = on_forbidden_call;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGSYS, &action, nullptr);
}

struct ContextDeleter {
  void operator()(scmp_filter_ctx context) const { seccomp_release(context); }
};
using Context = std::unique_ptr<void, ContextDeleter>;

Result<void> check(int result, std::string_view what) {
  if (result < 0) return fail("seccomp: {}: {}", what, std::strerror(-result));
  return {};
}

Result<void> allow(const Context& context, std::initializer_list<int> calls) {
  for (int call : calls)
    TRY(check(seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, call, 0), "adding a rule"));
  return {};
}

Result<void> allow_ioctls(const Context& context, std::initializer_list<unsigned long> requests) {
  for (unsigned long request : requests)
    TRY(check(seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, request)),
              "adding an ioctl rule"));
  return {};
}

Result<void> allow_ioctl_types(const Context& context, std::initializer_list<unsigned long> types) {
  for (unsigned long type : types)
    TRY(check(seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00u, type << 8)),
              "adding an ioctl rule"));
  return {};
}

// Opening a file fails with EACCES on the threads that may not: glibc's malloc reads
// /sys/devices/system/cpu/online and /proc/sys/vm/overcommit_memory the first time a thread's
// arena needs them, and copes with an error.
Result<void> refuse_opens(const Context& context) {
  for (int call : {SCMP_SYS(openat), SCMP_SYS(open)})
    TRY(check(seccomp_rule_add(context.get(), SCMP_ACT_ERRNO(EACCES), call, 0), "adding a rule"));
  return {};
}

Result<void> add_rules(const Context& context, ThreadKind kind) {
  TRY(allow(context, kEveryThread));
  if (kind != ThreadKind::kMain) TRY(refuse_opens(context));
  switch (kind) {
    case ThreadKind::kMain:
      TRY(allow(context, kMainThread));
      TRY(allow(context, kBlockDeviceThread));
      return allow_ioctl_types(context, kMainIoctlTypes);
    case ThreadKind::kVcpu:
      return allow_ioctls(context, kVcpuIoctls);
    case ThreadKind::kBlockDevice:
      TRY(allow(context, kBlockDeviceThread));
      return allow_ioctls(context, kBlockDeviceIoctls);
    case ThreadKind::kNetDevice:
      return allow_ioctls(context, kNetDeviceIoctls);
    case ThreadKind::kFsDevice:
      TRY(allow(context, kFsDeviceThread));
      return allow_ioctls(context, kFsDeviceIoctls);
    case ThreadKind::kVsockDevice:
      TRY(allow(context, kVsockDeviceThread));
      return allow_ioctls(context, kVsockDeviceIoctls);
    case ThreadKind::kDebugger:
      TRY(allow(context, kDebuggerThread));
      return allow_ioctls(context, kDebuggerIoctls);
  }
  return {};
}

}  // namespace

Result<SeccompMode> parse_seccomp_mode(std::string_view text) {
  if (text == "on") return SeccompMode::kOn;
  if (text == "off") return SeccompMode::kOff;
  if (text == "log") return SeccompMode::kLog;
  return fail("--seccomp '{}' is not one of on, off, log", text);
}

const char* thread_kind_name(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::kMain:
      return "main";
    case ThreadKind::kVcpu:
      return "vCPU";
    case ThreadKind::kBlockDevice:
      return "disk";
    case ThreadKind::kNetDevice:
      return "network";
    case ThreadKind::kFsDevice:
      return "file system";
    case ThreadKind::kVsockDevice:
      return "vsock";
    case ThreadKind::kDebugger:
      return "gdb";
  }
  return "unknown";
}

Result<void> install_seccomp_filter(ThreadKind kind, SeccompMode mode) {
  thread_local bool installed = false;
  if (mode == SeccompMode::kOff || installed) return {};
  prepare_reporting();
  uint32_t forbidden = mode == SeccompMode::kLog ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
  Context context(seccomp_init(forbidden));
  if (!context) return fail("seccomp: cannot make a filter");
  TRY(check(seccomp_attr_set(context.get(), SCMP_FLTATR_CTL_NNP, 1), "no_new_privs"));
  TRY(add_rules(context, kind));
  t_thread_kind = thread_kind_name(kind);
  TRY(check(seccomp_load(context.get()),
            fmt::format("loading the {} thread's filter", thread_kind_name(kind))));
  installed = true;
  return {};
}

}  // namespace wisp
