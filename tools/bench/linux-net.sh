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
# shellcheck source=linux-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/linux-lib.sh"

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

make_payload() {  # make_payload DIR WHERE QEMU WISP RUNS SECONDS PINGS MEMORY IP IPERF3
    local dir=$1
    # ethtool for the NIC's counters.
    guest_with_binaries "$dir" net "$WISP_TOOLS/bench/linux-net-guest.sh" /usr/bin/iperf3 \
        /usr/sbin/ethtool
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
    parse_options "--wisp --runs --seconds --pings --memory --samples" "$@"
    positive --runs "$runs"
    positive --seconds "$seconds"
    positive --pings "$pings"
    wisp=$(checked_wisp "$wisp")
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
