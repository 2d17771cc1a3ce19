#!/bin/sh
# The Linux-guest checks, run where /dev/kvm can run a stock kernel: inside the nested test host
# (as its /payload/run.sh) or directly on a host with hardware KVM. Each check boots Debian's
# kernel with the default initramfs under wisp, types commands into the guest's shell once /init
# printed its marker, and records the serial console and wisp's exit status between lines
#   ===== CHECK <name> BEGIN          and          ===== CHECK <name> STATUS <n>
# for tests/linux/verify.sh to judge. Needs: wisp on PATH, vmlinuz and initramfs.cpio.gz in the
# current directory (or $WISP_CHECK_DIR), and vmlinux (the ELF inside vmlinuz), POSIX sh
# (busybox or dash).
MARKER="wisp-guest: init reached"
DIR=${WISP_CHECK_DIR:-.}
WORK=$(mktemp -d)
CHECK_TIMEOUT=120  # seconds for one boot, from start to exit

# count_markers LOG: how many times the guest's /init has started
count_markers() { grep -c "$MARKER" "$1" 2>/dev/null || true; }

# wait_for MARKERS PID LOG: until the marker was printed MARKERS times; 1 if wisp ended first
wait_for() {
    i=0
    while [ "$(count_markers "$3")" -lt "$1" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        [ $i -lt $((CHECK_TIMEOUT * 10)) ] || return 1
        sleep 0.1
        i=$((i + 1))
    done
}

# wait_exit PID: waits up to CHECK_TIMEOUT for wisp to end, killing it after that
wait_exit() {
    i=0
    while kill -0 "$1" 2>/dev/null; do
        if [ $i -ge $((CHECK_TIMEOUT * 10)) ]; then
            echo "checks: wisp did not exit in time; killing it"
            kill -9 "$1"
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

# [KERNEL=file] check NAME "WISP OPTIONS (words)" "COMMANDS AFTER MARKER 1" ["COMMANDS AFTER MARKER 2" ...]
check() {
    name=$1 options=$2
    shift 2
    log=$WORK/$name.log input=$WORK/$name.in
    mkfifo "$input"
    exec 3<>"$input"  # held open read-write so that wisp never sees end of input
    # shellcheck disable=SC2086 # options are words
    wisp run --kernel "$DIR/${KERNEL:-vmlinuz}" --initrd "$DIR/initramfs.cpio.gz" --cmdline "$CMDLINE" \
        $options <&3 >"$log" 2>&1 &
    pid=$!
    markers=0
    for commands in "$@"; do
        markers=$((markers + 1))
        wait_for "$markers" "$pid" "$log" || break
        echo "$commands" >&3
    done
    wait_exit "$pid"
    wait "$pid"
    status=$?
    exec 3>&-
    echo "===== CHECK $name BEGIN"
    tr -d '\r' <"$log"
    echo "===== CHECK $name STATUS $status"
}

CMDLINE="console=ttyS0 panic=-1"
check shell "--memory 512M" \
    'echo "answer-$((6 * 7))"; uname -r; poweroff -f'
check smp "--cpus 2 --memory 512M" \
    'echo "cpus-$(grep -c ^processor /proc/cpuinfo)"; poweroff -f'
check reboot "--memory 256M" 'reboot -f'
check restart "--memory 256M --on-reboot restart" 'reboot -f' \
    'echo "booted-again"; poweroff -f'
check memory6g "--memory 6G" \
    'echo "memtotal-$(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"; poweroff -f'
# The vmlinux inside Debian's bzImage, booted through its PVH entry note.
KERNEL=vmlinux check pvh "--cpus 2 --memory 512M" \
    'echo "pvh-cpus-$(grep -c ^processor /proc/cpuinfo)"; poweroff -f'
rm -rf "$WORK"
