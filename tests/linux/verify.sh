#!/usr/bin/env bash
# Judges one check recorded by tests/linux/checks.sh in a console log: its exit status and the
# lines its guest printed. On failure prints why and that check's serial log.
# usage: verify.sh LOG CHECK
set -euo pipefail
log=$1 name=$2

# The console came through a serial line: drop its carriage returns first.
console() { tr -d '\r' <"$log"; }
section() {  # the check's console, without the BEGIN/STATUS lines
    console | sed -n "/^===== CHECK $name BEGIN\$/,/^===== CHECK $name STATUS/p" | sed '1d;$d'
}
status_of() { console | sed -n "s/^===== CHECK $name STATUS \([0-9]*\)\$/\1/p"; }

fail() {
    echo "FAIL: linux check '$name': $*"
    echo "----- serial log of '$name' -----"
    section
    exit 1
}

expect_status() { [[ "$(status_of)" == "$1" ]] || fail "wisp exited with '$(status_of)', expected $1"; }
# expect_line REGEX: a whole line the guest printed (the typed command echoes on the same line
# as the prompt, so it never matches a whole-line pattern by accident).
expect_line() { grep -Eqx "$1" <<<"$(section)" || fail "no line matching '$1'"; }
# capture REGEX: the group \(...\) of the first whole line that REGEX (sed's syntax) matches
capture() { section | sed -n "s/^$1\$/\\1/p" | head -n1; }
expect_count() { # expect_count N TEXT
    local n
    n=$(grep -c "$2" <<<"$(section)" || true)
    [[ "$n" == "$1" ]] || fail "'$2' appears $n times, expected $1"
}

[[ -f "$log" ]] || { echo "FAIL: no console log at $log (did the linux check run fail?)"; exit 1; }
grep -q "^===== CHECK $name BEGIN\$" <<<"$(console)" || fail "the check did not run"

