#!/bin/sh
# Payload of tools/bench/linux-net.sh: runs where the Linux guests run (inside the nested test
# host as /payload/run.sh, or directly on a machine with hardware KVM). POSIX sh (busybox in the
# test host). Reads its settings from bench.env beside it. Starts `iperf3 -s` on this side, then
# boots the guest (the kernel, initramfs.img with iperf3, rdinit=/net-bench) under each VMM in
# turn, RUNS times: wisp, QEMU with vhost=off and QEMU with vhost=on (when /dev/vhost-net is
# there), each with a virtio-net NIC on a fresh TAP (made by iproute2's ip, the same for all),
# one queue pair; collects the guest's net-result lines, and prints them as "record ..." lines as
# it goes. `run.sh --summary FILE` prints the summary of such records (linux-net.sh runs it when
# the test host stalled before the end).
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/bench.env"   # RUNS MEMORY CMDLINE BOOT_TIMEOUT QEMU WISP(optional) WHERE IP IPERF3 TAP HOST_ADDR PREFIX PORT MAC
KERNEL=$DIR/vmlinuz
INITRD=$DIR/initramfs.img
RESULTS=/tmp/wisp-net-results.$$

# A fresh TAP for each boot, as an administrator would make it (`ip tuntap add`: one queue, not
# multi_queue); both VMMs open it by name with IFF_VNET_HDR and set its offloads themselves.
tap_up() {
    "$IP" link del "$TAP" 2>/dev/null
    "$IP" tuntap add "$TAP" mode tap && "$IP" addr add "$HOST_ADDR/$PREFIX" dev "$TAP" &&
        "$IP" link set "$TAP" up
}

boot_qemu_common() {  # boot_qemu_common LOG VHOST
    timeout "$BOOT_TIMEOUT" "$QEMU" -accel kvm -cpu host -M microvm,rtc=on -m "$MEMORY" -smp 1 \
        -nodefaults -no-user-config -display none -no-reboot -serial stdio \
        -global virtio-mmio.force-legacy=false \
        -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no,vhost=$2" \
        -device "virtio-net-device,netdev=n0,mac=$MAC" \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" </dev/null >"$1" 2>&1
}

boot_qemu() { boot_qemu_common "$1" off; }
boot_qemu_vhost() { boot_qemu_common "$1" on; }

boot_wisp() {  # boot_wisp LOG
    timeout "$BOOT_TIMEOUT" "$WISP" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE" \
        --memory "$MEMORY" --cpus 1 --net "tap=$TAP,mac=$MAC" </dev/null >"$1" 2>&1
}

# net-result NAME VALUE -> "sample linux.net.FIGURE UNIT VMM VALUE"
samples() {  # samples VMM LOG
    tr -d '\r' <"$2" | awk -v vmm="$1" '$1 == "net-result" {
        if ($2 == "g2h_1") printf "sample linux.net.guest_to_host_1_stream Mbit/s %s %s\n", vmm, $3
        else if ($2 == "g2h_4") printf "sample linux.net.guest_to_host_4_streams Mbit/s %s %s\n", vmm, $3
        else if ($2 == "h2g_1") printf "sample linux.net.host_to_guest_1_stream Mbit/s %s %s\n", vmm, $3
        else if ($2 == "h2g_4") printf "sample linux.net.host_to_guest_4_streams Mbit/s %s %s\n", vmm, $3
        else if ($2 == "ping_avg") printf "sample linux.net.ping_rtt_avg ms %s %s\n", vmm, $3 }'
}

# The VMM's name for the tables: the function boot_NAME's, with "-" for "_".
label() { echo "$1" | tr _ -; }

