#!/bin/sh
# The guest's init under `wisp run --host-root`: PID 1, run from the host's own root file
# system, which the guest sees read-only through virtio-fs (tag wisp-root). Wisp writes this
# script into a run directory of its own, beside:
#   cwd      the directory wisp was started in: the shell or the command starts there
#   command  the --exec command line, or nothing for an interactive shell
#   term     the host's TERM
#   layer    an empty directory, where the writable layer is mounted
# That directory is also shared writable (tag wisp-run): the command's exit status goes back to
# wisp in its `status` file.
#
# It gives the guest a writable layer (overlayfs over the read-only root, the changes in a
# tmpfs, gone at power-off), runs the command or a shell, then powers the guest off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
run_dir=${0%/*}

say() { echo "wisp-host-root: $*"; }

# Power-off does not wait for the serial console to send what it was given: wait until its
# transmit count stops moving (50 ms without a byte, 2 s at most).
drain_console() {
    last="" tries=0
    while [ $tries -lt 40 ]; do
        now=$(cat /proc/tty/driver/serial 2>/dev/null) || return
        [ "$now" = "$last" ] && return
        last=$now tries=$((tries + 1))
        sleep 0.05
    done
}

power_off() {
    sync
    drain_console
    echo o >/proc/sysrq-trigger  # immediate, and whatever the host's poweroff expects
    sleep 10
}

# The guest's own /sys and /dev, on top of whatever the root shows there (the host's, through
# virtio-fs, if nothing is mounted yet).
mount_kernel_file_systems() {
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm 2>/dev/null
    mount -t devpts devpts /dev/pts
}

# The writable layer: the root's changes go to a tmpfs, mounted on the run directory's empty
# `layer` (a directory sure to exist on any host). This script goes on (stage 2) inside it.
enter_writable_root() {
    layer=$run_dir/layer
    mount -t tmpfs -o mode=0755 wisp-layer "$layer" || return 1
    mkdir -p "$layer/upper" "$layer/work" "$layer/root"
    if ! mount -t overlay -o "lowerdir=/,upperdir=$layer/upper,workdir=$layer/work" \
        wisp-root "$layer/root" 2>/dev/null; then
        umount "$layer"
        return 1
    fi
    exec chroot "$layer/root" /bin/sh "$0" stage2
}

# Without overlayfs (a kernel without it, and no module for it): scratch space only.
use_scratch_directories() {
    say "no overlayfs: the root stays read-only; /tmp, /run, /var/tmp and /root are tmpfs"
    for dir in /tmp /run /var/tmp /root; do
        [ -d "$dir" ] && mount -t tmpfs -o mode=1777 wisp-scratch "$dir"
    done
}

# The guest's /proc before anything else, in each stage: until then /proc is the host's, seen
# through virtio-fs, and busybox's shell, which runs its applets through /proc/self/exe, would
# run whatever program the host's process there runs.
busybox=""
[ -x /bin/busybox ] && busybox=/bin/busybox
$busybox mount -t proc proc /proc
if [ "${1:-}" != stage2 ]; then
    enter_writable_root || use_scratch_directories
fi
mount_kernel_file_systems

# The run directory is mounted again, from the writable share, so that the status reaches the
# host and not the tmpfs layer.
mkdir -p "$run_dir" 2>/dev/null
mount -t virtiofs wisp-run "$run_dir" || say "cannot mount the run directory: no exit status"
hostname wisp-guest 2>/dev/null
HOME=/root TERM=$(cat "$run_dir/term" 2>/dev/null || echo vt100)
export HOME TERM
cd "$(cat "$run_dir/cwd")" 2>/dev/null || { say "no directory $(cat "$run_dir/cwd"); in /"; cd /; }
console=/dev/$(cat /sys/class/tty/console/active 2>/dev/null | awk '{print $NF}')
[ -c "$console" ] || console=/dev/console

if [ -s "$run_dir/command" ]; then
    /bin/sh -c "$(cat "$run_dir/command")" <"$console" >"$console" 2>&1
    echo $? >"$run_dir/status"
else
    # A shell with the console as its controlling terminal, so that ^C reaches what it runs.
    # (setsid runs in a child of this script, no process group leader: it does not fork.)
    shell=/bin/bash
    [ -x "$shell" ] || shell=/bin/sh
    say "a shell in $(pwd); the guest powers off when it exits"
    setsid -c "$shell" -i <"$console" >"$console" 2>&1
    echo $? >"$run_dir/status"
fi
power_off
