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

term_require_kernel

VIRTIO_PCI=/sys/bus/pci/drivers/virtio-pci
POLL_CPU=1

# host_bdf CTRL: PCI address of function 0 behind controller CTRL, as the
# host sees it
host_bdf() {
	for d in /sys/devices/platform/pci-epc-loop.$1/pci*/*:00.0; do
		[ -e "$d" ] && basename "$d"
	done
}

# host_bound BDF: the host's virtio_console drives the device at BDF
host_bound() {
	ls /sys/bus/pci/devices/"$1"/virtio*/driver 2>/dev/null | grep -q . &&
		readlink /sys/bus/pci/devices/"$1"/virtio*/driver |
		grep -q virtio_console
}

# host_irqs BDF: interrupts the host took for the device at BDF so far
host_irqs() {
	v=$(basename /sys/bus/pci/devices/"$1"/virtio*)
	grep -E " $v(-|\$)" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i }
		     END { print n + 0 }'
}

# host_irq_kind BDF: how the host takes the device's interrupts
host_irq_kind() {
	v=$(basename /sys/bus/pci/devices/"$1"/virtio*)
	if grep -E " $v-" /proc/interrupts | grep -q MSIX; then
		echo MSI-X
	elif grep -E " $v\$" /proc/interrupts | grep -q MSI; then
		echo MSI
	elif grep -qE " $v\$" /proc/interrupts; then
		echo INTx
	else
		echo none
	fi
}

# vcon_fn NAME CTRL MSIX: create function NAME on controller CTRL, with
# MSIX MSI-X vectors (0: INTx only), and bring its link up
vcon_fn() {
	f=$EPCFS/functions/pci_epf_vcon/$1
	mkdir "$f" || return 1
	echo $POLL_CPU >"$f/vcon/poll_cpu" || return 1
	echo "$3" >"$f/msix_interrupts" || return 1
	ln -s "$f" "$(rig_epc "$2")/" || return 1
	echo 1 >"$(rig_epc "$2")/start" && rig_link "$2" up
}

rig_load_epc host_cpu=0 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vcon" rig_insmod pci-epf-vcon
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0

# --- setup --------------------------------------------------------------
tap_check "con0 on controller 0, MSI-X, link up" vcon_fn con0 0 4
bdf=$(host_bdf 0)
tap_diag "host device: ${bdf:-none}"
tap_check "host virtio_console binds the device" rig_wait 30 host_bound "$bdf" ||
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
xfer_check "host to endpoint: 16 MiB" 16777216 /dev/hvc0 /dev/hvcEP0 300
xfer_check "endpoint to host: 16 MiB" 16777216 /dev/hvcEP0 /dev/hvc0 300

# --- logins both ways ------------------------------------------------------
term_open /dev/hvc0
on_ep /usr/bin/setsid agetty -L --nohints hvcEP0 vt100 </dev/null >/dev/null 2>&1 &
getty=$!
term_login "host hvc0 logs in through a getty on the endpoint's hvcEP0"
term_close
kill $getty 2>/dev/null

# --- teardown ---------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "host device gone" test ! -e "/sys/bus/pci/devices/$bdf"
tap_check "unlink the function" rm "$epc/con0"
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
