#!/usr/bin/env bash
# Benchmark: a virtio-net NIC as a Linux guest sees it, measured with iperf3 (TCP) and ping
# inside Debian's cloud kernel against the host side of its TAP: guest to host and host to guest
# with 1 and 4 streams (Mbit/s, what the receiver counted), and the average round-trip time of
# 20 pings (ms). Peers: QEMU -M microvm with virtio-net-device on -netdev tap, vhost=off (its
# own device emulation, as Wisp's) and vhost=on (the kernel's vhost-net: the ceiling), always,
# and wisp (--net tap=..., with --wisp): the same kernel, initramfs (the default one plus iperf3
# and ethtool with their libraries, booted with rdinit=/net-bench: linux-net-guest.sh), command
# line, memory, one vCPU, one queue pair and MAC, each on a fresh TAP made the same way; runs
# interleaved.
# Runs directly when this machine has hardware KVM, otherwise inside the nested test host (one
# boot of it for every run; vhost_net loaded there), where the guest, the VMM and iperf3's server
# share the host's one emulated CPU; it prints which. A test host that stalls (it now and then
# does) is ended after STALL_SECONDS of silence, and the boots it finished are summed up.
set -euo pipefail
WISP_PROG=linux-net
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--wisp PATH] [--runs N] [--seconds S] [--pings N] [--memory 512M] [--testhost]
          [--samples FILE]
  --wisp PATH     also measure wisp
  --runs N        guest boots per VMM, each running every measurement once (default 5)
  --seconds S     each iperf3 run's measured time, after 1 s it omits (default 3)
  --pings N       pings for the round-trip time, 0.2 s apart (default 20)
  --memory SIZE   guest memory (default 512M)
  --testhost      use the nested test host even where hardware KVM is present
  --samples FILE  also write every measurement there, one "NAME UNIT VMM VALUE" a line
                  (what wisp-bench --samples reads into its table and JSON; VMM is wisp, qemu
                  or qemu-vhost)
USAGE
    exit 2
}

# The TAP's side (where iperf3 -s listens) and the guest's address; a subnet of their own.
TAP=wbnet0 HOST_ADDR=10.0.99.1 GUEST_ADDR=10.0.99.2 NETMASK=255.255.255.0 PREFIX=24 PORT=5299
MAC=02:00:00:00:99:02
# The measurements' figures come from the guest; the guest's own messages stay off the console.
CMDLINE="console=ttyS0 quiet panic=-1 rdinit=/net-bench wisp.modules=virtio_mmio,virtio_net"
CMDLINE+=" ip=$GUEST_ADDR::$HOST_ADDR:$NETMASK::eth0:off wisp.iperf_port=$PORT"

