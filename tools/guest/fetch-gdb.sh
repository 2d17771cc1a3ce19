#!/usr/bin/env bash
# Fetch Debian's gdb-minimal (gdb without Python) into the cache, without installing it (it
# would replace a full gdb), install the libraries it needs, and print its gdb's path. The Linux
# checks carry it into the nested test host (tools/testhost/run.sh --include), where the full
# gdb cannot start: it needs Python's library, which the test host does not have.
# A second run downloads nothing.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PACKAGE=gdb-minimal

# dependencies DEB: the packages DEB depends on, the first of each set of alternatives
dependencies() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep -v '^$'
}

main() {
    [[ $# -eq 0 ]] || { echo "usage: $0   (prints the path of gdb-minimal's gdb)" >&2; exit 2; }
    local dest deb tmp
    dest="$(cache_dir gdb-minimal)"
    if [[ ! -f "$dest/.complete" ]]; then
        apt_update_once
        deb=$(download_deb "$PACKAGE" "$(cache_dir debs)")
        tmp="$dest.tmp.$$"
        rm -rf "$tmp"
        mkdir -p "$tmp"
        dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
        [[ -x "$tmp/usr/bin/gdb" ]] || die "$deb holds no usr/bin/gdb"
        dependencies "$deb" >"$tmp/.depends"
        touch "$tmp/.complete"
        rm -rf "$dest"
        mv "$tmp" "$dest"
    fi
    # shellcheck disable=SC2046 # one package a word
    ensure_packages $(cat "$dest/.depends")
    printf '%s\n' "$dest/usr/bin/gdb"
}

main "$@"
