#!/bin/sh
# The inner Linux guest's side of tools/bench/linux-disk.sh: its init (rdinit=/fio-bench), in
# the default guest initramfs with fio and its libraries added. Loads the modules named by
# wisp.modules= (default virtio_mmio,virtio_blk), waits for /dev/vda, runs the fio jobs on it
# (O_DIRECT, libaio; each time-based: wisp.fio_seconds= seconds after wisp.fio_ramp= seconds of
# ramp, defaults 5 and 1), prints one line per job,
#   fio-result NAME read_kib_per_s read_iops write_kib_per_s write_iops
# and powers off. Writes to the disk (the sequential-write job): give it a scratch image.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /tmp /dev/shm
mount -t tmpfs tmpfs /dev/shm

modules=virtio_mmio,virtio_blk seconds=5 ramp=1
# shellcheck disable=SC2013 # words wanted
for word in $(cat /proc/cmdline); do
    case $word in
        wisp.modules=*) modules=${word#*=} ;;
        wisp.fio_seconds=*) seconds=${word#*=} ;;
        wisp.fio_ramp=*) ramp=${word#*=} ;;
    esac
done
for module in $(echo "$modules" | tr , ' '); do modprobe "$module"; done

tenths=0
while [ ! -b /dev/vda ] && [ $tenths -lt 300 ]; do usleep 100000; tenths=$((tenths + 1)); done
if [ ! -b /dev/vda ]; then
    echo "fio-bench: error: no /dev/vda after 30 s (block devices: $(ls /sys/class/block))"
    poweroff -f
fi
echo "fio-bench: /dev/vda has $(cat /sys/class/block/vda/size) sectors;" \
    "max_sectors_kb $(cat /sys/class/block/vda/queue/max_sectors_kb)," \
    "nr_requests $(cat /sys/class/block/vda/queue/nr_requests)"

# The libraries fio was packed with (linux-disk.sh lists their directories in /fio-bench.libs).
LD_LIBRARY_PATH=$(tr '\n' : </fio-bench.libs)
export LD_LIBRARY_PATH

# One fio run for every job (fio starts slowly where everything is emulated), one after the
# other (stonewall). Terse output version 3, a line per job: field 3 its name, 7 read bandwidth
# (KiB/s), 8 read IOPS, 48 write bandwidth, 49 write IOPS.
echo "fio-bench: running at $(cut -d' ' -f1 /proc/uptime) s of uptime"
output=$(fio --filename=/dev/vda --direct=1 --ioengine=libaio --time_based --runtime="$seconds" \
    --ramp_time="$ramp" --norandommap --randrepeat=0 --output-format=terse --terse-version=3 \
    --name=seq_read --stonewall --rw=read --bs=1M --iodepth=4 \
    --name=seq_write --stonewall --rw=write --bs=1M --iodepth=4 \
    --name=randread_4k_qd1 --stonewall --rw=randread --bs=4k --iodepth=1 \
    --name=randread_4k_qd32 --stonewall --rw=randread --bs=4k --iodepth=32 2>&1)
results=$(echo "$output" | awk -F';' '$1 == 3 && NF > 49 && $5 == 0 { print "fio-result", $3, $7, $8, $48, $49 }')
if [ "$(echo "$results" | grep -c '^fio-result')" != 4 ]; then
    echo "fio-bench: error: fio did not report four jobs; its output:"
    echo "$output" | tail -n 20
fi
echo "$results"
echo "fio-bench: done at $(cut -d' ' -f1 /proc/uptime) s of uptime"
poweroff -f
