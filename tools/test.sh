#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests, the tiny guests on this host's /dev/kvm,
# and the Linux guest checks (directly on hardware KVM, else in the nested test host).
# usage: tools/test.sh [--sanitize] [ctest options...]
#   --sanitize  build with ASan/UBSan in build-asan and run the tests that need no Linux guest
# Fails (never skips) when /dev/kvm is missing.
set -euo pipefail
WISP_PROG=test
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
    local setup_args=(--werror) ctest_args=()
    if [[ "${1:-}" == --sanitize ]]; then
        setup_args+=(--sanitize)
        ctest_args+=(--label-exclude linux)
        shift
    fi
    [[ -e /dev/kvm ]] || die "/dev/kvm is missing: the VMM tests need KVM (load kvm_intel, kvm_amd or kvm_pvm)"
    local dir
    dir=$("$WISP_TOOLS/setup.sh" "${setup_args[@]}")
    log "KVM here: $("$WISP_TOOLS/testhost/kvm-kind.sh")"
    cd "$dir"
    ctest --output-on-failure --timeout 2400 "${ctest_args[@]}" "$@"
}

main "$@"
