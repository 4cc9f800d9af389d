#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The network function against a host that is not the stock driver, across
# two machines, as 55-vnet-hostile on the one-kernel rig: first, before any
# driver, every MSI-X table entry must be masked, as the PCIe specification
# has it at reset.  Then the host test driver (tests/host/vep-hostile.c,
# built against Debian's headers) sets the device up with checksum offload
# and puts one malformed frame on its transmit queue per case (an unknown
# segmentation type, a partial checksum beyond the frame, a frame far over
# the MTU): the function must drop and count each as a receive error, give
# the chain back and keep the device running.  A set-up that fails after
# writing MSI-X vectors over the configuration must leave the next driver
# the right MAC, and a set-up that falls back from a vector per queue to
# one shared vector (as virtio_pci does) must be taken.  Last, the stock
# virtio_net works again.
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

DRIVER_OK=4
NEEDS_RESET=64
HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
FN=$TWO_EPF/pci_epf_vnet/net0

# ep_stat NAME: the endpoint interface's counter NAME
ep_stat() {
	on_ep "cat /sys/class/net/$EP_IF/statistics/$1"
}

two_start
# The host half of the link only: no driver may take the device before
# the test driver has read its MSI-X table (there is no udev to load one)
two_need "host: pci-ivshmem-host loads, no virtio_pci" on_host "
	insmod /lib/modules/vep/pci-epc-emul.ko &&
	insmod /lib/modules/vep/pci-ivshmem-host.ko"
two_ep_load pci-epf-virtio pci-epf-vnet
two_need "net0 with the host's MAC and 3 MSI-X vectors on pci-epc-ivshmem" on_ep "
	mkdir $FN && echo $TWO_POLL_CPU >$FN/vnet/poll_cpu &&
	echo $HOST_MAC >$FN/vnet/mac && echo 3 >$FN/msix_interrupts &&
	ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller" two_ep_start
