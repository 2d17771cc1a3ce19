#!/bin/sh
# Payload of tools/bench/linux-disk.sh: runs where the Linux guests run (inside the nested test
# host as /payload/run.sh, or directly on a machine with hardware KVM). POSIX sh (busybox in the
# test host). Reads its settings from bench.env beside it. Makes the scratch image, then boots the
# guest (the kernel, initramfs.img with fio, rdinit=/fio-bench) under each VMM in turn, RUNS
# times, the same image as its virtio-blk disk; collects the guest's fio-result lines.
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/bench.env"   # RUNS MEMORY CMDLINE IMAGE_MIB BOOT_TIMEOUT QEMU WISP(optional) WHERE
KERNEL=$DIR/vmlinuz
INITRD=$DIR/initramfs.img
IMAGE=${IMAGE_DIR:-$DIR}/disk.img
RESULTS=/tmp/wisp-disk-results.$$
: >"$RESULTS"

# Both VMMs with their defaults for a disk: the host's page cache (cache=writeback) and io_uring.
boot_qemu() {  # boot_qemu LOG
    timeout "$BOOT_TIMEOUT" "$QEMU" -accel kvm -cpu host -M microvm,rtc=on -m "$MEMORY" -smp 1 \
        -nodefaults -no-user-config -display none -no-reboot -serial stdio \
        -global virtio-mmio.force-legacy=false \
        -drive "id=d0,if=none,format=raw,aio=io_uring,cache=writeback,file=$IMAGE" \
        -device virtio-blk-device,drive=d0 \
        -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" </dev/null >"$1" 2>&1
}

boot_wisp() {  # boot_wisp LOG
    timeout "$BOOT_TIMEOUT" "$WISP" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE" \
        --memory "$MEMORY" --cpus 1 --disk "path=$IMAGE" </dev/null >"$1" 2>&1
}

# fio-result NAME read_kib/s read_iops write_kib/s write_iops -> "sample linux.disk.NAME ..."
samples() {  # samples VMM LOG
    tr -d '\r' <"$2" | awk -v vmm="$1" '$1 == "fio-result" {
        if ($2 ~ /^seq_read/) printf "sample linux.disk.%s MiB/s %s %.1f\n", $2, vmm, $3 / 1024
        else if ($2 ~ /^seq_write/) printf "sample linux.disk.%s MiB/s %s %.1f\n", $2, vmm, $5 / 1024
        else printf "sample linux.disk.%s IOPS %s %d\n", $2, vmm, $4 }'
}

one_run() {  # one_run VMM N
    log=/tmp/wisp-disk-$1-$2.log
    start=$(cut -d' ' -f1 /proc/uptime)
    "boot_$1" "$log"
    status=$?
    took=$(awk -v a="$start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }')
    lines=$(samples "$1" "$log")
    if [ "$status" != 0 ] || [ "$(echo "$lines" | grep -c .)" != 4 ]; then
        echo "  $1 run $2: FAILED (status $status, $took s); its console:"
        tr -d '\r' <"$log" | tail -n 20 | sed 's/^/    | /'
        echo "failed $1" >>"$RESULTS"
        return
    fi
    [ "$2" = 1 ] && tr -d '\r' <"$log" | grep '^fio-bench: /dev/vda' | sed "s/^/  $1: /"
    echo "  $1 run $2 ($took s): $(echo "$lines" | awk '{ printf " %s=%s", $2, $5 }' | sed 's/linux.disk.//g')"
    { echo "round $2"; echo "$lines"; } >>"$RESULTS"
}

# min/median/max per figure and VMM, the ratio of the medians, and the median of the ratios of
# the runs that took turns (less sensitive to a machine whose load changes during the runs)
summary() {
    awk -v where="$WHERE" '
        function sort(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        }
        function median(a, n) { return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        $1 == "failed" { failed[$2]++; next }
        $1 == "round" { round = $2; rounds[round] = 1; next }
        $1 == "sample" {
            if (!($2 in unit)) { order[++nf] = $2; unit[$2] = $3 }
            n = ++count[$2, $4]; value[$2, $4, n] = $5; in_round[$2, $4, round] = $5
        }
        END {
            print ""
            print "Linux disk (fio in the guest, O_DIRECT, libaio): " where
            printf "%-36s %-6s  %-30s %-30s %-10s %s\n", "figure", "unit", "wisp min / median / max", "qemu min / median / max", "wisp/qemu", "paired"
            for (k = 1; k <= nf; k++) {
                f = order[k]; line = sprintf("%-36s %-6s", f, unit[f])
                for (vi = 1; vi <= 2; vi++) {
                    v = vi == 1 ? "wisp" : "qemu"; n = count[f, v]
                    if (!n) { line = line sprintf("  %-30s", "-"); continue }
                    for (i = 1; i <= n; i++) a[i] = value[f, v, i]
                    sort(a, n); med[v] = median(a, n)
                    line = line sprintf("  %-30s", sprintf("%.1f / %.1f / %.1f", a[1], med[v], a[n]))
                }
                if (count[f, "wisp"] && count[f, "qemu"] && med["qemu"] > 0) line = line sprintf(" %-10.2f", med["wisp"] / med["qemu"])
                m = 0
                for (r in rounds) if (((f, "wisp", r) in in_round) && ((f, "qemu", r) in in_round) && in_round[f, "qemu", r] > 0)
                    ratios[++m] = in_round[f, "wisp", r] / in_round[f, "qemu", r]
                if (m) { sort(ratios, m); line = line sprintf(" %.2f", median(ratios, m)) }
                print line
            }
            for (v in failed) printf "%s: %d failed run(s), not counted\n", v, failed[v]
        }' "$RESULTS"
}

main() {
    vmms=qemu
    [ -n "${WISP:-}" ] && vmms="wisp qemu"
    echo "linux-disk: $WHERE; $RUNS run(s) per VMM, taking turns: $vmms"
    echo "linux-disk: a $IMAGE_MIB MiB image at $IMAGE; kernel command line: $CMDLINE"
    dd if=/dev/zero of="$IMAGE" bs=1M count="$IMAGE_MIB" 2>/dev/null || { echo "cannot make $IMAGE"; exit 1; }
    i=1
    while [ "$i" -le "$RUNS" ]; do
        for vmm in $vmms; do one_run "$vmm" "$i"; done
        i=$((i + 1))
    done
    rm -f "$IMAGE"
    summary
    grep '^sample ' "$RESULTS"   # for linux-disk.sh --samples
    ! grep -q '^failed' "$RESULTS"
}

main
