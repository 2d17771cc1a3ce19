// boot-timer: run a VMM command and time a Linux boot with CLOCK_MONOTONIC.
//
//   boot-timer [--marker TEXT] [--send TEXT] [--log FILE] [--timeout SEC] -- CMD ARGS...
//
// Starts CMD with its stdin and stdout/stderr on pipes. When TEXT (default
// "wisp-guest: init reached") appears in its output, writes the --send text (default
// "poweroff -f") and a newline to its stdin, as a person typing at the console would.
// Prints one line:  marker_ms=<ms from fork to the marker> exit_ms=<ms from fork to the
// VMM's exit> status=<exit status, or 128+signal> hwm_kib=<the VMM's peak RSS when the marker
// appeared> overhead_kib=<its RSS then, less that of its largest mapping: the guest's RAM>
// (marker_ms=-1 and the memory figures -1 if the marker never appeared).
// Used by tools/bench/linux-boot-time.sh, inside the nested test host too (static build),
// since busybox date has no sub-second clock there.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// The VMM's peak RSS so far (VmHWM) and its RSS outside the guest's RAM, in KiB, from /proc; -1
// where they cannot be read. The guest's RAM is what the VMM marked MADV_DONTFORK (VmFlags "dc"),
// as both Wisp and QEMU do, or else the largest mapping.
static void memory_of(pid_t pid, long *hwm_kib, long *overhead_kib) {
    char path[64], line[512];
    *hwm_kib = *overhead_kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *status = fopen(path, "r");
    if (!status) return;
    while (fgets(line, sizeof line, status))
        if (sscanf(line, "VmHWM: %ld kB", hwm_kib) == 1) break;
    fclose(status);
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *smaps = fopen(path, "r");
    if (!smaps) return;
    long size = 0, rss = 0, value, total = 0, dont_fork = 0, largest_size = 0, largest_rss = 0;
    while (fgets(line, sizeof line, smaps)) {
        if (sscanf(line, "Size: %ld kB", &value) == 1) {
            size = value;
        } else if (sscanf(line, "Rss: %ld kB", &value) == 1) {
            rss = value;
            total += value;
            if (size > largest_size) largest_size = size, largest_rss = value;
        } else if (!strncmp(line, "VmFlags:", 8) && strstr(line, " dc")) {
            dont_fork += rss;
        }
    }
    fclose(smaps);
    *overhead_kib = total - (dont_fork > 0 ? dont_fork : largest_rss);
}

static void usage(void) {
    fprintf(stderr, "usage: boot-timer [--marker TEXT] [--send TEXT] [--log FILE] "
                    "[--timeout SEC] -- CMD ARGS...\n");
    exit(2);
}

static pid_t spawn(char **argv, int *to_child, int *from_child) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        perror("boot-timer: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("boot-timer: fork");
        exit(1);
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "boot-timer: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *to_child = in[1];
    *from_child = out[0];
    return pid;
}

int main(int argc, char **argv) {
    const char *marker = "wisp-guest: init reached", *send = "poweroff -f", *logpath = NULL;
    int timeout_s = 120, i;
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--marker")) marker = argv[i + 1];
        else if (!strcmp(argv[i], "--send")) send = argv[i + 1];
        else if (!strcmp(argv[i], "--log")) logpath = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout")) timeout_s = atoi(argv[i + 1]);
        else usage();
    }
    if (i + 1 >= argc) usage();
    signal(SIGPIPE, SIG_IGN);
    FILE *log = logpath ? fopen(logpath, "w") : NULL;
    if (logpath && !log) {
        perror(logpath);
        return 1;
    }

    int to_child, from_child;
    double start = now_ms(), marker_ms = -1;
    long hwm_kib = -1, overhead_kib = -1;
    pid_t pid = spawn(argv + i + 1, &to_child, &from_child);

    // Keep the last strlen(marker) - 1 bytes of output so a marker split between two
    // reads is still found.
    size_t mlen = strlen(marker);
    char window[8192 + 256];
    size_t kept = 0;
    if (mlen > 256) usage();
    for (;;) {
        struct pollfd pfd = {.fd = from_child, .events = POLLIN};
        int left_ms = (int)(start + timeout_s * 1e3 - now_ms());
        if (left_ms <= 0 || poll(&pfd, 1, left_ms) == 0) {
            fprintf(stderr, "boot-timer: timed out after %d s; killing %s\n", timeout_s, argv[i + 1]);
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(from_child, window + kept, 8192);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the VMM closed its output: it is exiting
        if (log) fwrite(window + kept, 1, (size_t)n, log);
        size_t len = kept + (size_t)n;
        if (marker_ms < 0 && memmem(window, len, marker, mlen)) {
            marker_ms = now_ms() - start;
            memory_of(pid, &hwm_kib, &overhead_kib);
            dprintf(to_child, "%s\n", send);
        }
        kept = len < mlen ? len : mlen - 1;
        memmove(window, window + len - kept, kept);
    }
    int wstatus;
    waitpid(pid, &wstatus, 0);
    double exit_ms = now_ms() - start;
    int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    if (log) fclose(log);
    printf("marker_ms=%.3f exit_ms=%.3f status=%d hwm_kib=%ld overhead_kib=%ld\n", marker_ms,
           exit_ms, status, hwm_kib, overhead_kib);
    return 0;
}
