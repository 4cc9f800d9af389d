#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The network function moving its packets by DMA: the loopback controller
# with DMA channels (pci-epc-emul's engine), the function with a DMA
# threshold of 256 bytes, so that full-sized frames go by DMA and small
# ones (ARP, ACKs) by MMIO.  Pings and checksummed TCP both ways; the
# channels must have moved data, and go back to the controller on unbind.
# The controller has 3 channels: the third, from the host, carries ring
# state (a descriptor table and avail ring per transfer).  The cost goals
# are per packet of the MTU: the function offers no segmentation offload
# until the last part, where 64 KiB TCP segments go by DMA both ways.
#
# vep-timeout: 400

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh

HOST_MAC=52:54:00:12:34:58
HOST_IP=10.9.2.1
EP_IP=10.9.2.2

rig_load_epc host_cpu=0 dma_chans=3 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vnet" rig_insmod pci-epf-vnet
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vnet/net0

tap_check "create the function" mkdir "$fn"
ep_if=$(ifname_of "$(cat "$fn/vnet/ifindex")")
tap_check "dma_threshold takes 256" sh -c "echo 256 >$fn/vnet/dma_threshold"
if echo 2 >"$fn/vnet/dma_rings" 2>/dev/null; then
	tap_fail "dma_rings refuses 2" "it took it"
else
	tap_ok "dma_rings refuses 2"
fi
tap_check "dma_rings takes 1" sh -c "echo 1 >$fn/vnet/dma_rings"
# The default features but TSO (bits 7-9, 11-13)
NO_TSO=0x2801802b
tap_check "features take $NO_TSO (no TSO)" sh -c "echo $NO_TSO >$fn/vnet/features"
rig_need "net0 on controller 0 (MAC $HOST_MAC), link up" \
	vnet_fn net0 0 "$HOST_MAC" 1500
tap_check "the function holds a DMA channel each way, and one for rings" \
	test "$(rig_dma_held pci-epc-loop.0)" -eq 3
bdf=$(host_bdf 0)
rig_need "host virtio_net binds the device" host_wait_bound "$bdf" 30
term_sides
rig_wait 10 host_has_if "$bdf"
host_if=$(host_ifname "$bdf")

tap_check "two network namespaces" vnet_ns_start
tap_check "host interface in its namespace" vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint interface in its namespace" vnet_ep_setup "$ep_if" "$EP_IP"
tap_check "host has carrier" rig_wait 10 has_carrier in_host "$host_if"
tap_check "ping host -> endpoint" rig_ping in_host ping -c 3 -W 5 "$EP_IP"
tap_check "ping 1400 bytes endpoint -> host" \
	rig_ping in_ep ping -c 3 -W 5 -s 1400 "$HOST_IP"
xfer_tcp "TCP 16 MiB host -> endpoint, checked" 16777216 in_host in_ep "$EP_IP"
xfer_tcp "TCP 16 MiB endpoint -> host, checked" 16777216 in_ep in_host "$HOST_IP"
tap_check "the controller's DMA channels moved packets" \
	rig_dma_moved pci-epc-loop.0
# And the function counted it: the host's transmit queue (1) read by DMA,
# its receive queue (0) written by DMA; segments shorter than the
# threshold went by CPU: virtio-net headers, packet heads, ACKs, and pieces
# of payload split at a page boundary (about 1 MiB of the 16 seen), so
# at least 15 MiB by DMA each way
for q in 1 0; do
	d=$(rig_cost $q dma_bytes)
	tap_check "counted: queue $q moved at least 15 MiB by DMA (${d:-none})" \
		test "${d:-0}" -ge 15728640
done
tap_diag "buffer data the CPU moved below the threshold: $(rig_cost 1 data_rd_bytes) bytes read, $(rig_cost 0 data_wr_bytes) written"
tap_diag "ring CPU reads per chain: $(awk '$1 == "queue" {
	printf "queue %s %.1f (and %.1f polls that found nothing); ", $2,
		$24 ? $4 / $24 : 0, $24 ? $28 / $24 : 0 }' \
	/sys/kernel/debug/pci_epf_virtio/*/cost)"
