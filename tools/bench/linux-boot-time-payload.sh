#!/bin/sh
# Payload of tools/bench/linux-boot-time.sh: runs where the Linux guests run (inside the
# nested test host as /payload/run.sh, or directly on a machine with hardware KVM).
# POSIX sh (busybox in the test host). Reads its settings from bench.env beside it.
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/bench.env"   # RUNS WARMUP MEMORY CMDLINE QEMU WISP(optional) WHERE CLOCK
KERNEL=$DIR/vmlinuz
VMLINUX=$DIR/vmlinux  # the ELF inside vmlinuz
INITRD=$DIR/initramfs.cpio.gz
RESULTS=/tmp/wisp-boot-times.$$
: >"$RESULTS"
# wisp's kernel cache (the vmlinux it decompressed from vmlinuz), emptied for the cold boots.
WISP_CACHE=/tmp/wisp-bench-cache.$$
export WISP_CACHE

# The two command lines: with `quiet` (what a test suite boots) and without (every kernel
# message goes through the VMM's serial port).
cmdline_of() {  # cmdline_of quiet|verbose
    case $1 in
        quiet) echo "$CMDLINE" ;;
        verbose) echo "$CMDLINE" | sed 's/ *quiet//' ;;
    esac
}

boot_qemu() {  # boot_qemu LOG CMDLINE
    "$DIR/boot-timer" --log "$1" -- "$QEMU" -accel kvm -cpu host -M microvm,rtc=on \
        -m "$MEMORY" -smp 1 -nodefaults -no-user-config -display none -no-reboot \
        -serial stdio -kernel "$KERNEL" -initrd "$INITRD" -append "$2"
}

boot_wisp() {  # boot_wisp LOG CMDLINE [KERNEL [OPTION...]]: by default the bzImage, whose
    # vmlinux wisp decompressed on an earlier boot and finds in its cache
    log=$1 cmdline=$2 kernel=${3:-$KERNEL}
    shift 2
    [ $# -gt 0 ] && shift
    "$DIR/boot-timer" --log "$log" -- "$WISP" run --kernel "$kernel" --initrd "$INITRD" \
        --cmdline "$cmdline" --memory "$MEMORY" "$@"
}

# The ways wisp can boot the same kernel, beside the default (a warm cache): the bzImage
# decompressing itself in the guest, the host decompressing it with the cache empty, and the
# vmlinux through its PVH entry.
boot_wisp_guest() { boot_wisp "$1" "$2" "$KERNEL" --no-decompress-cache; }
boot_wisp_cold() { rm -rf "$WISP_CACHE"; boot_wisp "$1" "$2"; }
boot_wisp_pvh() { boot_wisp "$1" "$2" "$VMLINUX"; }

field() {  # field NAME LINE: the value of NAME=value in a boot-timer line
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# Prints the figures of one timed boot as "sample NAME UNIT VMM VALUE" lines, the format that
# `wisp-bench --samples` reads; the memory figures from the quiet boots of wisp and qemu only.
# wisp's other ways to boot (wisp_guest, ...) are figures of their own (linux.quiet.to_marker.guest).
samples() {  # samples VMM MODE LINE
    case $1 in
        wisp_*) echo "sample linux.$2.to_marker.${1#wisp_} ms wisp $(field marker_ms "$3")"
            echo "sample linux.$2.to_exit.${1#wisp_} ms wisp $(field exit_ms "$3")"
            return 0 ;;
    esac
    echo "sample linux.$2.to_marker ms $1 $(field marker_ms "$3")"
    echo "sample linux.$2.to_exit ms $1 $(field exit_ms "$3")"
    [ "$2" = quiet ] || return 0
    awk -v vmm="$1" -v hwm="$(field hwm_kib "$3")" -v overhead="$(field overhead_kib "$3")" 'BEGIN {
        printf "sample linux.memory.peak_rss_at_marker MiB %s %.2f\n", vmm, hwm / 1024
        printf "sample linux.memory.vmm_overhead MiB %s %.2f\n", vmm, overhead / 1024 }'
}