case $name in
    shell)
        expect_line 'answer-42'
        expect_line '[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-cloud-amd64'
        expect_line 'host: com2: com2-42'
        expect_status 0 ;;
    panic)
        expect_line 'wisp: error: the guest panicked \(pvpanic\)'
        expect_status 14 ;;
    panicgoes)
        expect_line 'wisp: warning: the guest panicked \(pvpanic\); it goes on \(--on-panic continue\)'
        expect_status 4 ;;
    earlyinput)
        expect_line 'early-42'
        expect_status 0 ;;
    smp)
        expect_line 'cpus-2'
        expect_status 0 ;;
    reboot)
        expect_count 1 "wisp-guest: init reached"
        expect_status 4 ;;
    restart)
        expect_count 2 "wisp-guest: init reached"
        expect_line 'booted-again'
        expect_status 0 ;;
    memory6g)
        total=$(section | sed -n 's/^memtotal-\([0-9]*\)$/\1/p')
        [[ -n "$total" ]] || fail "no MemTotal line"
        # 6 GiB less what the kernel keeps for itself: well above 5.5 GiB, below 6 GiB.
        (( total > 5767168 && total <= 6291456 )) || fail "MemTotal ${total} kB is not about 6 GiB"
        expect_status 0 ;;
    pvh)
        expect_line 'pvh-cpus-2'
        expect_status 0 ;;
    decompress)
        # Both boots ran the kernel where wisp put its vmlinux (the link address, 16 MiB), the
        # second from the cache the first filled; never the guest's own decompressor.
        expect_line 'cold-42'
        expect_line ' *0*1000000-[0-9a-f]+ : Kernel code'
        expect_line 'host: cached entries: 1'
        expect_line 'host: warm: warm-42'
        expect_line 'host: warm: *0*1000000-[0-9a-f]+ : Kernel code'
        expect_line 'host: warm status 0'
        if grep -q 'decompresses the kernel' <<<"$(section)"; then
            fail "wisp left the kernel to decompress itself"
        fi
        expect_status 0 ;;
    rootdisk)
        # One marker, from the disk's /sbin/init; the file written there is in the image, and
        # the guest's clean power-off left a clean filesystem.
        expect_count 1 "wisp-guest: init reached"
        expect_line 'wisp-rootfs: / is /dev/vda \(ext4, rw,.*\)'
        expect_line '/dev/vda / ext4 rw,.* 0 0'
        expect_line 'host: rootdisk.txt: rootdisk-42'
        expect_line 'host: root.ext4 e2fsck status 0'
        expect_status 0 ;;
    readonly)
        expect_line 'ro-flags-vda-0-vdb-1'
        expect_line 'ro-write-status-[1-9][0-9]*'
        expect_line 'rw-write-status-0'
        before=$(capture 'host: ro.img md5 before \([0-9a-f]*\) after .*')
        after=$(capture 'host: ro.img md5 before [0-9a-f]* after \([0-9a-f]*\)')
        [[ -n "$before" && "$before" == "$after" ]] || fail "ro.img changed: md5 '$before' then '$after'"
        [[ "$(capture 'vdb-md5-\([0-9a-f]\{32\}\)')" == "$before" ]] \
            || fail "the guest read other data from the read-only disk than the image holds"
        rw_before=$(capture 'host: rw.img md5 before \([0-9a-f]*\) after .*')
        rw_after=$(capture 'host: rw.img md5 before [0-9a-f]* after \([0-9a-f]*\)')
        [[ -n "$rw_after" && "$rw_before" != "$rw_after" ]] || fail "the write to the writable disk did not reach rw.img"
        expect_status 0 ;;
    serials)
        expect_line 'serial-vda-disk-a'
        expect_line 'serial-vdb-disk-b'
        expect_status 0 ;;
    fstrim)
        # A 32 MiB file: written, its blocks are allocated in the image; trimmed, most go back.
        file_kib=32768
        before=$(capture 'host: trim.ext4 KiB before the boot: \([0-9]*\)')
        written=$(capture 'host: trim.ext4 KiB after the write: \([0-9]*\)')
        trimmed=$(capture 'host: trim.ext4 KiB after fstrim: \([0-9]*\)')
        [[ -n "$before" && -n "$written" && -n "$trimmed" ]] || fail "missing allocation figures"
        (( written - before >= file_kib * 9 / 10 )) \
            || fail "the image grew by $((written - before)) KiB for a $file_kib KiB file"
        (( written - trimmed >= file_kib * 3 / 4 )) \
            || fail "fstrim gave back $((written - trimmed)) KiB of the $file_kib KiB file"
        expect_line '/mnt: [0-9]+ bytes trimmed'
        expect_line 'host: trim.ext4 e2fsck status 0'
        expect_status 0 ;;
    acpioff)
        # Both CPUs from the MP table, and interrupts (COM1's among them) through the I/O APIC.
        expect_line 'acpioff-cpus-2 [1-9][0-9]*'
        expect_status 4 ;;
    net)
        expect_line 'ping-ok-42'
        host_md5=$(capture 'host: host.bin md5 \([0-9a-f]\{32\}\)')
        [[ -n "$host_md5" ]] || fail "no checksum of the host's file"
        expect_line "down-md5-$host_md5"
        guest_md5=$(capture 'up-md5-\([0-9a-f]\{32\}\)')
        [[ -n "$guest_md5" ]] || fail "no checksum of the guest's file"
        expect_line "host: guest.bin md5 $guest_md5"
        expect_status 0 ;;
    jail)
        expect_line 'jail-ping-ok-42'
        expect_line 'host: Uid: 65534 65534 65534 65534'
        expect_line 'host: CapEff: 0000000000000000'
        expect_line 'host: CapBnd: 0000000000000000'
        expect_line 'host: NSpid: [0-9]+ 1'
        expect_line 'host: cgroup /wisp-[0-9]+ memory.max 805306368'
        for thread in wisp wisp-vcpu0 wisp-blk0 wisp-net0; do
            expect_line "host: thread $thread Seccomp:2"
        done
        written=$(capture 'jail-md5-\([0-9a-f]\{32\}\)')
        [[ -n "$written" ]] || fail "no checksum of what the guest wrote"
        expect_line "host: jail.img md5 $written"
        expect_line 'host: jail dir after: 1 entries'
        section | grep -q '^host: cgroup left' && fail "the jail's cgroup is left"
        expect_status 0 ;;
    virtiofs)
        expect_line 'mounted-42'
        expect_line 'host-says-written-by-the-host'
        expect_line 'wrote-42'
        expect_line 'ro-says-read-only-content'
        expect_line 'ro-refused-42'
        expect_line 'host: guest.txt: written-by-the-guest'
        expect_line 'host: read-only dir holds: file.txt '
        section | grep -q '^host: .*left' && fail "virtiofsd or its socket directory is left"
        # Linux's driver looks for a DAX window through SHMSel: not a bad register write.
        section | grep -q 'reserved register' && fail "a register write was refused"
        expect_status 0 ;;
    fskill)
        expect_line 'fs-mounted-42'
        expect_line 'host: killed virtiofsd'
        expect_line 'fs-error-42'
        expect_line 'alive-42'
        expect_line 'wisp: error: fs0: the back end hung up .*'
        section | grep -q '^host: .*left' && fail "a socket directory is left"
        expect_status 0 ;;
    hostroot)
        expect_line "hostroot-pwd-$(capture 'host: cwd \(.*\)')"
        expect_line 'hostroot-file-written-by-the-host'
        expect_line 'hostroot-overlay-overlay'
        expect_line 'host: host /etc untouched'
        section | grep -q '^host: .*left' && fail "virtiofsd or a run directory is left"
        expect_status 7 ;;
    api)
        expect_line 'host: api PUT /actions: +status 0'
        expect_line 'host: api GET /: \{ +"app_name": "Wisp", +"id": "api-check", +"state": "Running", .*status 0'
        expect_line 'keyboard-1-found'
        expect_line 'nics-eth0 lo '
        expect_line 'vdb-before-2048-[0-9a-f]{32}'
        expect_line 'host: host-to-guest: OK [0-9]+ pong hello-from-host '
        expect_line 'guest-listener-'
        expect_line 'guest-to-host-host-pong hello-from-guest'
        b_md5=$(capture 'host: api-b md5 \([0-9a-f]*\)')
        expect_line "vdb-after-4096-$b_md5"
        expect_line 'host: api PATCH /drives/scratch: +status 0'
        expect_line 'host: api PATCH /vm: +status 0'
        expect_line 'host: api GET /: .*"state": "Paused".*status 0'
        expect_line 'host: paused: the console grew 0 bytes, the vCPUs ran 0 ticks'
        expect_line 'host: resumed: the console grows again'
        expect_line 'host: guest uptime across the pause: [0-9.]+ to [0-9.]+ \(-?[0-9.]+ s later\)'
        gap=$(capture 'host: guest uptime across the pause: .* (\([0-9.]*\) s later)')
        if [[ "$(capture 'clocksource-\(.*\)')" == kvm-clock ]]; then
            awk -v gap="$gap" 'BEGIN { exit !(gap < 1.5) }' ||
                fail "the guest's kvmclock went on by $gap s while it was paused"
        fi
        expect_line 'host: metrics: [1-9][0-9]* lines'
        expect_line "host: the logger's file has wisp's log"
        expect_line 'host: the API socket is gone'
        section | grep -q '^host: api .*status [^0]' && fail "an API request failed"
        expect_status 4 ;;
    fcfile)
        expect_line '/dev/vda / ext4 rw,.* 0 0'
        expect_line 'cpus-2'
        expect_line 'vsock-dev-42'
        expect_line 'fcfile-42'
        expect_status 0 ;;
    hostshell)
        expect_line 'shell-says-42'
        section | grep -q '^host: .*left' && fail "virtiofsd or a run directory is left"
        expect_status 5 ;;
    net2)
        expect_line 'nics-eth[0-9]-eth[0-9]'
        expect_line 'nic1-ok-42'
        expect_line 'nic2-ok-42'
        expect_status 0 ;;
    netmq)
        expect_line 'host: wtapm addressed'
        expect_line 'queues-rx-0 rx-1 tx-0 tx-1 '
        expect_line 'mq-done-42'
        # Both pairs carried frames each way.
        for pair in 0 1; do
            expect_line ".*net0: queue pair $pair: [1-9][0-9]* frames sent, [1-9][0-9]* received"
        done
        expect_line 'host: wtapm gone'
        expect_status 0 ;;
    netreload)
        expect_line 'before-ok-42'
        expect_line 'reloaded-ok-42'
        expect_line 'relinked-ok-42'
        expect_status 0 ;;
    netflood)
        before=$(capture 'host: wisp RSS KiB before the flood \([0-9]*\) after .*')
        after=$(capture 'host: wisp RSS KiB before the flood [0-9]* after \([0-9]*\)')
        [[ -n "$before" && -n "$after" ]] || fail "no RSS figures"
        (( after - before < 1024 )) || fail "wisp's RSS grew from $before to $after KiB"
        # The TAP counts as sent what wisp read, and as dropped what found its queue full.
        dropped=$(capture 'host: wtapf frames to the guest [0-9]* dropped \([0-9]*\)')
        (( ${dropped:-0} >= 100 )) || fail "the flood did not fill the TAP's queue (dropped '$dropped')"
        ticks=$(capture 'host: wisp-net0 ticks in 3 s after the flood: \([0-9]*\)')
        (( ${ticks:-999} < 30 )) || fail "wisp-net0 used $ticks ticks in 3 idle seconds"
        expect_line 'after-flood-ok-42'
        expect_status 0 ;;
    sigkill)
        # What the guest synced before wisp was killed is there after the journal's replay, in
        # a consistent filesystem.
        expect_line 'host: killed wisp'
        md5=$(capture 'sigkill-md5-\([0-9a-f]\{32\}\)')
        [[ -n "$md5" ]] || fail "the guest printed no checksum of its file"
        expect_line "host: seq.txt md5 $md5"
        expect_line 'host: replayed e2fsck status 0'
        expect_status 137 ;;
    *)
        echo "verify.sh: unknown check '$name'"; exit 2 ;;
esac
echo "PASS: linux check '$name'"
