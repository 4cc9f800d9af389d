#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The console function against a host that is not the stock driver: a host
# test driver (tests/host/vep-hostile.c) breaks the virtio protocol in one
# way per case, and the function must log that very error (ratelimited),
# ask for a reset, and serve the next, well-behaved host.  A descriptor
# switched while the device reads it must be taken whole, one version or
# the other.  The same driver, behaving, takes MSI then INTx and tells
# configuration interrupts from queue interrupts.  Last, it resets the
# device while the function writes, and frees the buffers at once.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh
. /tests/lib/reset-write.sh

term_require_kernel

HOSTILE=/sys/module/vep_hostile/parameters
NEEDS_RESET=64

vcon_load
term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0
mkdir "$fn"
echo 1 >"$fn/vcon/poll_cpu"
echo 1 >"$fn/msi_interrupts"
echo 0 >"$fn/msix_interrupts"
ln -s "$fn" "$epc/"
echo 1 >"$epc/start"
tap_check "link up" rig_link 0 up
bdf=$(basename /sys/devices/platform/pci-epc-loop.0/pci*/*:00.0)
tap_check "host driver bound" rig_wait 30 sh -c \
	"readlink /sys/bus/pci/devices/$bdf/driver | grep -q virtio-pci"
tap_check "unbind the stock host driver" sh -c "echo $bdf > $VIRTIO_PCI/unbind"

# --- attacks -----------------------------------------------------------------
# attack_err ATTACK: the error line the function must log for ATTACK (an ERE)
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

for a in bad-pfn desc-loop bad-head bad-next huge-len bad-addr indirect \
	 bad-idx avail-overrun overlap big-endian; do
	rig_mark "$a"
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack="$a"; then
		tap_fail "$a: host test driver loads"
		continue
	fi
	st=$(cat $HOSTILE/status)
	log=$(rig_dmesg_since "$a" | grep pci_epf_vcon)
	err=$(attack_err "$a")
	# NEEDS_RESET is the reset; its log line is one call site for every
	# attack, and ratelimited: with a dozen attacks in a few seconds it may
	# be left out, so only each attack's own line is required
	if [ $((st & NEEDS_RESET)) -ne 0 ] &&
	   printf '%s\n' "$log" | grep -Eq "$err"; then
		tap_ok "$a: device needs reset, error logged (status $st)"
	else
		tap_fail "$a: device needs reset, error logged" \
			"status $st, expected a line /$err/"
		printf '%s\n' "$log" | tail -n 5 | sed 's/^/# /'
	fi
	rmmod vep_hostile
done

# A descriptor switched between sound and broken while the device reads it
rig_mark desc-rewrite
if insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=desc-rewrite; then
	st=$(cat $HOSTILE/status)
	used=$(cat $HOSTILE/used)
	log=$(rig_dmesg_since desc-rewrite | grep -E 'vep_hostile|pci_epf_vcon')
	tap_diag "$log"
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
	rmmod vep_hostile
else
	tap_fail "desc-rewrite: host test driver loads"
fi
tap_diag "$(dmesg | grep -c pci_epf_vcon) function log lines in all"

# --- a well-behaved host with MSI, then INTx -------------------------------
for kind in msi intx; do
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" irq=$kind; then
		tap_fail "$kind: host test driver sets the device up"
		continue
	fi
	tap_check "$kind: device running (status 7)" test "$(cat $HOSTILE/status)" = 7
	# A console size change is a configuration interrupt
	on_ep /bin/stty -F /dev/hvcEP0 rows 33 cols 101
	rig_wait 5 sh -c "[ \$(cat $HOSTILE/cfg_irqs) -ge 1 ]"
	cfg=$(cat $HOSTILE/cfg_irqs) rx=$(cat $HOSTILE/rx_irqs)
	tap_check "$kind: configuration interrupt, no queue interrupt yet ($cfg, $rx)" \
		test "$cfg" -ge 1 -a "$rx" -eq 0
	# 101 columns, 33 rows (le16 each), then the host's "VEP!" at 8 kept
	now=$(cat $HOSTILE/config_now)
	tap_check "$kind: new size in the configuration, the host's write kept ($now)" \
		test "${now%????????????????}:${now#????????????????}" = "65002100:56455021"
	# Endpoint data fills the one receive buffer: a queue interrupt
	# One write with no newline: the tty would send the newline (as CR
	# LF) in a write of its own, for the next host's buffer
	printf %s "to the $kind host" >/dev/hvcEP0
	rig_wait 5 sh -c "[ \$(cat $HOSTILE/rx_irqs) -ge 1 ]"
	tap_check "$kind: queue interrupt after the receive buffer came back" \
		test "$(cat $HOSTILE/rx_irqs)" -ge 1
	tap_diag "$kind: $(cat $HOSTILE/irqs) interrupt(s), $(cat $HOSTILE/cfg_irqs) configuration, $(cat $HOSTILE/rx_irqs) queue"
	rmmod vep_hostile
done

# --- a reset while the device writes, the buffers freed at once -----------
# As every stock driver resets: status 0, read back, and the rings and
# buffers freed right after; the device is not waited for.  A writer fills
# the tty (16 KiB, more than the host's 64 buffers of 64 bytes hold); the
# host driver resets the device once it gave the first buffer back, and
# poisons the buffers.  The function must stop writing before its next
# poll of the registers: after the reset, at most the buffer it was
# writing changes, not the rest of its pass (about 4 KiB before the fix).
# This shell and the writer stay off the poll thread's CPU.
# fences: the function's count of resets that stopped it mid-pass
fences() { awk '$1 == "fences" { print $2 }' /sys/kernel/debug/pci_epf_virtio/*/cost; }
rig_mark reset-write
f0=$(fences)
taskset 1 sh -c 'exec yes >/dev/hvcEP0' &
writer=$!
sleep 1
if taskset 1 insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" \
	attack=reset-write; then
	late=$(cat $HOSTILE/late) back=$(cat $HOSTILE/used)
	f1=$(fences)
	log=$(rig_dmesg_since reset-write)
	tap_diag "$(printf '%s\n' "$log" | grep vep_hostile)"
	tap_check "reset-write: at most the buffer under way written after the reset ($late bytes, $back buffer(s) back)" \
		test "$late" -le 64 -a "$back" -le 1
	early=$(cat $HOSTILE/early)
	reset_write_midpass "$f0" "$f1" "$early" "$late" "$back"
	tap_check "reset-write: taken as a reset, not as a protocol error" \
		sh -c "! printf '%s\n' \"\$1\" | grep -E 'pci_epf_vcon.*(Device stopped|failed|unreachable)'" _ "$log"
	rmmod vep_hostile
else
	tap_fail "reset-write: host test driver loads"
fi
kill "$writer"
wait "$writer" 2>/dev/null

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
rm "$epc/con0"
rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