one_run() {  # one_run VMM N
    name=$(label "$1")
    log=/tmp/wisp-net-$name-$2.log
    if ! tap_up; then
        echo "  $name run $2: FAILED: cannot make the TAP $TAP"
        echo "failed $name" | tee -a "$RESULTS" | sed 's/^/record /'
        return
    fi
    start=$(cut -d' ' -f1 /proc/uptime)
    "boot_$1" "$log"
    status=$?
    took=$(awk -v a="$start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }')
    # Frames the TAP dropped on the way to the guest: its queue was full, the VMM not reading.
    tap_dropped=$(cat "/sys/class/net/$TAP/statistics/tx_dropped" 2>/dev/null)
    "$IP" link del "$TAP" 2>/dev/null
    lines=$(samples "$name" "$log")
    if [ "$status" != 0 ] || [ "$(echo "$lines" | grep -c .)" != 5 ]; then
        echo "  $name run $2: FAILED (status $status, $took s); its console:"
        tr -d '\r' <"$log" | tail -n 20 | sed 's/^/    | /'
        echo "failed $name" | tee -a "$RESULTS" | sed 's/^/record /'
        return
    fi
    [ "$2" = 1 ] && tr -d '\r' <"$log" | grep '^net-bench: .* reaches' | sed "s/^/  $name: /"
    # The sender's retransmissions per iperf3 run, the pings' range, the TAP's and the guest's drops.
    extra=$(tr -d '\r' <"$log" | awk '$1 == "net-result" { v[$2] = $3; r[$2] = $4 }
        /^net-bench: .*: rx .* packets/ { gsub(/,/, ""); for (i = 1; i <= NF; i++) if ($i == "dropped") d = $(i + 1) }
        END { printf "retransmits %s/%s/%s/%s, ping %s..%s ms, guest rx dropped %s",
            r["g2h_1"], r["g2h_4"], r["h2g_1"], r["h2g_4"], v["ping_min"], v["ping_max"], d }')
    warnings=$(tr -d '\r' <"$log" | grep -v '^net-bench' | grep -ci 'drop')
    echo "  $name run $2 ($took s):$(echo "$lines" | awk '{ printf " %s=%s", $2, $5 }' | sed 's/linux.net.//g')"
    echo "    ($extra, TAP tx dropped ${tap_dropped:-?}, VMM's lines about drops $warnings)"
    # Each iperf3 run: its rate in each second, and what the guest counted over it.
    tr -d '\r' <"$log" | awk -v vmm="$name" '
        $1 == "net-intervals" { per[$2] = $0; sub(/^net-intervals [^ ]+ /, "", per[$2]) }
        $1 == "net-stats" {
            for (i = 3; i <= NF; i++) { split($i, kv, "="); c[kv[1]] = kv[2] }
            packets = c["rx_packets"] + c["tx_packets"]; kicks = c["rx_kicks"] + c["tx_kicks"]
            printf "    %s: per s %s; %d irqs, %d+%d packets rx+tx, %d+%d kicks, busy %d%%, steal %d%%\n", $2, per[$2],
                c["irqs"], c["rx_packets"], c["tx_packets"], c["rx_kicks"], c["tx_kicks"], c["busy"], c["steal"]
            printf "stat %s %s %.2f %.2f %d\n", $2, vmm, c["irqs"] ? packets / c["irqs"] : 0,
                kicks ? packets / kicks : 0, c["busy"] >"/dev/stderr"
        }' 2>"$log.stats"
    # Also on the console as it goes ("record ..."), for a summary of the boots done if the
    # test host stalls before the end.
    { echo "round $2"; echo "$lines"; cat "$log.stats"; } | tee -a "$RESULTS" | sed 's/^/record /'
}

# min/median/max per figure and VMM, wisp's ratio to each QEMU (of the medians), and the median
# of the ratios of the boots that took turns (less sensitive to a machine whose load changes).
summary() {
    awk -v where="$WHERE" '
        function sort(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        }
        function median(a, n) { return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        function num(v) { v += 0; return v >= 100 ? sprintf("%.0f", v) : sprintf("%.3g", v) }
        function paired(f, of,   m, r, ratios) {
            m = 0
            for (r in rounds) if (((f, "wisp", r) in in_round) && ((f, of, r) in in_round) && in_round[f, of, r] > 0)
                ratios[++m] = in_round[f, "wisp", r] / in_round[f, of, r]
            if (!m) return "-"
            sort(ratios, m)
            return sprintf("%.2f", median(ratios, m))
        }
        $1 == "failed" { failed[$2]++; next }
        $1 == "round" { round = $2; rounds[round] = 1; next }
        $1 == "stat" {
            if (!($2 in sseen)) { sorder[++nstat] = $2; sseen[$2] = 1 }
            n = ++scount[$2, $3]; svalue[$2, $3, 1, n] = $4; svalue[$2, $3, 2, n] = $5; svalue[$2, $3, 3, n] = $6
            next
        }
        $1 == "sample" {
            if (!($2 in unit)) { order[++nf] = $2; unit[$2] = $3 }
            n = ++count[$2, $4]; value[$2, $4, n] = $5; in_round[$2, $4, round] = $5
        }
        END {
            vmm[1] = "wisp"; vmm[2] = "qemu"; vmm[3] = "qemu-vhost"
            label["g2h_1"] = "guest to host, 1 stream"; label["g2h_4"] = "guest to host, 4 streams"
            label["h2g_1"] = "host to guest, 1 stream"; label["h2g_4"] = "host to guest, 4 streams"
            print ""
            print "Linux network (iperf3 TCP and ping in the guest, to and from its TAP): " where
            print "qemu: -netdev tap,vhost=off; qemu-vhost: vhost=on. Mbit/s: higher is better; ms: lower is better."
            printf "%-34s %-6s  %-22s  %-22s  %-22s %-9s %-10s %s\n", "figure", "unit", "wisp min/med/max",
                "qemu min/med/max", "qemu-vhost min/med/max", "wisp/qemu", "wisp/vhost", "paired qemu, vhost"
            for (k = 1; k <= nf; k++) {
                f = order[k]; line = sprintf("%-34s %-6s", f, unit[f])
                for (vi = 1; vi <= 3; vi++) {
                    v = vmm[vi]; n = count[f, v]; med[v] = ""
                    if (!n) { line = line sprintf("  %-22s", "-"); continue }
                    for (i = 1; i <= n; i++) a[i] = value[f, v, i]
                    sort(a, n); med[v] = median(a, n)
                    line = line sprintf("  %-22s", num(a[1]) "/" num(med[v]) "/" num(a[n]))
                }
                for (vi = 2; vi <= 3; vi++) {
                    v = vmm[vi]
                    if (med["wisp"] != "" && med[v] != "" && med[v] > 0) line = line sprintf(" %-" (vi == 2 ? 9 : 10) ".2f", med["wisp"] / med[v])
                    else line = line sprintf(" %-" (vi == 2 ? 9 : 10) "s", "-")
                }
                print line " " paired(f, "qemu") ", " paired(f, "qemu-vhost")
            }
            for (v in failed) printf "%s: %d failed run(s), not counted\n", v, failed[v]
            if (!nstat) exit
            print ""
            print "How the guest saw each iperf3 run (medians): packets (rx+tx) per interrupt of the NIC,"
            print "packets per kick (the driver notifying the device), and the vCPU busy (%)."
            printf "%-34s  %-22s  %-22s  %s\n", "iperf3 run", "wisp pkt/irq pkt/kick %", "qemu", "qemu-vhost"
            for (k = 1; k <= nstat; k++) {
                f = sorder[k]; line = sprintf("%-34s", label[f])
                for (vi = 1; vi <= 3; vi++) {
                    v = vmm[vi]; n = scount[f, v]
                    if (!n) { line = line sprintf("  %-22s", "-"); continue }
                    cell = ""
                    for (j = 1; j <= 3; j++) {
                        for (i = 1; i <= n; i++) a[i] = svalue[f, v, j, i]
                        sort(a, n); cell = cell (j > 1 ? " / " : "") num(median(a, n))
                    }
                    line = line sprintf("  %-22s", cell)
                }
                sub(/ +$/, "", line)
                print line
            }
        }' "$RESULTS"
}

main() {
    if [ "${1:-}" = --summary ]; then   # the summary of a file of records (linux-net.sh)
        RESULTS=$2
        summary
        grep '^sample ' "$RESULTS"
        return
    fi
    : >"$RESULTS"
    vmms="qemu"
    [ -n "${WISP:-}" ] && vmms="wisp qemu"
    [ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null
    if [ -c /dev/vhost-net ]; then
        vmms="$vmms qemu_vhost"
    else
        echo "linux-net: no /dev/vhost-net here (no vhost_net module?): QEMU with vhost=on is not measured"
    fi
    echo "linux-net: $WHERE; $RUNS run(s) per VMM, taking turns: $(label "$vmms")"
    echo "linux-net: TAP $TAP ($HOST_ADDR/$PREFIX on this side, iperf3 -s on port $PORT);" \
        "kernel command line: $CMDLINE"
    "$IPERF3" -s -p "$PORT" >/tmp/wisp-net-iperf3-server.log 2>&1 &
    server=$!
    sleep 1
    kill -0 "$server" 2>/dev/null || { echo "linux-net: iperf3 -s failed:"; cat /tmp/wisp-net-iperf3-server.log; exit 1; }
    i=1
    while [ "$i" -le "$RUNS" ]; do
        for vmm in $vmms; do one_run "$vmm" "$i"; done
        i=$((i + 1))
    done
    kill "$server" 2>/dev/null
    summary
    grep '^sample ' "$RESULTS"   # for linux-net.sh --samples
    ! grep -q '^failed' "$RESULTS"
}

main "$@"
