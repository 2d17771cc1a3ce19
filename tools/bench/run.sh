#!/usr/bin/env bash
# The benchmarks' entry point: builds what they need, then measures Wisp beside QEMU in the same
# run. Linux boot (linux-boot-time.sh: directly on hardware KVM, else in the nested test host;
# with and without `quiet`, and the VMMs' memory) and a Linux guest's disk (linux-disk.sh: fio
# in the guest, one more boot of the test host), then tiny guests on this host's KVM
# (wisp-bench: start-up, memory, exit cost against a bare KVM_RUN loop, start rate, Wisp's
# phases, disk reads against the host's own). Prints one table of all; writes JSON for a later
# comparison.
# usage: tools/bench/run.sh [--runs N] [--json FILE] [--no-linux]
#        tools/bench/run.sh compare OLD.json NEW.json
set -euo pipefail
WISP_PROG=bench
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

main() {
    local runs=10 json="" linux=1
    if [[ "${1:-}" == compare ]]; then
        local dir
        dir=$("$WISP_TOOLS/setup.sh")
        exec "$dir/tools/bench/wisp-bench" compare "$2" "$3"
    fi
    while [[ $# -gt 0 ]]; do
        case $1 in
            --runs) runs=$2; shift 2 ;;
            --json) json=$2; shift 2 ;;
            --no-linux) linux=0; shift ;;
            *) sed -n '2,10p' "$0" >&2; exit 2 ;;
        esac
    done
    [[ -e /dev/kvm ]] || die "/dev/kvm is missing"
    ensure_packages qemu-system-x86
    local dir samples=()
    dir=$("$WISP_TOOLS/setup.sh")
    if [[ $linux == 1 ]]; then
        local linux_samples disk_samples
        linux_samples=$(mktemp)
        disk_samples=$(mktemp)
        # shellcheck disable=SC2064 # expand now
        trap "rm -f '$linux_samples' '$disk_samples'" EXIT
        "$WISP_TOOLS/bench/linux-boot-time.sh" --wisp "$dir/vmm/wisp" --runs "$runs" \
            --samples "$linux_samples"
        # Each boot runs every fio job and costs about a minute there: 3 to 5 boots per VMM.
        local disk_runs=$((runs < 3 ? 3 : runs > 5 ? 5 : runs))
        "$WISP_TOOLS/bench/linux-disk.sh" --wisp "$dir/vmm/wisp" --runs "$disk_runs" \
            --samples "$disk_samples"
        cat "$disk_samples" >>"$linux_samples"
        samples=(--samples "$linux_samples")
    fi
    log "tiny guests on this host's /dev/kvm ($("$WISP_TOOLS/testhost/kvm-kind.sh")); $(nproc) cores"
    "$dir/tools/bench/wisp-bench" --wisp "$dir/vmm/wisp" --qemu "$(command -v qemu-system-x86_64)" \
        --floor "$dir/tools/bench/kvm_floor" --guests "$dir/guest/kit" --runs "$runs" \
        ${json:+--json "$json"} "${samples[@]}"
}

main "$@"
