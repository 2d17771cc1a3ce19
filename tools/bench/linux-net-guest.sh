#!/bin/sh
# The inner Linux guest's side of tools/bench/linux-net.sh: its init (rdinit=/net-bench), in the
# default guest initramfs with iperf3 and its libraries added. Loads the modules named by
# wisp.modules= (default virtio_mmio,virtio_net), configures the NIC from
# ip=CLIENT::PEER:NETMASK::DEVICE:off (the static form tools/guest/init.sh reads too; the gateway
# field names the test's peer, where `iperf3 -s` listens on wisp.iperf_port=, default 5201),
# waits until the peer answers a ping, then, as the iperf3 client (TCP; wisp.iperf_seconds=
# measured seconds after 1 s that iperf3 omits, default 5), measures guest to host and host to
# guest (-R) with 1 and 4 streams, and the round-trip time of wisp.ping_count= pings (default 20,
# 0.2 s apart). Prints one line per figure,
#   net-result NAME VALUE [RETR]  NAME: g2h_1 g2h_4 h2g_1 h2g_4 (Mbit/s, as the receiver counted;
#                                 RETR the sender's TCP retransmissions), ping_avg ping_min
#                                 ping_max (ms)
#   net-intervals NAME MBIT/S...  each second's rate (after the one omitted)
#   net-stats NAME irqs=N rx_packets=N tx_packets=N rx_kicks=N tx_kicks=N busy=% steal=%
#                                 over the run: the NIC's interrupts, the queues' packets and
#                                 kicks (ethtool -S), and the vCPU's busy and stolen time
# and powers off.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /tmp /dev/shm
mount -t tmpfs tmpfs /dev/shm

modules=virtio_mmio,virtio_net seconds=5 count=20 port=5201 ip=""
# shellcheck disable=SC2013 # words wanted
for word in $(cat /proc/cmdline); do
    case $word in
        wisp.modules=*) modules=${word#*=} ;;
        wisp.iperf_seconds=*) seconds=${word#*=} ;;
        wisp.ping_count=*) count=${word#*=} ;;
        wisp.iperf_port=*) port=${word#*=} ;;
        ip=*) ip=${word#*=} ;;
    esac
done
for module in $(echo "$modules" | tr , ' '); do modprobe "$module"; done

fail() {
    echo "net-bench: error: $*"
    poweroff -f
}

# ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:off
old_ifs=$IFS
IFS=:
# shellcheck disable=SC2086 # split on colons
set -- $ip
IFS=$old_ifs
client=$1 peer=$3 netmask=${4:-255.255.255.0} device=${6:-eth0}
if [ -z "$client" ] || [ -z "$peer" ]; then
    fail "no ip=CLIENT::PEER:NETMASK::DEVICE:off on the command line"
fi
bits=0
for octet in $(echo "$netmask" | tr . ' '); do
    while [ "$octet" -gt 0 ]; do bits=$((bits + (octet & 1))); octet=$((octet >> 1)); done
done

tenths=0
while [ ! -e "/sys/class/net/$device" ] && [ $tenths -lt 100 ]; do usleep 100000; tenths=$((tenths + 1)); done
[ -e "/sys/class/net/$device" ] || fail "no $device after 10 s (interfaces: $(ls /sys/class/net))"
ip link set "$device" up
ip addr add "$client/$bits" dev "$device"
tries=0
until ping -c 1 -W 1 "$peer" >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -lt 30 ] || fail "$peer does not answer a ping (30 tries)"
    usleep 200000
done
echo "net-bench: $device ($(cat "/sys/class/net/$device/address"), mtu $(cat "/sys/class/net/$device/mtu")," \
    "$(find "/sys/class/net/$device/queues" -name 'rx-*' | grep -c .) queue pair(s)) reaches $peer" \
    "at $(cut -d' ' -f1 /proc/uptime) s of uptime"

# The libraries iperf3 was packed with (linux-net.sh lists their directories in /net-bench.libs).
LD_LIBRARY_PATH=$(tr '\n' : </net-bench.libs)
export LD_LIBRARY_PATH

