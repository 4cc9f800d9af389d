#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# How often the host's legacy virtio set-up outruns the endpoint's poll
# thread across the two machines, run by scripts/bench.sh -s two-setup as a
# two-machine group of scripts/test.sh.  The stock virtio_pci reads
# QUEUE_PFN back for the next queue microseconds after writing it for the
# previous one: a poll thread whose vCPU loses its host CPU for longer
# misses the address, and the host's driver fails its probe.  Each turn
# boots a new endpoint machine and counts its first set-up (the one CI saw
# fail), then reloads the host's driver, with the endpoint machine's other
# vCPU idle and then busy (a spinning shell on it).  That vCPU's QEMU
# thread runs at each nice value of $VEP_SETUP_NICES (default "0 5"; the
# poll vCPU keeps the rig's priority); the values take turns in every
# repetition.  Prints TAP for the rig's set-up, and
#
#   BENCH-SETUP NICE LOAD REP SETUPS FAILED UNSEEN
#
# LOAD: "boot" for the first set-up after the endpoint booted, "idle" or
# "busy" for reloads; FAILED: set-ups after which the host's
# virtio_console was not bound (the next reload starts over); UNSEEN:
# queues whose MSI-X vector the endpoint missed.  Reloads per turn from
# $VEP_BENCH_RELOADS (default 10), repetitions from $VEP_BENCH_REPS
# (default 3).
#
# vep-timeout: 3600
# vep-two-default: no

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

RELOADS=${VEP_BENCH_RELOADS:-10}
REPS=${VEP_BENCH_REPS:-3}
NICES=${VEP_SETUP_NICES:-0 5}
FN=$TWO_EPF/pci_epf_vcon/con0
VIRTIO_PCI=/sys/bus/pci/drivers/virtio_pci

# set_nice N: the endpoint QEMU's vCPU threads other than the poll vCPU's
# run at nice N
set_nice() {
	local pid t last="CPU $TWO_POLL_CPU/TCG"

	pid=$(cat "$RIG2_DIR/ep.pid")
	for t in /proc/"$pid"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		"$last") ;;
		CPU*/TCG) renice -n "$1" -p "${t##*/}" >/dev/null ;;
		esac
	done
}

# ep_count RE: lines of the endpoint's console so far that match RE
ep_count() {
	tr -d '\r' <"$RIG2_DIR/ep.console" | grep -cE "$1"
}

# ep_link: con0 with 4 MSI-X vectors on a booted endpoint, link up
ep_link() {
	on_ep "insmod /lib/modules/vep/pci-epc-emul.ko &&
		insmod /lib/modules/vep/pci-epc-ivshmem.ko &&
		insmod /lib/modules/vep/pci-epf-virtio.ko &&
		insmod /lib/modules/vep/pci-epf-vcon.ko &&
		mkdir $FN && echo $TWO_POLL_CPU >$FN/vcon/poll_cpu &&
		echo 4 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/ &&
		echo 1 >$TWO_EPC/start" >/dev/null
}

# reloads NICE LOAD REP: RELOADS reloads of the host's driver
reloads() {
	local nice=$1 load=$2 rep=$3 failed=0 unseen i

	[ "$load" = idle ] ||
		on_ep 'taskset -c 0 sh -c "while :; do :; done" </dev/null \
			>/dev/null 2>&1 & echo $! >/tmp/spin' >/dev/null
	unseen=$(ep_count 'vector went unseen')
	for ((i = 0; i < RELOADS; i++)); do
		on_host "echo $TWO_BDF >$VIRTIO_PCI/unbind
			echo $TWO_BDF >$VIRTIO_PCI/bind" >/dev/null
		two_host_bound virtio_console 10 >/dev/null || {
			failed=$((failed + 1))
			two_stall_report
		}
	done
	unseen=$(($(ep_count 'vector went unseen') - unseen))
	# shellcheck disable=SC2016 # for the guest's shell
	[ "$load" = idle ] || on_ep 'kill $(cat /tmp/spin)' >/dev/null
	echo "BENCH-SETUP $nice $load $rep $RELOADS $failed $unseen"
}

# turn NICE REP: a new endpoint machine, its first set-up, then reloads
turn() {
	local nice=$1 rep=$2 failed=0 unseen

	unseen=$(ep_count 'vector went unseen')
	ep_restart -w 300 >/dev/null || { echo "BENCH-FAIL setup boot $rep"; return; }
	two_stall_watch
	set_nice "$nice"
	ep_link
	two_host_bound virtio_console 30 >/dev/null || {
		failed=1
		two_stall_report
	}
	unseen=$(($(ep_count 'vector went unseen') - unseen))
	echo "BENCH-SETUP $nice boot $rep 1 $failed $unseen"
	reloads "$nice" idle "$rep"
	reloads "$nice" busy "$rep"
}

two_start
two_host_load virtio_console
for ((rep = 1; rep <= REPS; rep++)); do
	for nice in $NICES; do
		turn "$nice" "$rep"
	done
done
two_ktrouble_case
tap_end
