#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The network function: the host's stock virtio_net on one side, an
# ethernet interface (epvnet0) on the endpoint side, each in a network
# namespace of its own so that traffic crosses the virtio link.
#
# The endpoint's poll thread and tasks run on CPU 1, the host's tasks and
# the host side of link changes on CPU 0 (see term.sh).
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh

HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
NOBODY_IP=10.9.0.3

vnet_load
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vnet/net0

# --- configfs -------------------------------------------------------------
tap_check "create the function" mkdir "$fn"
ep_if=$(ifname_of "$(cat "$fn/vnet/ifindex")")
tap_check "endpoint interface ${ep_if:-?} exists" test -n "$ep_if"
for bad in "zz:00:00:00:00:01" "52:54:00:12:34" "52:54:00:12:34:56:78" \
	   "52:54:00:12:34:56x" " 52:54:00:12:34:56" "52-54-00-12-34-56" \
	   "01:00:5e:00:00:01" "00:00:00:00:00:00" ""; do
	if echo "$bad" >"$fn/vnet/mac" 2>/dev/null; then
		tap_fail "mac '$bad' refused"
	else
		tap_ok "mac '$bad' refused"
	fi
done
for bad in 67 65536 -1 abc; do
	if echo "$bad" >"$fn/vnet/mtu" 2>/dev/null; then
		tap_fail "mtu $bad refused"
	else
		tap_ok "mtu $bad refused"
	fi
done
if echo 0x80000000 >"$fn/vnet/features" 2>/dev/null; then
	tap_fail "unknown feature refused"
else
	tap_ok "unknown feature refused"
fi
tap_diag "features offered: $(cat "$fn/vnet/features")"

# --- host binds -------------------------------------------------------------
rig_need "net0 on controller 0 (MAC $HOST_MAC, MTU 9000), link up" \
	vnet_fn net0 0 "$HOST_MAC" 9000
tap_check "configfs keeps the MAC" grep -qx "$HOST_MAC" "$fn/vnet/mac"
bdf=$(host_bdf 0)
tap_diag "host device: ${bdf:-none}"
rig_need "host virtio_net binds the device" host_wait_bound "$bdf" 30
term_sides
rig_wait 10 host_has_if "$bdf"
host_if=$(host_ifname "$bdf")
tap_diag "host interface: ${host_if:-none}"
tap_check "host interface has the MAC from configfs" \
	grep -qx "$HOST_MAC" "/sys/class/net/$host_if/address"
tap_check "host interface has the MTU from configfs" \
	grep -qx 9000 "/sys/class/net/$host_if/mtu"
tap_check "endpoint interface has the MTU from configfs" \
	grep -qx 9000 "/sys/class/net/$ep_if/mtu"
vdev=$(basename /sys/bus/pci/devices/"$bdf"/virtio*)
feats=$(cat /sys/bus/virtio/devices/"$vdev"/features)
tap_diag "host features: $feats"
for f in "0 CSUM" "1 GUEST_CSUM" "3 MTU" "5 MAC" "7 GUEST_TSO4" "8 GUEST_TSO6" \
	 "9 GUEST_ECN" "11 HOST_TSO4" "12 HOST_TSO6" "13 HOST_ECN" "15 MRG_RXBUF" \
	 "16 STATUS" "29 RING_EVENT_IDX"; do
	tap_check "host accepted ${f#* }" has_bit "$feats" "${f% *}"
done
tap_check "the host uses MSI-X" test "$(host_irq_kind "$bdf")" = MSI-X
tap_diag "$(grep -E " $vdev(-|\$)" /proc/interrupts | tr -s ' ')"
for attr in "mac 52:54:00:00:00:01" "mtu 1500" "features 0" "queue_size 64" \
	    "poll_cpu 0"; do
	if echo "${attr#* }" >"$fn/vnet/${attr% *}" 2>/dev/null; then
		tap_fail "${attr% *} refused while bound"
	else
		tap_ok "${attr% *} refused while bound"
	fi
done

# --- namespaces, addresses, ping ---------------------------------------------
tap_check "two network namespaces" vnet_ns_start
tap_check "host interface in its namespace" vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint interface in its namespace" vnet_ep_setup "$ep_if" "$EP_IP"
tap_check "endpoint has carrier" rig_wait 10 has_carrier in_ep "$ep_if"
tap_check "host has carrier" rig_wait 10 has_carrier in_host "$host_if"
tap_check "ping host -> endpoint" rig_ping in_host ping -c 3 -W 5 "$EP_IP"
tap_check "ping endpoint -> host" rig_ping in_ep ping -c 3 -W 5 "$HOST_IP"
tap_check "ping 8000 bytes host -> endpoint" \
	rig_ping in_host ping -c 3 -W 5 -s 8000 "$EP_IP"
