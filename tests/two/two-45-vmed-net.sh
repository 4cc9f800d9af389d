#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The mediated network function (the baseline) across two machines: the
# stock Debian host's virtio_net on one side; on the endpoint, a local
# virtio device driven by the endpoint's own virtio_net, whose frames the
# function copies between the two sets of rings.  Pings and checked TCP
# each way; the host rebooted while the endpoint runs, traffic again.
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
FN=$TWO_EPF/pci_epf_vmed/mnet0

# local_if: the endpoint's virtio_net drives the function's local device;
# its interface, up with the endpoint's address
local_if() {
	on_ep "n=300; while [ \$n -gt 0 ]; do
		d=\$(cat $FN/vmed/local)
		[ -n \"\$d\" ] && readlink /sys/bus/virtio/devices/\$d/driver |
			grep -q /virtio_net\$ && break
		sleep 0.1; n=\$((n - 1))
	done
	[ \$n -gt 0 ] || { echo \"local device '\$d' not driven\"; exit 1; }
	for i in /sys/bus/virtio/devices/\$d/net/*; do
		[ -e \$i ] && i=\${i##*/}
	done
	[ -n \"\$i\" ] || { echo no interface on \$d; exit 1; }
	ip addr flush dev \$i && ip addr add $EP_IP/24 dev \$i &&
	ip link set \$i up && echo \"\$d: \$i\""
}

# vmed_dropped: packets the function dropped and counted since it was
# bound; it gives a host buffer back empty for each one to the host
vmed_dropped() {
	on_ep "cat $FN/vmed/dropped"
}

# traffic WHEN: two_traffic, then what the function dropped
traffic() {
	two_traffic "$1" $HOST_IP $EP_IP vmed_dropped
	tap_diag "dropped by the function: $(vmed_dropped)"
}

two_start
two_host_load virtio_net
two_ep_load pci-epf-virtio pci-epf-vmed
two_need "mnet0, a network device with the host's MAC and 3 MSI-X vectors, bound" on_ep "
	mkdir $FN && echo net >$FN/vmed/device && echo $HOST_MAC >$FN/vmed/mac &&
	echo $TWO_POLL_CPU >$FN/vmed/poll_cpu &&
	echo 3 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/"
two_need "the endpoint's virtio_net drives the local device, interface up" \
	local_if
two_need "endpoint starts its controller" two_ep_start
two_need "host virtio_net binds the device" two_host_bound virtio_net
two_check "endpoint link up" two_ep_link up
kind=$(two_irq_kind)
two_check "the host uses MSI-X ($kind)" test "$kind" = MSI-X
two_need "host interface up, with the function's MAC" \
	two_host_ifup $HOST_MAC $HOST_IP
traffic "first host"

# --- the host reboots while the endpoint runs -------------------------------
two_need "host machine reboots (reset)" host_reboot
two_host_load virtio_net
two_need "the new host's virtio_net binds the device" \
	two_host_bound virtio_net
two_check "endpoint saw the link go down, then up with the new host" on_ep "
	dmesg | grep -A100 'link down (host gone)' |
		grep -q 'link up (host boot 2)' || { dmesg | tail -n 5; exit 1; }"
two_check "the local device kept its driver and interface" local_if
two_need "host interface up (rebooted host)" two_host_ifup $HOST_MAC $HOST_IP
traffic "rebooted host"

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/mnet0"
two_check "the local device went with it" on_ep "
	d=\$(cat $FN/vmed/local); [ -z \"\$d\" ] || { echo \"local: \$d\"; exit 1; }"
two_ktrouble_case
tap_end
