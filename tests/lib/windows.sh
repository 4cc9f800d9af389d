#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Body of the outbound window budget groups: source it after setting
# BUDGET.  The loopback controller gets BUDGET outbound windows, as a real
# one has a few (DesignWare: 4 to 8), and as many console functions as fit
# (each takes 3: one per ring, one for data), plus one, all on it.  Every
# function that fits must work and move data whole; the one that does not
# must fail, alone, saying what it needs, and take nothing from the others.

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh

term_require_kernel

WIN_PER_FN=3
FIT=$((BUDGET / WIN_PER_FN))
NFN=$((FIT + 1))

rig_load_epc host_cpu=0 nr_controllers=1 nr_windows="$BUDGET" || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vcon" rig_insmod pci-epf-vcon
term_sides
epc=$(rig_epc 0)

i=0
while [ $i -lt $NFN ]; do
	f=$EPCFS/functions/pci_epf_vcon/con$i
	mkdir "$f" && echo "$POLL_CPU" >"$f/vcon/poll_cpu" &&
		echo 4 >"$f/msix_interrupts" && ln -s "$f" "$epc/" ||
		tap_fail "function con$i on controller 0"
	i=$((i + 1))
done
# The host's virtio_console takes the devices one at a time, each once the
# endpoint is done with the one before: all the functions share one poll
# thread, and while it activates a function (maps its rings and data
# window) it polls no other.  A function's first activation runs code that
# TCG translates as it goes: it was seen to hold the thread for up to
# 15 ms, longer than the host takes from one device's DRIVER_OK to the
# next one's queue addresses, so the thread missed one and the host's
# driver failed that device.  On a board the activation takes a small part
# of the host's own probe (pci-epf-virtio.rst, "Polling").
echo 0 >/sys/bus/virtio/drivers_autoprobe
tap_check "$NFN console functions, link up, $BUDGET windows" \
	sh -c "echo 1 > $epc/start" && rig_link 0 up

# The host's PCI devices, WIN_DEV.K at function K (a pattern, left unquoted)
WIN_DEV='/sys/devices/platform/pci-epc-loop.0/pci*/*:00'

# win_vdev K: the host's virtio device at function K
win_vdev() {
	for wv_d in $WIN_DEV.$1/virtio*; do
		[ -e "$wv_d" ] && echo "${wv_d##*/}" && return 0
	done
	return 1
}
# win_taken K: the endpoint activated, refused or failed the device bound
# last
win_taken() {
	rig_dmesg_since "win-bind-$1" |
		grep -Eq 'Host driver ready|No outbound window free|Failed to activate'
}
# The host's scan adds the devices one after the other: once the last one
# has its virtio device, every one is on the virtio bus, ready to bind
rig_wait 10 win_vdev $((NFN - 1)) >/dev/null ||
	tap_diag "the host has no virtio device at function $((NFN - 1))"
i=0
while [ $i -lt $NFN ]; do
	rig_mark "win-bind-$i"
	if v=$(win_vdev $i); then
		echo "$v" >/sys/bus/virtio/drivers/virtio_console/bind
		rig_wait 10 win_taken $i ||
			tap_diag "function $i: the endpoint neither activated nor refused it"
	fi
	i=$((i + 1))
done
echo 1 >/sys/bus/virtio/drivers_autoprobe

# win_status K: the status of the host's device at function K (hex)
win_status() {
	cat $WIN_DEV.$1/virtio*/status 2>/dev/null
}
# win_refused: how many functions' devices the host sees stopped
win_refused() {
	wr_n=0
	wr_i=0
	while [ $wr_i -lt $NFN ]; do
		wr_s=$(win_status $wr_i)
		[ -n "$wr_s" ] && [ $((wr_s & 0x40)) -ne 0 ] && wr_n=$((wr_n + 1))
		wr_i=$((wr_i + 1))
	done
	echo $wr_n
}
# win_settled: the functions that fit run, and one is stopped
win_settled() {
	ws_i=0 ws_run=0
	while [ $ws_i -lt $NFN ]; do
		[ "$(win_status $ws_i)" = 0x00000007 ] && ws_run=$((ws_run + 1))
		ws_i=$((ws_i + 1))
	done
	[ $ws_run -eq $FIT ] && [ "$(win_refused)" -eq 1 ]
}
rig_wait 20 win_settled
i=0
while [ $i -lt $NFN ]; do
	tap_diag "function $i: host status $(win_status $i)"
	i=$((i + 1))
done
tap_check "$FIT functions run, one is refused" win_settled
tap_check "the refused one says what it needs" sh -c \
	"dmesg | grep -q 'No outbound window free for 1000 ms: this function needs $WIN_PER_FN (one per ring, one for data) of the controller.s $BUDGET'"

# The host's hvcK is function K's: they were bound in order.  Data
# goes endpoint to host only, here.  Each host buffer outside the data
# window takes a new window before the old one goes, and the old one is
# given back by a work item whose unmap may flush every CPU's TLB.  In
# this one-kernel rig the host's virtio_console, sending, spins with
# interrupts off until the endpoint takes its buffer: under a tight
# budget the endpoint may need that very flush first, and both CPUs wait
# for each other (seen: the rig hangs on 4 KiB from the host with 8
# windows).  Two machines have no such knot: host to endpoint data under
# a budget runs on the two-machine rig (tests/two/two-36-vcon-windows*).
i=0
while [ $i -lt $NFN ]; do
	if [ "$(win_status $i)" = 0x00000007 ]; then
		ep=/dev/$(cat "$EPCFS/functions/pci_epf_vcon/con$i/vcon/tty")
		xfer_check "function $i: endpoint to host, 1 MiB" 1048576 \
			"$ep" /dev/hvc$i 60
	fi
	i=$((i + 1))
done

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
i=0
while [ $i -lt $NFN ]; do
	rm "$epc/con$i"
	rmdir "$EPCFS/functions/pci_epf_vcon/con$i"
	i=$((i + 1))
done
rig_check_dmesg
tap_end
exit $?
