#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Console benchmark, run in the rig by scripts/bench.sh: the dedicated
# function (/dev/hvcEP0), the mediated one (a local virtio_console's
# /dev/hvcN) and a pty pair, one after the other in one boot.  For each:
# bulk throughput both ways and a 1-byte echo round trip, each repeated.
# Prints one "BENCH ..." line per measurement; scripts/bench.sh makes the
# table.
#
#   BENCH PATH DIR REP MIBPS EP_CPU_MS_PER_MIB RIG_CPU_MS_PER_MIB
#   BENCH PATH rtt REP MIN_US MEDIAN_US MAX_US
#
# EP_CPU is the endpoint's share: its poll thread plus the process on the
# endpoint's tty ("-" for the pty).  RIG_CPU is all CPU time of the guest,
# host and endpoint together (the mediated path's local virtio_console
# works on the host's CPU in this rig, so only this one shows all of it).
#
# Placement (CPU 0 the host's, CPU 1 the endpoint's): the dedicated and pty
# paths write and read each on their own side's CPU; the mediated one has
# its writers on CPU 0 and readers on CPU 1 (see tests/guest/40-vmed.sh
# for why), its echo on CPU 0.  Every writer stays at most 128 KiB ahead
# of its reader, which the mediated path needs in this rig.

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh
. /tests/lib/vmed.sh

# Sizes from scripts/bench.sh, on the kernel command line
MIB=$(sed -n 's/.*vep\.bench_mib=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
REPS=$(sed -n 's/.*vep\.bench_reps=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
MIB=${MIB:-8}
REPS=${REPS:-3}
# A transfer gives up below 1/8 MiB/s (30 s at least): scripts/bench.sh
# sizes the whole run's time limit the same way
XFER_SECS=$((MIB * 8 > 30 ? MIB * 8 : 30))
XFER="/tests/bin/vep-xfer -s $((MIB * 1048576)) -b 65536 -a 131072 -t $XFER_SECS"
POLL_CPU=1
HOST_CPUS=1
EP_CPUS=2

# poll_ticks: CPU time of the poll thread so far, in clock ticks
poll_ticks() {
	for pt in /proc/[0-9]*; do
		[ "$(cat "$pt/comm" 2>/dev/null)" = "epf-virtio/$POLL_CPU" ] || continue
		awk '{ print $14 + $15 }' "$pt/stat"
		return 0
	done
	echo 0
}

# rig_ticks: busy CPU time of all CPUs so far, in clock ticks
rig_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# field NAME LINE...: the value after NAME in a vep-xfer result line
field() {
	fn_name=$1
	shift
	while [ $# -gt 1 ]; do
		[ "$1" = "$fn_name" ] && { echo "$2"; return; }
		shift
	done
}

# bulk PATH DIR WCPU RCPU EPSIDE TX RX: one bulk run; EPSIDE (wr, rd or
# none) names the process on the endpoint's tty
bulk() {
	b_p0=$(poll_ticks)
	b_r0=$(rig_ticks)
	b_out=$($XFER -W "$3" -R "$4" "$6" "$7")
	b_rc=$?
	b_p1=$(poll_ticks)
	b_r1=$(rig_ticks)
	if [ $b_rc -ne 0 ]; then
		echo "# $1 $2: vep-xfer failed ($b_rc): $b_out"
		return 1
	fi
	b_ep=-
	if [ "$5" != none ]; then
		b_proc=$(field "${5}_cpu_us" $b_out)
		b_ep=$(awk -v t=$((b_p1 - b_p0)) -v p="$b_proc" -v m="$MIB" \
			'BEGIN { printf "%.1f", (t * 10 + p / 1000) / m }')
	fi
	b_rig=$(awk -v t=$((b_r1 - b_r0)) -v m="$MIB" \
		'BEGIN { printf "%.1f", t * 10 / m }')
	echo "BENCH $1 $2 $rep $(field mibps $b_out) $b_ep $b_rig"
}

# rtt PATH WCPU RCPU TX RX: one round of 20 echoes
rtt() {
	r_out=$(/tests/bin/vep-xfer -l 20 -g 20 -W "$2" -R "$3" "$4" "$5") || {
		echo "# $1 rtt: vep-xfer failed: $r_out"
		return 1
	}
	set -- "$1" $r_out
	echo "BENCH $1 rtt $rep $4 $6 $8"
}

echo "# console benchmark: $MIB MiB per transfer, $REPS runs each"

# --- dedicated ---------------------------------------------------------------
vcon_load >/dev/null
if vcon_fn con0 0 4 && host_wait_bound "$(host_bdf 0)" 30; then
	term_sides
	rep=1
	while [ $rep -le "$REPS" ]; do
		bulk dedicated h2e 0 1 rd /dev/hvc0 /dev/hvcEP0
		bulk dedicated e2h 1 0 wr /dev/hvcEP0 /dev/hvc0
		rtt dedicated 0 1 /dev/hvc0 /dev/hvcEP0
		rep=$((rep + 1))
	done
else
	echo "# dedicated: the host did not bind the function"
fi
echo 0 >"$(rig_epc 0)/start"
rig_link 0 down
rm -f "$(rig_epc 0)/con0"
rmdir "$EPCFS/functions/pci_epf_vcon/con0"
rmmod pci_epf_vcon

# --- mediated ------------------------------------------------------------------
rig_insmod pci-epf-vmed
fn=$EPCFS/functions/pci_epf_vmed/med0
if mkdir "$fn" && echo "$POLL_CPU" >"$fn/vmed/poll_cpu" &&
   echo 0 >"$fn/vmed/irq_cpu" && echo 4 >"$fn/msix_interrupts" &&
   vmed_link 0 && vmed_find_local && term_sides && vmed_up 0 &&
   vmed_find_host; then
	term_sides
	rep=1
	while [ $rep -le "$REPS" ]; do
		bulk mediated h2e 0 1 rd "/dev/$host_hvc" "/dev/$ep_hvc"
		bulk mediated e2h 0 1 wr "/dev/$ep_hvc" "/dev/$host_hvc"
		rtt mediated 0 0 "/dev/$host_hvc" "/dev/$ep_hvc"
		rep=$((rep + 1))
	done
else
	echo "# mediated: the function did not come up"
	vmed_diag
fi
vmed_down 0

# --- pty pair ----------------------------------------------------------------------
rep=1
while [ $rep -le "$REPS" ]; do
	bulk pty h2e 0 1 none pty-m pty-s
	bulk pty e2h 0 1 none pty-s pty-m
	rtt pty 0 1 pty-m pty-s
	rep=$((rep + 1))
done

echo "# host set-ups retried after a poll thread lapse: $SETUP_RETRIES"
rig_check_dmesg
