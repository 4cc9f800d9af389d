#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The console function against a host that is not the stock driver, across
# two machines: the host test driver (tests/host/vep-hostile.c, built
# against Debian's headers) breaks the virtio protocol in one way per case,
# and the function must log that very error, ask for a reset, and serve the
# next, well-behaved host.  The same driver, behaving, then takes MSI and
# INTx and tells configuration interrupts from queue interrupts.  Last, it
# resets the device while the function writes, and frees the buffers at
# once: nothing more may be written into them.
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"
. "$top/tests/lib/reset-write.sh"

NEEDS_RESET=64

# attack_err ATTACK: the error line the function must log for ATTACK (an
# ERE); the addresses are the host test driver's, the same on every rig
attack_err() {
	case $1 in
	bad-pfn)	echo 'Failed to map ring of queue 0 at 0x7ffffff0000' ;;
	desc-loop)	echo 'Queue 1: descriptor 0 of chain 0 is already in a pending chain' ;;
	bad-head)	echo 'Queue 1: head 263 out of a ring of 256' ;;
	bad-next)	echo 'Queue 1: descriptor 0 chains to 259' ;;
	huge-len)	echo 'Queue 1: descriptor 0 too long \(4294963200,' ;;
	bad-addr)	echo 'Host buffer 0x400000000000\+64 unreachable' ;;
	indirect)	echo 'Queue 1: descriptor 0 has flags 0x4' ;;
	bad-idx)	echo 'Queue 1: avail index 356 is 356 beyond the 0 taken' ;;
	avail-overrun)	echo 'Queue 0: avail index 257 is 257 beyond the 0 taken' ;;
	overlap)	echo 'Queue 0: descriptor 1 of chain 2 is already in a pending chain' ;;
	big-endian)	echo 'Queue 1: avail index 0x100, or 1 in big-endian order: a big-endian host\? Only little-endian' ;;
	esac
}

# ep_log_since MARK: the endpoint's function lines after the line MARK
ep_log_since() {
	on_ep "dmesg | sed -n '/vep-mark $1\$/,\$p' | grep pci_epf_vcon"
}

two_start
# The host half of the link and virtio_pci, whose probe gives the device
# its interrupt line (as on the one-kernel rig); the test driver takes
# the device once virtio_pci is unbound
two_host_load
two_ep_load pci-epf-virtio pci-epf-vcon
two_need "con0 with MSI and no MSI-X on pci-epc-ivshmem" on_ep "
	f=$TWO_EPF/pci_epf_vcon/con0
	mkdir \$f && echo $TWO_POLL_CPU >\$f/vcon/poll_cpu &&
	echo 1 >\$f/msi_interrupts && echo 0 >\$f/msix_interrupts &&
	ln -s \$f $TWO_EPC/"
