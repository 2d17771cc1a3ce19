#!/bin/sh
# shellcheck disable=SC2016 # the guest commands are in single quotes: they expand in the guest
# The Linux-guest checks, run where /dev/kvm can run a stock kernel: inside the nested test host
# (as its /payload/run.sh) or directly on a host with hardware KVM. Each check boots Debian's
# kernel with the default initramfs under wisp, types commands into the guest's shell once /init
# printed its marker, and records the serial console and wisp's exit status between lines
#   ===== CHECK <name> BEGIN          and          ===== CHECK <name> STATUS <n>
# for tests/linux/verify.sh to judge. A check may also run steps here, on the host, while the
# guest runs or after wisp ended (looking at its disk images); their output is recorded after
# the serial log, each line prefixed "host: ".
# Needs: wisp on PATH, vmlinuz, initramfs.cpio.gz, vmlinux (the ELF inside vmlinuz) and
# rootfs.ext4 (tools/guest/build-rootfs.sh) in the current directory (or $WISP_CHECK_DIR),
# vmlinuz-generic (Debian's generic kernel), POSIX sh (busybox or dash),
# iproute2's ip (busybox's has no tuntap), busybox's httpd, wget and ping, md5sum, du,
# e2fsprogs' debugfs and e2fsck on PATH, and its mke2fs at /usr/sbin/mke2fs.
# A file `only` beside this script, if there is one, lists the checks to run (the others skip);
# a file `skip`, one name a line, the checks an earlier attempt finished (tests/linux/run.sh).
MARKER="wisp-guest: init reached"
DIR=${WISP_CHECK_DIR:-.}
WORK=$(mktemp -d)
CHECK_TIMEOUT=120  # seconds for one boot, from start to exit

# count_markers LOG: how many times the guest's /init has started (0 before LOG exists)
count_markers() {
    n=$(grep -c "$MARKER" "$1" 2>/dev/null)
    echo "${n:-0}"
}

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

# wait_line TEXT: until the guest printed the whole line TEXT; 1 if wisp ended first or it took
# CHECK_TIMEOUT. (Print such lines with an expansion, e.g. "done-$((6 * 7))": the echo of the
# typed command then never reads as the line itself.)
wait_line() {
    i=0
    while ! tr -d '\r' <"$log" | grep -qx "$1"; do
        kill -0 "$pid" 2>/dev/null || return 1
        [ $i -lt $((CHECK_TIMEOUT * 10)) ] || return 1
        sleep 0.1
        i=$((i + 1))
    done
}

# progress TEXT: a timestamped line outside every check's section, so that a run that stalls
# shows where.
progress() { echo "checks: $(date +%T) $*"; }

# [KERNEL=file] check NAME "WISP OPTIONS (words)" STEP...
# A STEP is either commands typed into the guest's shell after its next marker, or
# host:FUNCTION [ARGS], which runs FUNCTION here at that point: it may wait for the guest
# (wait_line), type into its console (>&3), or wait for wisp to end (wait_exit "$pid") and look
# at its disk images. $pid is wisp's process, $log its console so far.
check() {
    name=$1 options=$2
    shift 2
    if [ -f "$DIR/only" ] && ! grep -qw "$name" "$DIR/only"; then
        return
    fi
    if [ -f "$DIR/skip" ] && grep -qx "$name" "$DIR/skip"; then
        progress "$name: finished in an earlier attempt"
        return
    fi
    log=$WORK/$name.log input=$WORK/$name.in hostlog=$WORK/$name.host
    # The log exists before wisp starts: wait_for and wait_line never read a missing file.
    : >"$log"
    : >"$hostlog"
    mkfifo "$input"
    exec 3<>"$input"  # held open read-write so that wisp never sees end of input
    # shellcheck disable=SC2086 # options are words
    if [ "${RUN_AS:-run}" = firecracker ]; then  # Firecracker's command line: no kernel of ours
        wisp $options <&3 >"$log" 2>&1 &
    else
        wisp run --kernel "$DIR/${KERNEL:-vmlinuz}" --initrd "$DIR/initramfs.cpio.gz" \
            --cmdline "$CMDLINE" $options <&3 >"$log" 2>&1 &
    fi
    pid=$!
    progress "$name: wisp started"
    markers=0
    for step in "$@"; do
        case $step in
            host:*)
                # shellcheck disable=SC2086 # the function's name and arguments
                ${step#host:} >>"$hostlog" 2>&1 ;;
            *)
                markers=$((markers + 1))
                wait_for "$markers" "$pid" "$log" || break
                printf '%s\n' "$step" >&3
                progress "$name: marker $markers seen, commands typed" ;;
        esac
    done
    wait_exit "$pid"
    wait "$pid"
    status=$?
    progress "$name: wisp exited with $status"
    exec 3>&-
    echo "===== CHECK $name BEGIN"
    tr -d '\r' <"$log"
    sed 's/^/host: /' "$hostlog"
    echo "===== CHECK $name STATUS $status"
}

