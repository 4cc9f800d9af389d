#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The vsock function in the one-kernel rig: the host's stock
# vmw_vsock_virtio_transport (built in) takes the device and guest CID 3,
# and the function registers the host-to-guest transport.  Both transports
# are in this one kernel, so a socket that connects to CID 3 goes out
# through the function (endpoint to host) and lands on a listener through
# the host's driver, and one that connects to CID 2 goes the other way.
# socat moves 64 MiB each way with checksums; the function's cost counters
# must show the packets crossed its queues.  Then the kernel's own
# vsock_test, server on the endpoint side and client on the host side,
# with its control connection over loopback TCP; 100 connections opened and
# closed; the host driver unbound while the endpoint sends: the
# endpoint's socket sees a reset, and the next driver works; the
# controller stopped while the host sends: the endpoint's receiver ends,
# and after a restart the data flows again.
#
# vep-timeout: 900

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/host.sh
. /tests/lib/vsock.sh

POLL_CPU=1
PORT=5000
VIRTIO_PCI=/sys/bus/pci/drivers/virtio-pci
HOST_DRIVER=vmw_vsock_virtio_transport

rig_load_epc host_cpu=0 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vsock" rig_insmod pci-epf-vsock
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vsock/vsock0

# --- configfs -------------------------------------------------------------
tap_check "create the function" mkdir "$fn"
tap_check "guest CID 3 by default" grep -qx 3 "$fn/vsock/guest_cid"
for bad in 0 1 2 4294967295 4294967296 -1 x ""; do
	if echo "$bad" >"$fn/vsock/guest_cid" 2>/dev/null; then
		tap_fail "guest_cid '$bad' refused"
	else
		tap_ok "guest_cid '$bad' refused"
	fi
done
tap_check "guest CID still 3" grep -qx 3 "$fn/vsock/guest_cid"
echo $POLL_CPU >"$fn/vsock/poll_cpu"
# MSI-X, one vector per queue and one for the configuration: virtio_vsock
# reads its guest CID with MSI-X on, before DRIVER_OK
echo 4 >"$fn/msix_interrupts"
tap_check "bind the function" ln -s "$fn" "$epc/"
if echo 7 >"$fn/vsock/guest_cid" 2>/dev/null; then
	tap_fail "guest_cid refused while bound"
else
	tap_ok "guest_cid refused while bound"
fi
echo 1 >"$epc/start"
tap_check "link up" rig_link 0 up
bdf=$(host_bdf 0)
rig_need "host's vsock driver binds the device" host_wait_bound "$bdf" 30

# cost Q FIELD: a counter of the function's queue Q (0: to the host, 1:
# from the host)
cost() { rig_cost "$1" "$2"; }

c0=$(cost 0 chains) c1=$(cost 1 chains)
vsock_xfer "endpoint to host" 3
c0b=$(cost 0 chains)
tap_check "the data went through the host's rx queue ($((c0b - c0)) chains)" \
	test $((c0b - c0)) -ge 1024
vsock_xfer "host to endpoint" 2
c1b=$(cost 1 chains)
tap_check "the data went through the host's tx queue ($((c1b - c1)) chains)" \
	test $((c1b - c1)) -ge 1024

# --- the kernel's own tests -----------------------------------------------
# The server listens on the endpoint side (its peer, the client, is CID 3),
# the client connects to CID 2 from the host side
if [ -x /tests/bin/vsock_test ]; then
	on_ep /tests/bin/vsock_test --mode=server --control-port=4000 \
		--peer-cid=3 >/tmp/vsock_test.server 2>&1 &
	srv=$!
	sleep 1
	on_host timeout 600 /tests/bin/vsock_test --mode=client \
		--control-host=127.0.0.1 --control-port=4000 --peer-cid=2 \
		>/tmp/vsock_test.client 2>&1
	rc=$?
	wait "$srv"
	src=$?
	sed 's/^/# /' /tmp/vsock_test.client
	grep -v '^ok\|^[0-9]' /tmp/vsock_test.server | sed 's/^/# server: /'
	tap_check "vsock_test: every case passes (client $rc, server $src)" \
		test "$rc" -eq 0 -a "$src" -eq 0
