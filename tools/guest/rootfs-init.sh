#!/bin/sh
# /sbin/init of the root filesystem image that tools/guest/build-rootfs.sh builds (busybox).
# The initramfs's /init (tools/guest/init.sh) mounts the image (root=/dev/vda) and starts this.
# Mounts what is missing of /proc, /sys and /dev, remounts / read-write unless `ro` is on the
# kernel command line, prints where / is and the same marker line as the initramfs, then runs
# a shell on the console. When the shell exits, or on `poweroff`, `halt` or `reboot` (busybox
# signals init), it stops every process, syncs, unmounts or remounts read-only, and powers off
# (reboots for `reboot`): the filesystem is left clean. `poweroff -f` skips all that.
# Kernel command line: wisp.modules=... loads those modules, as in the initramfs.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/null ] || mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
[ -e /dev/pts/ptmx ] || mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname

rootmode=rw
# shellcheck disable=SC2013 # words wanted
for word in $(cat /proc/cmdline); do
    case $word in
        wisp.modules=*) for module in $(echo "${word#*=}" | tr , ' '); do modprobe "$module"; done ;;
        ro) rootmode=ro ;;
        --) break ;;
    esac
done
[ "$rootmode" = rw ] && mount -o remount,rw /

# shutdown poweroff|reboot: ends every other process, leaves the filesystems clean, and stops.
shutdown() {
    echo "wisp-rootfs: $1: stopping processes, unmounting filesystems"
    kill -TERM -1 2>/dev/null
    kill -HUP -1 2>/dev/null  # the console shell ignores TERM
    usleep 100000
    kill -KILL -1 2>/dev/null
    sync
    umount -a -r 2>/dev/null
    mount -o remount,ro / 2>/dev/null
    "$1" -f
}
trap 'shutdown poweroff' USR1 USR2
trap 'shutdown reboot' TERM

# The root's line of /proc/mounts: shows that this init runs from the disk.
awk '$2 == "/" { root = $1 " (" $3 ", " $4 ")" } END { print "wisp-rootfs: / is " root }' /proc/mounts
echo "wisp-guest: init reached"
# cttyhack opens the real console device (e.g. /dev/ttyS0) as the controlling tty, so the
# shell has job control and ^C works. It runs in the background so that the traps above run
# as soon as a signal comes (a foreground command would delay them until it ends).
setsid cttyhack sh &
wait $!
shutdown poweroff