# --- host steps of the disk checks -------------------------------------------------------

# e2fsprogs' mke2fs by its path: busybox sh runs its own applet (ext2 only) before PATH's.
MKE2FS=/usr/sbin/mke2fs
md5_of() { md5sum <"$1" | cut -c1-32; }
allocated_kib() { du -k "$1" | cut -f1; }

# e2fsck_report IMAGE LABEL: a read-only full check; its status, and its report if not clean
e2fsck_report() {
    e2fsck -fn "$1" >"$WORK/e2fsck.out" 2>&1
    result=$?
    echo "$2 e2fsck status $result"
    [ $result = 0 ] || sed "s/^/$2 e2fsck: /" "$WORK/e2fsck.out"
}

rootdisk_inspect() {
    wait_exit "$pid"
    echo "rootdisk.txt: $(debugfs -R 'cat /rootdisk.txt' "$WORK/root.ext4" 2>/dev/null)"
    e2fsck_report "$WORK/root.ext4" root.ext4
}

readonly_inspect() {
    wait_exit "$pid"
    echo "ro.img md5 before $ro_md5 after $(md5_of "$WORK/ro.img")"
    echo "rw.img md5 before $rw_md5 after $(md5_of "$WORK/rw.img")"
}

fstrim_written() {  # the file is written and synced: measure, then let the guest go on
    echo "trim.ext4 KiB before the boot: $trim_before"
    wait_line "fstrim-written-42" || return
    echo "trim.ext4 KiB after the write: $(allocated_kib "$WORK/trim.ext4")"
    echo go >&3
}
fstrim_inspect() {
    wait_exit "$pid"
    echo "trim.ext4 KiB after fstrim: $(allocated_kib "$WORK/trim.ext4")"
    e2fsck_report "$WORK/trim.ext4" trim.ext4
}

sigkill_kill() {
    wait_line "sigkill-synced-42" || return
    kill -9 "$pid" && echo "killed wisp"
}
# What "loses nothing" means: what the guest wrote and synced before wisp was killed is in the
# image as a mount would see it (after the journal replay that mounting does), and that
# filesystem is consistent. Replayed on a copy, so the image stays as wisp left it.
sigkill_inspect() {
    wait_exit "$pid"
    image=$WORK/kill.ext4 copy=$WORK/kill-replayed.ext4
    debugfs -R features "$image" 2>/dev/null | grep -q needs_recovery && recovery=yes || recovery=no
    echo "needs journal recovery: $recovery"
    debugfs -R "dump /seq.txt $WORK/seq-unreplayed.txt" "$image" >/dev/null 2>&1
    [ -f "$WORK/seq-unreplayed.txt" ] && echo "seq.txt before replay md5 $(md5_of "$WORK/seq-unreplayed.txt")"
    cp "$image" "$copy"
    e2fsck -y -E journal_only "$copy" >/dev/null 2>&1
    echo "journal replay status $?"
    e2fsck_report "$copy" replayed
    debugfs -R "dump /seq.txt $WORK/seq.txt" "$copy" >/dev/null 2>&1
    echo "seq.txt md5 $(md5_of "$WORK/seq.txt" 2>/dev/null)"
}

CMDLINE="console=ttyS0 panic=-1"
# shell also writes to the second serial port (ttyS1, found through ACPI), into a file.
com2_inspect() {
    wait_exit "$pid"
    echo "com2: $(tr -d '\r' <"$WORK/com2.log")"
}
check shell "--memory 512M --serial2 file=$WORK/com2.log" \
    'echo "answer-$((6 * 7))"; uname -r; echo "com2-$((6 * 7))" >/dev/ttyS1; poweroff -f' \
    host:com2_inspect
# Commands typed before the kernel has even started: the 8250 driver clears its FIFOs and tests
# loopback at start-up, and the input must still reach the shell whole.
type_before_boot() { printf '%s\n' 'echo "early-$((6 * 7))"; poweroff -f' >&3; }
check earlyinput "--memory 256M" host:type_before_boot
# A kernel panic reported through pvpanic (QEMU0001 in the DSDT, Linux's pvpanic-mmio): the run
# ends with 14; with --on-panic continue, panic=-1 reboots the guest (4) and stderr tells.
check panic "--memory 256M" 'modprobe pvpanic-mmio && echo c >/proc/sysrq-trigger'
check panicgoes "--memory 256M --on-panic continue" \
    'modprobe pvpanic-mmio && echo c >/proc/sysrq-trigger'
check smp "--cpus 2 --memory 512M" \
    'echo "cpus-$(grep -c ^processor /proc/cpuinfo)"; poweroff -f'
check reboot "--memory 256M" 'reboot -f'
check restart "--memory 256M --on-reboot restart" 'reboot -f' \
    'echo "booted-again"; poweroff -f'
check memory6g "--memory 6G" \
    'echo "memtotal-$(sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo)"; poweroff -f'

