#!/usr/bin/env bash
# Build the default guest's root filesystem: an ext4 image made by `mke2fs -d` from a staged
# directory (no root privileges, no loop mount) holding a static busybox, /sbin/init
# (tools/guest/rootfs-init.sh: the marker line, a shell on the console, a clean power-off), and
# the guest kernel's virtio modules under /lib/modules/<release>/ with a modules.dep. The default
# initramfs mounts it as the root when the kernel command line says root=/dev/vda:
#   wisp run --kernel vmlinuz --initrd initramfs.cpio.gz --cmdline "console=ttyS0 root=/dev/vda" \
#       --disk path=rootfs.ext4
# The image is cached by content (its UUID, too, comes from that content). With OUT it is copied
# there (sparse); without, the cached image's path is printed: copy it before a guest writes to
# it (a cached image found changed is rebuilt).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--kernel ROOT] [--module NAME]... [--size SIZE] [--label LABEL] [OUT.ext4]
  --kernel ROOT   extracted kernel package root (default: what tools/guest/fetch-kernel.sh prints)
  --module NAME   one more kernel module to include with its dependencies (repeatable)
  --size SIZE     the image's size: 64M (default), 1G, ... (a plain number is MiB)
  --label LABEL   the filesystem's label, for root=LABEL=... (default wisp-root)
USAGE
    exit 2
}

# The same virtio modules as the initramfs, for modprobe on the root (more with --module).
DEFAULT_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_console virtio-rng
                 virtio_balloon vmw_vsock_virtio_transport virtiofs)

stage_root() {  # stage_root KERNEL_ROOT DIR MODULE...
    local root=$1 stage=$2 moddir
    shift 2
    moddir=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [[ -n "$moddir" ]] || die "no lib/modules/<release> under $root"
    stage_busybox "$stage"
    mkdir -p "$stage"/{mnt,var/log}
    rm -f "$stage/sbin/init"  # busybox's own init applet; ours replaces it
    install -m 755 "$WISP_TOOLS/guest/rootfs-init.sh" "$stage/sbin/init"
    echo wisp-rootfs >"$stage/etc/hostname"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$stage/etc/passwd"
    echo 'root:x:0:' >"$stage/etc/group"
    copy_modules "$moddir" "$stage/lib/modules/$(basename "$moddir")" "$@"
}

build() {  # build KERNEL_ROOT OUT SIZE LABEL UUID MODULE...
    local root=$1 out=$2 size=$3 label=$4 uuid=$5 stage
    shift 5
    stage=$(mktemp -d)
    # shellcheck disable=SC2064  # expand $stage now
    trap "rm -rf '$stage'" RETURN
    stage_root "$root" "$stage" "$@"
    rm -f "$out.tmp.$$"
    # root_owner: the image's / belongs to root even when this runs as another user.
    mke2fs -q -t ext4 -b 4096 -L "$label" -U "$uuid" -E root_owner=0:0 -d "$stage" "$out.tmp.$$" "$size" >&2 \
        || { rm -f "$out.tmp.$$"; die "mke2fs of $out failed (is $size too small?)"; }
    sha256sum <"$out.tmp.$$" | cut -d' ' -f1 >"$out.sha256"
    mv "$out.tmp.$$" "$out"
}

# intact IMAGE: whether the cached image still has the content it was built with.
intact() {
    [[ -f "$1" && -f "$1.sha256" ]] && [[ "$(sha256sum <"$1" | cut -d' ' -f1)" == "$(cat "$1.sha256")" ]]
}

main() {
    local root="" out="" size=64M label=wisp-root modules=("${DEFAULT_MODULES[@]}")
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernel|--module|--size|--label)
                [[ $# -ge 2 ]] || usage
                case $1 in
                    --kernel) root=$2 ;;
                    --module) modules+=("$2") ;;
                    --size) size=$2 ;;
                    --label) label=$2 ;;
                esac
                shift 2 ;;
            -h|--help) usage ;;
            -*) echo "$0: unknown option $1" >&2; usage ;;
            *) [[ -z "$out" ]] || usage; out=$1; shift ;;
        esac
    done
    [[ "$size" =~ ^[0-9]+[KMGT]?$ ]] || die "--size $size: expected a size such as 64M or 1G"
    [[ "$size" =~ [KMGT]$ ]] || size+=M
    [[ -n "$root" ]] || root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    [[ -d "$root/lib/modules" ]] || die "$root is not an extracted kernel package (no lib/modules)"
    ensure_packages busybox-static e2fsprogs

    local key uuid cached
    key=$(sha256_of "$WISP_TOOLS/guest/rootfs-init.sh" "$WISP_TOOLS/guest/build-rootfs.sh" \
        "$WISP_TOOLS/lib.sh" /bin/busybox /sbin/mke2fs "$root" "$root"/lib/modules/*/modules.dep \
        "$size" "$label" "${modules[@]}")
    uuid="${key:0:8}-${key:8:4}-4${key:13:3}-8${key:17:3}-${key:20:12}"
    cached="$(cache_dir rootfs)/rootfs-${key:0:16}.ext4"
    if intact "$cached"; then
        log "up to date: $cached"
    else
        log "building $cached"
        build "$root" "$cached" "$size" "$label" "$uuid" "${modules[@]}"
        prune_cache "$(dirname "$cached")" rootfs- 6  # an image and its .sha256 each
    fi
    if [[ -z "$out" ]]; then
        printf '%s\n' "$cached"
    elif ! cmp -s "$cached" "$out" 2>/dev/null; then
        { cp --sparse=always "$cached" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"; } \
            || die "cannot write $out"
    fi
}

main "$@"
