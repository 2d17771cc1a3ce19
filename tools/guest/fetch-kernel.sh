#!/usr/bin/env bash
# Fetch Debian's cloud kernel (linux-image-cloud-amd64's current dependency) into the
# cache, without installing it on this machine, and print the extracted root:
#   ROOT/boot/vmlinuz-<release>      the kernel image (bzImage)
#   ROOT/lib/modules/<release>/      its modules (plain .ko), with modules.dep
# With --generic: Debian's generic kernel (linux-image-amd64), its boot/ only (no modules). It
# has what the cloud kernel lacks, such as the MP-table parser (CONFIG_X86_MPPARSE) that a
# kernel booted with acpi=off needs to find its CPUs.
# The package ships no modules.dep (dpkg's postinst would make it): depmod runs here.
# Compressed modules (.ko.xz/.ko.zst) are decompressed, as busybox insmod may not read them.
# A second run downloads nothing; with the cache filled it also works offline.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() { echo "usage: $0 [--generic]   (prints the extracted kernel root on stdout)" >&2; exit 2; }

META_PACKAGE=linux-image-cloud-amd64
CACHE_SUBDIR=kernel
IMAGE_ONLY=""

# resolve_package: prints the versioned package the meta package depends on, or nothing.
resolve_package() {
    apt-cache show --no-all-versions "$META_PACKAGE" 2>/dev/null \
        | sed -n 's/^Depends: *\(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1 || true
}

# newest_cached: prints the newest complete extracted kernel, or nothing.
newest_cached() {
    local dir
    for dir in "$WISP_CACHE/$CACHE_SUBDIR"/*/; do
        if [[ -f "$dir/.complete" ]]; then printf '%s\n' "${dir%/}"; fi
    done | sort -V | tail -n1
}

download_deb() {  # download_deb PKG DIR: prints the path of the .deb
    local pkg=$1 dir=$2 deb
    deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
    if [[ -z "$deb" ]]; then
        log "downloading $pkg"
        # apt-get download writes into the current directory; as root it warns about
        # the unsandboxed download, which is harmless here.
        (cd "$dir" && apt-get download -qq "$pkg" </dev/null 2>&1) \
            | { grep -v 'unsandboxed' >&2 || true; }
        deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
        [[ -n "$deb" ]] || die "apt-get download $pkg failed"
    fi
    printf '%s\n' "$deb"
}

# prepare_modules ROOT: plain .ko files and a fresh modules.dep under ROOT/lib/modules/*.
prepare_modules() {
    local root=$1 moddir release
    for moddir in "$root"/lib/modules/*/; do
        release=$(basename "$moddir")
        find "$moddir" -name '*.ko.xz' -exec xz -d {} +
        find "$moddir" -name '*.ko.zst' -exec zstd -q -d --rm {} +
        /sbin/depmod -b "$root" "$release" || die "depmod for $release failed"
    done
}

extract_deb() {  # extract_deb DEB DEST
    local deb=$1 dest=$2 tmp
    tmp="$dest.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "extracting $(basename "$deb")"
    if [[ -n "$IMAGE_ONLY" ]]; then
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot || die "extracting $deb failed"
    else
        dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
    fi
    ls "$tmp"/boot/vmlinuz-* >/dev/null 2>&1 || die "$deb holds no boot/vmlinuz-*"
    [[ -n "$IMAGE_ONLY" ]] || prepare_modules "$tmp"
    touch "$tmp/.complete"
    rm -rf "$dest"
    mv "$tmp" "$dest"
}

main() {
    case ${1:-} in
        "") ;;
        --generic) META_PACKAGE=linux-image-amd64 CACHE_SUBDIR=kernel-generic IMAGE_ONLY=1 ;;
        *) usage ;;
    esac
    [[ $# -le 1 ]] || usage
    local pkg release dest deb cached
    ensure_packages kmod xz-utils zstd
    pkg=$(resolve_package)
    if [[ -z "$pkg" ]] && [[ $(id -u) -eq 0 ]]; then
        # No package lists yet (fresh machine): fetch them, unless we are offline.
        try_apt_update || true
        pkg=$(resolve_package)
    fi
    if [[ -z "$pkg" ]]; then
        cached=$(newest_cached)
        [[ -n "$cached" ]] || die "cannot resolve $META_PACKAGE (run apt-get update) and no kernel is cached in $WISP_CACHE/$CACHE_SUBDIR"
        warn "cannot resolve $META_PACKAGE; using cached $(basename "$cached")"
        printf '%s\n' "$cached"
        return
    fi
    release=${pkg#linux-image-}
    dest="$(cache_dir "$CACHE_SUBDIR")/$release"
    if [[ ! -f "$dest/.complete" ]]; then
        if ! deb=$(download_deb "$pkg" "$(cache_dir debs)"); then
            cached=$(newest_cached)
            [[ -n "$cached" ]] || exit 1
            warn "using cached $(basename "$cached") instead of $release"
            printf '%s\n' "$cached"
            return
        fi
        extract_deb "$deb" "$dest"
    fi
    printf '%s\n' "$dest"
}

main "$@"
