#!/usr/bin/env bash
# End-to-end check of the test host without wisp: inside it, QEMU (-M microvm, nested
# KVM) boots the cloud kernel with the default guest initramfs; the payload types a
# command into the guest's shell and checks the answer. Exits 0 on success.
set -euo pipefail
WISP_PROG=selftest
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() { echo "usage: $0 [run.sh options, e.g. --verbose or --timeout SECONDS]" >&2; exit 2; }

main() {
    [[ "${1:-}" != -h && "${1:-}" != --help ]] || usage
    local root payload
    root=$("$WISP_TOOLS/guest/fetch-kernel.sh")
    payload=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now
    trap "rm -rf '$payload'" EXIT
    cp "$root"/boot/vmlinuz-* "$payload/vmlinuz"
    "$WISP_TOOLS/guest/build-initramfs.sh" --kernel "$root" "$payload/initramfs.cpio.gz"
    cp "$WISP_TOOLS/testhost/selftest-payload.sh" "$payload/run.sh"
    "$WISP_TOOLS/testhost/run.sh" --payload "$payload" --kernel "$root" \
        --include /usr/bin/qemu-system-x86_64 --timeout 300 "$@" </dev/null
}

main "$@"
