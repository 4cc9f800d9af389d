#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The console function's life cycle, with data moving: the endpoint stops
# and starts its link, the host's driver is unbound and bound again 25
# times while both sides stream, and the host's hvc0 serves a login to the
# endpoint.  Sides and CPUs as in 30-vcon.sh; set-up retries as in
# tests/lib/vcon.sh (host_wait_bound).  The endpoint's tty opened, closed
# and hung up while the host writes is a two-machine case
# (tests/two/two-30-vcon.sh): here the host's writer waits for the device
# with its CPU's interrupts off, which the endpoint's tty work may need.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh

term_require_kernel

# Loop lengths.  Each pass is a host set-up, which a vCPU stall of this rig
# can make the endpoint miss (see tests/lib/host.sh); a group may retry
# one.  Fifty rebinds and twenty restarts met two stalls in one CI run.
STOPS=10
REBINDS=25

vcon_load
term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0

tap_check "con0 on controller 0, MSI-X, link up" vcon_fn con0 0 4
bdf=$(host_bdf 0)
tap_check "host virtio_console binds the device" host_wait_bound "$bdf" 30 ||
	{ tap_end; exit 1; }
term_sides

# --- endpoint stop/start ---------------------------------------------------------
n=0
why=
while [ $n -lt $STOPS ]; do
	echo 0 >"$epc/start" || { why="stop failed"; break; }
	rig_link 0 down || { why="link not down"; break; }
	echo 1 >"$epc/start" || { why="start failed"; break; }
	rig_link 0 up || { why="link not up"; break; }
	host_wait_bound "$bdf" 10 || { why="host driver not bound"; break; }
	n=$((n + 1))
done
tap_check "endpoint stopped and started $STOPS times ($n done${why:+: $why})" \
	test $n -eq $STOPS
[ -n "$why" ] && dmesg | tail -n 8 | sed 's/^/# /'
term_sides
xfer_check "host to endpoint after the restarts: 256 KiB" 262144 \
	/dev/hvc0 /dev/hvcEP0 60
xfer_check "endpoint to host after the restarts: 256 KiB" 262144 \
	/dev/hvcEP0 /dev/hvc0 60

# --- link down and up while the poll thread cannot run ---------------------------
# The link events must not wait for the poll thread.  With its CPU taken by
# a real-time spinner (no throttling, no fair server), the endpoint stops
# and starts its link at once; the device is back in its power-on state all
# the same, so once the CPU is free a host driver binds it and data moves.
# The spinner starts once the thread is back to idle polling (10 s after
# the last link or host activity), so that it almost surely finds the
# thread between two passes, not in one (a link down waits for a pass).
# This shell stays on the other CPU meanwhile.
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
sleep 11
taskset -p "$HOST_CPUS" $$ >/dev/null
rt=$(cat /proc/sys/kernel/sched_rt_runtime_us)
echo -1 >/proc/sys/kernel/sched_rt_runtime_us
mount -t debugfs none /sys/kernel/debug 2>/dev/null
fs=/sys/kernel/debug/sched/fair_server/cpu$POLL_CPU/runtime
fs_old=
if [ -w "$fs" ]; then
	fs_old=$(cat "$fs")
	echo 0 >"$fs"
fi
/tests/bin/vep-hog "$POLL_CPU" 4000 &
hog=$!
sleep 0.3
t0=$(uptime_ms)
echo 0 >"$epc/start" && rig_link 0 down
t1=$(uptime_ms)
echo 1 >"$epc/start" && rig_link 0 up
t2=$(uptime_ms)
kill -0 "$hog" 2>/dev/null
hog_ran=$?
wait "$hog"
hog_status=$?
[ -z "$fs_old" ] || echo "$fs_old" >"$fs"
tap_diag "fair server of CPU $POLL_CPU: ${fs_old:-none} ns, off during the spin"
echo "$rt" >/proc/sys/kernel/sched_rt_runtime_us
taskset -p 3 $$ >/dev/null
tap_check "link down ($((t1 - t0)) ms) and up ($((t2 - t1)) ms) with the poll thread held off, each under 500 ms" \
	test $((t1 - t0)) -lt 500 -a $((t2 - t1)) -lt 500 -a "$hog_ran" -eq 0 -a "$hog_status" -eq 0
