#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The console function against a host that is not the stock driver: a host
# test driver (tests/host/vep-hostile.c) breaks the virtio protocol in one
# way per case, and the function must say so in its log (ratelimited),
# ask for a reset, and serve the next, well-behaved host.  The same
# driver, behaving, takes INTx and counts the interrupts.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh

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
for a in desc-loop bad-head bad-next huge-len bad-addr indirect \
	 bad-idx; do
	rig_mark "$a"
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack="$a"; then
		tap_fail "$a: host test driver loads"
		continue
	fi
	st=$(cat $HOSTILE/status)
	if [ $((st & NEEDS_RESET)) -ne 0 ] &&
	   rig_dmesg_since "$a" | grep -q pci_epf_vcon; then
		tap_ok "$a: device needs reset, error logged (status $st)"
	else
		tap_fail "$a: device needs reset, error logged" "status $st"
		rig_dmesg_since "$a" | tail -n 5 | sed 's/^/# /'
	fi
	rmmod vep_hostile
done
tap_diag "$(dmesg | grep -c pci_epf_vcon) function log lines in all"

# --- a well-behaved host with MSI, then INTx -------------------------------
for kind in msi intx; do
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" irq=$kind; then
		tap_fail "$kind: host test driver sets the device up"
		continue
	fi
	tap_check "$kind: device running (status 7)" test "$(cat $HOSTILE/status)" = 7
	n0=$(cat $HOSTILE/irqs)
	# A console size change is a configuration interrupt
	on_ep /bin/stty -F /dev/hvcEP0 rows 33 cols 101
	# Endpoint data fills the one receive buffer: a queue interrupt
	echo "to the $kind host" >/dev/hvcEP0
	rig_wait 5 sh -c "[ \$(cat $HOSTILE/irqs) -ge $((n0 + 2)) ]"
	n1=$(cat $HOSTILE/irqs)
	tap_check "$kind: host took config and queue interrupts ($n0 -> $n1)" \
		test "$n1" -ge $((n0 + 2))
	rmmod vep_hostile
done

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
rm "$epc/con0"
rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
