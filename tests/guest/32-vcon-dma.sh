#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The dedicated console function moving its data by DMA: the loopback
# controller with DMA channels (pci-epc-emul's engine), the function with a
# DMA threshold of 256 bytes.  Checksummed data both ways; the channels
# must have moved it.  Then the engine fails a transfer: the device stops
# and asks the host for a reset, and after the host reloads its driver the
# data is whole again.  The channels go back to the controller on unbind.
#
# vep-timeout: 400

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/host.sh

term_require_kernel

POLL_CPU=1
DMA_FAIL=/sys/module/pci_epc_emul/parameters/dma_fail

rig_load_epc host_cpu=0 dma_chans=2 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vcon" rig_insmod pci-epf-vcon
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0

# chans_in_use N: N of the controller's DMA channels are held
chans_in_use() {
	test "$(rig_dma_held pci-epc-loop.0)" -eq "$1"
}

mkdir "$fn"
echo $POLL_CPU >"$fn/vcon/poll_cpu"
echo 4 >"$fn/msix_interrupts"
if echo 1k >"$fn/vcon/dma_threshold" 2>/dev/null; then
	tap_fail "dma_threshold refuses a size with a suffix"
else
	tap_ok "dma_threshold refuses a size with a suffix"
fi
tap_check "dma_threshold takes 256" sh -c "echo 256 >$fn/vcon/dma_threshold"
tap_check "dma_threshold reads 256" grep -qx 256 "$fn/vcon/dma_threshold"
tap_check "no DMA channel held before the function is bound" chans_in_use 0
ln -s "$fn" "$epc/"
tap_check "the function holds a channel each way" chans_in_use 2
if echo 0 >"$fn/vcon/dma_threshold" 2>/dev/null; then
	tap_fail "dma_threshold refused while bound"
else
	tap_ok "dma_threshold refused while bound"
fi
# link STATE: controller 0's link brought to STATE (up or down)
link() {
	if [ "$1" = up ]; then
		echo 1 >"$epc/start"
	else
		echo 0 >"$epc/start"
	fi && rig_link 0 "$1"
}

tap_check "con0 link up" link up
bdf=$(host_bdf 0)
tap_check "host virtio_console binds the device" host_wait_bound "$bdf" 30 ||
	{ tap_end; exit 1; }
term_sides

# --- data by DMA -------------------------------------------------------------
xfer_check "host to endpoint: 4 MiB" 4194304 /dev/hvc0 /dev/hvcEP0 300
xfer_check "endpoint to host: 4 MiB" 4194304 /dev/hvcEP0 /dev/hvc0 300
tap_check "the controller's DMA channels moved it" rig_dma_moved pci-epc-loop.0
# And the function counted it: each way the data went by DMA, but for
# pieces shorter than the threshold, which the CPU moved (none were seen:
# the tty hands over 2 KiB at a time), so at least 15/16 of it by DMA
for q in 1 0; do
	d=$(rig_cost $q dma_bytes)
	tap_check "counted: queue $q moved at least 3.75 of 4 MiB by DMA (${d:-none})" \
		test "${d:-0}" -ge 3932160
done
tap_diag "buffer data the CPU moved below the threshold: $(rig_cost 1 data_rd_bytes) bytes read, $(rig_cost 0 data_wr_bytes) written"

# --- a DMA transfer fails ----------------------------------------------------
# dma_failed: the endpoint stopped the device over the failed transfer
dma_failed() {
	rig_dmesg_since dma-fail > /tmp/dma-fail.log
	grep -q 'DMA transfer of [0-9]* bytes to host address .* failed (err=-5): resetting the device' \
		/tmp/dma-fail.log &&
		grep -q 'Device stopped: it needs a reset from the host' \
			/tmp/dma-fail.log
}
rig_mark dma-fail
echo 1 >$DMA_FAIL
on_ep sh -c 'head -c 65536 /dev/urandom >/dev/hvcEP0' &
writer=$!
tap_check "a failed DMA transfer stops the device, which asks for a reset" \
	rig_wait 20 dma_failed
rig_kill "$writer"
wait "$writer" 2>/dev/null
tap_check "the fault knob is spent" test "$(cat $DMA_FAIL)" = 0

echo "$bdf" >"$VIRTIO_PCI/unbind"
echo "$bdf" >"$VIRTIO_PCI/bind"
tap_check "host virtio_console binds again" host_wait_bound "$bdf" 30
# What the stopped writer left in hvcEP0 reaches the new host first, as on
# a serial line: the host takes it before the checked data (raw, on a
# descriptor kept open, or the tty's settings go with its last close)
drained=$(exec 3<>/dev/hvc0
	/bin/stty raw -echo -ixon -ixoff <&3
	on_host timeout 3 cat <&3 | wc -c)
tap_diag "the host read $drained bytes written before the failure"
xfer_check "host to endpoint after the reset: 1 MiB" 1048576 \
	/dev/hvc0 /dev/hvcEP0 300
xfer_check "endpoint to host after the reset: 1 MiB" 1048576 \
	/dev/hvcEP0 /dev/hvc0 300

# --- teardown ----------------------------------------------------------------
tap_check "stop the link" link down
tap_check "unlink the function" rm "$epc/con0"
tap_check "its DMA channels are back" chans_in_use 0
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
