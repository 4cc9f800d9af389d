#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The dedicated console function: the host's stock virtio_console on one
# side, /dev/hvcEP0 on the endpoint side, fed straight from the host's rings.
#
# Host and endpoint share this kernel, and the host's console driver spins
# with interrupts off until the device has used its buffer: the endpoint's
# poll thread and tasks run on CPU 1, the host's tasks and the host side
# of link changes on CPU 0 (see term.sh).
#
# vep-timeout: 400

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh

term_require_kernel

vcon_load
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0

# --- setup, traced ---------------------------------------------------------
# The core's tracepoints on while the host sets the device up: each status
# it wrote, and each queue address the poll thread took
TRACING=/sys/kernel/tracing
mount -t tracefs nodev "$TRACING" 2>/dev/null
tap_check "tracefs has the core's events" \
	sh -c "echo 1 >$TRACING/events/pci_epf_virtio/enable"
tap_check "con0 on controller 0, MSI-X, link up" vcon_fn con0 0 4
bdf=$(host_bdf 0)
tap_diag "host device: ${bdf:-none}"
tap_check "host virtio_console binds the device" host_wait_bound "$bdf" 30 ||
	{ tap_end; exit 1; }
term_sides
tap_check "endpoint has /dev/hvcEP0" test -c /dev/hvcEP0
tap_check "configfs names the tty" grep -qx hvcEP0 "$fn/vcon/tty"
tap_check "the host uses MSI-X" test "$(host_irq_kind "$bdf")" = MSI-X
if echo 64 >"$fn/vcon/queue_size" 2>/dev/null; then
	tap_fail "queue_size refused while bound"
else
	tap_ok "queue_size refused while bound"
fi

# --- data, small then bulk -----------------------------------------------
i0=$(host_irqs "$bdf")
xfer_check "host to endpoint: 4 KiB" 4096 /dev/hvc0 /dev/hvcEP0 30
xfer_check "endpoint to host: 4 KiB" 4096 /dev/hvcEP0 /dev/hvc0 30
i1=$(host_irqs "$bdf")
tap_check "host took MSI-X interrupts ($i0 -> $i1)" test "$i1" -gt "$i0"
# The device is running by now: DRIVER_OK went by.  The recording stops;
# the events stay enabled: turning them off patches the code the running
# poll thread executes, and TCG has been seen to leave a vCPU on a
# half-patched call site (an int3 oops in the one-kernel rig)
echo 0 >"$TRACING/tracing_on"
grep -E 'epf_virtio_(status|setup):' "$TRACING/trace" >/tmp/setup.trace
sed -n 's/^ */# trace: /; 1,40p' /tmp/setup.trace
tap_check "traced: the host set DRIVER_OK" \
	grep -Eq 'epf_virtio_status: .* -> 0x[4-7c-f]$' /tmp/setup.trace
tap_check "traced: an address for each of the 2 queues" test \
	"$(grep -Ec 'epf_virtio_setup: .* pfn 0x' /tmp/setup.trace)" -ge 2
xfer_check "host to endpoint: 16 MiB" 16777216 /dev/hvc0 /dev/hvcEP0 300
xfer_check "endpoint to host: 16 MiB" 16777216 /dev/hvcEP0 /dev/hvc0 300
# What that cost the link, by MMIO: the host's transmit queue (1) read by
# the CPU, its receive queue (0) written by it
rd=$(rig_cost 1 data_rd_bytes)
wr=$(rig_cost 0 data_wr_bytes)
tap_check "counted: the CPU read at least 16 MiB of buffer data from the host (${rd:-none})" \
	test "${rd:-0}" -ge 16777216
tap_check "counted: the CPU wrote at least 16 MiB of buffer data to the host (${wr:-none})" \
	test "${wr:-0}" -ge 16777216
tap_diag "ring CPU reads per chain: $(awk '$1 == "queue" {
	printf "queue %s %.1f (and %.1f polls that found nothing); ", $2,
		$24 ? $4 / $24 : 0, $24 ? $28 / $24 : 0 }' \
	/sys/kernel/debug/pci_epf_virtio/*/cost)"

# --- logins both ways ------------------------------------------------------
term_open /dev/hvc0
on_ep /usr/bin/setsid agetty -L --nohints hvcEP0 vt100 </dev/null >/dev/null 2>&1 &
getty=$!
term_login "host hvc0 logs in through a getty on the endpoint's hvcEP0"
term_close
rig_kill "$getty"

