#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Console benchmark across the two machines, run by scripts/bench.sh -s
# two-console as a two-machine group of scripts/test.sh: the stock
# Debian host's virtio_console on /dev/hvc0 against the dedicated function
# (/dev/hvcEP0) and the mediated one (the hvc of the endpoint's local
# virtio_console), in one boot of the rig.  For each: bulk throughput
# both ways, a 1-byte echo round trip, and the CPU time both machines
# spent per MiB.  The paths take turns in every repetition, each function
# bound for its own turn only (set up, measured, unlinked and removed).
# Prints TAP for the rig's set-up, and for the measurements
#
#   BENCH-PLACEMENT TEXT...
#   BENCH PATH DIR REP MIBPS EP_CPU_MS_PER_MIB HOST_CPU_MS_PER_MIB
#   BENCH PATH rtt REP MIN_US MEDIAN_US MAX_US
#   BENCH-FAIL PATH DIR|rtt REP
#
# EP_CPU: the endpoint's poll thread plus the process on the endpoint's
# tty; HOST_CPU: all busy time of the host machine's CPUs.  The writer and
# the reader are tests/tools/vep-xfer on each machine (-w, -r), the echo
# its -e at the endpoint and -l at the host.  MiB and repetitions from
# $VEP_BENCH_MIB (default 1) and $VEP_BENCH_REPS (default 3).
#
# vep-timeout: 3600
# vep-two-default: no

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

MIB=${VEP_BENCH_MIB:-1}
REPS=${VEP_BENCH_REPS:-3}
BYTES=$((MIB * 1048576))
# A transfer gives up below 1/64 MiB/s, 60 s at least
XSECS=$((MIB * 64 > 60 ? MIB * 64 : 60))
XFER=/tests/bin/vep-xfer
# Where the ends run: the endpoint's on CPU 0, away from the poll thread
# (the mediated path's local virtio_console spins there for it), the
# host's on CPU 0
EP_CPU=0
HOST_CPU=0
POLL_COMM=epf-virtio/$TWO_POLL_CPU
CON=$TWO_EPF/pci_epf_vcon/con0
MED=$TWO_EPF/pci_epf_vmed/med0

