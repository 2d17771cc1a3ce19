#!/usr/bin/env bash
# Installs what Wisp needs to build and test (Debian packages), then configures and builds it.
# usage: tools/setup.sh [--sanitize] [--werror] [BUILD_DIR]
#   --sanitize  AddressSanitizer and UndefinedBehaviorSanitizer (default dir: build-asan)
#   --werror    warnings are errors (CI)
# Prints the build directory on stdout.
set -euo pipefail
WISP_PROG=setup
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    cmake ninja-build g++ pkg-config          # the build
    linux-libc-dev libfmt-dev libcli11-dev catch2 liburing-dev libseccomp-dev libcap-dev  # headers, libraries
    nlohmann-json3-dev                        # the JSON configuration files
    libhttp-parser-dev                        # the API socket's HTTP parser
    zlib1g-dev libbz2-dev liblzma-dev liblz4-dev libzstd-dev libxxhash-dev     # a bzImage's payload
    acpica-tools                              # iasl, for the ACPI table tests
    util-linux                                # unshare: the /dev/kvm error tests, private network namespaces
    iproute2                                  # ip: the network tests' TAPs and addresses
    procps                                    # pgrep, pkill: tests that find a running wisp
    gdb                                       # the gdb stub's tests
    qemu-system-common                        # virtiofsd: --share, and the virtio-fs tests
)

main() {
    local sanitize=OFF werror=OFF dir=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --sanitize) sanitize=ON ;;
            --werror) werror=ON ;;
            -h|--help) sed -n '2,7p' "$0" >&2; exit 2 ;;
            -*) die "unknown option $1" ;;
            *) dir=$1 ;;
        esac
        shift
    done
    local top
    top=$(cd "$WISP_TOOLS/.." && pwd)
    [[ -n "$dir" ]] || { [[ $sanitize == ON ]] && dir=$top/build-asan || dir=$top/build; }

    ensure_packages "${PACKAGES[@]}"
    log "configuring and building in $dir"
    cmake -S "$top" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWISP_SANITIZE="$sanitize" -DWISP_WERROR="$werror" >&2
    cmake --build "$dir" -j "$(nproc)" >&2
    printf '%s\n' "$dir"
}

main "$@"
