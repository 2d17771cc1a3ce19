#!/usr/bin/env bash
# Benchmark: how fast a VMM boots Debian's cloud kernel with the default guest initramfs,
# from the VMM process's start to the guest /init's marker line, and to the VMM's exit
# after the guest runs `poweroff -f` (typed at the console once the marker appeared), with
# `quiet` on the kernel command line and without; and the VMM's memory at the marker (peak
# RSS, and RSS outside the guest's RAM).
# Peers: QEMU -M microvm (always) and wisp (with --wisp), same kernel, initramfs, command
# line and memory, runs interleaved. wisp boots the bzImage from its kernel cache (warm), and
# also, `quiet` only, with the guest decompressing (--no-decompress-cache), with the cache
# emptied first (cold), and the extracted vmlinux through PVH: issue 12's comparison. Runs directly when this machine has hardware KVM,
# otherwise inside the nested test host (tools/testhost/run.sh); it prints which.
set -euo pipefail
WISP_PROG=linux-boot-time
# shellcheck source=linux-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/linux-lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--wisp PATH] [--runs N] [--warmup N] [--memory 512M] [--testhost] [--samples FILE]
  --wisp PATH   also time wisp (wisp run --kernel K --initrd I --cmdline ... --memory M)
  --runs N      timed boots per VMM (default 3)
  --warmup N    untimed boots per VMM first (default 1; the first boot is always slower)
  --memory SIZE guest memory (default 512M)
  --testhost    use the nested test host even where hardware KVM is present
  --samples FILE  also write every measurement there, one "NAME UNIT VMM VALUE" a line
                (what wisp-bench --samples reads into its table and JSON)
USAGE
    exit 2
}

CMDLINE="console=ttyS0 quiet panic=-1"

build_timer() {  # prints the path of the static boot-timer, compiled when its source changed
    local src="$WISP_TOOLS/bench/boot-timer.c" out
    out="$(cache_dir bench)/boot-timer-$(sha256_of "$src" | cut -c1-16)"
    if [[ ! -x "$out" ]]; then
        ensure_packages gcc libc6-dev
        gcc -O2 -Wall -Wextra -static -o "$out.tmp" "$src" || die "cannot compile $src"
        mv "$out.tmp" "$out"
        prune_cache "$(dirname "$out")" boot-timer-
    fi
    printf '%s\n' "$out"
}

make_payload() {  # make_payload DIR WHERE QEMU WISP RUNS WARMUP MEMORY CLOCK
    local dir=$1
    guest_kernel "$dir"
    "$WISP_TOOLS/guest/extract-vmlinux.sh" "$dir/vmlinuz" "$dir/vmlinux"
    cp "$(build_timer)" "$dir/boot-timer"
    cp "$WISP_TOOLS/bench/linux-boot-time-payload.sh" "$dir/run.sh"
    {
        printf 'WHERE=%q\nQEMU=%q\nWISP=%q\n' "$2" "$3" "$4"
        printf 'RUNS=%q\nWARMUP=%q\nMEMORY=%q\nCLOCK=%q\n' "$5" "$6" "$7" "$8"
        printf 'CMDLINE=%q\n' "$CMDLINE"
    } >"$dir/bench.env"
}

main() {
    local wisp="" runs=3 warmup=1 memory=512M force_testhost=0 samples=""
    parse_options "--wisp --runs --warmup --memory --samples" "$@"
    positive --runs "$runs"
    [[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup needs a whole number, not $warmup"
    wisp=$(checked_wisp "$wisp")
    ensure_packages qemu-system-x86

    local payload kind
    payload=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$payload'" EXIT
    kind=$("$WISP_TOOLS/testhost/kvm-kind.sh")
    if [[ $kind == hardware && $force_testhost == 0 ]]; then
        log "hardware KVM here: running the guests directly on this machine"
        make_payload "$payload" "directly on this machine's hardware KVM" \
            "$(command -v qemu-system-x86_64)" "$wisp" "$runs" "$warmup" "$memory" \
            "CLOCK_MONOTONIC (ns, shown in ms)"
        sh "$payload/run.sh" </dev/null | keep_samples "$payload/console" "$samples"
    else
        make_payload "$payload" "inside the nested test host (QEMU/TCG, nested KVM; kvm-kind: $kind)" \
            /usr/bin/qemu-system-x86_64 "${wisp:+/usr/bin/wisp}" "$runs" "$warmup" "$memory" \
            "CLOCK_MONOTONIC in the test host (ns, shown in ms); the host is emulated (TCG), so times are far above bare metal: compare the ratio"
        local vmms=1 timeout
        [[ -n "$wisp" ]] && vmms=2
        timeout=$((180 + (2 * runs + warmup) * vmms * 90))
        [[ -n "$wisp" ]] && timeout=$((timeout + 3 * runs * 90))
        "$WISP_TOOLS/testhost/run.sh" --payload "$payload" --include /usr/bin/qemu-system-x86_64 \
            ${wisp:+--wisp "$wisp"} --timeout "$timeout" </dev/null |
            keep_samples "$payload/console" "$samples"
    fi
}

main "$@"