# ep_poll_ticks: CPU time of the endpoint's poll thread, in clock ticks
ep_poll_ticks() {
	on_ep "for p in /proc/[0-9]*; do
		[ \"\$(cat \$p/comm 2>/dev/null)\" = '$POLL_COMM' ] || continue
		awk '{ print \$14 + \$15 }' \$p/stat; exit 0
	done; exit 1"
}

# host_ticks: busy time of all the host machine's CPUs, in clock ticks
host_ticks() {
	on_host "awk '/^cpu / { print \$2 + \$3 + \$4 + \$7 + \$8 + \$9 }' /proc/stat"
}

# field NAME LINE: the value after NAME in a vep-xfer line
field() {
	local name=$1
	# shellcheck disable=SC2086 # the line's words
	set -- $2
	while [ $# -gt 1 ]; do
		[ "$1" = "$name" ] && { echo "$2"; return; }
		shift
	done
}

# xfer_wait SIDE: the vep-xfer on SIDE ended; its output
xfer_wait() {
	"on_$1" -t $((XSECS + 30)) "n=$(((XSECS + 20) * 10))
		while [ \$n -gt 0 ] && grep -qsx vep-xfer /proc/[0-9]*/comm; do
			sleep 0.1; n=\$((n - 1))
		done
		cat /tmp/bench.rd"
}

# bulk PATH DIR WSIDE WTTY RSIDE RTTY: one bulk run from WTTY on machine
# WSIDE to RTTY on RSIDE
bulk() {
	local path=$1 dir=$2 ws=$3 wt=$4 rs=$5 rt=$6 p0 p1 h0 h1 w r proc ep
	local wcpu=$HOST_CPU rcpu=$EP_CPU
	[ "$ws" = host ] || { wcpu=$EP_CPU; rcpu=$HOST_CPU; }
	p0=$(ep_poll_ticks)
	h0=$(host_ticks)
	if ! "on_$rs" "rm -f /tmp/bench.rd
		$XFER -r -s $BYTES -R $rcpu -t $XSECS $rt </dev/null >/tmp/bench.rd 2>&1 &
		sleep 0.5" >/dev/null 2>&1; then
		echo "# $path $dir run $rep: the reader did not start"
		echo "BENCH-FAIL $path $dir $rep"
		return 1
	fi
	w=$("on_$ws" -t $((XSECS + 30)) "$XFER -w -s $BYTES -W $wcpu $wt" 2>&1)
	r=$(xfer_wait "$rs" 2>&1)
	p1=$(ep_poll_ticks)
	h1=$(host_ticks)
	if [ "$(field bytes "$r")" != "$BYTES" ] || [ "$(field errors "$r")" != 0 ]; then
		echo "# $path $dir run $rep: failed: writer: $w; reader: $r"
		echo "BENCH-FAIL $path $dir $rep"
		"on_$rs" "killall vep-xfer" >/dev/null 2>&1
		return 1
	fi
	# The endpoint's process: the writer or the reader
	if [ "$ws" = ep ]; then
		proc=$(field wr_cpu_us "$w")
	else
		proc=$(field rd_cpu_us "$r")
	fi
	if [ -z "$p0" ] || [ -z "$p1" ]; then
		echo "# ERROR: $path $dir run $rep: no endpoint CPU figure: thread $POLL_COMM not found"
		ep=n/a:thread-not-found
	else
		ep=$(awk -v t=$((p1 - p0)) -v p="${proc:-0}" -v m="$MIB" \
			'BEGIN { printf "%.1f", (t * 10 + p / 1000) / m }')
	fi
	echo "BENCH $path $dir $rep $(field mibps "$r") $ep" \
		"$(awk -v t=$((h1 - h0)) -v m="$MIB" 'BEGIN { printf "%.1f", t * 10 / m }')"
}

# rtt PATH HOST_TTY EP_TTY: 20 echoes, the host writing, the endpoint
# sending back
rtt() {
	local out
	on_ep "$XFER -e -R $EP_CPU -t 120 $3 </dev/null >/dev/null 2>&1 &
		sleep 0.5" >/dev/null 2>&1
	out=$(on_host -t 60 "$XFER -l 20 -g 20 -W $HOST_CPU $2" 2>&1)
	on_ep "killall vep-xfer" >/dev/null 2>&1
	if [ "$(field lost "$out")" != 0 ]; then
		echo "# $1 rtt run $rep: failed: $out"
		echo "BENCH-FAIL $1 rtt $rep"
		return 1
	fi
	echo "BENCH $1 rtt $rep $(field min "$out") $(field median "$out") $(field max "$out")"
}

# measure PATH HOST_TTY EP_TTY: one repetition of every measurement
measure() {
	bulk "$1" h2e host "$2" ep "$3"
	bulk "$1" e2h ep "$3" host "$2"
	rtt "$1" "$2" "$3"
}

# fail_all PATH WHY: every measurement of PATH in this repetition failed
fail_all() {
	local m
	echo "# $1 run $rep: $2; its measurements of this run failed"
	for m in h2e e2h rtt; do
		echo "BENCH-FAIL $1 $m $rep"
	done
}

# ep_hvcs: the endpoint's hvc ttys that exist now
ep_hvcs() {
	on_ep 'for i in 0 1 2 3 4 5 6 7; do
		(exec 3</dev/hvc$i) 2>/dev/null && echo hvc$i
	done; true'
}

# up_host: the endpoint's controller started, the host's driver bound
up_host() {
	on_ep "echo 1 >$TWO_EPC/start" && two_ep_link up &&
		two_host_bound virtio_console
}

# down FN: the controller stopped, FN unlinked and removed, the host's
# device gone
down() {
	on_ep "echo 0 >$TWO_EPC/start; rm -f $TWO_EPC/${1##*/}; rmdir $1" \
		>/dev/null 2>&1
	two_host_gone 30 >/dev/null 2>&1
}

# med_hvc BEFORE: the hvc the local device added to BEFORE, once there
med_hvc() {
	local n=100 h
	while [ $n -gt 0 ]; do
		h=$(comm -13 <(echo "$1") <(ep_hvcs) | head -n 1)
		[ -n "$h" ] && { echo "/dev/$h"; return 0; }
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# run_path PATH: one repetition of PATH, its function bound for it alone
run_path() {
	local before ep_tty
	case $1 in
	dedicated)
		if on_ep "mkdir $CON && echo $TWO_POLL_CPU >$CON/vcon/poll_cpu &&
			echo 4 >$CON/msix_interrupts && ln -s $CON $TWO_EPC/" \
			>/dev/null 2>&1 && up_host >/dev/null 2>&1; then
			measure dedicated /dev/hvc0 /dev/hvcEP0
		else
			fail_all dedicated "set-up failed"
		fi
		down "$CON"
		;;
	mediated)
		before=$(ep_hvcs)
		if on_ep "mkdir $MED && echo console >$MED/vmed/device &&
			echo $TWO_POLL_CPU >$MED/vmed/poll_cpu &&
			echo 4 >$MED/msix_interrupts && ln -s $MED $TWO_EPC/" \
			>/dev/null 2>&1 && ep_tty=$(med_hvc "$before") &&
			up_host >/dev/null 2>&1; then
			measure mediated /dev/hvc0 "$ep_tty"
		else
			fail_all mediated "set-up failed"
		fi
		down "$MED"
		;;
	esac
}

two_start
two_host_load virtio_console
two_ep_load pci-epf-virtio pci-epf-vcon pci-epf-vmed
two_need "endpoint: khvcd and unbound work off the poll thread's CPU" \
	two_ep_keep_off_poll_cpu
echo "# console benchmark across two machines: $MIB MiB per transfer, $REPS runs each, interleaved"
echo "BENCH-PLACEMENT host VM and endpoint VM on host CPUs of their own; host end on its CPU $HOST_CPU; endpoint end on CPU $EP_CPU, poll thread on CPU $TWO_POLL_CPU (isolated), khvcd and unbound work off it"
rep=1
while [ "$rep" -le "$REPS" ]; do
	for path in dedicated mediated; do
		run_path $path
	done
	rep=$((rep + 1))
done
two_ktrouble_case
tap_end
