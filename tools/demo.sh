#!/usr/bin/env bash
# Sets everything up and boots the default guest (Debian's cloud kernel, a busybox initramfs)
# to a shell on the serial console. Ctrl-A x quits; so does `poweroff` in the guest.
# The guest's root is a disk: a fresh copy of tools/guest/build-rootfs.sh's ext4 image, which
# the initramfs mounts (root=/dev/vda); --no-disk boots the initramfs's own shell instead.
# On a host with hardware KVM wisp runs directly; otherwise inside the nested test host, where
# the guest also gets a NIC on a TAP (tap0: the test host is 172.16.0.1, the guest 172.16.0.2).
# usage: tools/demo.sh [--no-disk] [wisp run options, e.g. --cpus 2 --memory 1G]
set -euo pipefail
WISP_PROG=demo
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The guest's address on the demo's TAP, through ip= (tools/guest/init.sh).
DEMO_GUEST_IP="ip=172.16.0.2::172.16.0.1:255.255.255.0::eth0:off"
# The test host's side of it (iproute2's ip: busybox's has no tuntap).
TAP_SETUP="/usr/sbin/ip tuntap add tap0 mode tap && /usr/sbin/ip addr add 172.16.0.1/24 dev tap0 \
&& /usr/sbin/ip link set tap0 up"

main() {
    local disk=1
    if [[ "${1:-}" == --no-disk ]]; then
        disk=0
        shift
    fi
    local dir root payload
    dir=$("$WISP_TOOLS/setup.sh")
    root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    payload=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$payload'" EXIT
    cp "$root"/boot/vmlinuz-* "$payload/vmlinuz"
    "$WISP_TOOLS/guest/build-initramfs.sh" --kernel "$root" "$payload/initramfs.cpio.gz"
    local cmdline="console=ttyS0" disk_options=()
    if [[ $disk == 1 ]]; then
        "$WISP_TOOLS/guest/build-rootfs.sh" --kernel "$root" "$payload/rootfs.ext4"
        cmdline+=" root=/dev/vda"
        disk_options=(--disk path=rootfs.ext4)
    fi
    local kind net_options=()
    kind=$("$WISP_TOOLS/testhost/kvm-kind.sh")
    if [[ $kind == pvm ]]; then
        cmdline+=" $DEMO_GUEST_IP"
        net_options=(--net tap=tap0)
    fi
    # Paths relative to the payload directory, where wisp runs in either case.
    local wisp_run=(run --kernel vmlinuz --initrd initramfs.cpio.gz --cmdline "$cmdline"
                    "${disk_options[@]}" "${net_options[@]}" --cpus 2 --memory 1G "$@")
    case $kind in
        hardware)
            log "hardware KVM here: booting the guest directly (Ctrl-A x quits)"
            cd "$payload"
            "$dir/vmm/wisp" "${wisp_run[@]}" ;;
        pvm)
            log "this /dev/kvm (PVM) cannot run a stock kernel: booting the guest with wisp" \
                "inside the nested test host (Ctrl-A x quits)"
            # The test host is a machine of its own: a TAP there touches nothing here. ip by its
            # path: busybox sh prefers its own applets.
            printf '%s\n' '#!/bin/sh' \
                "$TAP_SETUP" \
                "exec wisp ${wisp_run[*]@Q}" >"$payload/run.sh"
            local interactive=()
            [[ -t 0 ]] && interactive=(--interactive)
            "$WISP_TOOLS/testhost/run.sh" "${interactive[@]}" --payload "$payload" \
                --wisp "$dir/vmm/wisp" --include /usr/sbin/ip --timeout 0 ;;
        *) die "no /dev/kvm on this host" ;;
    esac
}

main "$@"