# The host's driver probed at link up, with no poll thread to take its
# queues: that probe fails, as the legacy interface must.  A new one works.
bdf=$(host_bdf 0)
tap_check "host driver rebound after the held-off link up" sh -c \
	"echo $bdf > $VIRTIO_PCI/unbind; echo $bdf > $VIRTIO_PCI/bind"
tap_check "host virtio_console binds once the poll thread runs" \
	host_wait_bound "$bdf" 10
term_sides
xfer_check "host to endpoint after the held-off link cycle: 64 KiB" 65536 \
	/dev/hvc0 /dev/hvcEP0 30
xfer_check "endpoint to host after the held-off link cycle: 64 KiB" 65536 \
	/dev/hvcEP0 /dev/hvc0 30

# --- host driver unbind/bind, with traffic ---------------------------------------
#
# Both sides stream self-checking lines (tests/tools/vep-stream.c) all
# along.  The endpoint's streamer keeps hvcEP0 open through every rebind:
# its writer blocks while no host driver is there and must go on with no
# gap when the next one comes.  Each bound host driver gets a streamer of
# its own on hvc0.  Data the old host driver had taken but its reader not
# yet read goes with it; everything else must arrive in order, with no gap,
# dup or damage.
#
# The host's streamer closes hvc0 right before each unbind, while the
# endpoint streams on: its data is still coming into the host's ring at
# the unbind (counted from the host's interrupts, a diagnostic).  Host to
# endpoint traffic cannot go on through the unbind: unbinding with hvc0
# open and data coming in races in the host's stock drivers: khvcd sees
# the port gone (virtio_console's get_chars says -EPIPE) and queues a
# hangup on a tty that the closing reader may free meanwhile (seen in the
# rig as list corruption in the workqueue, then a hung CPU).
#
# The endpoint's reader was there before any host session began, so each
# must reach it from its line 0 (vep-stream -s) and up to what its writer
# wrote, less at most 64 lines: the host hvc's 4 KiB output buffer, which
# the unbind drops if the device had not taken it yet; and at most one
# 32-line batch more than the writer counted (a write the kill cut short).
rm -f /tmp/ep-stream.out /tmp/ep-sessions
taskset "$EP_CPUS" /tests/bin/vep-stream -s -l /tmp/ep-sessions E H /dev/hvcEP0 \
	>/tmp/ep-stream.out &
ep_stream=$!
sleep 0.5

# host_stream N: run host streamer N until it has moved 100 lines each way
host_stream() {
	rm -f /tmp/host-ready
	taskset "$HOST_CPUS" /tests/bin/vep-stream -m 100 -r /tmp/host-ready H E /dev/hvc0 \
		>"/tmp/host-stream.$1" 2>&1 &
	hs_pid=$!
	rig_wait 30 test -e /tmp/host-ready
}

# host_stream_end: stop the host's streamer; it found no errors
host_stream_end() {
	kill "$hs_pid"
	wait "$hs_pid"
}

n=0
live=0
why=
while [ $n -lt $REBINDS ]; do
	host_stream $n || { why="no traffic"; break; }
	host_stream_end || { why="host stream: $(cat /tmp/host-stream.$n)"; break; }
	i0=$(host_irqs "$bdf")
	sleep 0.05
	[ "$(host_irqs "$bdf")" -gt "$i0" ] && live=$((live + 1))
	echo "$bdf" >"$VIRTIO_PCI/unbind" || { why="unbind failed"; break; }
	echo "$bdf" >"$VIRTIO_PCI/bind" || { why="bind failed"; break; }
	host_wait_bound "$bdf" 10 || { why="not bound"; break; }
	rig_wait 5 test -c /dev/hvc0 || { why="no hvc0"; break; }
	n=$((n + 1))
done
tap_check "host driver unbound and bound $REBINDS times while both sides streamed ($n done${why:+: $why})" \
	test $n -eq $REBINDS