one_run() {  # one_run VMM MODE KIND(warmup|run) N: times one boot, records it in RESULTS
    log=/tmp/wisp-boot-$1-$2-$4.log
    line=$("boot_$1" "$log" "$(cmdline_of "$2")")
    echo "  $1 $2 $3 $4: $line"
    case $line in
        *marker_ms=-1*|*status=[1-9]*)
            echo "  $1 $2 $3 $4 FAILED; its console:"
            tr -d '\r' <"$log" | tail -n 15 | sed 's/^/    | /'
            echo "failed $1" >>"$RESULTS" ;;
        *) [ "$3" = run ] && samples "$1" "$2" "$line" >>"$RESULTS" ;;
    esac
}

summary() {  # min/median/max per figure and VMM, and the ratio of the medians
    awk -v where="$WHERE" -v clock="$CLOCK" '
        function sort(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        }
        function median(a, n) { return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        $1 == "failed" { failed[$2]++; next }
        $1 == "sample" {
            if (!($2 in unit)) { order[++nf] = $2; unit[$2] = $3 }
            n = ++count[$2, $4]; value[$2, $4, n] = $5
        }
        END {
            print ""
            print "Linux boot: " where
            print "clock: " clock
            printf "%-36s %-5s  %-30s %-30s %s\n", "figure", "unit", "wisp min / median / max", "qemu min / median / max", "wisp/qemu"
            for (k = 1; k <= nf; k++) {
                f = order[k]; line = sprintf("%-36s %-5s", f, unit[f])
                for (vi = 1; vi <= 2; vi++) {
                    v = vi == 1 ? "wisp" : "qemu"; n = count[f, v]
                    if (!n) { line = line sprintf("  %-30s", "-"); continue }
                    for (i = 1; i <= n; i++) a[i] = value[f, v, i]
                    sort(a, n); med[v] = median(a, n); medians[f, v] = med[v]
                    line = line sprintf("  %-30s", sprintf("%.1f / %.1f / %.1f", a[1], med[v], a[n]))
                }
                if (count[f, "wisp"] && count[f, "qemu"] && med["qemu"] > 0) line = line sprintf(" %.2f", med["wisp"] / med["qemu"])
                print line
            }
            # The ways wisp boots the bzImage, beside its vmlinux booted through PVH.
            base = "linux.quiet.to_marker"
            if ((base ".pvh", "wisp") in medians) {
                print ""
                print "Debian bzImage to the /init marker (quiet), wisp, medians, against the vmlinux through PVH:"
                split("guest cold warm pvh", ways, " ")
                split("bzImage, decompressed by the guest|bzImage, decompressed on the host (cache cold)|bzImage, the vmlinux from the cache (warm)|vmlinux through PVH", labels, "|")
                for (k = 1; k <= 4; k++) {
                    f = ways[k] == "warm" ? base : base "." ways[k]
                    if (!((f, "wisp") in medians)) continue
                    printf "  %-58s %9.1f ms  %.3f\n", labels[k], medians[f, "wisp"], medians[f, "wisp"] / medians[base ".pvh", "wisp"]
                }
            }
            for (v in failed) printf "%s: %d failed run(s), not counted\n", v, failed[v]
        }' "$RESULTS"
}

main() {
    vmms=qemu
    [ -n "${WISP:-}" ] && vmms="qemu wisp"
    # wisp's other ways to boot the kernel: quiet only (each boot costs seconds in the test host).
    ways=""
    [ -n "${WISP:-}" ] && ways="wisp_guest wisp_cold wisp_pvh"
    echo "linux-boot-time: $WHERE; $RUNS run(s) after $WARMUP warm-up(s) per VMM and command line: $vmms"
    i=1
    while [ "$i" -le "$WARMUP" ]; do
        for vmm in $vmms; do one_run "$vmm" quiet warmup "$i"; done
        i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$RUNS" ]; do   # interleaved, so drift affects every VMM alike
        for mode in quiet verbose; do
            for vmm in $vmms; do one_run "$vmm" "$mode" run "$i"; done
        done
        for vmm in $ways; do one_run "$vmm" quiet run "$i"; done
        i=$((i + 1))
    done
    summary
    rm -rf "$WISP_CACHE"
    grep '^sample ' "$RESULTS"   # for linux-boot-time.sh --samples
    ! grep -q '^failed' "$RESULTS"
}

main
