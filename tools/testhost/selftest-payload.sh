#!/bin/sh
# Payload of tools/testhost/selftest.sh (runs inside the test host as /payload/run.sh):
# boots /payload/vmlinuz + /payload/initramfs.cpio.gz with QEMU (-M microvm) on the
# nested KVM, types a command into the guest's shell once /init printed its marker, and
# checks the answer. Exit status 0 when all went well.
MARKER="wisp-guest: init reached"
LOG=/tmp/guest.log
INPUT=/tmp/guest.in
COMMAND='echo hello-from-guest; grep -c ^processor /proc/cpuinfo; poweroff -f'

uptime_s() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }'; }

wait_for_marker() {  # up to 60 s
    i=0
    while ! grep -q "$MARKER" "$LOG" 2>/dev/null; do
        kill -0 "$1" 2>/dev/null || return 1
        [ $i -lt 6000 ] || return 1
        usleep 10000
        i=$((i + 1))
    done
}

mkfifo "$INPUT"
exec 3<>"$INPUT"   # held open read-write: QEMU never sees end of file
start=$(uptime_s)
# rtc=on: microvm has no RTC by default when it has ACPI, and the kernel's rtc_cmos probe
# of the missing CMOS then stalls the boot for ~20 s. The cloud kernel finds the CPU
# through ACPI (microvm's default) and has no virtio-mmio command-line devices.
qemu-system-x86_64 -accel kvm -cpu host -M microvm,rtc=on -m 512M -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot -serial stdio \
    -kernel /payload/vmlinuz -initrd /payload/initramfs.cpio.gz \
    -append "console=ttyS0 quiet panic=-1" <&3 >"$LOG" 2>&1 &
qemu=$!

if wait_for_marker "$qemu"; then
    echo "selftest: guest reached /init after $(elapsed "$start") s"
    echo "$COMMAND" >&3
else
    echo "selftest: the guest never printed the marker"
    kill "$qemu" 2>/dev/null
fi
wait "$qemu"
status=$?
echo "selftest: qemu exited with status $status after $(elapsed "$start") s; guest console:"
tr -d '\r' <"$LOG" | sed 's/^/    | /'

tr -d '\r' <"$LOG" | grep -qx "hello-from-guest" || { echo "selftest: FAIL (no hello)"; exit 1; }
cpus=$(tr -d '\r' <"$LOG" | grep -x '[0-9]*' | tail -n1)
[ "$cpus" = 1 ] || { echo "selftest: FAIL (guest saw '$cpus' processors, expected 1)"; exit 1; }
[ "$status" = 0 ] || { echo "selftest: FAIL (qemu status $status)"; exit 1; }
echo "selftest: PASS"
