#!/bin/sh
# Payload of tools/bench/linux-boot-time.sh: runs where the Linux guests run (inside the
# nested test host as /payload/run.sh, or directly on a machine with hardware KVM).
# POSIX sh (busybox in the test host). Reads its settings from bench.env beside it.
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$DIR/bench.env"   # RUNS WARMUP MEMORY CMDLINE QEMU WISP(optional) WHERE CLOCK
KERNEL=$DIR/vmlinuz
INITRD=$DIR/initramfs.cpio.gz
RESULTS=/tmp/wisp-boot-times.$$
: >"$RESULTS"

boot_qemu() {  # boot_qemu LOG
    "$DIR/boot-timer" --log "$1" -- "$QEMU" -accel kvm -cpu host -M microvm,rtc=on \
        -m "$MEMORY" -smp 1 -nodefaults -no-user-config -display none -no-reboot \
        -serial stdio -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE"
}

boot_wisp() {  # boot_wisp LOG
    "$DIR/boot-timer" --log "$1" -- "$WISP" run --kernel "$KERNEL" --initrd "$INITRD" \
        --cmdline "$CMDLINE" --memory "$MEMORY"
}

one_run() {  # one_run VMM KIND(warmup|run) N: times one boot, records it in RESULTS
    log=/tmp/wisp-boot-$1-$3.log
    line=$("boot_$1" "$log")
    echo "  $1 $2 $3: $line"
    case $line in
        *marker_ms=-1*|*status=[1-9]*)
            echo "  $1 $2 $3 FAILED; its console:"
            tr -d '\r' <"$log" | tail -n 15 | sed 's/^/    | /'
            echo "$1 failed" >>"$RESULTS" ;;
        *) [ "$2" = run ] && echo "$1 $line" >>"$RESULTS" ;;
    esac
}

summary() {  # min/median/max per VMM and the ratio of medians
    awk -v where="$WHERE" -v clock="$CLOCK" '
        function sort(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        }
        function median(a, n) { return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
        $2 == "failed" { failed[$1]++; next }
        {
            v = $1; if (!(v in count)) order[++nv] = v
            n = ++count[v]
            split($2, m, "="); marker[v, n] = m[2]
            split($3, e, "="); exited[v, n] = e[2]
        }
        END {
            print ""
            print "Linux boot time: " where
            print "clock: " clock
            printf "%-6s %5s  %-32s %-32s\n", "vmm", "runs", "process start -> marker (ms)", "process start -> exit (ms)"
            printf "%-6s %5s  %-32s %-32s\n", "", "", "min / median / max", "min / median / max"
            for (k = 1; k <= nv; k++) {
                v = order[k]; n = count[v]
                for (i = 1; i <= n; i++) { a[i] = marker[v, i]; b[i] = exited[v, i] }
                sort(a, n); sort(b, n)
                med_m[v] = median(a, n); med_e[v] = median(b, n)
                printf "%-6s %5d  %8.1f / %8.1f / %8.1f   %8.1f / %8.1f / %8.1f\n", v, n,
                    a[1], med_m[v], a[n], b[1], med_e[v], b[n]
            }
            for (v in failed) printf "%s: %d failed run(s), not counted\n", v, failed[v]
            if (("wisp" in med_m) && ("qemu" in med_m))
                printf "ratio wisp/qemu (medians): to marker %.2f, to exit %.2f\n",
                    med_m["wisp"] / med_m["qemu"], med_e["wisp"] / med_e["qemu"]
        }' "$RESULTS"
}

main() {
    vmms=qemu
    [ -n "${WISP:-}" ] && vmms="qemu wisp"
    echo "linux-boot-time: $WHERE; $RUNS run(s) after $WARMUP warm-up(s) per VMM: $vmms"
    i=1
    while [ "$i" -le "$WARMUP" ]; do
        for vmm in $vmms; do one_run "$vmm" warmup "$i"; done
        i=$((i + 1))
    done
    i=1
    while [ "$i" -le "$RUNS" ]; do   # interleaved, so drift affects every VMM alike
        for vmm in $vmms; do one_run "$vmm" run "$i"; done
        i=$((i + 1))
    done
    summary
    ! grep -q failed "$RESULTS"
}

main