tap_check "ping 8000 bytes endpoint -> host" \
	rig_ping in_ep ping -c 3 -W 5 -s 8000 "$HOST_IP"

# --- bulk, checked ------------------------------------------------------------
xfer_tcp "TCP 64 MiB host -> endpoint, checked" 67108864 in_host in_ep "$EP_IP"
xfer_tcp "TCP 64 MiB endpoint -> host, checked" 67108864 in_ep in_host "$HOST_IP"
tap_diag "endpoint /proc/net/dev: $(in_ep grep "$ep_if:" /proc/net/dev | tr -s ' ')"

# --- segmentation offloads -----------------------------------------------------
#
# Both sides offer TCP segmentation offload while the other takes it; each
# combination that ethtool sets carries checked data both ways, with frames
# beyond the MTU exactly when segmentation is left to the other side.
seg_set() {
	in_host ethtool -K "$host_if" $1 >/dev/null 2>&1 &&
	in_ep ethtool -K "$ep_if" $1 >/dev/null 2>&1
}
# seg_count NAME BIG: ethtool -S counter NAME grew in the last transfer
# exactly when BIG is "yes" (its value before in $seg_before)
seg_count() {
	sc_now=$(ep_ethstat "$1")
	if [ "$2" = yes ]; then
		tap_check "ethtool -S: $1 grew ($seg_before -> $sc_now)" \
			test "${sc_now:-0}" -gt "${seg_before:-0}"
	else
		tap_check "ethtool -S: $1 unchanged ($seg_before -> $sc_now)" \
			test "${sc_now:--1}" -eq "${seg_before:-0}"
	fi
}
seg_case() {
	seg_before=$(ep_ethstat rx0_gso_packets)
	xfer_seg "TCP 64 MiB host -> endpoint, checked ($1)" 67108864 \
		in_host in_ep "$EP_IP" in_ep "$ep_if" 9000 "$2"
	seg_count rx0_gso_packets "$2"
	seg_before=$(ep_ethstat tx0_gso_packets)
	xfer_seg "TCP 64 MiB endpoint -> host, checked ($1)" 67108864 \
		in_ep in_host "$HOST_IP" in_host "$host_if" 9000 "$2"
	seg_count tx0_gso_packets "$2"
}
tap_check "ethtool -i: driver pci_epf_vnet" sh -c \
	"nsenter -t $VNET_EP_NS -n ethtool -i $ep_if | grep -qx 'driver: pci_epf_vnet'"
tap_check "ethtool -s speed 10000 duplex full, then reported" sh -c \
	"nsenter -t $VNET_EP_NS -n ethtool -s $ep_if speed 10000 duplex full &&
	 nsenter -t $VNET_EP_NS -n ethtool $ep_if | grep -q 'Speed: 10000Mb/s'"
tap_check "endpoint interface offers TSO (ethtool -k)" sh -c \
	"nsenter -t $VNET_EP_NS -n ethtool -k $ep_if |
	 grep -qx 'tcp-segmentation-offload: on'"
seg_case "TSO on both sides" yes
tap_check "ethtool -K tso off on both sides" seg_set "tso off"
seg_case "TSO off" no
tap_check "ethtool -K tso on, tx off on both sides" seg_set "tso on tx off"
seg_case "checksum offload off" no
tap_check "ethtool -K tx on on both sides" seg_set "tx on"
tap_check "endpoint interface offers TSO again" sh -c \
	"nsenter -t $VNET_EP_NS -n ethtool -k $ep_if |
	 grep -qx 'tcp-segmentation-offload: on'"

# Both ways at once while both sides turn TSO off and on
seg_out=$(mktemp -d /tmp/seg.XXXXXX)
in_host /tests/bin/vep-tcp -l 5003 -n 134217728 -t 280 >"$seg_out/h" 2>&1 &
seg_hrx=$!
in_ep /tests/bin/vep-tcp -l 5004 -n 134217728 -t 280 >"$seg_out/e" 2>&1 &
seg_erx=$!
rig_wait 10 grep -q listening "$seg_out/h"
rig_wait 10 grep -q listening "$seg_out/e"
in_ep /tests/bin/vep-tcp -c "$HOST_IP" 5003 -n 134217728 -t 280 \
	>"$seg_out/et" 2>&1 &
seg_etx=$!
in_host /tests/bin/vep-tcp -c "$EP_IP" 5004 -n 134217728 -t 280 \
	>"$seg_out/ht" 2>&1 &
