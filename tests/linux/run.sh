#!/usr/bin/env bash
# Runs tests/linux/checks.sh where a stock Linux guest can run: directly when this host has
# hardware KVM, otherwise inside the nested test host. Writes the console (all checks' serial
# logs and statuses) to OUT_LOG for tests/linux/verify.sh.
# usage: run.sh WISP_BINARY OUT_LOG
# WISP_LINUX_CHECKS="net net2": only those checks (while working on them; ctest runs all).
set -euo pipefail
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)
wisp=$(readlink -f "$1") out=$2
rm -f "$out"
[[ -x "$wisp" ]] || { echo "run.sh: no wisp binary at $1" >&2; exit 2; }

root=$("$tools/guest/fetch-kernel.sh")
payload=$(mktemp -d)
trap 'rm -rf "$payload" "$payload.kept"' EXIT
cp "$root"/boot/vmlinuz-* "$payload/vmlinuz"
"$tools/guest/extract-vmlinux.sh" "$payload/vmlinuz" "$payload/vmlinux"
"$tools/guest/build-initramfs.sh" --kernel "$root" "$payload/initramfs.cpio.gz"
# The root disk of the disk checks: small, as the test host's copy of it is not sparse.
"$tools/guest/build-rootfs.sh" --kernel "$root" --size 16M "$payload/rootfs.ext4"
cp "$("$tools/guest/fetch-kernel.sh" --generic)"/boot/vmlinuz-* "$payload/vmlinuz-generic"
cp "$(dirname "${BASH_SOURCE[0]}")/checks.sh" "$payload/run.sh"
# Both ends of the vsock check (the guest reads it from a drive): static, so it runs anywhere.
# Padded to whole 512-byte sectors, which an ELF file's end may hold, so that it is a drive too.
gcc -static -O2 -o "$payload/vsock-tool" "$(dirname "${BASH_SOURCE[0]}")/vsock_tool.c"
truncate -s %512 "$payload/vsock-tool"
[[ -z "${WISP_LINUX_CHECKS:-}" ]] || echo "$WISP_LINUX_CHECKS" >"$payload/only"

STALL_SECONDS=${WISP_CHECKS_STALL_SECONDS:-180}
ATTEMPTS=6  # more checks, more chances of a stall: a run of 26 checks here stalled four times

# run_testhost PAYLOAD WISP OUT: the checks in the nested test host, the console into OUT; the
# payload's status, or 124 when the host timed out or printed nothing for STALL_SECONDS.
run_testhost() {
    local payload=$1 wisp=$2 out=$3 pid size last_size=-1 silent=0
    # In a session of its own, so that a stalled host goes down with all its processes.
    setsid "$tools/testhost/run.sh" --payload "$payload" --wisp "$wisp" --memory 8G \
        --timeout 1200 --include /usr/sbin/mke2fs --include /etc/mke2fs.conf \
        --include /usr/sbin/debugfs --include /usr/sbin/e2fsck --include /usr/sbin/ip \
        --include /usr/lib/qemu/virtiofsd </dev/null >"$out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 10
        size=$(stat -c %s "$out" 2>/dev/null || echo 0)
        if [[ $size != "$last_size" ]]; then
            last_size=$size silent=0
            continue
        fi
        silent=$((silent + 10))
        if (( silent >= STALL_SECONDS )); then
            echo "linux checks: the test host printed nothing for $silent s: ending it" >&2
            kill -- "-$pid" 2>/dev/null || true
            wait "$pid" || true
            return 124
        fi
    done
    wait "$pid"
}

# finished_sections < CONSOLE: the sections of the checks that ended (BEGIN to STATUS), without
# carriage returns; a section cut off by a stall is left out.
finished_sections() {
    tr -d '\r' | awk '/^===== CHECK [^ ]* BEGIN$/ { section = $0 "\n"; open = 1; next }
        open { section = section $0 "\n" }
        open && /^===== CHECK [^ ]* STATUS [0-9]*$/ { printf "%s", section; open = 0 }'
}

case $("$tools/testhost/kvm-kind.sh") in
    hardware)
        echo "linux checks: hardware KVM here; running wisp directly" >&2
        mkdir -p "$payload/bin"
        ln -s "$wisp" "$payload/bin/wisp"
        (cd "$payload" && PATH="$payload/bin:$PATH" sh ./run.sh) </dev/null >"$out" 2>&1 ;;
    pvm)
        echo "linux checks: this /dev/kvm (PVM) cannot run a stock kernel; running wisp in the" \
             "nested test host" >&2
        # 8G of host memory so that the 6G guest fits; QEMU allocates it only as it is touched.
        # e2fsprogs make and inspect the disk checks' images there; iproute2's ip makes the
        # network checks' TAPs (busybox's has no tuntap). The emulated test host now
        # and then stalls for good, with earlier wisp builds too (its own timers stop: a check's
        # timeouts never fire; QEMU sits idle or spins), more often on a loaded machine. The
        # whole run takes about 6 minutes and prints a line at least every minute, so a run
        # silent for STALL_SECONDS is ended and tried again, up to ATTEMPTS times, saying so.
        # A new attempt skips the checks an earlier one finished and keeps their sections.
        kept=$payload.kept
        : >"$kept"
        for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
            status=0
            run_testhost "$payload" "$wisp" "$out" || status=$?
            [[ $status == 124 && $attempt -lt $ATTEMPTS ]] || break
            finished_sections <"$out" >>"$kept"
            sed -n 's/^===== CHECK \(.*\) BEGIN$/\1/p' "$kept" >"$payload/skip"
            echo "linux checks: the nested test host timed out or stalled; trying again without" \
                 "the $(wc -l <"$payload/skip") checks that finished" >&2
        done
        cat "$kept" "$out" >"$out.all" && mv "$out.all" "$out"
        rm -f "$kept" ;;
    *)
        echo "linux checks: no /dev/kvm on this host: the Linux guest checks cannot run" >&2
        exit 1 ;;
esac
echo "linux checks: console log in $out" >&2
exit "${status:-0}"
