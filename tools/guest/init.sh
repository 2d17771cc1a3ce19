#!/bin/sh
# /init of Wisp's default guest initramfs (busybox; built by tools/guest/build-initramfs.sh).
# Prints the marker line below, then runs a shell on the console; powers off when it exits.
# Kernel command line: wisp.modules=virtio_mmio,virtio_blk loads those modules (with their
# dependencies, from /lib/modules/<release>) before the marker.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
hostname wisp-guest
# shellcheck disable=SC2013 # words wanted
for word in $(cat /proc/cmdline); do
    case $word in
        wisp.modules=*) for module in $(echo "${word#*=}" | tr , ' '); do modprobe "$module"; done ;;
    esac
done
echo "wisp-guest: init reached"
# cttyhack opens the real console device (e.g. /dev/ttyS0) as the controlling tty, so the
# shell has job control and ^C works.
setsid cttyhack sh
poweroff -f