# The vmlinux inside Debian's bzImage, booted through its PVH entry note.
CMDLINE="console=ttyS0 panic=-1"
KERNEL=vmlinux check pvh "--cpus 2 --memory 512M" \
    'echo "pvh-cpus-$(grep -c ^processor /proc/cpuinfo)"; poweroff -f'

# The bzImage's kernel decompressed by wisp on the host: the first boot with an empty kernel cache
# (wisp decompresses and stores the vmlinux), then a second wisp that finds it there. Loaded by
# wisp, the kernel runs at its link address, 16 MiB; decompressing itself, it would have moved to
# a random one (KASLR).
decompress_warm() {
    wait_exit "$pid"
    echo "cached entries: $(ls "$WISP_CACHE/vmlinux" 2>/dev/null | wc -l)"
    printf '%s\n' 'echo "warm-$((6 * 7))"; grep "Kernel code" /proc/iomem; poweroff -f' >"$WORK/warm.in"
    wisp run --kernel "$DIR/vmlinuz" --initrd "$DIR/initramfs.cpio.gz" --cmdline "$CMDLINE" \
        --memory 512M <"$WORK/warm.in" >"$WORK/warm.log" 2>&1 &
    warm=$!
    wait_exit "$warm"
    wait "$warm"
    echo "warm status $?"
    tr -d '\r' <"$WORK/warm.log" | sed 's/^/warm: /'
}
WISP_CACHE=$WORK/cache
export WISP_CACHE
CMDLINE="console=ttyS0 panic=-1 quiet"
check decompress "--memory 512M" \
    'echo "cold-$((6 * 7))"; grep "Kernel code" /proc/iomem; poweroff -f' host:decompress_warm
unset WISP_CACHE

# Disks. `quiet` keeps these boots short; errors still show. The root disk's own /sbin/init
# (tools/guest/rootfs-init.sh) prints the marker too, and where / is; `poweroff` (not -f) goes
# through its clean shutdown.
CMDLINE="console=ttyS0 panic=-1 quiet root=/dev/vda"
cp "$DIR/rootfs.ext4" "$WORK/root.ext4"
check rootdisk "--memory 512M --disk path=$WORK/root.ext4" \
    'grep " / " /proc/mounts; echo "rootdisk-$((6 * 7))" >/rootdisk.txt; sync; poweroff' \
    host:rootdisk_inspect

# The other disk checks run in the initramfs, which loads the virtio modules first.
CMDLINE="console=ttyS0 panic=-1 quiet wisp.modules=virtio_mmio,virtio_blk"
dd if=/dev/urandom of="$WORK/ro.img" bs=64k count=16 2>/dev/null
dd if=/dev/zero of="$WORK/rw.img" bs=64k count=16 2>/dev/null
ro_md5=$(md5_of "$WORK/ro.img") rw_md5=$(md5_of "$WORK/rw.img")
check readonly "--memory 512M --disk path=$WORK/rw.img --disk path=$WORK/ro.img,readonly=on" \
    'echo "ro-flags-vda-$(cat /sys/block/vda/ro)-vdb-$(cat /sys/block/vdb/ro)"; echo "vdb-md5-$(md5sum </dev/vdb | cut -c1-32)"; dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync; echo "ro-write-status-$?"; dd if=/dev/urandom of=/dev/vda bs=4096 count=1 conv=fsync; echo "rw-write-status-$?"; poweroff -f' \
    host:readonly_inspect

dd if=/dev/zero of="$WORK/a.img" bs=64k count=16 2>/dev/null
dd if=/dev/zero of="$WORK/b.img" bs=64k count=16 2>/dev/null
check serials "--memory 512M --disk path=$WORK/a.img,serial=disk-a --disk path=$WORK/b.img,serial=disk-b" \
    'for d in vda vdb; do echo "serial-$d-$(cat /sys/block/$d/serial)"; done; poweroff -f'

# A 32 MiB file (not zeros: no VMM may skip writing them) written, synced, deleted, then fstrim:
# the image's blocks on the host (a sparse file; tmpfs in the test host) fall back.
# noinit_itable: no background zeroing of inode tables meanwhile.
"$MKE2FS" -q -F -t ext4 -E nodiscard "$WORK/trim.ext4" 64M >/dev/null
trim_before=$(allocated_kib "$WORK/trim.ext4")
check fstrim "--memory 512M --disk path=$WORK/trim.ext4,discard=on" \
    'mkdir -p /mnt && mount -o noinit_itable /dev/vda /mnt && yes wisp-fstrim | head -c 1048576 >/tmp/mib && for i in $(seq 32); do cat /tmp/mib; done >/mnt/big && sync && echo "fstrim-written-$((6 * 7))" && read -r reply && rm /mnt/big && sync && fstrim -v /mnt; umount /mnt; poweroff -f' \
    host:fstrim_written host:fstrim_inspect

