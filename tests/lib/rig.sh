#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for guest test scripts: load the loopback endpoint controller,
# find its configfs directory, wait for conditions, check the kernel log.
# Source it after tap.sh.

EPCFS=/sys/kernel/config/pci_ep
MODDIR=/lib/modules/vep

# rig_insmod NAME [ARGS...]: load a project module once, after the
# project module it needs
rig_insmod() {
	case $1 in
	pci-epc-loop) rig_insmod pci-epc-emul || return ;;
	esac
	name=$1
	shift
	grep -q "^$(echo "$name" | tr - _) " /proc/modules && return 0
	insmod "$MODDIR/$name.ko" "$@"
}

# rig_load_epc [ARGS...]: load pci-epc-loop, report it as a test case
rig_load_epc() {
	tap_check "load pci-epc-loop" rig_insmod pci-epc-loop "$@"
}

# rig_epc N: configfs directory of loopback controller N
rig_epc() {
	echo "$EPCFS/controllers/pci-epc-loop.$1"
}

# rig_link N STATE: wait until controller N's link change is complete and
# the link is STATE (up or down)
rig_link() {
	rig_wait 30 grep -qx "$2" "/sys/devices/platform/pci-epc-loop.$1/link"
}

# rig_dma_moved [DEVICE]: the DMA channels of the controllers, or of the
# one whose platform device is DEVICE (pci-epc-emul's engine, a line per
# channel in dmaengine's debugfs summary), moved data; prints their lines
rig_dma_moved() {
	awk -v want="${1:-}" '
		/^dma[0-9]+ \(/ { dev = $2; gsub(/[():]/, "", dev); next }
		/^ dma[0-9]+chan[0-9]+ +\| (in use|free), [0-9]+ transfers/ &&
		    (want == "" || dev == want) { print dev ":" $0 }
	' /sys/kernel/debug/dmaengine/summary > /tmp/dma.sum
	cat /tmp/dma.sum
	sed 's/.*, \([0-9]*\) transfers.*/\1/' /tmp/dma.sum |
		awk '{ n += $1 } END { exit !(n > 0) }'
}

# rig_dma_held DEVICE: how many DMA channels of the controller whose
# platform device is DEVICE a client holds (dmaengine's debugfs summary)
rig_dma_held() {
	awk -v want="$1" '
		/^dma[0-9]+ \(/ { dev = $2; gsub(/[():]/, "", dev); next }
		/^ dma[0-9]+chan[0-9]+ +\| in use,/ && dev == want { n++ }
		END { print n + 0 }
	' /sys/kernel/debug/dmaengine/summary
}

# rig_cost QUEUE FIELD: FIELD of queue QUEUE in what the one bound virtio
# function cost the link so far (pci_epf_virtio's debugfs "cost": ring_rd,
# data_rd_bytes, dma_bytes, chains, ...); fails if no function or more
# than one is bound, or the field is not there
rig_cost() {
	set -- "$1" "$2" /sys/kernel/debug/pci_epf_virtio/*/cost
	[ $# -eq 3 ] && [ -r "$3" ] || return 1
	awk -v q="$1" -v f="$2" '
		$1 == "queue" && $2 == q {
			for (i = 3; i < NF; i += 2)
				if ($i == f) { print $(i + 1); found = 1 }
		}
		END { exit !found }' "$3"
}

# rig_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds
rig_wait() {
	rw_n=$(($1 * 10))
	shift
	while [ "$rw_n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
		rw_n=$((rw_n - 1))
	done
	"$@"
}

# rig_ping CMD...: CMD, a ping with "-c N" (run directly or behind in_host,
# in_ep or nsenter), gets every one of its N replies; busybox ping succeeds
# on one.  A loss fails it and prints ping's output, a line per reply (the
# sequence numbers say which was lost).
rig_ping() {
	rp_n=''
	rp_prev=''
	for rp_a in "$@"; do
		[ "$rp_prev" = -c ] && rp_n=$rp_a
		rp_prev=$rp_a
	done
	[ -n "$rp_n" ] || { echo "rig_ping: no -c N in: $*"; return 2; }
	rp_out=$("$@" 2>&1)
	echo "$rp_out" |
		grep -q "^$rp_n packets transmitted, $rp_n packets received" &&
		return 0
	echo "$rp_out"
	return 1
}

KTROUBLE='BUG:|Oops|WARNING:|general protection|UBSAN:|nobody cared|detected stalls? on CPU|self-detected stall|blocked for more than [0-9]+ seconds'

# The core's word that it may drive a queue's interrupts to the wrong MSI-X
# vector after a set-up lapse: shown with every kernel log check, not a
# failure yet (it comes and goes with the rig's vCPU stalls)
KUNSEEN='MSI-X vector went unseen'

# rig_ktrouble: kernel log lines that report trouble, but the expected
# warnings of /tests/known-warnings
rig_ktrouble() {
	dmesg | grep -E "$KTROUBLE" |
		grep -Evf "$(grep -Ev '^(#|$)' /tests/known-warnings > /tmp/kw;
			     echo /tmp/kw)"
}

# rig_check_dmesg: one case that fails on any oops, BUG or WARNING so far
rig_check_dmesg() {
	if [ -n "$(rig_ktrouble)" ]; then
		tap_fail "kernel log clean" "see below"
		rig_ktrouble | head -n 10 | sed 's/^/# /'
	else
		tap_ok "kernel log clean"
	fi
	dmesg | grep -E "$KUNSEEN" | sed 's/^/# set-up lapse: /'
	return 0
}

# rig_linked_fns: the functions linked to any loopback controller now, as
# CONTROLLER/FUNCTION lines
rig_linked_fns() {
	for lf_c in "$EPCFS"/controllers/pci-epc-loop.*; do
		for lf_f in "$lf_c"/*; do
			[ -L "$lf_f" ] && echo "${lf_c##*/}/${lf_f##*/}"
		done
	done
	return 0
}

# rig_mark NAME: put a mark in the kernel log
rig_mark() {
	echo "vep-mark $1" > /dev/kmsg
}

# rig_dmesg_since NAME: kernel log after mark NAME
rig_dmesg_since() {
	dmesg | sed -n "/vep-mark $1\$/,\$p"
}

# rig_kill PID: kill PID and, first, every process it started.  A shell
# function run in the background is a subshell whose commands are its
# children, so killing $! alone may leave them running.
rig_kill() {
	for rk_c in $(grep -l "^[0-9]* ([^)]*) [A-Za-z] $1 " /proc/[0-9]*/stat \
		      2>/dev/null | cut -d/ -f3); do
		rig_kill "$rk_c"
	done
	kill "$1" 2>/dev/null
}

# rig_need NAME CMD...: a case that ends the group when it fails, after
# $RIG_NEED_DIAG (a command, if set) and the kernel log check
rig_need() {
	rn_name=$1
	shift
	if "$@"; then
		tap_ok "$rn_name"
	else
		tap_fail "$rn_name" "exit status $?: $*"
		[ -z "${RIG_NEED_DIAG:-}" ] || $RIG_NEED_DIAG
		rig_check_dmesg
		tap_end
		exit 1
	fi
}