two_need "host sees the device, with no driver" on_host "n=300
	until [ -e /sys/bus/pci/devices/$TWO_BDF ]; do
		[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
	done; ! [ -e /sys/bus/pci/devices/$TWO_BDF/driver ]"
two_check "endpoint link up" two_ep_link up

# --- the MSI-X table as a host finds it, before any driver -------------------
if two_host_hostile attack=msix-table >"$TWO_TMP/load.out" 2>&1; then
	n=$(on_host "cat $TWO_HOSTILE/msix_entries") m=$(on_host "cat $TWO_HOSTILE/msix_masked")
	two_check "msix-table: every entry masked at reset ($m of $n)" \
		test "$n" = 3 -a "$m" = 3
	on_host 'rmmod vep_hostile' >/dev/null
else
	tap_fail "msix-table: host test driver loads" "$(cat "$TWO_TMP/load.out")"
fi

two_need "host: the stock virtio_pci and virtio_net load" \
	on_host "modprobe virtio_pci && modprobe virtio_net"
two_need "host virtio_net binds the device" two_host_bound virtio_net
EP_IF=$(on_ep "i=\$(cat $FN/vnet/ifindex)
	for d in /sys/class/net/*; do
		[ \"\$(cat \$d/ifindex)\" = \"\$i\" ] && echo \${d##*/}
	done")
two_need "endpoint interface ${EP_IF:-?} up" on_ep "ip link set '$EP_IF' up"
two_need "unbind the host's virtio_pci" on_host \
	"echo $TWO_BDF >/sys/bus/pci/drivers/virtio-pci/unbind"

# --- bad frames -------------------------------------------------------------
for a in net-gso net-csum net-big net-tso-size net-tso-nocsum net-tso-csum \
	 net-tso-hdrlen net-tso-v6 net-tso-mss; do
	e0=$(ep_stat rx_errors) p0=$(ep_stat rx_packets)
	# CSUM, and HOST_TSO4 for the segmentation attacks
	f=1
	case $a in net-tso-*) f=0x801 ;; esac
	if ! two_host_hostile "attack=$a features=$f" >"$TWO_TMP/load.out" 2>&1; then
		tap_fail "$a: host test driver loads" "$(cat "$TWO_TMP/load.out")"
		continue
	fi
	st=$(on_host "cat $TWO_HOSTILE/status")
	two_check "$a: device still running (status $st)" \
		test $((st & DRIVER_OK)) -ne 0 -a $((st & NEEDS_RESET)) -eq 0
	used=$(on_host "cat $TWO_HOSTILE/used")
	two_check "$a: the chain came back ($used of 1)" test "$used" = 1
	on_ep "n=50; until [ \$(cat /sys/class/net/$EP_IF/statistics/rx_errors) -gt $e0 ]; do
		[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
	done" >/dev/null
	e1=$(ep_stat rx_errors) p1=$(ep_stat rx_packets)
	two_check "$a: counted as one receive error ($e0 -> $e1)" \
		test "$e1" -eq $((e0 + 1))
	two_check "$a: nothing delivered ($p0 -> $p1)" test "$p1" -eq "$p0"
	on_host 'rmmod vep_hostile' >/dev/null
done

# --- a set-up that fails after writing MSI-X vectors -------------------------
# The vectors land where the next driver, without MSI-X yet, reads the MAC.
mac_hex=$(echo "$HOST_MAC" | tr -d :)
on_ep "echo vep-mark msix-fail >/dev/kmsg"
if two_host_hostile attack=msix-fail >"$TWO_TMP/load.out" 2>&1; then
	# the endpoint's word that it saw the failure, not the test driver's
	# own write read back
	two_check "msix-fail: the endpoint saw the host fail the device" \
		on_ep "n=50; until dmesg | sed -n '/vep-mark msix-fail\$/,\$p' |
				 grep -q 'Host driver failed the device'; do
			[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
		done"
	r=$(on_host "cat $TWO_HOSTILE/restored") c=$(on_host "cat $TWO_HOSTILE/config")
	two_check "msix-fail: configuration back at offset 20 ($r ms)" \
		test "$r" -ge 0
	two_check "msix-fail: it starts with the MAC ($c)" \
		test "${c:0:12}" = "$mac_hex"
	on_host 'rmmod vep_hostile' >/dev/null
else
	tap_fail "msix-fail: host test driver loads" "$(cat "$TWO_TMP/load.out")"
fi

# --- a set-up that falls back to one MSI-X vector for the queues --------------
# virtio_pci's second attempt, MSI-X off and on again in between: the
# device must take it, its configuration where a driver with MSI-X reads.
on_ep "echo vep-mark msix-retry >/dev/kmsg"
if two_host_hostile attack=msix-retry >"$TWO_TMP/load.out" 2>&1; then
	s=$(on_host "cat $TWO_HOSTILE/status") c=$(on_host "cat $TWO_HOSTILE/config")
	two_check "msix-retry: the device takes the second attempt (status $s)" \
		test "$s" = 7
	two_check "msix-retry: the endpoint took the shared vector" \
		on_ep "dmesg | sed -n '/vep-mark msix-retry\$/,\$p' |
		       grep -q 'MSI-X vectors: configuration 0x0, queues 0x1 0x1'"
	two_check "msix-retry: configuration at 24 starts with the MAC ($c)" \
		test "${c:0:12}" = "$mac_hex"
	on_host 'rmmod vep_hostile' >/dev/null
else
	tap_fail "msix-retry: host test driver loads" \
		"$(cat "$TWO_TMP/load.out"; on_ep "dmesg | grep refused | tail -n 2")"
fi

# --- the stock driver again ----------------------------------------------------
two_need "bind the host's virtio_pci again" on_host \
	"echo $TWO_BDF >/sys/bus/pci/drivers/virtio-pci/bind"
two_need "host virtio_net binds again" two_host_bound virtio_net
two_need "host interface up, with the function's MAC" \
	two_host_ifup $HOST_MAC $HOST_IP
two_need "endpoint interface has its address" on_ep "
	ip addr flush dev $EP_IF && ip addr add $EP_IP/24 dev $EP_IF"
two_check "host pings the endpoint, 3 of 3" two_ping3 host $EP_IP
two_check "endpoint pings the host, 3 of 3" two_ping3 ep $HOST_IP

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/net0"
two_ktrouble_case
tap_end