# Ring state by DMA: at most 2 CPU reads of ring state per chain (the
# avail index and flags, once per poll that found chains)
for q in 1 0; do
	r=$(rig_cost $q ring_rd)
	c=$(rig_cost $q chains)
	tap_check "queue $q read its ring by DMA ($(rig_cost $q ring_dma) transfers)" \
		test "$(rig_cost $q ring_dma)" -gt 0
	tap_check "queue $q: at most 2 ring CPU reads per chain ($r for $c chains)" \
		test "${c:-0}" -gt 0 -a "${r:-0}" -le "$((2 * ${c:-0}))"
done

# --- copies in flight ----------------------------------------------------------
# The poll thread leaves each DMA copy in flight and takes the next chain;
# a chain's used entry waits for its copies.  Nearly every DMA copy went
# so (the rest waited: every mapping entry of the queue in use), and
# chains did wait at once
for q in 1 0; do
	a=$(rig_cost $q dma_async)
	d=$(rig_cost $q dma)
	tap_check "queue $q left its DMA copies in flight (${a:-none} of ${d:-none})" \
		test "${a:-0}" -gt 0 -a "$((${a:-0} * 10))" -ge "$((${d:-0} * 9))"
	m=$(rig_cost $q flight_max)
	tap_check "queue $q took chains while copies were in flight (${m:-none} at once)" \
		test "${m:-0}" -ge 2
done

# flows_both_ways: background TCP both ways, each with megabytes in flight
flows_both_ways() {
	in_ep /tests/bin/vep-tcp -l 5003 -n 1000000000 -t 60 >/dev/null 2>&1 &
	bg_rx1=$!
	in_host /tests/bin/vep-tcp -l 5004 -n 1000000000 -t 60 >/dev/null 2>&1 &
	bg_rx2=$!
	sleep 1
	in_host /tests/bin/vep-tcp -c "$EP_IP" 5003 -n 1000000000 -t 60 >/dev/null 2>&1 &
	bg_tx1=$!
	in_ep /tests/bin/vep-tcp -c "$HOST_IP" 5004 -n 1000000000 -t 60 >/dev/null 2>&1 &
	bg_tx2=$!
	sleep 2
}
flows_stop() {
	for p in $bg_tx1 $bg_tx2 $bg_rx1 $bg_rx2; do rig_kill "$p"; done
	wait $bg_tx1 $bg_tx2 $bg_rx1 $bg_rx2 2>/dev/null
}
# host_again WHAT: the host driver bound again, the link checked with data
host_again() {
	tap_check "host virtio_net binds again ($1)" host_wait_bound "$bdf" 30
	rig_wait 10 host_has_if "$bdf"
	host_if=$(host_ifname "$bdf")
	tap_check "host interface in its namespace ($1)" \
		vnet_host_setup "$host_if" "$HOST_IP"
	tap_check "endpoint has carrier ($1)" rig_wait 10 has_carrier in_ep "$ep_if"
	tap_check "ping host -> endpoint ($1)" \
		rig_ping in_host ping -c 3 -W 5 "$EP_IP"
	xfer_tcp "TCP 4 MiB host -> endpoint, checked ($1)" 4194304 \
		in_host in_ep "$EP_IP"
	xfer_tcp "TCP 4 MiB endpoint -> host, checked ($1)" 4194304 \
		in_ep in_host "$HOST_IP"
}

# --- a DMA copy in flight fails ---------------------------------------------
DMA_FAIL=/sys/module/pci_epc_emul/parameters/dma_fail
# dma_failed: the endpoint stopped the device over the failed copy
dma_failed() {
	rig_dmesg_since vnet-dma-fail >/tmp/dma-fail.log
	grep -Eq 'Queue [01]: a DMA transfer failed: resetting the device|DMA transfer of [0-9]+ bytes (to|from) host address .* failed \(err=-5\): resetting the device|Queue [01]: DMA read of the ring at .* failed \(err=-5\): resetting the device' \
		/tmp/dma-fail.log &&
		grep -q 'Device stopped: it needs a reset from the host' \
			/tmp/dma-fail.log
}
flows_both_ways
rig_mark vnet-dma-fail
echo 1 >$DMA_FAIL
tap_check "a failed DMA copy stops the device, which asks for a reset" \
	rig_wait 20 dma_failed
