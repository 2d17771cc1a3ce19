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
# shellcheck source=linux-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/linux-lib.sh"

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

make_payload() {  # make_payload DIR WHERE QEMU WISP RUNS SECONDS MEMORY IMAGE_MIB
    local dir=$1
    guest_with_binaries "$dir" fio "$WISP_TOOLS/bench/linux-disk-guest.sh" /usr/bin/fio
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

main() {
    local wisp="" runs=3 seconds=5 memory=512M image_mib=256 force_testhost=0 samples=""
    parse_options "--wisp --runs --seconds --memory --image-mib --samples" "$@"
    positive --runs "$runs"
    positive --seconds "$seconds"
    positive --image-mib "$image_mib"
    wisp=$(checked_wisp "$wisp")
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