[ -n "$why" ] && dmesg | tail -n 12 | sed 's/^/# /'
tap_diag "last host stream: $(cat "/tmp/host-stream.$((n - 1))" 2>/dev/null)"
tap_diag "endpoint data was still arriving at $live of $n unbinds"

# One more host session, then both streamers stop, the endpoint's first
tap_check "host streams after the rebinds" host_stream $n
kill "$ep_stream"
wait "$ep_stream"
ep_status=$?
host_stream_end
tap_check "host streamer stopped cleanly" test $? -eq 0
tap_diag "endpoint stream: $(cat /tmp/ep-stream.out)"
tap_check "endpoint streamed through the rebinds without errors" \
	test $ep_status -eq 0
set -- $(cat /tmp/ep-stream.out)
tap_check "endpoint got every host session's data ($((REBINDS + 1)) sessions, at least 20 lines each)" \
	test "${2:-0}" -eq $((REBINDS + 1)) -a "${6:-0}" -ge 20

# The endpoint's log names sessions by id: two host sessions with one id
# would be held against each other's lines
tap_check "each host session had an id of its own ($((n + 1)) sessions)" sh -c \
	"[ \$(grep -h '^sessions ' /tmp/host-stream.* | awk '{ print \$16 }' |
		sort -u | wc -l) -eq $((n + 1)) ]"

# sessions_whole: each host session reached the endpoint from its line 0
# to within the allowance above of what its writer wrote; but the last,
# which went on after the endpoint's reader had stopped
sessions_whole() {
	sw_bad=0
	sw_n=0
	while [ $sw_n -lt $n ]; do
		f=/tmp/host-stream.$sw_n
		sw_n=$((sw_n + 1))
		set -- $(grep '^sessions ' "$f")
		sw_w=${12:-0} sw_z=${16:-none}
		sw_l=$(awk -v z="$sw_z" '$2 == z { l = $6 } END { print l }' \
			/tmp/ep-sessions)
		if [ -z "$sw_l" ]; then
			echo "$f: session $sw_z never reached the endpoint"
			sw_bad=1
			continue
		fi
		sw_got=$((0x$sw_l + 1))
		if [ $sw_got -lt $((sw_w - 64)) ] || [ $sw_got -gt $((sw_w + 32)) ]; then
			echo "$f: session $sw_z wrote $sw_w lines, the endpoint got up to $sw_got"
			sw_bad=1
		fi
	done
	return $sw_bad
}
tap_check "each host session arrived whole: from line 0, to within 64 lines of its end ($n sessions)" \
	sessions_whole

# Then one more rebind, and a fresh host driver for the checksummed
# transfers once the endpoint's streamer has left
tap_check "host driver rebound after the streams" sh -c \
	"echo $bdf > $VIRTIO_PCI/unbind && echo $bdf > $VIRTIO_PCI/bind"
tap_check "host virtio_console binds again" host_wait_bound "$bdf" 10
rig_wait 5 test -c /dev/hvc0
# What the endpoint's streamer left in its transmit buffer comes now
exec 9<>/dev/hvc0
term_raw /dev/hvc0
on_host timeout 2 cat <&9 >/dev/null
exec 9>&-
term_sides
xfer_check "host to endpoint after the rebinds: 256 KiB" 262144 \
	/dev/hvc0 /dev/hvcEP0 60
xfer_check "endpoint to host after the rebinds: 256 KiB" 262144 \
	/dev/hvcEP0 /dev/hvc0 60

# --- login the other way: a getty on the host's hvc0 ---------------------------
term_open /dev/hvcEP0
on_host /usr/bin/setsid agetty -L --nohints hvc0 vt100 </dev/null >/dev/null 2>&1 &
getty=$!
term_login "endpoint hvcEP0 logs in through a getty on the host's hvc0"
term_close
rig_kill "$getty"

tap_diag "host set-ups retried after an endpoint lapse: $SETUP_RETRIES (at most 1 a group, each shown above)"

# --- teardown --------------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/con0"
tap_check "remove the function" rmdir "$fn"
tap_check "unload pci-epf-vcon" rmmod pci_epf_vcon
tap_check "unload pci-epf-virtio" rmmod pci_epf_virtio
rig_check_dmesg
tap_end
exit $?
