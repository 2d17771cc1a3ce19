#!/usr/bin/env bash
# Benchmark: a virtio-blk disk as a Linux guest sees it, measured with fio inside Debian's cloud
# kernel (O_DIRECT, libaio, each job time-based): sequential read and write in 1 MiB requests
# (MiB/s, 4 in flight) and 4 KiB random reads (IOPS, 1 and 32 in flight), on a scratch raw image.
# Peers: QEMU -M microvm (always) and wisp (with --wisp): the same kernel, initramfs (the default
# one plus fio and its libraries, booted with rdinit=/fio-bench: linux-disk-guest.sh), command
# line, memory, one vCPU and image, each VMM with its default disk settings (the host's page
# cache and io_uring; QEMU: -drive aio=io_uring,cache=writeback); runs interleaved. Runs directly
# when this machine has hardware KVM, otherwise inside the nested test host (one boot of it for
# every run), where the image lives in the host's RAM (its root is a tmpfs); it prints which.
set -euo pipefail
WISP_PROG=linux-disk
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--wisp PATH] [--runs N] [--seconds S] [--memory 512M] [--image-mib N] [--testhost]
          [--samples FILE]
  --wisp PATH     also measure wisp
  --runs N        guest boots per VMM, each running every job once (default 3)
  --seconds S     each fio job's measured time, after 1 s of ramp (default 5)
  --memory SIZE   guest memory (default 512M)
  --image-mib N   the scratch image's size (default 256)
  --testhost      use the nested test host even where hardware KVM is present
  --samples FILE  also write every measurement there, one "NAME UNIT VMM VALUE" a line
                  (what wisp-bench --samples reads into its table and JSON)
USAGE
    exit 2
}

# The fio jobs' figures come from the guest; the guest's own messages stay off the console.
CMDLINE="console=ttyS0 quiet panic=-1 rdinit=/fio-bench wisp.modules=virtio_mmio,virtio_blk"