# snapshot: the counters the iperf3 runs are reported with: the NIC's interrupts, its queues'
# packets and kicks (the driver's notifications to the device; ethtool -S), and the CPU's busy,
# idle and stolen ticks (/proc/stat).
snapshot() {
    awk '/virtio/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { printf "%d ", s }' /proc/interrupts
    /usr/sbin/ethtool -S "$device" 2>/dev/null | awk -F: '{ gsub(/ /, "", $1) }
        $1 ~ /^rx_queue_[0-9]+_packets$/ { rp += $2 } $1 ~ /^tx_queue_[0-9]+_packets$/ { tp += $2 }
        $1 ~ /^rx_queue_[0-9]+_kicks$/ { rk += $2 } $1 ~ /^tx_queue_[0-9]+_kicks$/ { tk += $2 }
        END { printf "%d %d %d %d ", rp, tp, rk, tk }'
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9 }' /proc/stat
}

# iperf NAME ARGS...: one iperf3 run; its figure is the receiver's rate on the last summary line
# (with -P 4, [SUM]), and beside it the sender's TCP retransmissions. Then, for a look at how it
# went: the rate in each second ([SUM] with -P 4) and the counters of snapshot over the run.
iperf() {
    name=$1
    shift
    before=$(snapshot)
    output=$(iperf3 -c "$peer" -p "$port" -t "$seconds" -O 1 -f m "$@" 2>&1)
    after=$(snapshot)
    result=$(echo "$output" | awk '
        /receiver$/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") rate = $(i - 1) }
        /sender$/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") retr = $(i + 1) }
        END { if (rate != "") print rate, (retr == "" ? "-" : retr) }')
    if [ -z "$result" ]; then
        echo "net-bench: error: iperf3 $* reported no rate; its output:"
        echo "$output" | tail -n 10
        return
    fi
    echo "net-result $name $result"
    echo "$output" | awk -v name="$name" '
        function rate(   i) { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") return $(i - 1) }
        /sender$|receiver$|omitted/ { next }
        /^\[SUM\]/ && / sec / { sum = sum " " rate(); next }
        /^\[ *[0-9]+\]/ && / sec / { one = one " " rate() }
        END { print "net-intervals " name (sum != "" ? sum : one) }'
    echo "$before $after" | awk -v name="$name" '{
        n = NF / 2; for (i = 1; i <= n; i++) d[i] = $(i + n) - $i
        ticks = d[6] + d[7] + d[8]
        printf "net-stats %s irqs=%d rx_packets=%d tx_packets=%d rx_kicks=%d tx_kicks=%d busy=%.0f steal=%.0f\n",
            name, d[1], d[2], d[3], d[4], d[5], ticks ? 100 * d[6] / ticks : 0, ticks ? 100 * d[8] / ticks : 0 }'
}

iperf g2h_1 -P 1
iperf g2h_4 -P 4
iperf h2g_1 -P 1 -R
iperf h2g_4 -P 4 -R
# busybox ping: "round-trip min/avg/max = 0.123/0.456/0.789 ms"
output=$(ping -c "$count" -i 0.2 "$peer" 2>&1)
echo "$output" | awk -F'[=/ ]+' '/round-trip/ { printf "net-result ping_avg %s\nnet-result ping_min %s\nnet-result ping_max %s\n", $(NF - 2), $(NF - 3), $(NF - 1) }'
echo "$output" | grep -q round-trip || { echo "net-bench: error: ping reported no times:"; echo "$output" | tail -n 5; }
echo "net-bench: $device: rx $(cat "/sys/class/net/$device/statistics/rx_packets") packets," \
    "tx $(cat "/sys/class/net/$device/statistics/tx_packets"), rx errors" \
    "$(cat "/sys/class/net/$device/statistics/rx_errors"), rx dropped" \
    "$(cat "/sys/class/net/$device/statistics/rx_dropped")"
echo "net-bench: done at $(cut -d' ' -f1 /proc/uptime) s of uptime"
poweroff -f
