#!/usr/bin/env bash
# Run a payload inside the nested test host: QEMU/TCG emulating an AMD machine with SVM
# (q35, EPYC,+svm,+npt) that boots Debian's cloud kernel, loads kvm-amd, and then runs
# /payload/run.sh with /dev/kvm available: a place to run Linux guests on real (nested)
# KVM when this machine's /dev/kvm can't (PVM) or there is none.
#
# What the payload sees inside the host (busybox userland, root, PATH set):
#   /payload/            a copy of --payload DIR; the current directory of run.sh
#   /payload/run.sh      run by `sh` with the console (ttyS0) as stdin/stdout/stderr and
#                        controlling terminal; its exit status becomes this script's
#   /usr/bin/wisp        the --wisp binary, if given
#   --include PATHs      at the same absolute paths, with their shared libraries (ldd),
#                        and for qemu-system-* the firmware directories of `qemu -L help`
#   /dev/kvm, /dev/net/tun, lo up; env WISP_TESTHOST=1, WISP_TESTHOST_KVM_READY (uptime s)
# Exit status: the payload's; 124 if --timeout expired first; 125 if the host stopped
# without reporting one (e.g. a panic; the host's kernel log is then printed).
# The payload's terminal is a serial line: output lines end in \r\n, and input that
# arrives before the payload opens the terminal may lose a few characters (pipe input
# only after the payload has printed something, or give it files in /payload instead).
set -euo pipefail
WISP_PROG=testhost
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
    cat >&2 <<USAGE
usage: $0 [--interactive] --payload DIR [--wisp PATH] [--include PATH]...
          [--module NAME]... [--memory 4G] [--timeout SECONDS] [--kernel ROOT]
          [--append ARGS] [--verbose]
  --interactive     the terminal is passed through raw (^C, ^A reach the payload); no timeout
  --payload DIR     copied to /payload in the host; DIR/run.sh is what runs
  --wisp PATH       the wisp binary, installed as /usr/bin/wisp
  --include PATH    a file or directory copied at the same path (binaries with their libraries)
  --module NAME     one more host kernel module to load (with its dependencies)
  --memory SIZE     host memory (default 4G)
  --timeout SECONDS kill the host after this long (default 900; 0 = none)
  --kernel ROOT     extracted kernel package for the host (default: tools/guest/fetch-kernel.sh)
  --append ARGS     more host kernel command-line arguments
  --verbose         print timings (host boot to /dev/kvm, total) to stderr
USAGE
    exit 2
}

# Debian's cloud kernel has no ccp (CONFIG_CRYPTO_DEV_CCP is off); kvm-amd needs only kvm
# and irqbypass there. tun is for the payload's TAP devices.
HOST_MODULES=(irqbypass kvm kvm-amd tun)
# EPYC with SVM and nested paging, less the features TCG lacks (QEMU warns about each).
HOST_CPU=EPYC,+svm,+npt,-rdseed,-sha-ni,-fxsr-opt,-misalignsse,-3dnowprefetch,-osvw,-topoext,-nrip-save,-xsavec
STATUS_NO_REPORT=125
STATUS_TIMEOUT=124

# --- the static part of the host initramfs: busybox, /init, modules (cached) ---------------

static_part() {  # static_part KERNEL_ROOT MODULE...: prints the cached .cpio.gz
    local root=$1 moddir key out stage
    shift
    moddir=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [[ -n "$moddir" ]] || die "no lib/modules/<release> under $root"
    key=$(sha256_of "$WISP_TOOLS/testhost/init.sh" "$WISP_TOOLS/testhost/run.sh" \
        "$WISP_TOOLS/lib.sh" /bin/busybox "$moddir" "$moddir/modules.dep" "$@")
    out="$(cache_dir testhost)/static-${key:0:16}.cpio.gz"
    if [[ ! -f "$out" ]]; then
        stage=$(mktemp -d)
        stage_busybox "$stage"
        install -m 755 "$WISP_TOOLS/testhost/init.sh" "$stage/init"
        copy_modules "$moddir" "$stage/lib/modules/$(basename "$moddir")" "$@"
        pack_cpio "$stage" "$out.part" gzip
        # Pad to 512 bytes: an uncompressed archive appended after it must start aligned.
        truncate -s %512 "$out.part"
        mv "$out.part" "$out"
        rm -rf "$stage"
        prune_cache "$(dirname "$out")" static-
    fi
    printf '%s\n' "$out"
}

# --- included files: binaries with their libraries, directories (cached by stat) ----------

