#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The socket function across two machines: the stock Debian host's
# vmw_vsock_virtio_transport takes the device (guest CID 3), and the
# endpoint's sockets reach it through the function's host-to-guest
# transport.  Checked streams each way (vep-tcp over AF_VSOCK); the host's
# virtio_pci unbound while the endpoint sends (the endpoint's sender sees
# an error, the next driver works); the host rebooted while the endpoint
# sends; the controller stopped at the end.  The kernel's vsock_test runs
# in the one-kernel rig (60-vsock), not here: its cases check the errors
# each side's kernel returns, and Debian 12's 6.1 host returns ENOMEM
# where later kernels return EMSGSIZE or EFAULT (cases 11 and 12 failed
# on the host's side for that, with cases 0 to 10 passed).
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

FN=$TWO_EPF/pci_epf_vsock/vsock0
DRIVER=vmw_vsock_virtio_transport
GUEST_CID=3
HOST_CID=2
MIB16=16777216

# traffic WHEN: checked streams each way, then what the function dropped
traffic() {
	two_tcp -V "host to endpoint: 16 MiB over vsock ($1)" $MIB16 host ep \
		$HOST_CID
	two_tcp -V "endpoint to host: 16 MiB over vsock ($1)" $MIB16 ep host \
		$GUEST_CID
	tap_diag "dropped by the function: $(on_ep "tr '\n' ' ' <$FN/vsock/dropped")"
}

# ep_send: the endpoint sends 1 GiB to the host's port 5001 in the
# background, its exit status going to /tmp/send.rc; the host's receiver
# is started first
ep_send() {
	on_host "rm -f /tmp/recv.out; /tests/bin/vep-tcp -V -l 5001 \
		-n 1073741824 -t 300 >/tmp/recv.out 2>&1 &
		n=50; until grep -q listening /tmp/recv.out; do
			[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
		done" &&
	on_ep "rm -f /tmp/send.rc; (/tests/bin/vep-tcp -V -c $GUEST_CID 5001 \
		-n 1073741824 -t 300 >/tmp/send.out 2>&1; echo \$? >/tmp/send.rc) \
		</dev/null >/dev/null 2>&1 &
		sleep 2; [ ! -e /tmp/send.rc ] || { cat /tmp/send.out; exit 1; }"
}

# ep_send_ended: the endpoint's sender ended, with an error
ep_send_ended() {
	on_ep "n=300; until [ -s /tmp/send.rc ]; do
		[ \$n -gt 0 ] || { echo still sending; exit 1; }
		sleep 0.1; n=\$((n - 1))
	done; echo \"exit \$(cat /tmp/send.rc): \$(tail -n 1 /tmp/send.out)\"
	[ \"\$(cat /tmp/send.rc)\" != 0 ]"
}

two_start
two_host_load $DRIVER
two_ep_load pci-epf-virtio pci-epf-vsock
two_need "vsock0, guest CID $GUEST_CID, 4 MSI-X vectors, bound" on_ep "
	mkdir $FN && echo $TWO_POLL_CPU >$FN/vsock/poll_cpu &&
	echo $GUEST_CID >$FN/vsock/guest_cid &&
	echo 4 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller" two_ep_start
two_need "host's vsock driver binds the device" two_host_bound $DRIVER
two_check "endpoint link up" two_ep_link up
kind=$(two_irq_kind)
two_check "the host uses MSI-X ($kind)" test "$kind" = MSI-X
traffic "first host"

# --- the host's driver goes while the endpoint sends ------------------------
two_need "the endpoint sends to the host" ep_send
two_check "host unbinds virtio_pci while the endpoint sends" on_host "
	echo $TWO_BDF >/sys/bus/pci/drivers/virtio-pci/unbind"
two_check "the endpoint's sender ended with an error" ep_send_ended
on_host "killall vep-tcp 2>/dev/null" >/dev/null
two_check "host binds virtio_pci again" on_host "
	echo $TWO_BDF >/sys/bus/pci/drivers/virtio-pci/bind"
two_need "host's vsock driver binds the device again" two_host_bound $DRIVER
traffic "driver bound again"

# --- the host reboots while the endpoint sends -------------------------------
two_need "the endpoint sends to the host before its reset" ep_send
two_need "host machine reboots (reset)" host_reboot
two_check "the endpoint's sender ended with an error (host reset)" ep_send_ended
two_host_load $DRIVER
two_need "the new host's vsock driver binds the device" two_host_bound $DRIVER
two_check "endpoint saw the link go down, then up with the new host" on_ep "
	dmesg | grep -A100 'link down (host gone)' |
		grep -q 'link up (host boot 2)' || { dmesg | tail -n 5; exit 1; }"
traffic "rebooted host"

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/vsock0"
two_check "endpoint removes the function" on_ep "rmdir $FN"
two_ktrouble_case
tap_end