else
	tap_fail "vsock_test is in the image"
fi

# --- many connections -------------------------------------------------------
socat VSOCK-LISTEN:$PORT,reuseaddr,fork SYSTEM:'head -c 4' &
l=$!
sleep 0.5
n=0
i=0
while [ $i -lt 100 ]; do
	r=$(echo ping | timeout 10 socat - VSOCK-CONNECT:3:$PORT 2>/dev/null)
	[ "$r" = ping ] && n=$((n + 1))
	i=$((i + 1))
done
kill "$l"
wait "$l" 2>/dev/null
tap_check "100 connections to the host side, each answered ($n)" test $n -eq 100

# --- the host driver goes while the endpoint sends --------------------------
socat -u VSOCK-LISTEN:$PORT,reuseaddr OPEN:/dev/null &
l=$!
sleep 0.5
on_ep sh -c "head -c 1073741824 /dev/zero |
	socat -u - VSOCK-CONNECT:3:$PORT 2>/tmp/vsock.err; echo \$? >/tmp/vsock.rc" &
s=$!
sleep 2
tap_check "unbind the host's virtio_pci while the endpoint sends" \
	sh -c "echo $bdf >$VIRTIO_PCI/unbind"
rig_wait 20 test -s /tmp/vsock.rc
tap_check "the endpoint's sender ended with an error ($(cat /tmp/vsock.rc 2>/dev/null))" \
	sh -c '[ "$(cat /tmp/vsock.rc)" != 0 ]'
tap_diag "sender: $(cat /tmp/vsock.err 2>/dev/null)"
kill "$s" "$l" 2>/dev/null
wait "$s" "$l" 2>/dev/null
tap_check "bind the host's virtio_pci again" sh -c "echo $bdf >$VIRTIO_PCI/bind"
rig_need "host's vsock driver binds the device again" host_wait_bound "$bdf" 30
vsock_xfer "after the host driver came back" 3

# --- the controller stopped while the host sends ------------------------------
# The link goes down: the host loses the device, and the endpoint's
# receiving socket must end, not wait for data that never comes
rm -f /tmp/vsock.rc
on_ep sh -c "socat -u VSOCK-LISTEN:$PORT,reuseaddr OPEN:/dev/null \
	2>/tmp/vsock.err; echo \$? >/tmp/vsock.rc" &
l=$!
sleep 0.5
on_host sh -c "head -c 1073741824 /dev/zero |
	socat -u - VSOCK-CONNECT:2:$PORT 2>/dev/null" &
s=$!
sleep 2
tap_check "stop the controller while the host sends" sh -c "echo 0 >$epc/start"
rig_wait 20 test -s /tmp/vsock.rc
tap_check "the endpoint's receiver ended ($(cat /tmp/vsock.rc 2>/dev/null))" \
	test -s /tmp/vsock.rc
tap_diag "receiver: $(cat /tmp/vsock.err 2>/dev/null)"
rig_kill "$s"
rig_kill "$l"
wait "$s" "$l" 2>/dev/null
tap_check "link down" rig_link 0 down
tap_check "start the controller again" sh -c "echo 1 >$epc/start"
tap_check "link up again" rig_link 0 up
rig_need "host's vsock driver binds the device after the restart" \
	host_wait_bound "$bdf" 30
vsock_xfer "after the controller's restart" 2
tap_diag "dropped: $(tr '\n' ' ' <"$fn/vsock/dropped")"

tap_check "stop the link" sh -c "echo 0 >$epc/start"
tap_check "link down" rig_link 0 down
tap_check "unbind the function" rm "$epc/vsock0"
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
