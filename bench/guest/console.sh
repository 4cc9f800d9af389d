#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Console benchmark, run in the rig by scripts/bench.sh: the dedicated
# function (/dev/hvcEP0, its own tty) moving its data by MMIO ("dedicated")
# and by the controller's DMA channels ("dma": dma_threshold 256), the same
# function on an hvc_console backend (tests/ref/vep-vcon-hvc.c: /dev/hvcN),
# the mediated one (a local virtio_console's /dev/hvcN) and a pty pair, in
# one boot.  For each: bulk throughput both ways and a 1-byte echo round
# trip.  The paths take turns in every repetition (dedicated, dma, hvc,
# mediated, pty; dedicated, dma, ...),
# and each function is bound for its own turn only: set up, measured,
# unlinked and removed again, so that every measurement runs with exactly
# one function linked (the pty with none).  Prints one "BENCH ..." line per
# measurement and one "BENCH-FAIL ..." line per measurement that failed;
# scripts/bench.sh makes the table.
#
#   BENCH-PLACEMENT TEXT...
#   BENCH PATH DIR REP MIBPS EP_CPU_MS_PER_MIB RIG_CPU_MS_PER_MIB KHVCD_CPU_MS_PER_MIB
#   BENCH PATH rtt REP MIN_US MEDIAN_US MAX_US
#   BENCH-COST PATH DIR REP RING_RD DATA_RD WR DMA DMA_BYTES CHAINS
#   BENCH-FAIL PATH DIR|rtt REP
#
# EP_CPU is the endpoint's share: its poll thread plus the process on the
# endpoint's tty.  When it cannot be measured it is "n/a:REASON" (REASON
# with "-" for spaces): "n/a:no-endpoint" for the pty, which has no
# endpoint, and for a function path an error, also printed as a "# ERROR:"
# line (the poll thread not found, say).  RIG_CPU is all CPU time of the
# guest, host and endpoint together (the mediated path's local
# virtio_console works on the host's CPU in this rig, so only this one
# shows all of it).  KHVCD_CPU is khvcd's, the one thread that polls every
# hvc of the guest, the host's and the endpoint's alike: the hvc path's
# endpoint work done there is in RIG_CPU, not in EP_CPU.
#
# BENCH-COST counts, per MiB moved, what the function cost the link
# (pci_epf_virtio's debugfs "cost", all queues summed, from just before the
# transfer to just after it): CPU reads of the host's rings and of buffer
# data (non-posted: a round trip across the link each on real hardware),
# CPU writes (posted), DMA transfers and their bytes, buffer chains.  A
# pty has none: "n/a:no-endpoint" in each.
#
# Placement, the same for every path (CPU 0 the host's, CPU 1 the
# endpoint's): in both directions the writer runs on CPU 0 and the reader on
# CPU 1; the echo runs both its ends on CPU 0; the poll thread is on CPU 1;
# the host's interrupts (pci-epc-loop host_cpu=0), the mediated function's
# local interrupts (irq_cpu 0), unbound kernel work and khvcd are on CPU 0.
# The mediated path needs this (tests/guest/40-vmed.sh): both of its ends
# are virtio_console, whose writers spin with interrupts off until the poll
# thread has copied their buffer, so no writer may run on the poll thread's
# CPU, and the echo writes back.  The other paths run the same way so that
# all four are compared under the same conditions.  Every writer stays at
# most 128 KiB ahead of its reader, which the mediated path also needs (and
# the hvc path, whose receive buffer holds that much; see its source).

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh
. /tests/lib/vmed.sh