seg_htx=$!
seg_fail=0
for i in 1 2 3 4 5 6; do
	sleep 0.3
	seg_set "tso off" || seg_fail=1
	sleep 0.3
	seg_set "tso on" || seg_fail=1
done
tap_check "ethtool -K tso off and on, 6 times, during traffic" \
	test "$seg_fail" -eq 0
wait "$seg_etx" "$seg_htx" "$seg_hrx" "$seg_erx"
for d in "endpoint -> host:et:h" "host -> endpoint:ht:e"; do
	s=$(grep bytes "$seg_out/$(echo "$d" | cut -d: -f2)")
	r=$(grep bytes "$seg_out/$(echo "$d" | cut -d: -f3)")
	if [ -n "$s" ] && [ "${s#*sum }" = "${r#*sum }" ]; then
		tap_ok "TCP 128 MiB ${d%%:*}, checked, TSO toggled ($r)"
	else
		tap_fail "TCP 128 MiB ${d%%:*}, checked, TSO toggled" \
			"sender: $s; receiver: $r"
	fi
done
rm -rf "$seg_out"
tap_diag "endpoint ethtool -S: $(in_ep ethtool -S "$ep_if" | tr -s ' \n' ' ')"

# --- MTU changes -----------------------------------------------------------------
if in_ep ip link set "$ep_if" mtu 9001 2>/dev/null; then
	tap_fail "endpoint MTU above the link's refused"
else
	tap_ok "endpoint MTU above the link's refused"
fi
tap_check "MTU 1500 on both sides" sh -c \
	"nsenter -t $VNET_HOST_NS -n ip link set $host_if mtu 1500 &&
	 nsenter -t $VNET_EP_NS -n ip link set $ep_if mtu 1500"
tap_check "ping 1472 bytes host -> endpoint" \
	rig_ping in_host ping -c 3 -W 5 -s 1472 "$EP_IP"
tap_check "ping 1472 bytes endpoint -> host" \
	rig_ping in_ep ping -c 3 -W 5 -s 1472 "$HOST_IP"
tap_check "ping 6000 bytes (fragments) host -> endpoint" \
	rig_ping in_host ping -c 3 -W 5 -s 6000 "$EP_IP"
tap_check "ping 6000 bytes (fragments) endpoint -> host" \
	rig_ping in_ep ping -c 3 -W 5 -s 6000 "$HOST_IP"
tap_check "MTU 4000 on both sides" sh -c \
	"nsenter -t $VNET_HOST_NS -n ip link set $host_if mtu 4000 &&
	 nsenter -t $VNET_EP_NS -n ip link set $ep_if mtu 4000"
tap_check "ping 3972 bytes host -> endpoint" \
	rig_ping nsenter -t "$VNET_HOST_NS" -n ping -c 2 -W 5 -s 3972 "$EP_IP"
tap_check "ping 3972 bytes endpoint -> host" \
	rig_ping nsenter -t "$VNET_EP_NS" -n ping -c 2 -W 5 -s 3972 "$HOST_IP"

# --- host driver unbind / bind, with traffic ----------------------------------
in_ep /tests/bin/vep-tcp -c "$HOST_IP" 5002 -n 1000000000 -t 60 >/dev/null 2>&1 &
bg_tx=$!
in_host /tests/bin/vep-tcp -l 5002 -n 1000000000 -t 60 >/dev/null 2>&1 &
bg_rx=$!
sleep 2
tx0=$(ep_stat "$ep_if" tx_bytes)
sleep 1
tx1=$(ep_stat "$ep_if" tx_bytes)
tap_check "traffic flows before the unbind ($((tx1 - tx0)) bytes in 1 s)" \
	test $((tx1 - tx0)) -gt 1000000
drop0=$(ep_stat "$ep_if" tx_drop)
tap_check "unbind the host driver during traffic" \
	sh -c "echo $bdf > $VIRTIO_PCI/unbind"
tap_check "endpoint loses carrier" rig_wait 10 no_carrier in_ep "$ep_if"
rig_kill "$bg_tx"
rig_kill "$bg_rx"
wait "$bg_tx" "$bg_rx" 2>/dev/null
# Frames sent with no host: ARP requests for an address nobody has.  Not
# the host's: its driver, bound again, takes such a request before it has
# carrier, learns the endpoint and drops its reply, while the endpoint's
# entry for it stays unresolved; the endpoint's echo reply to the next ping
# then waits in that entry until it fails, and is lost with it.
in_ep ping -c 2 -W 1 "$NOBODY_IP" >/dev/null 2>&1
drop1=$(ep_stat "$ep_if" tx_drop)
# The killed TCP streams leave such an entry for the host too (their last
# segments; "probes 5 INCOMPLETE" when the host comes back): the endpoint
# drops its unresolved neighbours, as it did when its carrier went
in_ep ip neigh flush dev "$ep_if" >/dev/null 2>&1
tap_check "endpoint counts what it could not send ($drop0 -> $drop1)" \
	test "$drop1" -gt "$drop0"