flows_stop
tap_check "the fault knob is spent" test "$(cat $DMA_FAIL)" = 0
tap_diag "$(grep -Eo 'Queue [01]: a DMA transfer failed|DMA transfer of [0-9]+ bytes (to|from)|Queue [01]: DMA read of the ring' /tmp/dma-fail.log | head -n 1)"
tap_diag "chains dropped at that reset with copies in flight: $(rig_cost 1 dropped) on queue 1, $(rig_cost 0 dropped) on queue 0"
echo "$bdf" >"$VIRTIO_PCI/unbind"
echo "$bdf" >"$VIRTIO_PCI/bind"
host_again "after the failed copy"

# --- the host driver goes with copies in flight ------------------------------
d0=$(( $(rig_cost 1 dropped) + $(rig_cost 0 dropped) ))
flows_both_ways
tap_check "unbind the host driver during traffic both ways" \
	sh -c "echo $bdf > $VIRTIO_PCI/unbind"
tap_check "endpoint loses carrier" rig_wait 10 no_carrier in_ep "$ep_if"
flows_stop
tap_diag "chains dropped at that reset with copies in flight: $(( $(rig_cost 1 dropped) + $(rig_cost 0 dropped) - d0 ))"
in_ep ip neigh flush dev "$ep_if" >/dev/null 2>&1
tap_check "bind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/bind"
host_again "host driver bound again"

# --- segmentation offload, by DMA ---------------------------------------------
# Host segments of up to 64 KiB land in pages of the endpoint's skbs, and
# the endpoint's GSO skbs go to the host whole, by DMA both ways
tap_check "stop the link, unlink, all features (TSO too), link up" sh -c "
	echo 0 > $epc/start && rm $epc/net0 &&
	echo 0x2801bbab > $fn/vnet/features &&
	ln -s $fn $epc/ && echo 1 > $epc/start"
host_again "TSO offered"
g_rx=$(ep_ethstat rx0_gso_packets)
g_tx=$(ep_ethstat tx0_gso_packets)
d1=$(rig_cost 1 dma_bytes)
d0=$(rig_cost 0 dma_bytes)
s1=$(rig_cost 1 map_short)
s0=$(rig_cost 0 map_short)
xfer_tcp "TCP 16 MiB host -> endpoint, checked (TSO)" 16777216 \
	in_host in_ep "$EP_IP"
xfer_tcp "TCP 16 MiB endpoint -> host, checked (TSO)" 16777216 \
	in_ep in_host "$HOST_IP"
tap_check "host segments arrived whole ($g_rx -> $(ep_ethstat rx0_gso_packets))" \
	test "$(ep_ethstat rx0_gso_packets)" -gt "${g_rx:-0}"
tap_check "endpoint segments went whole ($g_tx -> $(ep_ethstat tx0_gso_packets))" \
	test "$(ep_ethstat tx0_gso_packets)" -gt "${g_tx:-0}"
tap_check "with TSO, queue 1 moved at least 15 MiB by DMA" \
	test $(( $(rig_cost 1 dma_bytes) - d1 )) -ge 15728640
tap_check "with TSO, queue 0 moved at least 15 MiB by DMA" \
	test $(( $(rig_cost 0 dma_bytes) - d0 )) -ge 15728640
# A host segment of 64 KiB is a chain of about 18 buffers: each of their
# copies stays in flight, none waits for a mapping entry
for qs in "1 $s1" "0 $s0"; do
	set -- $qs
	tap_check "with TSO, queue $1 left every DMA copy in flight (waits for a mapping: $2 -> $(rig_cost $1 map_short))" \
		test "$(rig_cost $1 map_short)" -eq "${2:-0}"
done

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/net0"
tap_check "its DMA channels are back" \
	test "$(rig_dma_held pci-epc-loop.0)" -eq 0
tap_check "remove the function" rmdir "$fn"
vnet_ns_stop
rig_check_dmesg
tap_end
exit $?
