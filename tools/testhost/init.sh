#!/bin/sh
# /init of the nested test host (busybox; packed by tools/testhost/run.sh).
# Loads the KVM modules, waits for /dev/kvm, runs /payload/run.sh on the first serial port
# (ttyS0, the user's terminal) and reports its exit status on the second one as
# WISP-PAYLOAD-STATUS=<n>. The kernel console (console=ttyS1) is the second port too, so
# kernel messages and this script's own diagnostics stay off the payload's terminal.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup  # for jails (wisp run --cgroup)
hostname wisp-testhost
ip link set lo up 2>/dev/null

TERMINAL=/dev/ttyS0
STATUS_PORT=/dev/ttyS1

report() { echo "$1" >"$STATUS_PORT"; }

cmdline_value() {  # cmdline_value KEY: the value of KEY=... on the kernel command line
    # shellcheck disable=SC2013 # words wanted
    for word in $(cat /proc/cmdline); do
        case $word in "$1"=*) echo "${word#*=}" ;; esac
    done
}

load_modules() {
    moddir=/lib/modules/$(uname -r)
    [ -f "$moddir/modules.load" ] || { echo "testhost: no modules for kernel $(uname -r)"; return; }
    while read -r module; do
        insmod "$moddir/$module" || echo "testhost: insmod $module failed"
    done <"$moddir/modules.load"
}

wait_for_kvm() {  # up to 20 s
    tries=0
    while [ ! -e /dev/kvm ] && [ $tries -lt 2000 ]; do
        usleep 10000
        tries=$((tries + 1))
    done
    [ -e /dev/kvm ] || echo "testhost: /dev/kvm did not appear (no nested SVM?)"
}

load_modules
wait_for_kvm
WISP_TESTHOST_KVM_READY=$(cut -d' ' -f1 /proc/uptime)
export WISP_TESTHOST=1 WISP_TESTHOST_KVM_READY
report "WISP-KVM-READY=$WISP_TESTHOST_KVM_READY"

# Hold the terminal open: a tty forgets its window size when its last user closes it.
exec 5<>"$TERMINAL"
cols=$(cmdline_value wisp.cols)
rows=$(cmdline_value wisp.rows)
[ -n "$cols" ] && [ -n "$rows" ] && stty -F "$TERMINAL" cols "$cols" rows "$rows"
export TERM="${WISP_TERM:-$(cmdline_value wisp.term)}"
[ -n "$TERM" ] || TERM=vt100

# The payload gets the terminal as its controlling terminal (setsid -c), so ^C and job
# control reach it.
cd /payload 2>/dev/null || cd /
if [ -f /payload/run.sh ]; then
    # shellcheck disable=SC2094 # a terminal, read and written
    setsid -c sh /payload/run.sh <"$TERMINAL" >"$TERMINAL" 2>&1 5<&-
    status=$?
else
    echo "testhost: no /payload/run.sh"
    status=127
fi
report "WISP-PAYLOAD-STATUS=$status"
sync
poweroff -f
