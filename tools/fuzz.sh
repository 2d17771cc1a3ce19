#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang 16 (libFuzzer, ASan, UBSan) in a build
# directory of their own, then fuzzes each for a share of the time:
#   virtio  the virtqueue walker and virtio-blk against a hostile driver (virtio_fuzz);
#   net     virtio-net against a hostile driver and a hostile network (net_fuzz);
#   loader  the kernel loaders (bzImage, ELF, PVH, Multiboot, raw) on hostile images (loader_fuzz);
#   legacy  the UART, i8042, ACPI PM, debug-exit, fw_cfg and pvpanic registers (legacy_fuzz);
#   mmio    the virtio-mmio register file at every width and offset, a fake device (mmio_fuzz);
#   config  the command-line value parsers, MAC addresses and the CLI (config_fuzz);
#   api     the API socket's HTTP reader and the Firecracker API's routing (api_fuzz).
# usage: tools/fuzz.sh [--fork N] [--target NAME] [SECONDS]
#   SECONDS        how long to fuzz in all, shared equally by the targets (default 60)
#   --fork N       N fuzzing processes at once (libFuzzer -fork; default 1)
#   --target NAME  fuzz only NAME (virtio, net, loader, legacy, mmio, config or api), for all of SECONDS
# Each target's corpus grows in build-fuzz/corpus/NAME and starts from the seeds its NAME_fuzz_seeds
# program writes. A finding (crash, sanitizer report, hang over 10 s) is saved as
# build-fuzz/artifacts/NAME-crash-* (or -timeout-*, -leak-*) and the script exits non-zero after
# the remaining targets ran; replay it with
#   build-fuzz/tests/fuzz/NAME_fuzz build-fuzz/artifacts/NAME-crash-...
#
# Why clang 16: libstdc++ 12's std::expected needs P0848 (conditionally trivial special members),
# which clang 14 lacks; Debian 12 ships clang 16 and its runtime (libclang-rt-16-dev: libFuzzer
# and the sanitizers).
set -euo pipefail
WISP_PROG=fuzz
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    cmake ninja-build clang-16 libclang-rt-16-dev   # the fuzzing toolchain
    llvm-16                                         # llvm-symbolizer-16: reports with lines
    linux-libc-dev libfmt-dev libcli11-dev catch2 liburing-dev libseccomp-dev libcap-dev  # to configure Wisp
    nlohmann-json3-dev libhttp-parser-dev
    zlib1g-dev libbz2-dev liblzma-dev liblz4-dev libzstd-dev libxxhash-dev
)

TARGETS=(virtio net loader legacy mmio config api)

main() {
    local seconds=60 fork=1 targets=("${TARGETS[@]}")
    while [[ $# -gt 0 ]]; do
        case $1 in
            --fork) fork=${2:?--fork needs a number}; shift ;;
            --target)
                [[ " ${TARGETS[*]} " == *" ${2:-} "* ]] ||
                    die "--target needs one of ${TARGETS[*]}, not '${2:-}'"
                targets=("$2"); shift ;;
            -h|--help) sed -n '2,19p' "$0" >&2; exit 2 ;;
            -*) die "unknown option $1" ;;
            *) seconds=$1 ;;
        esac
        shift
    done
    [[ $seconds =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$seconds'"
    [[ $fork =~ ^[1-9][0-9]*$ ]] || die "--fork needs a positive number, not '$fork'"

    local top dir
    top=$(cd "$WISP_TOOLS/.." && pwd)
    dir=$top/build-fuzz
    ensure_packages "${PACKAGES[@]}"
    command -v clang++-16 >/dev/null || die "clang++-16 is not on PATH"
    # The sanitizers name functions and lines only with a symbolizer they can find.
    if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" && -x /usr/lib/llvm-16/bin/llvm-symbolizer ]]; then
        export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-16/bin/llvm-symbolizer
    fi

    log "configuring and building the fuzz targets in $dir"
    cmake -S "$top" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER=clang++-16 -DWISP_FUZZ=ON >&2
    # Only the fuzz targets and the libraries they use: the rest of Wisp is built with g++.
    local build_targets=() name
    for name in "${targets[@]}"; do build_targets+=("${name}_fuzz" "${name}_fuzz_seeds"); done
    cmake --build "$dir" --parallel "$(nproc)" --target "${build_targets[@]}" >&2

    # Each target gets an equal share of the time, at least a second.
    local share=$(( seconds / ${#targets[@]} ))
    [[ $share -ge 1 ]] || share=1
    local fork_args=() found=()
    [[ $fork -gt 1 ]] && fork_args=(-fork="$fork")
    local artifacts=$dir/artifacts
    mkdir -p "$artifacts"
    for name in "${targets[@]}"; do
        local seeds=$dir/seeds/$name corpus=$dir/corpus/$name
        rm -rf "$seeds"
        mkdir -p "$seeds" "$corpus"
        "$dir/tests/fuzz/${name}_fuzz_seeds" "$seeds"

        log "fuzzing $name for ${share}s ($fork process(es)); corpus in $corpus"
        # New inputs go to the first directory; the seeds are read only.
        if ! "$dir/tests/fuzz/${name}_fuzz" "${fork_args[@]}" -max_total_time="$share" \
                -timeout=10 -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
                "$corpus" "$seeds" >&2; then
            warn "the $name fuzzer found something: see $artifacts/$name-*"
            found+=("$name")
            continue
        fi
        log "$name: no finding in ${share}s; corpus: $(find "$corpus" -type f | wc -l) inputs"
    done
    [[ ${#found[@]} -eq 0 ]] || die "findings from: ${found[*]} (in $artifacts)"
}

main "$@"
