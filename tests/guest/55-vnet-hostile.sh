#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The network function against bad frames from the host: a host test
# driver (tests/host/vep-hostile.c) sets the device up with checksum
# offload and puts one malformed frame on its transmit queue per case (an
# unknown segmentation type, a partial checksum beyond the frame, a frame
# far over the MTU).  The function must drop and count each one as a
# receive error, give the chain back, keep the device running, and then
# serve the stock driver again.  In between, a set-up that fails after
# writing MSI-X vectors over the configuration must leave the next driver
# the right MAC, and a set-up that falls back from a vector per queue to
# one shared vector (as virtio_pci does) must be taken.  First of all, before any driver, every MSI-X table entry
# must be masked, as the PCIe specification has it at reset.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh

HOSTILE=/sys/module/vep_hostile/parameters
DRIVER_OK=4
NEEDS_RESET=64
HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2

vnet_load
term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vnet/net0

# --- the MSI-X table as a host finds it, before any driver -------------------
# No driver binds on its own until the table was read: Linux masks every
# entry itself when it enables MSI-X, a firmware or another OS may not.
echo 0 >/sys/bus/pci/drivers_autoprobe
tap_check "net0 on controller 0, MTU 1500, link up" \
	vnet_fn net0 0 "$HOST_MAC" 1500
bdf=$(host_bdf 0)
if [ -e "/sys/bus/pci/devices/$bdf/driver" ]; then
	# Before 7.x, pci_bus_add_device() called device_attach(), which
	# does not ask drivers_autoprobe
	tap_skip "msix-table: every entry masked at reset" \
		"a driver bound the device at once: this kernel attaches drivers whatever drivers_autoprobe says"
elif insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=msix-table; then
	tap_check "msix-table: every entry masked at reset ($(cat $HOSTILE/msix_masked) of $(cat $HOSTILE/msix_entries))" \
		test "$(cat $HOSTILE/msix_entries)" -eq 3 -a \
		"$(cat $HOSTILE/msix_masked)" -eq 3
	rmmod vep_hostile
else
	tap_fail "msix-table: host test driver loads"
fi
echo 1 >/sys/bus/pci/drivers_autoprobe
echo "$bdf" >/sys/bus/pci/drivers_probe
tap_check "host virtio_net binds the device" host_wait_bound "$bdf" 30 ||
	{ tap_end; exit 1; }
ep_if=$(ifname_of "$(cat "$fn/vnet/ifindex")")
tap_check "endpoint interface ${ep_if:-?} up" ip link set "$ep_if" up
tap_check "unbind the stock host driver" sh -c "echo $bdf > $VIRTIO_PCI/unbind"
stats=/sys/class/net/$ep_if/statistics

# --- bad frames ---------------------------------------------------------------
for a in net-gso net-csum net-big net-tso-size net-tso-nocsum net-tso-csum \
	 net-tso-hdrlen net-tso-v6 net-tso-mss; do
	e0=$(cat "$stats/rx_errors")
	p0=$(cat "$stats/rx_packets")
	# CSUM, and HOST_TSO4 for the segmentation attacks
	f=1
	case $a in net-tso-*) f=0x801 ;; esac
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack="$a" \
		features=$f; then
		tap_fail "$a: host test driver loads"
		continue
	fi
	st=$(cat $HOSTILE/status)
	tap_check "$a: device still running (status $st)" \
		test $((st & DRIVER_OK)) -ne 0 -a $((st & NEEDS_RESET)) -eq 0
	tap_check "$a: the chain came back ($(cat $HOSTILE/used) of 1)" \
		test "$(cat $HOSTILE/used)" = 1
	rig_wait 5 sh -c "[ \$(cat $stats/rx_errors) -gt $e0 ]"
	e1=$(cat "$stats/rx_errors")
	p1=$(cat "$stats/rx_packets")
	tap_check "$a: counted as one receive error ($e0 -> $e1)" \
		test "$e1" -eq $((e0 + 1))
	tap_check "$a: nothing delivered ($p0 -> $p1)" test "$p1" -eq "$p0"
	rmmod vep_hostile
done

# --- a set-up that fails after writing MSI-X vectors --------------------------
# The vectors land where the next driver, without MSI-X yet, reads the MAC.
mac_hex=$(echo "$HOST_MAC" | tr -d :)
rig_mark msix-fail
if insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=msix-fail; then
	# the endpoint's word that it saw the failure, not the test
	# driver's own write read back
	tap_check "msix-fail: the endpoint saw the host fail the device" \
		rig_wait 5 sh -c "dmesg | sed -n '/vep-mark msix-fail\$/,\$p' |
				  grep -q 'Host driver failed the device'"
	tap_check "msix-fail: configuration back at offset 20 ($(cat $HOSTILE/restored) ms)" \
		test "$(cat $HOSTILE/restored)" -ge 0
	tap_check "msix-fail: it starts with the MAC ($(cat $HOSTILE/config))" \
		test "$(cut -c1-12 $HOSTILE/config)" = "$mac_hex"
	rmmod vep_hostile
else
	tap_fail "msix-fail: host test driver loads"
fi

# --- a set-up that falls back to one MSI-X vector for the queues ------------
# virtio_pci's second attempt, MSI-X off and on again in between: the
# device must take it, its configuration where a driver with MSI-X reads.
rig_mark msix-retry
if insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=msix-retry; then
	tap_check "msix-retry: the device takes the second attempt (status $(cat $HOSTILE/status))" \
		test "$(cat $HOSTILE/status)" = 7
	tap_check "msix-retry: the endpoint took the shared vector" \
		sh -c "dmesg | sed -n '/vep-mark msix-retry\$/,\$p' |
		       grep -q 'MSI-X vectors: configuration 0x0, queues 0x1 0x1'"
	tap_check "msix-retry: configuration at 24 starts with the MAC ($(cat $HOSTILE/config))" \
		test "$(cut -c1-12 $HOSTILE/config)" = "$mac_hex"
	rmmod vep_hostile
else
	tap_fail "msix-retry: host test driver loads" \
		"$(dmesg | grep -E 'vep_hostile|refused' | tail -n 3)"
fi

# --- the stock driver again -------------------------------------------------------
tap_check "bind the stock host driver" sh -c "echo $bdf > $VIRTIO_PCI/bind"
tap_check "host virtio_net binds again" host_wait_bound "$bdf" 30
rig_wait 10 host_has_if "$bdf"
host_if=$(host_ifname "$bdf")
tap_check "host interface has the MAC from configfs" grep -qx "$HOST_MAC" \
	"/sys/class/net/$host_if/address"
tap_check "two network namespaces" vnet_ns_start
tap_check "host interface in its namespace" \
	vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint interface in its namespace" \
	vnet_ep_setup "$ep_if" "$EP_IP"
tap_check "endpoint has carrier" rig_wait 10 has_carrier in_ep "$ep_if"
tap_check "host has carrier" \
	rig_wait 10 has_carrier in_host "$host_if"
tap_check "ping host -> endpoint" rig_ping in_host ping -c 3 -W 5 "$EP_IP"
tap_check "ping endpoint -> host" rig_ping in_ep ping -c 3 -W 5 "$HOST_IP"

# --- teardown ---------------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/net0"
tap_check "remove the function" rmdir "$fn"
vnet_ns_stop
tap_check "unload pci-epf-vnet" rmmod pci_epf_vnet
rig_check_dmesg
tap_end
exit $?