# --- the kernel console ------------------------------------------------------
# hvcEP0 as a kernel console (nbcon), switched on through configfs: what the
# endpoint's kernel logs reaches the host's hvc0, once the backlog it
# replays first has gone through
term_open /dev/hvc0
tap_check "kernel console hvcEP0 switched on" \
	sh -c "echo 1 >$fn/vcon/console"
tap_check "configfs says hvcEP0 prints kernel messages" \
	grep -qx 1 "$fn/vcon/console"
sleep 2
kmark="vep-kcon-$$-$(now_cs)"
echo "<3>$kmark" >/dev/kmsg
tap_check "a kernel message reaches the host's hvc0" term_wait "$kmark" 1 20 ||
	term_dump
tap_check "kernel console hvcEP0 switched off" \
	sh -c "echo 0 >$fn/vcon/console"
tap_check "configfs says hvcEP0 is quiet" grep -qx 0 "$fn/vcon/console"
kmark="vep-kcon-$$-$(now_cs)"
echo "<3>$kmark" >/dev/kmsg
sleep 2
tap_check "no kernel message reaches the host's hvc0 once off" \
	sh -c "! grep -qF -- $kmark $TERM_LOG"
term_close

# --- idle cost and wake-up latency ------------------------------------------
#
# With no traffic the poll thread backs off to a 5 ms timer.  What 200
# wake-ups a second cost depends on the machine (under TCG, much, and more
# the busier the emulator's host is), so the poll thread is measured side
# by side, over the same windows, with a reference thread on the same CPU
# that only sleeps 5 ms at a time (tests/ref/vep-idle-ref.c): the poll
# thread may take IDLE_RATIO times the reference's CPU time, no more.  An
# idle poll reads a few words of BAR0 and the avail index of each live
# ring; a thread left at the hot rate (50 us sleeps) would take tens of
# times the reference, a spinning one hundreds.  A byte sent after 200 ms
# of silence finds the device idle: the time it takes to arrive is the
# wake-up latency.
IDLE_RATIO=2
# task_pid COMM: the task called COMM
task_pid() {
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}
# run_us PID: CPU time of task PID so far, in microseconds
run_us() {
	awk '$1 == "se.sum_exec_runtime" { printf "%d\n", $3 * 1000 }' \
		"/proc/$1/sched"
}
poll_pid=$(task_pid "epf-virtio/$POLL_CPU")
tap_check "reference thread on the poll thread's CPU" \
	insmod /lib/modules/vep/vep-idle-ref.ko cpu="$POLL_CPU"
ref_pid=$(task_pid "vep-idle-ref/$POLL_CPU")
sleep 1
idle_ok=0
if [ -n "$poll_pid" ] && [ -n "$ref_pid" ]; then
	p0=$(run_us "$poll_pid") r0=$(run_us "$ref_pid")
	sleep 10
	p1=$(run_us "$poll_pid") r1=$(run_us "$ref_pid")
	idle_poll=$((p1 - p0)) idle_ref=$((r1 - r0))
	tap_diag "idle over 10 s: poll thread $idle_poll us, reference $idle_ref us"
	[ "$idle_ref" -gt 0 ] && [ "$idle_poll" -le $((IDLE_RATIO * idle_ref)) ] &&
		idle_ok=1
else
	tap_diag "threads not found: poll thread '$poll_pid', reference '$ref_pid'"
fi
tap_check "idle poll thread costs at most $IDLE_RATIO times a bare 5 ms sleeper (${idle_poll:-?} vs ${idle_ref:-?} us)" \
	test "$idle_ok" -eq 1
rmmod vep_idle_ref
for dir in "/dev/hvc0 /dev/hvcEP0" "/dev/hvcEP0 /dev/hvc0"; do
	# shellcheck disable=SC2086 # two words
	lat=$(/tests/bin/vep-lat -n 20 -g 200 $dir 2>/tmp/lat.err)
	lat_rc=$?
	med=$(echo "$lat" | cut -d' ' -f2)
	# a byte lost counts 1 s in the spread, but fails the case whatever
	# the median
	tap_check "wake-up latency ${dir% *} -> ${dir#* }: median ${med:-?} us (min/median/max $lat), none lost" \
		sh -c "cat /tmp/lat.err; test $lat_rc -eq 0 -a -n '$med' -a '${med:-999999}' -lt 20000"
done

# --- teardown ---------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "host device gone" test ! -e "/sys/bus/pci/devices/$bdf"
tap_check "unlink the function" rm "$epc/con0"
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
