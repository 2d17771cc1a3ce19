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
    *)
        echo "verify.sh: unknown check '$name'"; exit 2 ;;
esac
echo "PASS: linux check '$name'"
