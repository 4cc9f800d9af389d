#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The mediated console function (the baseline): the host's stock
# virtio_console on one side, and on the endpoint a local virtio device
# that the same stock driver binds, giving a second /dev/hvcN.  The
# function copies between the host's rings and the local ones.
#
# Host and endpoint share this kernel, and now both ends are virtio_console:
# a writer to either hvc spins with interrupts off, holding that hvc's lock,
# until the device has used its buffer, i.e. until the poll thread (CPU 1)
# has copied it.  Whatever takes an hvc lock must therefore never run on
# CPU 1, or it may spin there on a lock held by a writer that waits for the
# poll thread: the writers themselves, khvcd (it polls every hvc), the
# host's interrupts (the host's handler polls hvc, so pci-epc-loop
# host_cpu=0) and the local device's interrupts (irq_cpu left at its
# default, -1: never the poll thread's CPU, so CPU 0), and flip work that
# echoes (unbound work on CPU 0, as term_sides sets it).  All of them
# go on CPU 0; the poll thread and the readers on CPU 1.
#
# That leaves one more trap: what drains the receiving side's ring (its
# interrupt handler and khvcd) runs on the writers' CPU.  A writer that
# outpaces it fills the ring, and then spins in its next write, interrupts
# off, on the very CPU that would make room: a deadlock (seen with 16 MiB,
# even with the writer at nice 19).  So writers stay at most 256 KiB ahead
# of their reader (XFER_PACE), below what the receiving ring holds (256
# buffers, at least 2 KiB in each: tty writes come in 2 KiB pieces).
# A real endpoint has its own CPUs and its own khvcd, and none of this
# applies there.
#
# vep-timeout: 900

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vmed.sh

POLL_CPU=1

# Writers (they spin) with the hvc work on CPU 0, paced; readers on CPU 1
XFER_WR=on_host
XFER_RD=on_ep
XFER_PACE="131072 1"

# vmed_only_local: the endpoint's hvc is the only one
vmed_only_local() {
	[ "$(vmed_hvcs)" = "$ep_hvc" ]
}

# vmed_case NAME CMD...: one case NAME, passed if CMD succeeds; returns its
# status, and what CMD sets stays set
vmed_case() {
	vc_name=$1
	shift
	if "$@"; then
		tap_ok "$vc_name"
		return 0
	fi
	tap_fail "$vc_name" "failed: $*"
	vmed_diag
	return 1
}

rig_load_epc host_cpu=0 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vmed" rig_insmod pci-epf-vmed
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vmed/med0

# --- configfs --------------------------------------------------------------
tap_check "create the function" mkdir "$fn"
tap_check "the device type is console" grep -qx console "$fn/vmed/device"
tap_check "no local device before bind" grep -qx "" "$fn/vmed/local"
tap_check "unknown device type refused" \
	sh -c "! echo bogus > $fn/vmed/device"
tap_check "queue_size 100 refused" sh -c "! echo 100 > $fn/vmed/queue_size"
tap_check "features beyond the type refused" \
	sh -c "! echo 0x100 > $fn/vmed/features"
tap_check "irq_cpu 4096 refused" sh -c "! echo 4096 > $fn/vmed/irq_cpu"
# irq_cpu stays at its default: any CPU but the poll thread's
tap_check "irq_cpu defaults to -1" grep -qx -- -1 "$fn/vmed/irq_cpu"
tap_check "tunables accepted" sh -c "echo console > $fn/vmed/device &&
	echo 256 > $fn/vmed/queue_size && echo $POLL_CPU > $fn/vmed/poll_cpu &&
	echo 4 > $fn/msix_interrupts"

# --- bind: the local device, then the host --------------------------------
tap_check "bind med0 to controller 0" vmed_link 0
if ! vmed_case "local virtio_console binds, one hvc appears" vmed_find_local; then
	tap_end
	exit 1
fi
tap_diag "local device $local_dev, endpoint tty /dev/$ep_hvc"
term_sides
if echo 64 >"$fn/vmed/queue_size" 2>/dev/null; then
	tap_fail "queue_size refused while bound"
else
	tap_ok "queue_size refused while bound"
fi
tap_check "link up" vmed_up 0
if ! vmed_case "host virtio_console binds, its hvc appears" vmed_find_host; then
	tap_end
	exit 1
fi
tap_diag "host device $bdf ($host_dev), host tty /dev/$host_hvc"
term_sides

# --- data, small then bulk ---------------------------------------------------
i0=$(vmed_irqs "$host_dev")
xfer_check "host to endpoint: 4 KiB" 4096 /dev/$host_hvc /dev/$ep_hvc 30
xfer_check "endpoint to host: 4 KiB" 4096 /dev/$ep_hvc /dev/$host_hvc 30
i1=$(vmed_irqs "$host_dev")
tap_check "host took interrupts ($i0 -> $i1)" test "$i1" -gt "$i0"
# The local device's interrupts are IPIs ("function call interrupts") to
# CPU 0, not calls run inline in the poll thread on CPU 1: 16 MiB towards
# the endpoint interrupts the local driver about 2000 times.  The host's
# own interrupts come to CPU 0 the same way (pci-epc-loop host_cpu=0):
# they are taken off.
cal0() {
	awk '$1 == "CAL:" { print $2 }' /proc/interrupts
}
c0=$(cal0)
h0=$(vmed_irqs "$host_dev")
xfer_check "host to endpoint: 16 MiB" 16777216 /dev/$host_hvc /dev/$ep_hvc 300
c1=$(cal0)
h1=$(vmed_irqs "$host_dev")
tap_check "local interrupts went to CPU 0 as IPIs ($((c1 - c0)) IPIs, $((h1 - h0)) of them the host's)" \
	test $((c1 - c0 - (h1 - h0))) -ge 500
