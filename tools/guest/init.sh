#!/bin/sh
# /init of Wisp's default guest initramfs (busybox; built by tools/guest/build-initramfs.sh).
# Without root= on the kernel command line: prints the marker line below, then runs a shell on
# the console; powers off when it exits.
# With root=/dev/vdX (or LABEL=..., UUID=...), as Debian's own initramfs does: loads the virtio
# and filesystem modules, waits for the device (rootdelay=N or rootwait=N seconds, default 30),
# mounts it (rootfstype=, default ext4; rootflags=; read-only unless `rw`), moves /dev, /proc
# and /sys onto it and switches to it, running init= (default /sbin/init). If that fails it
# says why and runs a rescue shell, or with panic=N (N != 0) reboots after N seconds (at once
# for N < 0). With rootfstype=virtiofs, root= is a virtio-fs tag (wisp run --host-root).
# Kernel command line: wisp.modules=virtio_mmio,virtio_blk loads those modules (with their
# dependencies, from /lib/modules/<release>) before the marker or the root's mount.
# ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:off (the kernel's static form; Debian's
# kernels have virtio_net as a module, so the kernel itself cannot) loads the NIC's modules and
# configures DEVICE (default: the first NIC) before the marker or the root's mount.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
hostname wisp-guest

root="" rootfstype="" rootflags="" rootmode=ro rootwait=30 init=/sbin/init panic="" ip=""
# shellcheck disable=SC2013 # words wanted
for word in $(cat /proc/cmdline); do
    case $word in
        wisp.modules=*) for module in $(echo "${word#*=}" | tr , ' '); do modprobe "$module"; done ;;
        root=*) root=${word#*=} ;;
        rootfstype=*) rootfstype=${word#*=} ;;
        rootflags=*) rootflags=${word#*=} ;;
        rootdelay=*|rootwait=*) rootwait=${word#*=} ;;
        ro|rw) rootmode=$word ;;
        init=*) init=${word#*=} ;;
        panic=*) panic=${word#*=} ;;
        ip=*) ip=${word#*=} ;;
        --) break ;;
    esac
done

# root_failed MESSAGE: what Debian's initramfs does when it cannot mount the root.
root_failed() {
    echo "wisp-guest: error: $*"
    if [ -n "$panic" ] && [ "$panic" != 0 ]; then
        [ "$panic" -gt 0 ] 2>/dev/null && sleep "$panic"
        echo "wisp-guest: rebooting (panic=$panic on the kernel command line)"
        reboot -f
    fi
    echo "wisp-guest: rescue shell in the initramfs; the guest powers off when it exits"
    setsid cttyhack sh
    poweroff -f
}

# root_device: the device node root= names, once it exists; nothing if it does not (yet).
root_device() {
    case $root in
        LABEL=*|UUID=*) findfs "$root" 2>/dev/null ;;
        /dev/*) [ -b "$root" ] && echo "$root" ;;
    esac
}

block_devices() {
    set -- /sys/class/block/*
    [ -e "$1" ] || { echo none; return; }
    for dev in "$@"; do printf '%s ' "${dev##*/}"; done
}

# load_root_modules FSTYPE: the block drivers and the filesystem (unless built in or loaded).
load_root_modules() {
    modprobe virtio_mmio
    [ -n "$(ls /sys/bus/pci/devices 2>/dev/null)" ] && modprobe virtio_pci
    modprobe virtio_blk
    if ! grep -qw "$1" /proc/filesystems; then
        # ext4's checksums need crc32c, a soft dependency that busybox modprobe does not follow.
        [ "$1" = ext4 ] && modprobe crc32c_generic
        modprobe "$1"
    fi
}

# A virtio-fs root: root= is the file system's tag (wisp run --host-root, or --share).
mount_virtiofs_root() {
    modprobe virtio_mmio
    grep -qw virtiofs /proc/filesystems || modprobe virtiofs
    mkdir -p /newroot
    mount -t virtiofs -o "$rootmode${rootflags:+,$rootflags}" "$root" /newroot \
        || root_failed "cannot mount the virtio-fs file system tagged $root"
}

