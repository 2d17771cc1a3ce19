#!/usr/bin/env bash
# The benchmarks' entry point: builds what they need, then measures Wisp beside QEMU in the same
# run. Linux boot (linux-boot-time.sh: directly on hardware KVM, else in the nested test host;
# with and without `quiet`, and the VMMs' memory), a Linux guest's disk (linux-disk.sh: fio in
# the guest) and network (linux-net.sh: iperf3 and ping in the guest, QEMU with vhost=off and
# vhost=on; each one more boot of the test host), then tiny guests on this host's KVM
# (wisp-bench: start-up, memory, exit cost against a bare KVM_RUN loop, start rate, Wisp's
# phases, disk reads against the host's own). Prints one table of all; writes JSON for a later
# comparison. --only runs some of them: linux-boot, linux-disk, linux-net, and wisp-bench's
# groups (startup, memory, exits, rate, phases, disk, console, api); the table and JSON need one of the latter.
# usage: tools/bench/run.sh [--runs N] [--json FILE] [--no-linux] [--only NAME[,NAME]...]
#        tools/bench/run.sh compare OLD.json NEW.json
set -euo pipefail
WISP_PROG=bench
# shellcheck source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

main() {
    local runs=10 json="" linux=1 only=""
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
            --only) only=$2; shift 2 ;;
            *) sed -n '2,13p' "$0" >&2; exit 2 ;;
        esac
    done
    # wanted NAME: whether --only (if given) names NAME
    wanted() { [[ -z "$only" || ",$only," == *",$1,"* ]]; }
    local name groups=""
    for name in ${only//,/ }; do
        case $name in
            linux-boot|linux-disk|linux-net) ;;
            startup|memory|exits|rate|phases|disk|console|api) groups+=${groups:+,}$name ;;
            *) die "--only: no benchmark $name (linux-boot, linux-disk, linux-net, startup, memory, exits, rate, phases, disk, console, api)" ;;
        esac
    done
    local tiny=1
    [[ -n "$only" && -z "$groups" ]] && tiny=0
    [[ $tiny == 1 || -z "$json" ]] || die "--json needs wisp-bench: name one of its groups in --only"
    [[ -e /dev/kvm ]] || die "/dev/kvm is missing"
    ensure_packages qemu-system-x86
    local dir samples=()
    dir=$("$WISP_TOOLS/setup.sh")
    if [[ $linux == 1 ]]; then
        local linux_samples more
        linux_samples=$(mktemp)
        more=$(mktemp)
        # shellcheck disable=SC2064 # expand now
        trap "rm -f '$linux_samples' '$more'" EXIT
        if wanted linux-boot; then
            "$WISP_TOOLS/bench/linux-boot-time.sh" --wisp "$dir/vmm/wisp" --runs "$runs" \
                --samples "$more"
            cat "$more" >>"$linux_samples"
        fi
        if wanted linux-disk; then
            # Each boot runs every fio job and costs about a minute there: 3 to 5 boots per VMM.
            local disk_runs=$((runs < 3 ? 3 : runs > 5 ? 5 : runs))
            "$WISP_TOOLS/bench/linux-disk.sh" --wisp "$dir/vmm/wisp" --runs "$disk_runs" \
                --samples "$more"
            cat "$more" >>"$linux_samples"
        fi
        if wanted linux-net; then
            # Each boot runs four iperf3 runs and the pings, about 30 s there, and there are three
            # VMMs to boot: its default 5 boots each, about 8 minutes.
            "$WISP_TOOLS/bench/linux-net.sh" --wisp "$dir/vmm/wisp" --samples "$more"
            cat "$more" >>"$linux_samples"
        fi
        samples=(--samples "$linux_samples")
    fi
    [[ $tiny == 1 ]] || return 0
    log "tiny guests on this host's /dev/kvm ($("$WISP_TOOLS/testhost/kvm-kind.sh")); $(nproc) cores"
    "$dir/tools/bench/wisp-bench" --wisp "$dir/vmm/wisp" --qemu "$(command -v qemu-system-x86_64)" \
        --floor "$dir/tools/bench/kvm_floor" --guests "$dir/guest/kit" --runs "$runs" \
        ${groups:+--only "$groups"} ${json:+--json "$json"} "${samples[@]}"
}

main "$@"