xfer_check "endpoint to host: 16 MiB" 16777216 /dev/$ep_hvc /dev/$host_hvc 300

# Both ways at once: the endpoint's writer holds its hvc's lock, spinning
# for the poll thread, while the poll thread interrupts the local driver
# for data from the host; that handler takes the same lock, so it must not
# run in the poll thread.  Each direction in a subshell of its own (xfer_check
# keeps its descriptors in fixed numbers), one case for the pair.
both_ways() {
	(xfer_check "host to endpoint" 2097152 /dev/$host_hvc /dev/$ep_hvc 120) \
		>/tmp/both.1 2>&1 &
	bw1=$!
	(xfer_check "endpoint to host" 2097152 /dev/$ep_hvc /dev/$host_hvc 120) \
		>/tmp/both.2 2>&1 &
	bw2=$!
	wait $bw1
	bw_rc1=$?
	wait $bw2
	bw_rc2=$?
	sed 's/^/# /' /tmp/both.1 /tmp/both.2
	[ $bw_rc1 -eq 0 ] && [ $bw_rc2 -eq 0 ]
}
tap_check "both ways at once: 2 MiB each, checked" both_ways

# --- login across the link -----------------------------------------------------
# The getty and its shell write to the endpoint hvc, with echo: CPU 0.
term_open /dev/$host_hvc
on_host /usr/bin/setsid agetty -L --nohints "$ep_hvc" vt100 \
	</dev/null >/dev/null 2>&1 &
getty=$!
term_login "host $host_hvc logs in through a getty on the endpoint's $ep_hvc"
term_close
kill $getty 2>/dev/null
wait $getty 2>/dev/null

# --- host driver reload ------------------------------------------------------------
tap_check "unbind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/unbind"
tap_check "host hvc gone, local hvc stays" rig_wait 10 vmed_only_local
tap_check "bind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/bind"
vmed_case "host virtio_console binds again" vmed_find_host
term_sides
xfer_check "after host reload, host to endpoint: 64 KiB" 65536 \
	/dev/$host_hvc /dev/$ep_hvc 30
xfer_check "after host reload, endpoint to host: 64 KiB" 65536 \
	/dev/$ep_hvc /dev/$host_hvc 30

# --- function unbind/bind, three times (a leaked window would show) ------------
for n in 1 2 3; do
	ok=1
	vmed_down 0 || ok=0
	rm "$epc/med0" || ok=0
	[ -e "/sys/bus/virtio/devices/$local_dev" ] && ok=0
	grep -qx "" "$fn/vmed/local" || ok=0
	[ -z "$(vmed_hvcs)" ] || ok=0
	vmed_link 0 || ok=0
	vmed_find_local || ok=0
	vmed_up 0 || ok=0
	vmed_find_host || ok=0
	if [ $ok -eq 1 ]; then
		tap_ok "function unbind/bind $n ($local_dev $ep_hvc, $host_hvc)"
	else
		tap_fail "function unbind/bind $n"
	fi
done
term_sides
xfer_check "after rebinds, host to endpoint: 64 KiB" 65536 \
	/dev/$host_hvc /dev/$ep_hvc 30
xfer_check "after rebinds, endpoint to host: 64 KiB" 65536 \
	/dev/$ep_hvc /dev/$host_hvc 30

tap_diag "host set-ups retried after an endpoint lapse: $SETUP_RETRIES (at most 1 a group, each shown above)"

# --- teardown ------------------------------------------------------------------------
tap_check "stop the link" vmed_down 0
tap_check "host device gone" test ! -e "/sys/bus/pci/devices/$bdf"
tap_check "unlink the function" rm "$epc/med0"
tap_check "local device gone" test ! -e "/sys/bus/virtio/devices/$local_dev"
tap_check "remove the function" rmdir "$fn"

# --- type changes racing bind and unbind -----------------------------------------
# A write to "device" frees the host-side device and makes another, which
# bind and unbind look up: the writes must wait for them, or be refused.
fn9=$EPCFS/functions/pci_epf_vmed/med9
mkdir "$fn9"
(
	while :; do
		echo net >"$fn9/vmed/device"
		echo console >"$fn9/vmed/device"
	done
) 2>/dev/null &
sw=$!
nb=0
for i in $(seq 1 40); do
	ln -s "$fn9" "$epc/" 2>/dev/null && nb=$((nb + 1))
	rm -f "$epc/med9"
done
rig_kill $sw
tap_check "type changes racing 40 binds and unbinds ($nb bound)" \
	test "$nb" -gt 0
tap_check "remove the raced function" rmdir "$fn9"
tap_check "unload pci-epf-vmed" rmmod pci_epf_vmed
tap_check "unload pci-epf-virtio" rmmod pci_epf_virtio
rig_check_dmesg
tap_end
exit $?