mount_root() {
    if [ "$rootfstype" = virtiofs ]; then
        mount_virtiofs_root
        switch_to_root "$root"
    fi
    case $root in
        /dev/*|LABEL=*|UUID=*) ;;
        *) root_failed "root=$root: only root=/dev/NAME, root=LABEL=..., root=UUID=... and root=TAG rootfstype=virtiofs are supported" ;;
    esac
    load_root_modules "${rootfstype:-ext4}"
    tenths=0 device=""
    while device=$(root_device); [ -z "$device" ]; do
        [ "$tenths" -ge $((rootwait * 10)) ] && root_failed "the root device $root did not" \
            "appear within $rootwait s (block devices: $(block_devices))"
        [ "$tenths" = 10 ] && echo "wisp-guest: waiting up to $rootwait s for the root device $root"
        usleep 100000
        tenths=$((tenths + 1))
    done
    mkdir -p /newroot
    options=$rootmode${rootflags:+,$rootflags}
    # Without rootfstype=, a root that is not ext4 gets mount's guess among the kernel's types.
    mount -t "${rootfstype:-ext4}" -o "$options" "$device" /newroot \
        || { [ -z "$rootfstype" ] && mount -o "$options" "$device" /newroot; } \
        || root_failed "cannot mount $device ($root) on /newroot" \
            "(type ${rootfstype:-ext4 or any}, options $options)"
    switch_to_root "$device"
}

# switch_to_root DESCRIPTION: runs init= from the root mounted on /newroot.
switch_to_root() {
    [ -L "/newroot$init" ] || [ -x "/newroot$init" ] \
        || root_failed "no executable $init on the root filesystem $1 (init= names another)"
    for fs in dev proc sys; do
        if [ -d "/newroot/$fs" ]; then mount --move "/$fs" "/newroot/$fs"; else umount -l "/$fs"; fi
    done
    exec switch_root /newroot "$init"
}

# prefix_length NETMASK: 255.255.255.0 -> 24
prefix_length() {
    bits=0
    for octet in $(echo "$1" | tr . ' '); do
        while [ "$octet" -gt 0 ]; do
            bits=$((bits + (octet & 1)))
            octet=$((octet >> 1))
        done
    done
    echo "$bits"
}

# first_nic: the first network interface that is not loopback, once there is one (5 s at most).
first_nic() {
    tenths=0
    while [ "$tenths" -lt 50 ]; do
        for dev in /sys/class/net/*; do
            [ "${dev##*/}" != lo ] && [ -e "$dev" ] && { echo "${dev##*/}"; return; }
        done
        usleep 100000
        tenths=$((tenths + 1))
    done
}

configure_network() {
    case $ip in
        off|none) return ;;
        dhcp|on|any|bootp|rarp|both)
            echo "wisp-guest: ip=$ip: only the static form ip=CLIENT::GATEWAY:NETMASK::DEVICE:off is supported"
            return ;;
    esac
    modprobe virtio_mmio
    [ -n "$(ls /sys/bus/pci/devices 2>/dev/null)" ] && modprobe virtio_pci
    modprobe virtio_net
    old_ifs=$IFS
    IFS=:
    # shellcheck disable=SC2086 # split on colons
    set -- $ip
    IFS=$old_ifs
    client=$1 gateway=$3 netmask=${4:-255.255.255.0} name=$5 device=$6
    [ -n "$device" ] || device=$(first_nic)
    if [ -z "$device" ] || [ ! -e "/sys/class/net/$device" ]; then
        echo "wisp-guest: ip=$ip: no network interface ${device:-at all}"
        return
    fi
    ip link set "$device" up
    [ -n "$client" ] && ip addr add "$client/$(prefix_length "$netmask")" dev "$device"
    [ -n "$gateway" ] && ip route add default via "$gateway"
    [ -n "$name" ] && hostname "$name"
}

[ -n "$ip" ] && configure_network
[ -n "$root" ] && mount_root
echo "wisp-guest: init reached"
# cttyhack opens the real console device (e.g. /dev/ttyS0) as the controlling tty, so the
# shell has job control and ^C works.
setsid cttyhack sh
poweroff -f
