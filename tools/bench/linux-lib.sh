# shellcheck shell=bash
# tools/bench/linux-lib.sh - what the Linux benchmarks (linux-boot-time.sh, linux-disk.sh,
# linux-net.sh) share, and ../lib.sh. Source it, don't run it.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# parse_options "OPTION..." ARG...: a benchmark's command line. Each OPTION (e.g. --image-mib)
# takes a value and sets the caller's variable of that name (image_mib), which the caller has
# declared; --testhost sets force_testhost=1; -h, --help and anything else call usage.
# shellcheck disable=SC2034 # the caller's variables (bash's dynamic scope)
parse_options() {
    local valued=" $1 " var
    shift
    while [[ $# -gt 0 ]]; do
        case $1 in
            --testhost) force_testhost=1; shift ;;
            -h|--help) usage ;;
            *)
                [[ $valued == *" $1 "* ]] || { echo "$0: unknown argument $1" >&2; usage; }
                [[ $# -ge 2 ]] || { echo "$0: $1 needs a value" >&2; usage; }
                var=${1#--}
                printf -v "${var//-/_}" '%s' "$2"
                shift 2 ;;
        esac
    done
}

positive() {  # positive OPTION VALUE: dies unless VALUE is a positive whole number
    [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive whole number, not $2"
}

checked_wisp() {  # checked_wisp PATH: --wisp's PATH made absolute; if none, says so
    if [[ -n "$1" ]]; then
        [[ -x "$1" ]] || die "--wisp $1: not an executable file"
        realpath "$1"
    else
        log "note: no --wisp given; measuring QEMU only"
    fi
}

# guest_kernel DIR: Debian's cloud kernel as DIR/vmlinuz, the default guest initramfs for it as
# DIR/initramfs.cpio.gz.
guest_kernel() {
    local root
    root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    cp "$root"/boot/vmlinuz-* "$1/vmlinuz"
    "$WISP_TOOLS/guest/build-initramfs.sh" --kernel "$root" "$1/initramfs.cpio.gz"
}

# binaries_part NAME INIT BINARY...: the part of a guest's initramfs that holds BINARY... (e.g.
# fio): the binaries and their libraries at their paths, /NAME-bench.libs (the libraries'
# directories, for LD_LIBRARY_PATH) and INIT as /NAME-bench (the guest's init). Uncompressed
# (the guest unpacks it faster), cached by content.
binaries_part() {
    local name=$1 init=$2 libs=() key out stage file
    shift 2
    mapfile -t libs < <(for file in "$@"; do elf_libraries "$file"; done | sort -u)
    [[ ${#libs[@]} -gt 0 ]] || die "ldd lists no libraries for $*"
    key=$(sha256_of "$init" "$WISP_TOOLS/bench/linux-lib.sh" "$WISP_TOOLS/lib.sh" "$@" "${libs[@]}" |
        cut -c1-16)
    out="$(cache_dir bench)/$name-initramfs-$key.cpio"
    if [[ ! -f "$out" ]]; then
        stage=$(mktemp -d)
        printf '%s\n' "$@" "${libs[@]}" | stage_files "$stage"
        printf '%s\n' "${libs[@]}" | xargs -n1 dirname | sort -u >"$stage/$name-bench.libs"
        install -m 755 "$init" "$stage/$name-bench"
        pack_cpio "$stage" "$out" none
        rm -rf "$stage"
        prune_cache "$(dirname "$out")" "$name-initramfs-"
    fi
    printf '%s\n' "$out"
}

# guest_with_binaries DIR NAME INIT BINARY...: DIR/vmlinuz as guest_kernel makes it and
# DIR/initramfs.img: the default initramfs with binaries_part NAME INIT BINARY... added.
guest_with_binaries() {
    local dir=$1 part
    shift
    guest_kernel "$dir"
    part=$(binaries_part "$@")
    # The default initramfs (gzip), padded with zeroes (which the kernel skips between
    # archives), then the part: later entries are added to the same root.
    cp "$dir/initramfs.cpio.gz" "$dir/initramfs.img"
    truncate -s %512 "$dir/initramfs.img"
    cat "$part" >>"$dir/initramfs.img"
    rm "$dir/initramfs.cpio.gz"
}

# keep_samples SCRATCH FILE: passes the payload's output through as it comes, less its "sample"
# and "record" lines; the samples go to FILE if one is given. The console of the test host ends
# lines with \r\n.
keep_samples() {
    sed -u 's/\r//g' | tee "$1" | sed -u '/^sample /d; /^record /d'
    if [[ -n "$2" ]]; then sed -n 's/^sample //p' "$1" >"$2"; fi
}
