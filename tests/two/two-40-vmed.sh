#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The mediated console function (the baseline) across two machines: the
# stock Debian host's virtio_console on its /dev/hvc0; on the endpoint, a
# local virtio device driven by the endpoint's own virtio_console, whose hvc
# the function feeds by copying between the two sets of rings.  Data both
# ways; the host rebooted while the endpoint runs, data again.
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

FN=$TWO_EPF/pci_epf_vmed/med0

# ep_hvcs: the endpoint's hvc ttys that exist now (its agent has hvc0)
ep_hvcs() {
	on_ep 'for i in 0 1 2 3 4 5 6 7; do
		(exec 3</dev/hvc$i) 2>/dev/null && echo hvc$i
	done; true'
}

# local_bound: the endpoint's virtio_console drives the function's local
# device
local_bound() {
	on_ep "n=300; while [ \$n -gt 0 ]; do
		d=\$(cat $FN/vmed/local)
		[ -n \"\$d\" ] && readlink /sys/bus/virtio/devices/\$d/driver |
			grep -q /virtio_console\$ && exit 0
		sleep 0.1; n=\$((n - 1))
	done; echo \"local device '\$(cat $FN/vmed/local)' not driven\"; exit 1"
}

# data WHEN: 4 KiB each way, then 256 KiB each way
data() {
	two_xfer "host to endpoint: 4 KiB ($1)" 4096 host /dev/hvc0 ep "$EP_HVC"
	two_xfer "endpoint to host: 4 KiB ($1)" 4096 ep "$EP_HVC" host /dev/hvc0
	two_xfer "host to endpoint: 256 KiB ($1)" 262144 host /dev/hvc0 ep "$EP_HVC" 300
	two_xfer "endpoint to host: 256 KiB ($1)" 262144 ep "$EP_HVC" host /dev/hvc0 300
}

two_start
two_host_load virtio_console
two_ep_load pci-epf-virtio pci-epf-vmed
two_need "endpoint: khvcd and unbound work off the poll thread's CPU" \
	two_ep_keep_off_poll_cpu
before=$(ep_hvcs)
two_need "med0, a console with 4 MSI-X vectors, bound" on_ep "
	mkdir $FN && echo console >$FN/vmed/device &&
	echo $TWO_POLL_CPU >$FN/vmed/poll_cpu &&
	echo 4 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/"
two_need "the endpoint's virtio_console drives the local device" local_bound
n=50
while [ "$(ep_hvcs)" = "$before" ] && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
EP_HVC=/dev/$(comm -13 <(echo "$before") <(ep_hvcs) | head -n 1)
two_need "the local device has an hvc of its own ($EP_HVC)" \
	test "$EP_HVC" != /dev/
two_need "endpoint starts its controller" two_ep_start
two_need "host virtio_console binds the device" two_host_bound virtio_console
two_check "endpoint link up" two_ep_link up
kind=$(two_irq_kind)
two_check "the host uses MSI-X ($kind)" test "$kind" = MSI-X
data "first host"

# --- the host reboots while the endpoint runs -------------------------------
two_need "host machine reboots (reset)" host_reboot
two_host_load virtio_console
two_need "the new host's virtio_console binds the device" \
	two_host_bound virtio_console
two_check "endpoint saw the link go down, then up with the new host" on_ep "
	dmesg | grep -A100 'link down (host gone)' |
		grep -q 'link up (host boot 2)' || { dmesg | tail -n 5; exit 1; }"
two_check "the local device kept its hvc ($EP_HVC)" on_ep "test -c $EP_HVC &&
	(exec 3<$EP_HVC)"
data "rebooted host"

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/med0"
two_ktrouble_case
tap_end