qemu_firmware_dirs() {  # qemu_firmware_dirs QEMU: its data directories (-L help)
    "$1" -L help 2>/dev/null | while read -r dir; do
        [[ -d "$dir" ]] && realpath -s -m "$dir"
    done
}

files_under() {  # regular files and symlinks to existing files under a directory
    find "$1" \( -type f -o -type l \) -print | while read -r f; do
        [[ -f "$f" ]] && printf '%s\n' "$f"
    done
}

manifest_of() {  # manifest_of PATH: absolute paths of the files PATH brings along
    local path dir
    path=$(realpath -s "$1")
    if [[ -d "$path" ]]; then
        files_under "$path"
        return
    fi
    [[ -f "$path" ]] || die "--include $1: no such file or directory"
    printf '%s\n' "$path"
    elf_libraries "$path"
    if [[ "$(basename "$path")" == qemu-system-* ]]; then
        for dir in $(qemu_firmware_dirs "$path"); do
            files_under "$dir"
        done
    fi
}

include_part() {  # include_part PATH...: prints the cached uncompressed .cpio ("" if none)
    [[ $# -gt 0 ]] || return 0
    local manifest key out stage path
    manifest=$(for path in "$@"; do manifest_of "$path"; done | sort -u)
    key=$(printf '%s\n' "$manifest" | xargs -d '\n' stat -L -c '%n %s %Y' | sha256sum | cut -c1-16)
    out="$(cache_dir testhost)/include-$key.cpio"
    if [[ ! -f "$out" ]]; then
        stage=$(mktemp -d)
        printf '%s\n' "$manifest" | stage_files "$stage"
        pack_cpio "$stage" "$out" none
        rm -rf "$stage"
        prune_cache "$(dirname "$out")" include-
    fi
    printf '%s\n' "$out"
}

# --- the per-run part: the payload and wisp ----------------------------------------------

payload_part() {  # payload_part PAYLOAD_DIR WISP OUT
    local payload=$1 wisp=$2 out=$3 stage
    stage=$(mktemp -d)
    mkdir -p "$stage/payload" "$stage/usr/bin"
    cp -rL "$payload/." "$stage/payload/" || die "cannot copy payload $payload"
    if [[ -n "$wisp" ]]; then
        cp -L "$wisp" "$stage/usr/bin/wisp"
        chmod 755 "$stage/usr/bin/wisp"
        elf_libraries "$wisp" | stage_files "$stage"
    fi
    pack_cpio "$stage" "$out" none
    rm -rf "$stage"
}

# --- running the host -----------------------------------------------------------------

where_line() {
    case $("$WISP_TOOLS/testhost/kvm-kind.sh") in
        pvm) log "no hardware KVM here (PVM); running in a nested QEMU/TCG test host" ;;
        none) log "no /dev/kvm here; running in a nested QEMU/TCG test host" ;;
        *) log "hardware KVM here, but running in a nested QEMU/TCG test host as asked" ;;
    esac
}

host_cmdline() {
    # console=ttyS1: kernel messages go to the status/log port, not the payload's terminal.
    local cmdline="console=ttyS1 quiet panic=-1 tsc=reliable${APPEND:+ $APPEND}"
    if [[ $INTERACTIVE == 1 && -t 0 ]]; then
        local rows cols
        read -r rows cols < <(stty size 2>/dev/null || echo "")
        [[ -n "${rows:-}" && -n "${cols:-}" ]] && cmdline+=" wisp.rows=$rows wisp.cols=$cols"
        cmdline+=" wisp.term=${TERM:-vt100}"
    fi
    printf '%s\n' "$cmdline"
}

SAVED_STTY=""
WORK=""
# shellcheck disable=SC2317 # called from traps
cleanup() {
    [[ -n "$SAVED_STTY" ]] && stty "$SAVED_STTY" 2>/dev/null
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    return 0
}

run_host() {  # run_host VMLINUZ INITRD STATUSFILE: prints nothing, returns qemu's status
    local kernel=$1 initrd=$2 statusfile=$3 console_opts=stdio,id=console
    [[ $INTERACTIVE == 1 ]] && console_opts+=",signal=off"
    local qemu=(qemu-system-x86_64 -accel tcg -M q35 -cpu "$HOST_CPU"
        -m "$MEMORY" -smp 1 -nodefaults -no-user-config -display none -no-reboot
        -chardev "$console_opts" -serial chardev:console -serial "file:$statusfile"
        -kernel "$kernel" -initrd "$initrd" -append "$(host_cmdline)")
    if [[ $INTERACTIVE == 1 && -t 0 ]]; then
        SAVED_STTY=$(stty -g)
        stty raw -echo
    fi
    local rc=0
    timeout --foreground -k 10 "$TIMEOUT" "${qemu[@]}" || rc=$?
    [[ -n "$SAVED_STTY" ]] && stty "$SAVED_STTY" && SAVED_STTY=""
    return "$rc"
}

