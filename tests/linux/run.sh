#!/usr/bin/env bash
# Runs tests/linux/checks.sh where a stock Linux guest can run: directly when this host has
# hardware KVM, otherwise inside the nested test host. Writes the console (all checks' serial
# logs and statuses) to OUT_LOG for tests/linux/verify.sh.
# usage: run.sh WISP_BINARY OUT_LOG
set -euo pipefail
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools" && pwd)
wisp=$(readlink -f "$1") out=$2
rm -f "$out"
[[ -x "$wisp" ]] || { echo "run.sh: no wisp binary at $1" >&2; exit 2; }

root=$("$tools/guest/fetch-kernel.sh")
payload=$(mktemp -d)
trap 'rm -rf "$payload"' EXIT
cp "$root"/boot/vmlinuz-* "$payload/vmlinuz"
"$tools/guest/extract-vmlinux.sh" "$payload/vmlinuz" "$payload/vmlinux"
"$tools/guest/build-initramfs.sh" --kernel "$root" "$payload/initramfs.cpio.gz"
# The root disk of the disk checks: small, as the test host's copy of it is not sparse.
"$tools/guest/build-rootfs.sh" --kernel "$root" --size 16M "$payload/rootfs.ext4"
cp "$("$tools/guest/fetch-kernel.sh" --generic)"/boot/vmlinuz-* "$payload/vmlinuz-generic"
cp "$(dirname "${BASH_SOURCE[0]}")/checks.sh" "$payload/run.sh"

case $("$tools/testhost/kvm-kind.sh") in
    hardware)
        echo "linux checks: hardware KVM here; running wisp directly" >&2
        mkdir -p "$payload/bin"
        ln -s "$wisp" "$payload/bin/wisp"
        (cd "$payload" && PATH="$payload/bin:$PATH" sh ./run.sh) </dev/null >"$out" 2>&1 ;;
    pvm)
        echo "linux checks: this /dev/kvm (PVM) cannot run a stock kernel; running wisp in the" \
             "nested test host" >&2
        # 8G of host memory so that the 6G guest fits; QEMU allocates it only as it is touched.
        # e2fsprogs make and inspect the disk checks' images there. The whole run takes about
        # 5 minutes; the emulated test host itself now and then stalls for good (seen with
        # earlier wisp builds too: its own timers stop), so a run that times out (124) is tried
        # once more, and says so.
        for attempt in 1 2; do
            status=0
            "$tools/testhost/run.sh" --payload "$payload" --wisp "$wisp" --memory 8G \
                --timeout 900 --include /usr/sbin/mke2fs --include /etc/mke2fs.conf \
                --include /usr/sbin/debugfs --include /usr/sbin/e2fsck </dev/null >"$out" 2>&1 \
                || status=$?
            [[ $status == 124 && $attempt == 1 ]] || break
            echo "linux checks: the nested test host timed out; trying once more" >&2
        done ;;
    *)
        echo "linux checks: no /dev/kvm on this host: the Linux guest checks cannot run" >&2
        exit 1 ;;
esac
echo "linux checks: console log in $out" >&2
exit "${status:-0}"