two_need "endpoint starts its controller" two_ep_start
two_need "host's virtio_pci takes the device" on_host "n=100
	until readlink /sys/bus/pci/devices/$TWO_BDF/driver |
	      grep -q /virtio-pci\$; do
		[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
	done"
two_check "endpoint link up" two_ep_link up
two_need "unbind the host's virtio_pci" on_host \
	"echo $TWO_BDF >/sys/bus/pci/drivers/virtio-pci/unbind"

# --- attacks -----------------------------------------------------------------
for a in bad-pfn desc-loop bad-head bad-next huge-len bad-addr indirect \
	 bad-idx avail-overrun overlap big-endian; do
	on_ep "echo vep-mark $a >/dev/kmsg"
	if ! two_host_hostile "attack=$a" >"$TWO_TMP/load.out" 2>&1; then
		tap_fail "$a: host test driver loads" "$(cat "$TWO_TMP/load.out")"
		continue
	fi
	st=$(on_host "cat $TWO_HOSTILE/status")
	# the error is logged by the endpoint's poll thread, which may take a
	# moment after the host saw the status
	err=$(attack_err "$a")
	if [ $((st & NEEDS_RESET)) -ne 0 ] &&
	   on_ep "n=20; until dmesg | sed -n '/vep-mark $a\$/,\$p' |
			grep pci_epf_vcon | grep -Eq '$err'; do
			[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
		done"; then
		tap_ok "$a: device needs reset, error logged (status $st)"
	else
		tap_fail "$a: device needs reset, error logged" \
			"status $st, expected a line /$err/"
		ep_log_since "$a" | tail -n 5 | sed 's/^/# /'
	fi
	on_host 'rmmod vep_hostile' >/dev/null
done

# A descriptor switched between sound and broken while the device reads it
on_ep "echo vep-mark desc-rewrite >/dev/kmsg"
if two_host_hostile attack=desc-rewrite >"$TWO_TMP/load.out" 2>&1; then
	st=$(on_host "cat $TWO_HOSTILE/status")
	used=$(on_host "cat $TWO_HOSTILE/used")
	log=$(ep_log_since desc-rewrite)
	[ -z "$log" ] || tap_diag "$log"
	tap_diag "host: $(on_host 'dmesg | grep "vep_hostile: desc-rewrite:" | tail -n 1')"
	# The broken version must be refused whole, by the chain checks
	checked='Queue 1: descriptor 0 (too long|of chain 0 is already in a pending chain)'
	if [ "$used" = 1 ] && [ $((st & NEEDS_RESET)) -eq 0 ]; then
		tap_ok "desc-rewrite: one version taken (the sound one: used)"
	elif [ "$used" = 0 ] && [ $((st & NEEDS_RESET)) -ne 0 ] &&
	     printf '%s\n' "$log" | grep -Eq "$checked" &&
	     ! printf '%s\n' "$log" | grep -q unreachable; then
		tap_ok "desc-rewrite: one version taken (the broken one: reset)"
	else
		tap_fail "desc-rewrite: one version taken" \
			"status $st, $used chain(s) back, or refused but not by /$checked/"
	fi
	on_host 'rmmod vep_hostile' >/dev/null
else
	tap_fail "desc-rewrite: host test driver loads" "$(cat "$TWO_TMP/load.out")"
fi

# --- a well-behaved host with MSI, then INTx -------------------------------
# host_wait_param NAME MIN: the test driver's counter NAME reaches MIN
# within 30 s (the arm64 endpoint's tasks, on a vCPU that shares its host
# CPU with the spinning poll vCPU, take seconds there)
host_wait_param() {
	on_host "n=300; until [ \$(cat $TWO_HOSTILE/$1) -ge $2 ]; do
		[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
	done"
}

for kind in msi intx; do
	on_ep "echo vep-mark $kind >/dev/kmsg"
	if ! two_host_hostile "irq=$kind" >"$TWO_TMP/load.out" 2>&1; then
		tap_fail "$kind: host test driver sets the device up" \
			"$(cat "$TWO_TMP/load.out")"
		continue
	fi
	two_check "$kind: device running (status 7)" \
		test "$(on_host "cat $TWO_HOSTILE/status")" = 7
	# A console size change is a configuration interrupt
	on_ep 'stty -F /dev/hvcEP0 rows 33 cols 101'
	host_wait_param cfg_irqs 1
	cfg=$(on_host "cat $TWO_HOSTILE/cfg_irqs") rx=$(on_host "cat $TWO_HOSTILE/rx_irqs")
	two_check "$kind: configuration interrupt, no queue interrupt yet ($cfg, $rx)" \
		test "$cfg" -ge 1 -a "$rx" -eq 0
	# 101 columns, 33 rows (le16 each), then the host's "VEP!" at 8 kept
	now=$(on_host "cat $TWO_HOSTILE/config_now")
	two_check "$kind: new size in the configuration, the host's write kept ($now)" \
		test "${now%????????????????}:${now#????????????????}" = "65002100:56455021"
	# Endpoint data fills the one receive buffer: a queue interrupt.  One
	# write with no newline: the tty would send the newline (as CR LF) in
	# a write of its own, which would wait for the next host's buffer and
	# count as a queue interrupt of the next phase before its data.
	on_ep "printf %s 'to the $kind host' >/dev/hvcEP0"
	host_wait_param rx_irqs 1
	two_check "$kind: queue interrupt after the receive buffer came back" \
		test "$(on_host "cat $TWO_HOSTILE/rx_irqs")" -ge 1
	tap_diag "$kind: $(on_host "echo \$(cat $TWO_HOSTILE/irqs) interrupt\(s\), \$(cat $TWO_HOSTILE/cfg_irqs) configuration, \$(cat $TWO_HOSTILE/rx_irqs) queue")"
	on_host 'rmmod vep_hostile' >/dev/null
done

# --- a reset while the device writes, the buffers freed at once -----------
# As on the one-kernel rig (tests/guest/35-vcon-hostile.sh): the host's
# test driver resets the device once the first of 64 small receive
# buffers came back, as a stock driver does, and poisons them; the
# function must stop writing before its next poll of the registers.
# ep_fences: the function's count of resets that stopped it mid-pass
ep_fences() {
	on_ep "mount -t debugfs none /sys/kernel/debug 2>/dev/null
		awk '\$1 == \"fences\" { print \$2 }' /sys/kernel/debug/pci_epf_virtio/*/cost"
}
on_ep "echo vep-mark reset-write >/dev/kmsg"
f0=$(ep_fences)
on_ep "(exec yes >/dev/hvcEP0) </dev/null >/dev/null 2>&1 & sleep 1" >/dev/null
if two_host_hostile attack=reset-write >"$TWO_TMP/load.out" 2>&1; then
	late=$(on_host "cat $TWO_HOSTILE/late")
	back=$(on_host "cat $TWO_HOSTILE/used")
	f1=$(ep_fences)
	tap_diag "host: $(on_host 'dmesg | grep "vep_hostile: reset-write:" | tail -n 1')"
	two_check "reset-write: at most the buffer under way written after the reset ($late bytes, $back buffer(s) back)" \
		test "$late" -le 64 -a "$back" -le 1
	early=$(on_host "cat $TWO_HOSTILE/early")
	reset_write_midpass "$f0" "$f1" "$early" "$late" "$back" ||
		two_stall_report
	two_check "reset-write: taken as a reset, not as a protocol error" \
		sh -c "! printf '%s\n' \"\$1\" | grep -E 'Device stopped|failed|unreachable'" \
		_ "$(ep_log_since reset-write)"
	on_host 'rmmod vep_hostile' >/dev/null
else
	tap_fail "reset-write: host test driver loads" "$(cat "$TWO_TMP/load.out")"
fi
on_ep 'killall yes' >/dev/null

on_ep "echo vep-mark link-down >/dev/kmsg"
two_check "endpoint stops the link" on_ep "echo 0 >$TWO_EPC/start"
two_check "endpoint link down" two_ep_link down
two_check "host removes the endpoint's device" two_host_gone 30
two_ktrouble_case
tap_end
