#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The vsock function against a host that breaks the protocol: the host
# test driver (tests/host/vep-hostile.c) takes the device in place of the
# stock driver and sends, one case at a time, a chain shorter than a
# packet header, a header whose length goes beyond its chain, an unknown
# operation, wrong source and destination CIDs, and an unknown socket
# type.  Each must be dropped and counted under its cause in configfs
# "dropped", its chain given back, and the device must still answer the
# sound request that follows with a reset.  Then data far beyond the
# credit the endpoint's socket gave: the socket keeps what its credit
# covers and no more.  Then a flood of requests and resets with no
# receive buffer: the function must stop taking packets rather than queue
# replies without end.  At the end the stock driver takes the device again
# and 64 MiB pass, and no vsock socket is left over.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/host.sh
. /tests/lib/vsock.sh

HOSTILE=/sys/module/vep_hostile/parameters
VIRTIO_PCI=/sys/bus/pci/drivers/virtio-pci
HOST_DRIVER=vmw_vsock_virtio_transport
DRIVER_OK=4
NEEDS_RESET=64
OP_RESPONSE=2
OP_RST=3
PORT=5000
# The driver's listening port for vsock-credit (VEP_HOSTILE_VS_PORT)
CREDIT_PORT=5001

rig_load_epc host_cpu=0 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vsock" rig_insmod pci-epf-vsock
term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vsock/vsock0

# vsock_sockets: the endpoint's sockets on the function's transport now
# (each holds a reference on its transport's module)
vsock_sockets() {
	cat /sys/module/pci_epf_vsock/refcnt
}
# dropped CAUSE: the function's count of host packets dropped for CAUSE
dropped() {
	awk -v c="$1" '$1 == c ":" || $1 == c { print $NF }' "$fn/vsock/dropped"
}

socks0=$(vsock_sockets)
mkdir "$fn"
echo 1 >"$fn/vsock/poll_cpu"
echo 4 >"$fn/msix_interrupts"
tap_check "bind the function" ln -s "$fn" "$epc/"
echo 1 >"$epc/start"
tap_check "link up" rig_link 0 up
bdf=$(host_bdf 0)
rig_need "host's vsock driver binds the device" host_wait_bound "$bdf" 30
tap_check "unbind the stock host driver" sh -c "echo $bdf >$VIRTIO_PCI/unbind"
tap_diag "dropped before: $(tr '\n' ' ' <"$fn/vsock/dropped")"

# --- one bad packet, then a sound request -------------------------------------
for case in vsock-short:header_beyond_buffer:1 vsock-len:bad_length:1 \
	    vsock-op:bad_op:1 vsock-cid:bad_cid:2 vsock-type:bad_type:1; do
	a=${case%%:*}
	cause=${case#*:}
	n=${cause#*:}
	cause=${cause%:*}
	d0=$(dropped "$cause")
	if ! insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack="$a"; then
		tap_fail "$a: host test driver loads"
		continue
	fi
	st=$(cat $HOSTILE/status)
	d1=$(dropped "$cause")
	tap_check "$a: dropped and counted as $cause ($d0 -> $d1)" \
		test "$d1" -eq $((d0 + n))
	tap_check "$a: every chain came back ($(cat $HOSTILE/used) of $((n + 1)))" \
		test "$(cat $HOSTILE/used)" -eq $((n + 1))
	tap_check "$a: device still running (status $st)" \
		test $((st & DRIVER_OK)) -ne 0 -a $((st & NEEDS_RESET)) -eq 0
	tap_check "$a: the sound request after it got a reset ($(cat $HOSTILE/replies) packet(s), op $(cat $HOSTILE/reply_op))" \
		test "$(cat $HOSTILE/replies)" -eq 1 -a \
		"$(cat $HOSTILE/reply_op)" -eq $OP_RST
	rmmod vep_hostile
done

# --- data beyond the credit -----------------------------------------------------
rm -f /tmp/sink.go /tmp/sink.out
on_ep /tests/bin/vep-vsock-sink $CREDIT_PORT /tmp/sink.go >/tmp/sink.out &
sink=$!
sleep 0.5
if insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=vsock-credit; then
	credit=$(cat $HOSTILE/credit)
	sent=$(cat $HOSTILE/sent)
	tap_check "vsock-credit: the endpoint's socket answered and gave a credit ($credit)" \
		test "$credit" -gt 0
	tap_check "vsock-credit: every packet taken ($sent bytes, more than the credit)" \
		test "$sent" -gt "$credit" -a \
		"$(cat $HOSTILE/used)" -eq $((sent / 4096 + 1))
	tap_diag "vsock-credit: sockets on the function's transport while connected: $(vsock_sockets) ($socks0 before)"
	touch /tmp/sink.go
	wait "$sink"
	got=$(sed -n 's/^BYTES //p' /tmp/sink.out)
	tap_check "vsock-credit: the socket kept its credit's worth and no more (${got:-nothing} of $sent)" \
		test "${got:-0}" -eq "$credit"
	rmmod vep_hostile
else
	tap_fail "vsock-credit: host test driver loads"
	touch /tmp/sink.go
	wait "$sink"
fi

# --- a flood of requests and resets -------------------------------------------
rig_mark vsock-flood
if insmod /lib/modules/vep/vep-hostile.ko dev="$bdf" attack=vsock-flood; then
	u=$(cat $HOSTILE/used)
	ul=$(cat $HOSTILE/used_later)
	qs=$(cat "$fn/vsock/queue_size")
	tap_diag "vsock-flood: $u chains taken, $ul half a second later, $(cat $HOSTILE/replies) packets back, queue size $qs"
	tap_check "vsock-flood: the function took packets ($u)" test "$u" -gt 0
	tap_check "vsock-flood: then it stopped taking them ($u, then $ul)" \
		test "$u" -eq "$ul"
	tap_check "vsock-flood: what it owes stays within three rings ($u <= $((3 * qs)))" \
		test "$u" -le $((3 * qs))
	st=$(cat $HOSTILE/status)
	tap_check "vsock-flood: device still running (status $st)" \
		test $((st & DRIVER_OK)) -ne 0 -a $((st & NEEDS_RESET)) -eq 0
	rmmod vep_hostile
else
	tap_fail "vsock-flood: host test driver loads"
fi
tap_diag "dropped after: $(tr '\n' ' ' <"$fn/vsock/dropped")"

# --- the stock driver again --------------------------------------------------------
tap_check "bind the stock host driver" sh -c "echo $bdf >$VIRTIO_PCI/bind"
rig_need "host's vsock driver binds the device again" host_wait_bound "$bdf" 30
vsock_xfer "from the endpoint" 3 on_ep

tap_check "stop the link" sh -c "echo 0 >$epc/start"
tap_check "link down" rig_link 0 down
tap_check "unbind the function" rm "$epc/vsock0"
tap_check "remove the function" rmdir "$fn"
# A socket closed without its peer's answer lingers for its close timeout
rig_wait 15 sh -c "[ \$(cat /sys/module/pci_epf_vsock/refcnt) -le $socks0 ]"
tap_check "no vsock socket left over ($socks0 before, $(vsock_sockets) after)" \
	test "$(vsock_sockets)" -le "$socks0"
rig_check_dmesg
tap_end
