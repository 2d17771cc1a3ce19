#!/usr/bin/env bash
# Build the default guest initramfs (busybox, tools/guest/init.sh as /init, and the guest
# kernel's virtio and ext4 modules under /lib/modules/<release>/ with a modules.dep for modprobe:
# what /init needs to mount a root disk given by root=/dev/vda).
# The result is cached by content: it is rebuilt only when an input changes.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--kernel ROOT] [--module NAME]... OUT.cpio.gz
  --kernel ROOT   extracted kernel package root (default: what tools/guest/fetch-kernel.sh prints)
  --module NAME   one more kernel module to include with its dependencies (repeatable)
USAGE
    exit 2
}

# Modules for the virtio devices a VMM may give the guest, and for an ext4 root (ext4 brings
# jbd2, mbcache and crc16 through modules.dep; crc32c is its soft dependency). Those the kernel
# has built in (Debian's cloud kernel: all of ext4's) are left out. overlay is for the writable
# layer of wisp run --host-root. More with --module.
DEFAULT_MODULES=(virtio_mmio virtio_pci virtio_blk virtio_net virtio_console virtio-rng
                 virtio_balloon vmw_vsock_virtio_transport virtiofs ext4 crc32c_generic
                 pvpanic-mmio overlay)

# not_builtin MODDIR NAME...: the NAMEs that MODDIR/modules.builtin does not list.
not_builtin() {
    local moddir=$1
    shift
    [[ -f "$moddir/modules.builtin" ]] || { printf '%s\n' "$@"; return; }
    awk -v wanted="$*" '
        function norm(s) { sub(/.*\//, "", s); sub(/\.ko.*$/, "", s); gsub(/-/, "_", s); return s }
        { builtin[norm($0)] = 1 }
        END { n = split(wanted, w, " "); for (i = 1; i <= n; i++) if (!(norm(w[i]) in builtin)) print w[i] }
    ' "$moddir/modules.builtin"
}

build() {  # build KERNEL_ROOT OUT MODULE...
    local root=$1 out=$2 moddir release stage
    shift 2
    moddir=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [[ -n "$moddir" ]] || die "no lib/modules/<release> under $root"
    release=$(basename "$moddir")
    stage=$(mktemp -d)
    # shellcheck disable=SC2064  # expand $stage now
    trap "rm -rf '$stage'" RETURN
    stage_busybox "$stage"
    install -m 755 "$WISP_TOOLS/guest/init.sh" "$stage/init"
    # shellcheck disable=SC2046 # one module name a line
    copy_modules "$moddir" "$stage/lib/modules/$release" $(not_builtin "$moddir" "$@")
    pack_cpio "$stage" "$out" gzip
}

main() {
    local root="" out="" modules=("${DEFAULT_MODULES[@]}")
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernel) [[ $# -ge 2 ]] || usage; root=$2; shift 2 ;;
            --module) [[ $# -ge 2 ]] || usage; modules+=("$2"); shift 2 ;;
            -h|--help) usage ;;
            -*) echo "$0: unknown option $1" >&2; usage ;;
            *) [[ -z "$out" ]] || usage; out=$1; shift ;;
        esac
    done
    [[ -n "$out" ]] || usage
    [[ -n "$root" ]] || root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    [[ -d "$root/lib/modules" ]] || die "$root is not an extracted kernel package (no lib/modules)"
    ensure_packages busybox-static cpio

    local key cached
    key=$(sha256_of "$WISP_TOOLS/guest/init.sh" "$WISP_TOOLS/guest/build-initramfs.sh" \
        "$WISP_TOOLS/lib.sh" /bin/busybox "$root" "$root"/lib/modules/*/modules.dep "${modules[@]}")
    cached="$(cache_dir initramfs)/guest-${key:0:16}.cpio.gz"
    if [[ -f "$cached" ]]; then
        log "up to date: $cached"
    else
        log "building $cached"
        build "$root" "$cached" "${modules[@]}"
        prune_cache "$(dirname "$cached")" guest-
    fi
    if ! cmp -s "$cached" "$out" 2>/dev/null; then
        { cp "$cached" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"; } || die "cannot write $out"
    fi
}

main "$@"