elf_libraries() {  # the shared libraries (and loader) ldd lists for a binary
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# The part of the guest's initramfs that holds iperf3 and ethtool (for the NIC's counters): the
# binaries and their libraries at their paths, /net-bench.libs (the libraries' directories, for
# LD_LIBRARY_PATH) and /net-bench (the guest's init). Uncompressed (the guest unpacks it faster),
# cached by content.
GUEST_BINARIES=(/usr/bin/iperf3 /usr/sbin/ethtool)
guest_part() {
    local libs=() key out stage file
    mapfile -t libs < <(for file in "${GUEST_BINARIES[@]}"; do elf_libraries "$file"; done | sort -u)
    [[ ${#libs[@]} -gt 0 ]] || die "ldd lists no libraries for ${GUEST_BINARIES[*]}"
    key=$(sha256_of "$WISP_TOOLS/bench/linux-net-guest.sh" "$WISP_TOOLS/bench/linux-net.sh" \
        "${GUEST_BINARIES[@]}" "${libs[@]}" | cut -c1-16)
    out="$(cache_dir bench)/net-initramfs-$key.cpio"
    if [[ ! -f "$out" ]]; then
        stage=$(mktemp -d)
        for file in "${GUEST_BINARIES[@]}" "${libs[@]}"; do
            mkdir -p "$stage$(dirname "$file")"
            cp -L "$file" "$stage$file"
        done
        printf '%s\n' "${libs[@]}" | xargs -n1 dirname | sort -u >"$stage/net-bench.libs"
        install -m 755 "$WISP_TOOLS/bench/linux-net-guest.sh" "$stage/net-bench"
        pack_cpio "$stage" "$out" none
        rm -rf "$stage"
        prune_cache "$(dirname "$out")" net-initramfs-
    fi
    printf '%s\n' "$out"
}

make_payload() {  # make_payload DIR WHERE QEMU WISP RUNS SECONDS PINGS MEMORY IP IPERF3
    local dir=$1 root part
    root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    cp "$root"/boot/vmlinuz-* "$dir/vmlinuz"
    "$WISP_TOOLS/guest/build-initramfs.sh" --kernel "$root" "$dir/initramfs.cpio.gz"
    part=$(guest_part)
    # The default initramfs (gzip), padded with zeroes (which the kernel skips between
    # archives), then the iperf3 archive: later entries are added to the same root.
    cp "$dir/initramfs.cpio.gz" "$dir/initramfs.img"
    truncate -s %512 "$dir/initramfs.img"
    cat "$part" >>"$dir/initramfs.img"
    rm "$dir/initramfs.cpio.gz"
    cp "$WISP_TOOLS/bench/linux-net-payload.sh" "$dir/run.sh"
    # Each boot: the kernel, four iperf3 runs of 1 + SECONDS (and their start), the pings, on an
    # emulated machine (about 30 s for the defaults there).
    local boot_timeout=$((60 + 4 * ($6 + 1) * 3 + $7))
    {
        printf 'WHERE=%q\nQEMU=%q\nWISP=%q\nIP=%q\nIPERF3=%q\n' "$2" "$3" "$4" "$9" "${10}"
        printf 'RUNS=%q\nMEMORY=%q\nBOOT_TIMEOUT=%q\n' "$5" "$8" "$boot_timeout"
        printf 'TAP=%q\nHOST_ADDR=%q\nPREFIX=%q\nPORT=%q\nMAC=%q\n' "$TAP" "$HOST_ADDR" "$PREFIX" \
            "$PORT" "$MAC"
        printf 'CMDLINE=%q\n' "$CMDLINE wisp.iperf_seconds=$6 wisp.ping_count=$7"
    } >"$dir/bench.env"
    printf '%s\n' "$boot_timeout"
}

# Passes the payload's output through, less its "sample" and "record" lines; the samples go to
# FILE if one is given. The console of the test host ends lines with \r\n.
keep_samples() {  # keep_samples SCRATCH FILE
    sed -u 's/\r$//' | tee "$1" | sed -u '/^sample /d; /^record /d'
    if [[ -n "$2" ]]; then sed -n 's/^sample //p' "$1" >"$2"; fi
}

# The emulated test host now and then stalls for good (its timers stop, QEMU sits idle; with
# either VMM in it). Each boot prints its lines within a minute, so a host silent for this long
# is ended, and the boots it finished are summed up here (the payload's summary, run on this
# machine on the "record" lines it printed as it went).
STALL_SECONDS=150

run_testhost() {  # run_testhost PAYLOAD SAMPLES ARGS...: the test host, watched for a stall
    local payload=$1 samples=$2 pid size last_size=-1 silent=0 status=0
    shift 2
    # In a session of its own, so that a stalled host goes down with all its processes.
    : >"$payload/raw"
    setsid "$WISP_TOOLS/testhost/run.sh" --payload "$payload" "$@" </dev/null \
        >"$payload/raw" 2>&1 &
    pid=$!
    tail -f --pid="$pid" "$payload/raw" | keep_samples "$payload/console" "" &
    local shown=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 10
        size=$(stat -c %s "$payload/raw")
        if [[ $size != "$last_size" ]]; then
            last_size=$size silent=0
            continue
        fi
        silent=$((silent + 10))
        if ((silent >= STALL_SECONDS)); then
            kill -- "-$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            wait "$shown" || true
            log "error: the test host printed nothing for $silent s (stalled): ended it;" \
                "the boots it finished:"
            sed -n 's/^record //p' "$payload/console" >"$payload/records"
            sh "$payload/run.sh" --summary "$payload/records" | keep_samples "$payload/partial" "$samples"
            return 124
        fi
    done
    wait "$pid" || status=$?
    wait "$shown" || true
    if [[ -n "$samples" ]]; then sed -n 's/^sample //p' "$payload/console" >"$samples"; fi
    return "$status"
}

main() {
    local wisp="" runs=5 seconds=3 pings=20 memory=512M force_testhost=0 samples=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --wisp|--runs|--seconds|--pings|--memory|--samples)
                [[ $# -ge 2 ]] || { echo "$0: $1 needs a value" >&2; usage; }
                case $1 in
                    --wisp) wisp=$2 ;;
                    --runs) runs=$2 ;;
                    --seconds) seconds=$2 ;;
                    --pings) pings=$2 ;;
                    --memory) memory=$2 ;;
                    --samples) samples=$2 ;;
                esac
                shift 2 ;;
            --testhost) force_testhost=1; shift ;;
            -h|--help) usage ;;
            *) echo "$0: unknown argument $1" >&2; usage ;;
        esac
    done
    [[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive whole number, not $runs"
    [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive whole number, not $seconds"
    [[ "$pings" =~ ^[1-9][0-9]*$ ]] || die "--pings needs a positive whole number, not $pings"
    if [[ -n "$wisp" ]]; then
        [[ -x "$wisp" ]] || die "--wisp $wisp: not an executable file"
        wisp=$(realpath "$wisp")
    else
        log "note: no --wisp given; measuring QEMU only"
    fi
    ensure_packages qemu-system-x86 iperf3 ethtool iproute2 cpio

    local payload kind boot_timeout
    payload=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$payload'" EXIT
    kind=$("$WISP_TOOLS/testhost/kvm-kind.sh")
    if [[ $kind == hardware && $force_testhost == 0 ]]; then
        [[ $(id -u) -eq 0 ]] || die "the TAP needs root (CAP_NET_ADMIN)"
        log "hardware KVM here: running the guests directly on this machine"
        make_payload "$payload" "directly on this machine's hardware KVM" \
            "$(command -v qemu-system-x86_64)" "$wisp" "$runs" "$seconds" "$pings" "$memory" \
            "$(command -v ip)" "$(command -v iperf3)" >/dev/null
        sh "$payload/run.sh" </dev/null | keep_samples "$payload/console" "$samples"
    else
        # iproute2's ip makes the TAPs there (busybox's has no tuntap; busybox sh would run its
        # own applet before PATH's, so the payload calls it by its path).
        boot_timeout=$(make_payload "$payload" \
            "inside the nested test host (QEMU/TCG, nested KVM; kvm-kind: $kind); guest, VMM and iperf3 -s share its one emulated CPU, so compare the ratios" \
            /usr/bin/qemu-system-x86_64 "${wisp:+/usr/bin/wisp}" "$runs" "$seconds" "$pings" \
            "$memory" /usr/sbin/ip /usr/bin/iperf3)
        local vmms=2
        [[ -n "$wisp" ]] && vmms=3
        run_testhost "$payload" "$samples" --include /usr/bin/qemu-system-x86_64 \
            --include /usr/sbin/ip --include /usr/bin/iperf3 --module vhost_net \
            ${wisp:+--wisp "$wisp"} --timeout $((180 + runs * vmms * boot_timeout))
    fi
}

main "$@"