# No ACPI (as Kata Containers boots): Debian's generic kernel finds its CPUs, the I/O APIC and
# COM1's interrupt in the MP table (the cloud kernel has no MP-table parser); it reboots through
# the i8042 (wisp exits 4), having no ACPI S5.
CMDLINE="console=ttyS0 panic=-1 quiet acpi=off"
KERNEL=vmlinuz-generic check acpioff "--cpus 2 --memory 512M" \
    'echo "acpioff-cpus-$(grep -c ^processor /proc/cpuinfo) $(grep -c IO-APIC /proc/interrupts)"; reboot -f'

# --- network: TAPs in the test host, each check on a subnet of its own -----------------------

# iproute2's ip by its path: busybox sh runs its own applet (no tuntap) before PATH's.
IP=/usr/sbin/ip
# tap_up NAME ADDRESS/PREFIX [ip tuntap options]: a TAP with the host side's address, up
tap_up() {
    # shellcheck disable=SC2086 # options are words
    "$IP" tuntap add "$1" mode tap $3 && "$IP" addr add "$2" dev "$1" && "$IP" link set "$1" up
}
tap_exists() { "$IP" link show "$1" >/dev/null 2>&1; }
# serve DIR ADDRESS: busybox httpd in the foreground, in the background; its pid in $httpd_pid
serve() { httpd -f -p "$2:8080" -h "$1" & httpd_pid=$!; }
# thread_ticks NAME: user + system clock ticks of wisp's thread NAME so far
thread_ticks() {
    for task in /proc/"$pid"/task/*; do
        [ "$(cat "$task/comm" 2>/dev/null)" = "$1" ] || continue
        awk '{ print $14 + $15 }' "$task/stat"
        return
    done
    echo 0
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

net_transfer() {  # the guest fetched the host's file; now the host fetches the guest's
    echo "host.bin md5 $(md5_of "$WORK/www/host.bin")"
    wait_line "serving-42" || return
    wget -q -O "$WORK/guest.bin" http://10.0.2.2:8080/guest.bin
    echo "guest.bin md5 $(md5_of "$WORK/guest.bin")"
    echo go >&3
}
net_stop_server() { wait_exit "$pid"; kill "$httpd_pid"; }

# The guest configures its address from ip= (tools/guest/init.sh), pings the host, and 8 MiB go
# each way over TCP (HTTP), compared by checksum.
mkdir -p "$WORK/www"
dd if=/dev/urandom of="$WORK/www/host.bin" bs=1M count=8 2>/dev/null
tap_up wtap0 10.0.2.1/24
serve "$WORK/www" 10.0.2.1
CMDLINE="console=ttyS0 panic=-1 quiet ip=10.0.2.2::10.0.2.1:255.255.255.0::eth0:off"
check net "--memory 512M --net tap=wtap0" \
    'ping -c 3 10.0.2.1 >/dev/null && echo "ping-ok-$((6 * 7))"; wget -q -O /tmp/host.bin http://10.0.2.1:8080/host.bin; echo "down-md5-$(md5sum </tmp/host.bin | cut -c1-32)"; mkdir -p /tmp/www; dd if=/dev/urandom of=/tmp/www/guest.bin bs=1M count=8 2>/dev/null; echo "up-md5-$(md5sum </tmp/www/guest.bin | cut -c1-32)"; httpd -p 8080 -h /tmp/www; echo "serving-$((6 * 7))"; read -r reply; poweroff -f' \
    host:net_transfer host:net_stop_server
"$IP" link del wtap0

# Two NICs at once, each found by the MAC given on the command line.
tap_up wtap1 10.0.3.1/24
tap_up wtap2 10.0.4.1/24
CMDLINE="console=ttyS0 panic=-1 quiet wisp.modules=virtio_mmio,virtio_net"
check net2 "--memory 512M --net tap=wtap1,mac=02:00:00:00:03:02 --net tap=wtap2,mac=02:00:00:00:04:02" \
    'for d in /sys/class/net/*; do case $(cat $d/address) in 02:00:00:00:03:02) a=${d##*/};; 02:00:00:00:04:02) b=${d##*/};; esac; done; echo "nics-$a-$b"; ip link set $a up; ip link set $b up; ip addr add 10.0.3.2/24 dev $a; ip addr add 10.0.4.2/24 dev $b; ping -c 2 10.0.3.1 >/dev/null && echo "nic1-ok-$((6 * 7))"; ping -c 2 10.0.4.1 >/dev/null && echo "nic2-ok-$((6 * 7))"; poweroff -f'
"$IP" link del wtap1
"$IP" link del wtap2

# Two queue pairs on two vCPUs, on a TAP that wisp creates (multi-queue) and removes: traffic from
# each vCPU goes out on its own pair (XPS), and the TAP sends each flow's replies back on the pair
# it came from. wisp -v logs each pair's frames at exit.
netmq_address() {
    i=0
    while ! tap_exists wtapm && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    "$IP" addr add 10.0.5.1/24 dev wtapm && echo "wtapm addressed"
}
netmq_gone() {
    wait_exit "$pid"
    kill "$httpd_pid"
    tap_exists wtapm && echo "wtapm still exists" || echo "wtapm gone"
}
dd if=/dev/urandom of="$WORK/www/small.bin" bs=64k count=1 2>/dev/null
CMDLINE="console=ttyS0 panic=-1 quiet ip=10.0.5.2::10.0.5.1:255.255.255.0::eth0:off"
check netmq "-v --cpus 2 --memory 512M --net tap=wtapm,queues=2" \
    host:netmq_address host:"serve $WORK/www 10.0.5.1" \
    'echo "queues-$(ls /sys/class/net/eth0/queues | tr "\n" " ")"; for cpu in 1 2 1 2 1 2 1 2; do taskset $cpu ping -c 2 10.0.5.1 >/dev/null; taskset $cpu wget -q -O /dev/null http://10.0.5.1:8080/small.bin; done; echo "mq-done-$((6 * 7))"; poweroff -f' \
    host:netmq_gone

# The driver unloaded and loaded again (a device reset), and the link cycled: traffic goes on.
tap_up wtapr 10.0.6.1/24
CMDLINE="console=ttyS0 panic=-1 quiet ip=10.0.6.2::10.0.6.1:255.255.255.0::eth0:off"
check netreload "--memory 512M --net tap=wtapr" \
    'ping -c 2 10.0.6.1 >/dev/null && echo "before-ok-$((6 * 7))"; rmmod virtio_net; modprobe virtio_net; ip link set eth0 up; ip addr add 10.0.6.2/24 dev eth0; ping -c 2 10.0.6.1 >/dev/null && echo "reloaded-ok-$((6 * 7))"; ip link set eth0 down; ip link set eth0 up; ping -c 2 10.0.6.1 >/dev/null && echo "relinked-ok-$((6 * 7))"; poweroff -f'
"$IP" link del wtapr

# A guest that stops taking frames (its NIC down) while the host floods it: wisp's memory stays
# flat, its device thread idles, and traffic flows again once the guest takes frames again.
netflood_flood() {
    wait_line "nic-down-42" || return
    "$IP" neigh replace 10.0.7.2 lladdr 02:00:00:00:07:02 dev wtapf nud permanent
    rss_before=$(rss_kib)
    ping -q -c 20000 -i 0.001 -s 1400 -w 30 10.0.7.2 >/dev/null 2>&1
    rss_after=$(rss_kib)
    echo "wisp RSS KiB before the flood $rss_before after $rss_after"
    echo "wtapf frames to the guest $(cat /sys/class/net/wtapf/statistics/tx_packets)" \
        "dropped $(cat /sys/class/net/wtapf/statistics/tx_dropped)"
    ticks_before=$(thread_ticks wisp-net0)
    sleep 3
    echo "wisp-net0 ticks in 3 s after the flood: $(($(thread_ticks wisp-net0) - ticks_before))"
    echo go >&3
}
tap_up wtapf 10.0.7.1/24
CMDLINE="console=ttyS0 panic=-1 quiet ip=10.0.7.2::10.0.7.1:255.255.255.0::eth0:off"
check netflood "-v --memory 512M --net tap=wtapf,mac=02:00:00:00:07:02" \
    'ping -c 1 10.0.7.1 >/dev/null; ip link set eth0 down; echo "nic-down-$((6 * 7))"; read -r reply; ip link set eth0 up; ping -c 2 10.0.7.1 >/dev/null && echo "after-flood-ok-$((6 * 7))"; poweroff -f' \
    host:netflood_flood
"$IP" link del wtapf

# The jail: wisp as uid 65534 without capabilities, PID 1 of its own PID namespace, in a cgroup
# with a memory limit, with only its files in its root; the guest still writes its disk and
# reaches the host over a TAP made for that uid. Nothing wisp made is left in the jail's
# directory or the cgroup hierarchy afterwards.
jail_inspect() {
    wait_line "jail-ready-42" || return
    vmm=$(tr -d ' ' </proc/"$pid"/task/"$pid"/children)
    grep -E '^(Uid|CapEff|CapBnd|NSpid):' /proc/"$vmm"/status | tr '\t' ' '
    cgroup=$(sed -n 's/^0:://p' /proc/"$vmm"/cgroup)
    echo "cgroup $cgroup memory.max $(cat /sys/fs/cgroup"$cgroup"/memory.max)"
    for task in /proc/"$vmm"/task/*; do
        echo "thread $(cat "$task/comm") $(grep Seccomp: "$task/status" | tr -d '\t')"
    done
    echo go >&3
    wait_exit "$pid"
    echo "jail dir after: $(find "$JAIL" | wc -l) entries"
    [ -d /sys/fs/cgroup"$cgroup" ] && echo "cgroup left: $cgroup"
    echo "jail.img md5 $(head -c 1048576 "$WORK/jail.img" | md5sum | cut -c1-32)"
}
JAIL=$(mktemp -d) && chmod 755 "$JAIL"
dd if=/dev/zero of="$WORK/jail.img" bs=1M count=4 2>/dev/null && chown 65534:65534 "$WORK/jail.img"
tap_up wtapj 10.0.8.1/24 "user 65534"
CMDLINE="console=ttyS0 panic=-1 quiet ip=10.0.8.2::10.0.8.1:255.255.255.0::eth0:off wisp.modules=virtio_mmio,virtio_blk"
check jail "--memory 512M --disk path=$WORK/jail.img --net tap=wtapj --jail $JAIL --uid 65534 --cgroup memory=768M,cpu=1,pids=64" \
    'ping -c 2 10.0.8.1 >/dev/null && echo "jail-ping-ok-$((6 * 7))"; yes wisp-jail | head -c 1048576 >/tmp/mib; dd if=/tmp/mib of=/dev/vda bs=64k conv=fsync 2>/dev/null; echo "jail-md5-$(md5sum </tmp/mib | cut -c1-32)"; echo "jail-ready-$((6 * 7))"; read -r reply; poweroff -f' \
    host:jail_inspect
"$IP" link del wtapj
rmdir "$JAIL"

# virtio-fs: wisp runs virtiofsd for two host directories, one read-only. The guest mounts
# both, reads what the host wrote, writes a file the host then reads, and is refused a write
# to the read-only one. Afterwards no virtiofsd and no socket directory is left.
fs_leftovers() {
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = virtiofsd ] && echo "virtiofsd left: ${p#/proc/}"
    done
    for d in "${TMPDIR:-/tmp}"/wisp-virtiofsd.*; do [ -e "$d" ] && echo "left: $d"; done
}
virtiofs_inspect() {
    wait_exit "$pid"
    echo "guest.txt: $(cat "$WORK/share/guest.txt" 2>&1)"
    echo "read-only dir holds: $(ls "$WORK/ro" | tr '\n' ' ')"
    fs_leftovers
}
mkdir -p "$WORK/share" "$WORK/ro"
echo "written-by-the-host" >"$WORK/share/host.txt"
echo "read-only-content" >"$WORK/ro/file.txt"
CMDLINE="console=ttyS0 panic=-1 quiet wisp.modules=virtio_mmio,virtiofs"
check virtiofs "--memory 512M --share $WORK/share,tag=hostdir --share $WORK/ro,tag=rodir,readonly=on" \
    'mkdir -p /mnt/rw /mnt/ro; mount -t virtiofs hostdir /mnt/rw && mount -t virtiofs rodir /mnt/ro && echo "mounted-$((6 * 7))"; echo "host-says-$(cat /mnt/rw/host.txt)"; echo "written-by-the-guest" >/mnt/rw/guest.txt && sync && echo "wrote-$((6 * 7))"; echo "ro-says-$(cat /mnt/ro/file.txt)"; if echo x 2>/dev/null >/mnt/ro/new.txt; then echo "ro-accepted-$((6 * 7))"; else echo "ro-refused-$((6 * 7))"; fi; poweroff -f' \
    host:virtiofs_inspect

# virtiofsd killed while the guest has the file system mounted: the guest's next requests fail
# with I/O errors, and wisp goes on and exits cleanly when the guest powers off.
virtiofs_kill() {
    wait_line "fs-mounted-42" || return
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = virtiofsd ] && kill -9 "${p#/proc/}" && echo "killed virtiofsd"
    done
    sleep 1
    echo go >&3
    wait_exit "$pid"
    fs_leftovers
}
check fskill "--memory 512M --share $WORK/share,tag=hostdir" \
    'mkdir -p /mnt/rw; mount -t virtiofs hostdir /mnt/rw && echo "fs-mounted-$((6 * 7))"; read -r reply; if cat /mnt/rw/never-looked-up.txt; then echo "still-served-$((6 * 7))"; else echo "fs-error-$((6 * 7))"; fi; echo "alive-$((6 * 7))"; poweroff -f' \
    host:virtiofs_kill

# --host-root: the guest's root is this host's, read-only, with a writable layer that goes away
# with the guest. --exec runs a command (a script here: the options are split into words) in
# the current directory, and wisp exits with its status; without it, a shell.
cat >"$WORK/hostroot-test.sh" <<SCRIPT
#!/bin/sh
echo "hostroot-pwd-\$(pwd)"
echo "hostroot-file-\$(cat $WORK/share/host.txt)"
echo overlay >/etc/wisp-overlay-test && echo "hostroot-overlay-\$(cat /etc/wisp-overlay-test)"
exit 7
SCRIPT
chmod +x "$WORK/hostroot-test.sh"
hostroot_inspect() {
    echo "cwd $(pwd)"
    wait_exit "$pid"
    [ -e /etc/wisp-overlay-test ] && echo "the guest's write reached the host" || echo "host /etc untouched"
    for d in "${TMPDIR:-/tmp}"/wisp-host-root.*; do [ -e "$d" ] && echo "left: $d"; done
    fs_leftovers
}
CMDLINE="console=ttyS0 panic=-1 quiet"
check hostroot "--memory 512M --host-root --exec $WORK/hostroot-test.sh" host:hostroot_inspect
hostshell_type() {
    wait_line "wisp-host-root: a shell in $(pwd); the guest powers off when it exits" || return
    echo 'echo "shell-says-$((6 * 7))"; exit 5' >&3
    hostroot_inspect
}
check hostshell "--memory 512M --host-root" host:hostshell_type

# The API socket, driven as Firecracker's Go SDK drives Firecracker: logger, metrics,
# machine-config, boot-source, drives, network-interfaces, vsock, InstanceStart, then GET / until
# Running. The guest boots from its root drive. Then: vsock both ways through uds_path (the host
# connects to a guest listener; the guest connects to a host listener at uds_path_6000), a drive
# swapped while the guest runs (PATCH /drives: the guest sees the new size and content), a pause
# (the console stops and the vCPU threads use no CPU) and a resume, FlushMetrics, and
# SendCtrlAltDel on the i8042 keyboard the kernel found through the DSDT (PNP0303), which
# reboots the guest and so ends wisp.
API_SOCKET=$WORK/api.sock
# api METHOD PATH [JSON]: one request through wisp ctl; what it printed, and its status
api() {
    answer=$(wisp ctl --api-sock "$API_SOCKET" request "$@" 2>&1)
    api_status=$?
    echo "api $1 $2: $(echo "$answer" | tr -d "\\n") status $api_status"
}
json_drive() {  # json_drive ID PATH ROOT READ_ONLY
    echo "{\"drive_id\": \"$1\", \"path_on_host\": \"$2\", \"is_root_device\": $3, \"is_read_only\": $4}"
}
api_boot() {
    i=0
    while [ ! -S "$API_SOCKET" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    api PUT /logger "{\"log_path\": \"$WORK/api-fc.log\", \"level\": \"Info\"}"
    api PUT /metrics "{\"metrics_path\": \"$WORK/api.metrics\"}"
    api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 512}'
    api PUT /boot-source "{\"kernel_image_path\": \"$DIR/vmlinuz\", \"initrd_path\": \"$DIR/initramfs.cpio.gz\", \"boot_args\": \"console=ttyS0 panic=-1 quiet\"}"
    api PUT /drives/rootfs "$(json_drive rootfs "$WORK/api-root.ext4" true false)"
    api PUT /drives/scratch "$(json_drive scratch "$WORK/api-a.img" false false)"
    api PUT /drives/tools "$(json_drive tools "$WORK/vsock-tool.img" false true)"
    api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "guest_mac": "06:00:ac:10:00:02", "host_dev_name": "wtapa"}'
    api PUT /vsock "{\"guest_cid\": 3, \"uds_path\": \"$WORK/api-v.sock\"}"
    api PUT /actions '{"action_type": "InstanceStart"}'
    i=0
    until wisp ctl --api-sock "$API_SOCKET" info 2>/dev/null | grep -q '"Running"'; do
        [ $i -lt 100 ] || break
        sleep 0.1
        i=$((i + 1))
    done
    api GET /
}
vcpu_ticks() { echo $(($(thread_ticks wisp-vcpu0) + $(thread_ticks wisp-vcpu1))); }
console_bytes() { wc -c <"$log"; }
api_exercise() {
    echo "api-b md5 $(md5_of "$WORK/api-b.img")"
    wait_line "api-ready-42" || return
    echo "host-to-guest: $("$DIR/vsock-tool" uds-connect "$WORK/api-v.sock" 5000 hello-from-host 2>&1 | tr '\n' ' ')"
    "$DIR/vsock-tool" uds-listen "$WORK/api-v.sock_6000" &
    listener=$!
    sleep 0.5
    api PATCH /drives/scratch "{\"drive_id\": \"scratch\", \"path_on_host\": \"$WORK/api-b.img\"}"
    echo go >&3
    until tr -d '\r' <"$log" | grep -q '^tick-20-'; do kill -0 "$pid" 2>/dev/null || return; sleep 0.1; done
    kill "$listener" 2>/dev/null
    api PATCH /vm '{"state": "Paused"}'
    api GET /
    sleep 0.5  # what the UART had taken before the pause reaches the log
    bytes=$(console_bytes) ticks=$(vcpu_ticks)
    sleep 2
    echo "paused: the console grew $(($(console_bytes) - bytes)) bytes, the vCPUs ran $(($(vcpu_ticks) - ticks)) ticks"
    paused_at=$(console_bytes)
    api PATCH /vm '{"state": "Resumed"}'
    sleep 2
    [ "$(console_bytes)" -gt "$paused_at" ] && echo "resumed: the console grows again"
    # Where the guest keeps time with kvmclock, its clock was held with its vCPUs: its uptime moves
    # on by about one tick (0.1 s) across a pause of 2.5 s. (With the TSC as its clocksource its
    # time goes on, as under Firecracker and QEMU.)
    before=$(head -c "$paused_at" "$log" | tr -d '\r' | grep '^tick-[0-9]*-' | tail -n1 | cut -d- -f3)
    after=$(tail -c +"$((paused_at + 1))" "$log" | tr -d '\r' | grep '^tick-[0-9]*-' | head -n1 | cut -d- -f3)
    awk -v a="$before" -v b="$after" \
        'BEGIN { printf "guest uptime across the pause: %s to %s (%.2f s later)\n", a, b, b - a }' 
    api PUT /actions '{"action_type": "FlushMetrics"}'
    echo "metrics: $(grep -c utc_timestamp_ms "$WORK/api.metrics") lines"
    grep -q "VM paused" "$WORK/api-fc.log" 2>/dev/null && echo "the logger's file has wisp's log"
    api PUT /actions '{"action_type": "SendCtrlAltDel"}'
    wait_exit "$pid"
    [ -e "$API_SOCKET" ] && echo "the API socket is left" || echo "the API socket is gone"
}
cp "$DIR/rootfs.ext4" "$WORK/api-root.ext4"
yes drive-a | head -c 1048576 >"$WORK/api-a.img"
yes drive-b | head -c 2097152 >"$WORK/api-b.img"
cp "$DIR/vsock-tool" "$WORK/vsock-tool.img"  # padded to whole sectors by run.sh
tap_up wtapa 10.0.9.1/24
RUN_AS=firecracker check api "--api-sock $API_SOCKET --id api-check" host:api_boot \
    'echo "clocksource-$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"; echo "keyboard-$(grep -c "^N: Name=\"AT Raw Set 2 keyboard\"" /proc/bus/input/devices)-found"; modprobe vmw_vsock_virtio_transport; modprobe virtio_net; echo "nics-$(ls /sys/class/net | tr "\n" " ")"; echo "vdb-before-$(cat /sys/block/vdb/size)-$(md5sum </dev/vdb | cut -c1-32)"; cat /dev/vdc >/tmp/vt; chmod +x /tmp/vt; /tmp/vt listen 5000 >/tmp/listen.out 2>&1 & sleep 0.5; echo "api-ready-$((6 * 7))"; read -r reply; wait; echo "guest-listener-$(cat /tmp/listen.out)"; echo "guest-to-host-$(/tmp/vt connect 2 6000 hello-from-guest 2>&1)"; sync; echo 3 >/proc/sys/vm/drop_caches; echo "vdb-after-$(cat /sys/block/vdb/size)-$(md5sum </dev/vdb | cut -c1-32)"; i=0; while [ $i -lt 3000 ]; do echo "tick-$i-$(cut -d" " -f1 /proc/uptime)"; sleep 0.1; i=$((i + 1)); done' \
    host:api_exercise
"$IP" link del wtapa

# The same guest from Firecracker's configuration file: `wisp --no-api --config-file` starts
# what `firecracker --no-api --config-file` starts.
cp "$DIR/rootfs.ext4" "$WORK/fc-root.ext4"
cat >"$WORK/fc.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$DIR/vmlinuz", "initrd_path": "$DIR/initramfs.cpio.gz",
                  "boot_args": "console=ttyS0 panic=-1 quiet"},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 512},
  "drives": [{"drive_id": "rootfs", "path_on_host": "$WORK/fc-root.ext4", "is_root_device": true,
              "is_read_only": false}],
  "vsock": {"guest_cid": 3, "uds_path": "$WORK/fc-v.sock"}
}
JSON
RUN_AS=firecracker check fcfile "--no-api --config-file $WORK/fc.json" \
    'grep " / " /proc/mounts; echo "cpus-$(grep -c ^processor /proc/cpuinfo)"; modprobe vmw_vsock_virtio_transport && [ -c /dev/vsock ] && echo "vsock-dev-$((6 * 7))"; echo "fcfile-$((6 * 7))"; poweroff'

# wisp killed (SIGKILL) right after the guest synced a file, while it writes and syncs another
# over and over: nothing synced may be lost. It runs last: twice the test host stayed busy for
# minutes after it (perhaps its 6.1 kernel cleaning up the killed process and the writes it had
# in flight), which starved the boot that came next.
CMDLINE="console=ttyS0 panic=-1 quiet wisp.modules=virtio_mmio,virtio_blk"
"$MKE2FS" -q -F -t ext4 "$WORK/kill.ext4" 64M >/dev/null
check sigkill "--memory 512M --disk path=$WORK/kill.ext4" \
    'mkdir -p /mnt && mount /dev/vda /mnt && seq 1 50000 >/mnt/seq.txt && sync && echo "sigkill-md5-$(md5sum </mnt/seq.txt | cut -c1-32)" && echo "sigkill-synced-$((6 * 7))" && while :; do seq 1 20000 >/mnt/more.txt; sync; done; poweroff -f' \
    host:sigkill_kill host:sigkill_inspect

rm -rf "$WORK"