# Sizes from scripts/bench.sh, on the kernel command line
MIB=$(sed -n 's/.*vep\.bench_mib=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
REPS=$(sed -n 's/.*vep\.bench_reps=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
PATHS=$(sed -n 's/.*vep\.bench_paths=\([a-z,]*\).*/\1/p' /proc/cmdline |
	tr , ' ')
MIB=${MIB:-8}
REPS=${REPS:-3}
PATHS=${PATHS:-dedicated dma hvc mediated pty}
# A transfer gives up below 1/8 MiB/s (30 s at least): scripts/bench.sh
# sizes the whole run's time limit the same way
XFER_SECS=$((MIB * 8 > 30 ? MIB * 8 : 30))
XFER="/tests/bin/vep-xfer -s $((MIB * 1048576)) -b 65536 -a 131072 -t $XFER_SECS"
POLL_CPU=1
HOST_CPUS=1
EP_CPUS=2
# The placement of every path (see above)
WR_CPU=0
RD_CPU=1
ECHO_CPU=0
PLACEMENT="writer CPU $WR_CPU, reader CPU $RD_CPU (both directions); echo: both ends CPU $ECHO_CPU; poll thread CPU $POLL_CPU; host and local interrupts, unbound work, khvcd CPU 0"
# The thread whose CPU time the endpoint's figure counts
POLL_COMM=epf-virtio/$POLL_CPU

# poll_pid: pid of the poll thread; fails if there is none
poll_pid() {
	for pt in /proc/[0-9]*; do
		[ "$(cat "$pt/comm" 2>/dev/null)" = "$POLL_COMM" ] || continue
		echo "${pt#/proc/}"
		return 0
	done
	return 1
}

# pid_ticks PID: CPU time of PID so far, in clock ticks; nothing if PID is
# gone
pid_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null
}

# khvcd_pid: pid of khvcd; fails if there is none
khvcd_pid() {
	for kp in /proc/[0-9]*; do
		[ "$(cat "$kp/comm" 2>/dev/null)" = khvcd ] || continue
		echo "${kp#/proc/}"
		return 0
	done
	return 1
}

# rig_ticks: busy CPU time of all CPUs so far, in clock ticks
rig_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# cost_sum: what the one linked function cost the link so far, its queues
# summed: "RING_RD DATA_RD WR DMA DMA_BYTES CHAINS"; fails if there is not
# exactly one such function
cost_sum() {
	set -- /sys/kernel/debug/pci_epf_virtio/*/cost
	[ $# -eq 1 ] && [ -r "$1" ] || return 1
	awk '{ for (i = 1; i < NF; i += 2) v[$i] += $(i + 1) }
	END {
		print v["ring_rd"] + 0, v["data_rd"] + 0,
		      v["ring_wr"] + v["data_wr"], v["dma"] + v["ring_dma"],
		      v["dma_bytes"] + v["ring_dma_bytes"], v["chains"] + 0
	}' "$1"
}

# cost_line PATH DIR BEFORE AFTER: the BENCH-COST line of one transfer,
# from cost_sum before and after it
cost_line() {
	if [ -z "$3" ] || [ -z "$4" ]; then
		echo "# ERROR: $1 $2 run $rep: no cost figures: pci_epf_virtio's debugfs cost not found"
		echo "BENCH-COST $1 $2 $rep n/a:no-cost-file n/a:no-cost-file n/a:no-cost-file n/a:no-cost-file n/a:no-cost-file n/a:no-cost-file"
		return
	fi
	echo "$3 $4" | awk -v p="$1" -v d="$2" -v r="$rep" -v m="$MIB" '{
		printf "BENCH-COST %s %s %s", p, d, r
		for (i = 1; i <= 6; i++)
			printf " %.1f", ($(i + 6) - $i) / m
		printf "\n"
	}'
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

# bulk PATH DIR EPSIDE TX RX: one bulk run, writer on WR_CPU, reader on
# RD_CPU; EPSIDE (wr, rd or none) names the process on the endpoint's tty.
# vep-xfer starts on the reader's CPU (on_ep: RD_CPU is the endpoint's),
# not on this shell's: its address space is then never loaded on CPU 0,
# where a virtio_console writer (the host's, or the mediated path's local
# one) spins with interrupts off until the poll thread on CPU 1 has its
# buffer.  A TLB flush of the reader's (a copy-on-write fault after it
# forks the writer, or the kernel trimming the CPUs an address space has
# been on, once a second) would otherwise wait for CPU 0 from CPU 1, and
# the rig would hang: the reader's soft lockup in tty_read().
bulk() {
	b_pid=
	b_p0=
	b_p1=
	if [ "$3" != none ]; then
		b_pid=$(poll_pid)
		[ -n "$b_pid" ] && b_p0=$(pid_ticks "$b_pid")
	fi
	b_kpid=$(khvcd_pid)
	b_k0=
	b_k1=
	[ -n "$b_kpid" ] && b_k0=$(pid_ticks "$b_kpid")
	b_c0=
	b_c1=
	[ "$3" != none ] && b_c0=$(cost_sum)
	b_r0=$(rig_ticks)
	# shellcheck disable=SC2086 # XFER is the command and its options
	b_out=$(on_ep $XFER -W "$WR_CPU" -R "$RD_CPU" "$4" "$5")
	b_rc=$?
	[ "$3" != none ] && b_c1=$(cost_sum)
	[ -n "$b_pid" ] && b_p1=$(pid_ticks "$b_pid")
	[ -n "$b_kpid" ] && b_k1=$(pid_ticks "$b_kpid")
	b_r1=$(rig_ticks)
	if [ $b_rc -ne 0 ]; then
		echo "# $1 $2 run $rep: vep-xfer failed ($b_rc): $b_out"
		echo "BENCH-FAIL $1 $2 $rep"
		return 1
	fi
	if [ "$3" = none ]; then
		b_ep=n/a:no-endpoint
	elif [ -z "$b_pid" ]; then
		echo "# ERROR: $1 $2 run $rep: no endpoint CPU figure: thread $POLL_COMM not found"
		b_ep=n/a:thread-not-found
	elif [ -z "$b_p0" ] || [ -z "$b_p1" ]; then
		echo "# ERROR: $1 $2 run $rep: no endpoint CPU figure: thread $POLL_COMM ($b_pid) went away"
		b_ep=n/a:thread-gone
	else
		b_proc=$(field "${3}_cpu_us" $b_out)
		if [ -z "$b_proc" ]; then
			echo "# ERROR: $1 $2 run $rep: no endpoint CPU figure: vep-xfer gave no ${3}_cpu_us"
			b_ep=n/a:no-process-time
		else
			b_ep=$(awk -v t=$((b_p1 - b_p0)) -v p="$b_proc" -v m="$MIB" \
				'BEGIN { printf "%.1f", (t * 10 + p / 1000) / m }')
		fi
	fi
	b_rig=$(awk -v t=$((b_r1 - b_r0)) -v m="$MIB" \
		'BEGIN { printf "%.1f", t * 10 / m }')
	if [ -z "$b_k0" ] || [ -z "$b_k1" ]; then
		echo "# ERROR: $1 $2 run $rep: no khvcd CPU figure: khvcd not found"
		b_kh=n/a:khvcd-not-found
	else
		b_kh=$(awk -v t=$((b_k1 - b_k0)) -v m="$MIB" \
			'BEGIN { printf "%.1f", t * 10 / m }')
	fi
	echo "BENCH $1 $2 $rep $(field mibps $b_out) $b_ep $b_rig $b_kh"
	if [ "$3" = none ]; then
		echo "BENCH-COST $1 $2 $rep n/a:no-endpoint n/a:no-endpoint n/a:no-endpoint n/a:no-endpoint n/a:no-endpoint n/a:no-endpoint"
	else
		cost_line "$1" "$2" "$b_c0" "$b_c1"
	fi
}

# rtt PATH TX RX: one round of 20 echoes, both ends on ECHO_CPU
rtt() {
	r_out=$(/tests/bin/vep-xfer -l 20 -g 20 -W "$ECHO_CPU" -R "$ECHO_CPU" \
		"$2" "$3") || {
		echo "# $1 rtt run $rep: vep-xfer failed: $r_out"
		echo "BENCH-FAIL $1 rtt $rep"
		return 1
	}
	set -- "$1" $r_out
	echo "BENCH $1 rtt $rep $4 $6 $8"
}

# measure PATH HOST_TTY EP_TTY EPSIDE_H2E EPSIDE_E2H: one repetition of
# every measurement of PATH
measure() {
	term_sides
	bulk "$1" h2e "$4" "$2" "$3"
	bulk "$1" e2h "$5" "$3" "$2"
	rtt "$1" "$2" "$3"
}

# fail_all PATH WHY: every measurement of PATH in this repetition failed
fail_all() {
	echo "# $1 run $rep: $2; its measurements of this run failed"
	for fa_m in h2e e2h rtt; do
		echo "BENCH-FAIL $1 $fa_m $rep"
	done
}

# setup_fail WHY: a set-up step failed (a "#" line)
setup_fail() {
	echo "# $path run $rep: $1"
	return 1
}

# ded_up: the dedicated function on controller 0, the host bound; sets
# ded_host, the host's hvc
ded_up() {
	vcon_fn con0 0 4 || setup_fail "the function did not start" || return
	host_wait_bound "$(host_bdf 0)" 30 ||
		setup_fail "the host did not bind the function" || return
	rig_wait 10 vmed_nr_hvcs 1 ||
		setup_fail "not one hvc: $(vmed_hvcs | tr '\n' ' ')" || return
	ded_host=$(vmed_hvcs)
}

# dma_up: the dedicated function with a DMA threshold of 256 bytes on
# controller 0, holding a DMA channel each way, the host bound; sets
# ded_host
dma_up() {
	vcon_fn con0 0 4 256 || setup_fail "the function did not start" || return
	[ "$(rig_dma_held pci-epc-loop.0)" -eq 2 ] ||
		setup_fail "the function holds no DMA channels" || return
	host_wait_bound "$(host_bdf 0)" 30 ||
		setup_fail "the host did not bind the function" || return
	rig_wait 10 vmed_nr_hvcs 1 ||
		setup_fail "not one hvc: $(vmed_hvcs | tr '\n' ' ')" || return
	ded_host=$(vmed_hvcs)
}

# ded_down: stop and remove the dedicated function
ded_down() {
	echo 0 >"$(rig_epc 0)/start"
	rig_link 0 down
	rm -f "$(rig_epc 0)/con0"
	rmdir "$EPCFS/functions/pci_epf_vcon/con0" 2>/dev/null
}

# hvc_up: the function on hvc on controller 0, the host bound; sets
# hvc_ep, the endpoint's hvc (the function names it), and hvc_host, the
# host's: hvc numbers the two from one pool, in the order they come
hvc_up() {
	mkdir "$hfn" && echo "$POLL_CPU" >"$hfn/vhvc/poll_cpu" &&
		echo 4 >"$hfn/msix_interrupts" &&
		ln -s "$hfn" "$(rig_epc 0)/" &&
		echo 1 >"$(rig_epc 0)/start" && rig_link 0 up ||
		setup_fail "the function did not start" || return
	hvc_ep=$(cat "$hfn/vhvc/tty")
	host_wait_bound "$(host_bdf 0)" 30 ||
		setup_fail "the host did not bind the function" || return
	rig_wait 10 vmed_nr_hvcs 2 ||
		setup_fail "not two hvcs: $(vmed_hvcs | tr '\n' ' ')" || return
	hvc_host=$(vmed_other_hvc "$hvc_ep") ||
		setup_fail "no host hvc besides $hvc_ep: $(vmed_hvcs | tr '\n' ' ')" ||
		return
	echo "# hvc run $rep: the endpoint's tty is $hvc_ep, the host's $hvc_host"
}

# hvc_down: stop and remove the function on hvc
hvc_down() {
	echo 0 >"$(rig_epc 0)/start"
	rig_link 0 down
	rm -f "$(rig_epc 0)/hvc0"
	rmdir "$hfn" 2>/dev/null
}

# med_up: the mediated function on controller 0, both drivers bound; sets
# ep_hvc and host_hvc
med_up() {
	mkdir "$fn" && echo "$POLL_CPU" >"$fn/vmed/poll_cpu" &&
		echo 0 >"$fn/vmed/irq_cpu" && echo 4 >"$fn/msix_interrupts" &&
		vmed_link 0 || setup_fail "the function did not bind" || return
	vmed_find_local && term_sides && vmed_up 0 && vmed_find_host || {
		setup_fail "the function did not come up"
		vmed_diag
		return 1
	}
}

# med_down: stop and remove the mediated function
med_down() {
	vmed_down 0
	rm -f "$(rig_epc 0)/med0"
	rmdir "$fn" 2>/dev/null
}

# Set-up retries: tests/lib/host.sh retries a host set-up once a boot,
# after a lapse the endpoint logged (a test group checks set-ups).  Here
# a set-up that failed so is done again from the start, 3 tries a turn at
# most: on a loaded machine the poll thread's vCPU loses its host CPU
# often enough to leave most turns unmeasured otherwise, and a lapse in a
# set-up says nothing of the transfers.  A set-up that fails with no lapse
# logged is not tried again.  Every retry is a "#" line, and the run
# counts them.
BENCH_RETRIES=0
SETUP_TRIES=3

# path_up UP DOWN: set a function up with UP; if it failed after a lapse
# (host_wait_bound then retried it once), DOWN and UP again
path_up() {
	pu_try=1
	while :; do
		SETUP_RETRIES=0
		$1
		pu_rc=$?
		BENCH_RETRIES=$((BENCH_RETRIES + SETUP_RETRIES))
		[ $pu_rc -eq 0 ] && return 0
		[ "$SETUP_RETRIES" -ge 1 ] && [ $pu_try -lt $SETUP_TRIES ] ||
			return 1
		$2
		pu_try=$((pu_try + 1))
		BENCH_RETRIES=$((BENCH_RETRIES + 1))
		echo "# $path run $rep: set-up failed after a lapse; try $pu_try of $SETUP_TRIES"
	done
}

# run_path PATH: one repetition of PATH, its function bound for it alone
run_path() {
	# Nothing else linked: a function left over from a failed teardown
	# would run alongside, and the pty must run with none at all
	rp_left=$(rig_linked_fns | tr '\n' ' ')
	if [ -n "$rp_left" ]; then
		fail_all "$1" "functions still linked: ${rp_left% }"
		# Remove them, for the turns after this one
		ded_down 2>/dev/null
		hvc_down 2>/dev/null
		med_down 2>/dev/null
		return 1
	fi
	case $1 in
	dedicated)
		if path_up ded_up ded_down; then
			measure dedicated "/dev/$ded_host" /dev/hvcEP0 rd wr
		else
			fail_all dedicated "set-up failed"
		fi
		ded_down
		;;
	dma)
		if path_up dma_up ded_down; then
			measure dma "/dev/$ded_host" /dev/hvcEP0 rd wr
		else
			fail_all dma "set-up failed"
		fi
		ded_down
		;;
	hvc)
		if path_up hvc_up hvc_down; then
			measure hvc "/dev/$hvc_host" "/dev/$hvc_ep" rd wr
		else
			fail_all hvc "set-up failed"
		fi
		hvc_down
		;;
	mediated)
		if path_up med_up med_down; then
			measure mediated "/dev/$host_hvc" "/dev/$ep_hvc" rd wr
		else
			fail_all mediated "set-up failed"
		fi
		med_down
		;;
	pty)
		measure pty pty-m pty-s none none
		;;
	esac
}

echo "# console benchmark: $MIB MiB per transfer, $REPS runs each, interleaved: $PATHS"
echo "BENCH-PLACEMENT $PLACEMENT"
# DMA channels for the dma path; the others leave them unused
vcon_load dma_chans=2 >/dev/null
rig_insmod pci-epf-vmed || echo "# loading pci-epf-vmed failed"
rig_insmod vep-vcon-hvc || echo "# loading vep-vcon-hvc failed"
fn=$EPCFS/functions/pci_epf_vmed/med0
hfn=$EPCFS/functions/pci_epf_vhvc/hvc0

rep=1
while [ $rep -le "$REPS" ]; do
	for path in $PATHS; do
		run_path "$path"
	done
	rep=$((rep + 1))
done

echo "# host set-ups retried after a poll thread lapse: $BENCH_RETRIES"
rig_check_dmesg