status_from() {  # status_from STATUSFILE KEY: the value the host reported, or nothing
    tr -d '\r' <"$1" | sed -n "s/^$2=//p" | tail -n1
}

main() {
    INTERACTIVE=0 MEMORY=4G TIMEOUT="" VERBOSE=0 APPEND=""
    local payload="" wisp="" root="" includes=() modules=("${HOST_MODULES[@]}")
    while [[ $# -gt 0 ]]; do
        case $1 in
            --interactive) INTERACTIVE=1; shift ;;
            --verbose|-v) VERBOSE=1; shift ;;
            --payload|--wisp|--include|--module|--memory|--timeout|--kernel|--append)
                [[ $# -ge 2 ]] || { echo "$0: $1 needs a value" >&2; usage; }
                case $1 in
                    --payload) payload=$2 ;;
                    --wisp) wisp=$2 ;;
                    --include) includes+=("$2") ;;
                    --module) modules+=("$2") ;;
                    --memory) MEMORY=$2 ;;
                    --timeout) TIMEOUT=$2 ;;
                    --kernel) root=$2 ;;
                    --append) APPEND=$2 ;;
                esac
                shift 2 ;;
            -h|--help) usage ;;
            *) echo "$0: unknown argument $1" >&2; usage ;;
        esac
    done
    [[ -n "$payload" ]] || { echo "$0: --payload is required" >&2; usage; }
    [[ -f "$payload/run.sh" ]] || die "payload $payload has no run.sh"
    [[ -z "$wisp" || -f "$wisp" ]] || die "--wisp $wisp: no such file"
    [[ -n "$TIMEOUT" ]] || { [[ $INTERACTIVE == 1 ]] && TIMEOUT=0 || TIMEOUT=900; }
    [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout needs whole seconds, not $TIMEOUT"

    where_line
    ensure_packages qemu-system-x86 busybox-static cpio
    [[ -n "$root" ]] || root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    local kernel
    kernel=$(find "$root/boot" -name 'vmlinuz-*' | head -n1)
    [[ -n "$kernel" ]] || die "no boot/vmlinuz-* under $root"

    trap cleanup EXIT
    trap 'cleanup; exit 130' INT
    trap 'cleanup; exit 143' TERM HUP
    WORK=$(mktemp -d)
    local static include start
    static=$(static_part "$root" "${modules[@]}")
    include=$(include_part "${includes[@]}")
    payload_part "$payload" "$wisp" "$WORK/payload.cpio"
    cat "$static" ${include:+"$include"} "$WORK/payload.cpio" >"$WORK/initrd"
    : >"$WORK/status"

    start=$(date +%s%N)
    local rc=0
    run_host "$kernel" "$WORK/initrd" "$WORK/status" || rc=$?
    report_status "$WORK/status" "$rc" "$start"
}

show_host_log() {  # the host's kernel messages and /init diagnostics (second serial port)
    local lines
    lines=$(tr -d '\r' <"$1" | grep -v '^WISP-' | tail -n 40 || true)
    [[ -n "$lines" ]] || return 0
    log "the test host's log (kernel console, ttyS1):"
    printf '%s\n' "$lines" | sed 's/^/    /' >&2
}

report_status() {  # report_status STATUSFILE QEMU_RC START_NS: exits with the right status
    local status ready elapsed
    status=$(status_from "$1" WISP-PAYLOAD-STATUS)
    ready=$(status_from "$1" WISP-KVM-READY)
    elapsed=$(awk -v a="$3" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    if [[ $VERBOSE == 1 ]]; then
        log "host: /dev/kvm ready at ${ready:-?} s of host uptime; qemu ran ${elapsed} s (status $2)"
        show_host_log "$1"
    fi
    if [[ -n "$status" ]]; then
        exit "$status"
    fi
    [[ $VERBOSE == 1 ]] || show_host_log "$1"
    if [[ $2 == 124 || $2 == 137 ]]; then
        log "error: timed out after $TIMEOUT s; the test host was killed before the payload finished"
        exit "$STATUS_TIMEOUT"
    fi
    log "error: the test host stopped without reporting the payload's status (qemu exit status $2)"
    exit "$STATUS_NO_REPORT"
}

main "$@"
