#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The network function moving its packets by DMA: the loopback controller
# with DMA channels (pci-epc-emul's engine), the function with a DMA
# threshold of 256 bytes, so that full-sized frames go by DMA and small
# ones (ARP, ACKs) by MMIO.  Pings and checksummed TCP both ways; the
# channels must have moved data, and go back to the controller on unbind.
#
# vep-timeout: 400

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh

HOST_MAC=52:54:00:12:34:58
HOST_IP=10.9.2.1
EP_IP=10.9.2.2

rig_load_epc host_cpu=0 dma_chans=2 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vnet" rig_insmod pci-epf-vnet
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vnet/net0

tap_check "create the function" mkdir "$fn"
ep_if=$(ifname_of "$(cat "$fn/vnet/ifindex")")
tap_check "dma_threshold takes 256" sh -c "echo 256 >$fn/vnet/dma_threshold"
rig_need "net0 on controller 0 (MAC $HOST_MAC), link up" \
	vnet_fn net0 0 "$HOST_MAC" 1500
tap_check "the function holds a DMA channel each way" \
	test "$(rig_dma_held pci-epc-loop.0)" -eq 2
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
