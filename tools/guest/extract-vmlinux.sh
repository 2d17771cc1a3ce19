#!/usr/bin/env bash
# Extracts the ELF vmlinux from a bzImage: the compressed payload that the Linux boot protocol's
# setup header locates (payload_offset at 0x248 and payload_length at 0x24c, counted from the
# protected-mode code at (setup_sects + 1) * 512), decompressed with the tool its magic names.
# Debian's kernels carry a PVH note, so the result boots with `wisp run --kernel vmlinux`.
# usage: extract-vmlinux.sh BZIMAGE OUT
set -euo pipefail
WISP_PROG=extract-vmlinux
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

[[ $# -eq 2 ]] || { echo "usage: $0 BZIMAGE OUT" >&2; exit 2; }
image=$1 out=$2

le32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }

[[ "$(od -An -c -j 514 -N 4 "$image" | tr -d ' ')" == HdrS ]] || die "$image is not a bzImage"
setup_sects=$(u8 "$image" 497)
[[ $setup_sects -ne 0 ]] || setup_sects=4
offset=$(( (setup_sects + 1) * 512 + $(le32 "$image" 584) ))
length=$(le32 "$image" 588)
magic=$(od -An -t x1 -j "$offset" -N 4 "$image" | tr -d ' ')

case $magic in
    1f8b*) tool=(gzip -dc) ;;
    fd377a58) tool=(xz -dc) ;;
    5d00*) tool=(xz --format=lzma -dc) ;;
    28b52ffd) tool=(zstd -dc) ;;
    02214c18) tool=(lz4 -dc) ;;
    425a68*) tool=(bzip2 -dc) ;;
    *) die "unknown compression (magic $magic) in $image" ;;
esac
ensure_packages xz-utils zstd lz4 bzip2 gzip
# The payload ends with the decompressed size, which some tools report as trailing garbage:
# judge the result by its ELF magic rather than the tool's status.
tail -c +$((offset + 1)) "$image" | head -c "$length" | "${tool[@]}" >"$out" 2>/dev/null || true
[[ "$(od -An -c -N 4 "$out" | tr -d ' ')" == 177ELF ]] || die "decompressing $image gave no ELF file"
log "extracted $out ($(stat -c %s "$out") bytes)"