elf_libraries() {  # the shared libraries (and loader) ldd lists for a binary
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# The part of the guest's initramfs that holds fio: /usr/bin/fio, its libraries at their paths,
# /fio-bench.libs (their directories, for LD_LIBRARY_PATH) and /fio-bench (the guest's init).
# Uncompressed (the guest unpacks it faster), cached by content.
fio_part() {
    local libs=() key out stage lib
    mapfile -t libs < <(elf_libraries /usr/bin/fio)
    [[ ${#libs[@]} -gt 0 ]] || die "ldd /usr/bin/fio lists no libraries"
    key=$(sha256_of "$WISP_TOOLS/bench/linux-disk-guest.sh" "$WISP_TOOLS/bench/linux-disk.sh" \
        /usr/bin/fio "${libs[@]}" | cut -c1-16)
    out="$(cache_dir bench)/fio-initramfs-$key.cpio"
    if [[ ! -f "$out" ]]; then
        stage=$(mktemp -d)
        mkdir -p "$stage/usr/bin"
        cp -L /usr/bin/fio "$stage/usr/bin/fio"
        for lib in "${libs[@]}"; do
            mkdir -p "$stage$(dirname "$lib")"
            cp -L "$lib" "$stage$lib"
        done
        printf '%s\n' "${libs[@]}" | xargs -n1 dirname | sort -u >"$stage/fio-bench.libs"
        install -m 755 "$WISP_TOOLS/bench/linux-disk-guest.sh" "$stage/fio-bench"
        pack_cpio "$stage" "$out" none
        rm -rf "$stage"
        prune_cache "$(dirname "$out")" fio-initramfs-
    fi
    printf '%s\n' "$out"
}

make_payload() {  # make_payload DIR WHERE QEMU WISP RUNS SECONDS MEMORY IMAGE_MIB
    local dir=$1 root fio
    root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    cp "$root"/boot/vmlinuz-* "$dir/vmlinuz"
    "$WISP_TOOLS/guest/build-initramfs.sh" --kernel "$root" "$dir/initramfs.cpio.gz"
    fio=$(fio_part)
    # The default initramfs (gzip), padded with zeroes (which the kernel skips between
    # archives), then the fio archive: later entries are added to the same root.
    cp "$dir/initramfs.cpio.gz" "$dir/initramfs.img"
    truncate -s %512 "$dir/initramfs.img"
    cat "$fio" >>"$dir/initramfs.img"
    rm "$dir/initramfs.cpio.gz"
    cp "$WISP_TOOLS/bench/linux-disk-payload.sh" "$dir/run.sh"
    # Each boot: the kernel, fio's start, four jobs of ramp + SECONDS, on an emulated machine.
    local boot_timeout=$((120 + 4 * ($6 + 1) * 6))
    {
        printf 'WHERE=%q\nQEMU=%q\nWISP=%q\n' "$2" "$3" "$4"
        printf 'RUNS=%q\nMEMORY=%q\nIMAGE_MIB=%q\nBOOT_TIMEOUT=%q\n' "$5" "$7" "$8" "$boot_timeout"
        printf 'CMDLINE=%q\n' "$CMDLINE wisp.fio_seconds=$6 wisp.fio_ramp=1"
    } >"$dir/bench.env"
    printf '%s\n' "$boot_timeout"
}

# Passes the payload's output through, less its "sample" lines, which go to FILE if one is
# given. The console of the test host ends lines with \r\n.
keep_samples() {  # keep_samples SCRATCH FILE
    tr -d '\r' | tee "$1" | sed '/^sample /d'
    if [[ -n "$2" ]]; then sed -n 's/^sample //p' "$1" >"$2"; fi
}

main() {
    local wisp="" runs=3 seconds=5 memory=512M image_mib=256 force_testhost=0 samples=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --wisp|--runs|--seconds|--memory|--image-mib|--samples)
                [[ $# -ge 2 ]] || { echo "$0: $1 needs a value" >&2; usage; }
                case $1 in
                    --wisp) wisp=$2 ;;
                    --runs) runs=$2 ;;
                    --seconds) seconds=$2 ;;
                    --memory) memory=$2 ;;
                    --image-mib) image_mib=$2 ;;
                    --samples) samples=$2 ;;
                esac
                shift 2 ;;
            --testhost) force_testhost=1; shift ;;
            -h|--help) usage ;;
            *) echo "$0: unknown argument $1" >&2; usage ;;
        esac
    done
    [[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive whole number, not $runs"
    [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive whole number, not $seconds"
    [[ "$image_mib" =~ ^[1-9][0-9]*$ ]] || die "--image-mib needs a positive whole number, not $image_mib"
    if [[ -n "$wisp" ]]; then
        [[ -x "$wisp" ]] || die "--wisp $wisp: not an executable file"
        wisp=$(realpath "$wisp")
    else
        log "note: no --wisp given; measuring QEMU only"
    fi
    ensure_packages qemu-system-x86 fio cpio

    local payload kind boot_timeout
    payload=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$payload'" EXIT
    kind=$("$WISP_TOOLS/testhost/kvm-kind.sh")
    if [[ $kind == hardware && $force_testhost == 0 ]]; then
        log "hardware KVM here: running the guests directly on this machine"
        make_payload "$payload" "directly on this machine's hardware KVM" \
            "$(command -v qemu-system-x86_64)" "$wisp" "$runs" "$seconds" "$memory" \
            "$image_mib" >/dev/null
        sh "$payload/run.sh" </dev/null | keep_samples "$payload/console" "$samples"
    else
        boot_timeout=$(make_payload "$payload" \
            "inside the nested test host (QEMU/TCG, nested KVM; kvm-kind: $kind); the image in its RAM; the host is emulated, so compare the ratio" \
            /usr/bin/qemu-system-x86_64 "${wisp:+/usr/bin/wisp}" "$runs" "$seconds" "$memory" \
            "$image_mib")
        local vmms=1
        [[ -n "$wisp" ]] && vmms=2
        "$WISP_TOOLS/testhost/run.sh" --payload "$payload" --include /usr/bin/qemu-system-x86_64 \
            ${wisp:+--wisp "$wisp"} --timeout $((180 + runs * vmms * boot_timeout)) </dev/null |
            keep_samples "$payload/console" "$samples"
    fi
}

main "$@"