tap_check "bind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/bind"
tap_check "host virtio_net binds again" host_wait_bound "$bdf" 30
rig_wait 10 host_has_if "$bdf"
host_if=$(host_ifname "$bdf")
tap_check "host interface has the MAC from configfs again" \
	grep -qx "$HOST_MAC" "/sys/class/net/$host_if/address"
tap_check "host interface ${host_if:-?} in its namespace" \
	vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint has carrier again" rig_wait 10 has_carrier in_ep "$ep_if"
tap_check "MTU 9000 on the endpoint again" in_ep ip link set "$ep_if" mtu 9000
tap_check "ping host -> endpoint after rebind" \
	rig_ping in_host ping -c 3 -W 5 -s 8000 "$EP_IP"
tap_check "ping endpoint -> host after rebind" \
	rig_ping in_ep ping -c 3 -W 5 -s 8000 "$HOST_IP"

# --- host driver reloads, a ping after each -----------------------------------
# Every set-up must leave both queues with their rings and MSI-X vectors:
# a receive queue interrupt on the wrong vector loses every frame to the
# host while the driver looks bound and up.
RELOADS=20
reload_fail=
i=0
while [ $i -lt $RELOADS ]; do
	i=$((i + 1))
	echo "$bdf" >"$VIRTIO_PCI/unbind"
	echo "$bdf" >"$VIRTIO_PCI/bind"
	if ! host_wait_bound "$bdf" 30; then
		reload_fail="reload $i: host driver did not bind"
		break
	fi
	rig_wait 10 host_has_if "$bdf"
	host_if=$(host_ifname "$bdf")
	if ! grep -qx "$HOST_MAC" "/sys/class/net/$host_if/address" 2>/dev/null ||
	   ! vnet_host_setup "$host_if" "$HOST_IP" ||
	   ! rig_wait 10 has_carrier in_host "$host_if" ||
	   ! rig_ping in_host ping -c 2 -W 5 "$EP_IP" >/dev/null 2>&1; then
		reload_fail="reload $i: no ping across ($(grep -h virtio /proc/interrupts | tr -s ' ' | tr '\n' '|') $(dmesg | grep -E 'MSI-X vectors|went unseen' | tail -n 2 | tr '\n' '|'))"
		break
	fi
done
if [ -z "$reload_fail" ]; then
	tap_ok "host driver reloaded $RELOADS times, a ping across after each"
else
	tap_fail "host driver reloaded $RELOADS times, a ping across after each" \
		"$reload_fail"
fi
tap_diag "host set-ups retried after an endpoint lapse: $SETUP_RETRIES (at most 1 a group, each shown above)"

# --- endpoint function stop / start --------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "host device gone" test ! -e "/sys/bus/pci/devices/$bdf"
tap_check "endpoint loses carrier on link down" \
	rig_wait 10 no_carrier in_ep "$ep_if"
tap_check "start the link" sh -c "echo 1 > $epc/start"
tap_check "link up complete" rig_link 0 up
bdf=$(host_bdf 0)
tap_check "host virtio_net binds after restart" host_wait_bound "$bdf" 30
rig_wait 10 host_has_if "$bdf"
host_if=$(host_ifname "$bdf")
tap_check "host interface ${host_if:-?} in its namespace" \
	vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint has carrier after restart" \
	rig_wait 10 has_carrier in_ep "$ep_if"
tap_check "ping host -> endpoint after restart" \
	rig_ping in_host ping -c 3 -W 5 "$EP_IP"
tap_check "ping endpoint -> host after restart" \
	rig_ping in_ep ping -c 3 -W 5 "$HOST_IP"
xfer_tcp "TCP 8 MiB endpoint -> host after restart, checked" 8388608 \
	in_ep in_host "$HOST_IP"

# --- teardown --------------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/net0"
tap_check "remove the function" rmdir "$fn"
tap_check "endpoint interface gone" sh -c \
	"! nsenter -t $VNET_EP_NS -n ip link show dev $ep_if 2>/dev/null"
vnet_ns_stop
tap_check "unload pci-epf-vnet" rmmod pci_epf_vnet
tap_check "pci-epf-vnet gone" sh -c "! grep -q '^pci_epf_vnet ' /proc/modules"
rig_check_dmesg
tap_end
exit $?
