#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang 16 (libFuzzer, ASan, UBSan) in a build
# directory of their own, then fuzzes virtio (the virtqueue walker and virtio-blk) for a while.
# usage: tools/fuzz.sh [--fork N] [SECONDS]
#   SECONDS    how long to fuzz (default 60)
#   --fork N   N fuzzing processes at once (libFuzzer -fork; default 1)
# The corpus grows in build-fuzz/corpus/virtio and starts from the seeds virtio_fuzz_seeds writes.
# A finding (crash, sanitizer report, hang over 10 s) is saved as build-fuzz/artifacts/crash-* (or
# timeout-*, leak-*) and the script exits non-zero; replay it with
#   build-fuzz/tests/fuzz/virtio_fuzz build-fuzz/artifacts/crash-...
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
    linux-libc-dev libfmt-dev libcli11-dev catch2 liburing-dev libseccomp-dev  # to configure Wisp
)

main() {
    local seconds=60 fork=1
    while [[ $# -gt 0 ]]; do
        case $1 in
            --fork) fork=${2:?--fork needs a number}; shift ;;
            -h|--help) sed -n '2,10p' "$0" >&2; exit 2 ;;
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
    cmake --build "$dir" --parallel "$(nproc)" --target virtio_fuzz virtio_fuzz_seeds >&2

    local seeds=$dir/seeds/virtio corpus=$dir/corpus/virtio artifacts=$dir/artifacts
    rm -rf "$seeds"
    mkdir -p "$seeds" "$corpus" "$artifacts"
    "$dir/tests/fuzz/virtio_fuzz_seeds" "$seeds"

    log "fuzzing virtio for ${seconds}s ($fork process(es)); corpus in $corpus"
    local fork_args=()
    [[ $fork -gt 1 ]] && fork_args=(-fork="$fork")
    # New inputs go to the first directory; the seeds are read only.
    if ! "$dir/tests/fuzz/virtio_fuzz" "${fork_args[@]}" -max_total_time="$seconds" -timeout=10 \
            -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus" "$seeds" >&2; then
        die "the fuzzer found something: see $artifacts"
    fi
    log "no finding in ${seconds}s; corpus: $(find "$corpus" -type f | wc -l) inputs"
}

main "$@"
