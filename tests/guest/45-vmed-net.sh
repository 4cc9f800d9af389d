#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The mediated function as a network device: the host's stock virtio_net
# on one side, and on the endpoint a local virtio device that the same
# stock driver binds, giving an ethernet interface.  The function copies
# each frame between the host's rings and the local ones, converting the
# virtio-net header (legacy host, VERSION_1 local driver).  Each interface
# goes in a network namespace of its own, so that traffic crosses the link.
#
# CPU placement as in 40-vmed: the poll thread on CPU 1, the local device's
# interrupts and the host's (pci-epc-loop host_cpu=0) on CPU 0, host tasks
# on CPU 0 and endpoint tasks on CPU 1.  virtio_net does not spin on its
# device as virtio_console does, but the same placement keeps the poll
# thread's CPU free of what it would otherwise compete with.
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh
. /tests/lib/vmed.sh

POLL_CPU=1
IRQ_CPU=0
HOST_MAC=52:54:00:12:34:56
LOCAL_MAC=52:54:00:12:34:57
HOST_IP=10.9.1.1
EP_IP=10.9.1.2

RIG_NEED_DIAG=vmed_diag

# refused NAME ATTR VALUE: writing VALUE to ATTR fails; one case
refused() {
	if echo "$3" >"$fn/vmed/$2" 2>/dev/null; then
		tap_fail "$1"
	else
		tap_ok "$1"
	fi
}

# has_host_if BDF: the host's device at BDF has an interface
has_host_if() {
	[ -n "$(host_ifname "$1")" ]
}

# has_local_if: the local device has an interface
has_local_if() {
	[ -n "$(vmed_local_ifname "$fn")" ]
}

# host_up: the host's driver is bound; its interface into the host's
# namespace with its address (sets bdf and host_if)
host_up() {
	bdf=$(host_bdf 0)
	[ -n "$bdf" ] && host_wait_bound "$bdf" 30 || return 1
	term_sides
	rig_wait 10 has_host_if "$bdf" || return 1
	host_if=$(host_ifname "$bdf")
	vnet_host_setup "$host_if" "$HOST_IP"
}

# ping_both WHAT: ping each way; two cases
ping_both() {
	tap_check "ping host -> endpoint $1" rig_ping in_host ping -c 3 -W 5 "$EP_IP"
	tap_check "ping endpoint -> host $1" rig_ping in_ep ping -c 3 -W 5 "$HOST_IP"
}

rig_load_epc host_cpu=0 || exit 1
tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
tap_check "load pci-epf-vmed" rig_insmod pci-epf-vmed
tap_check "host and endpoint on their own CPUs" term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vmed/mnet0

# --- configfs ----------------------------------------------------------------
tap_check "create the function" mkdir "$fn"
tap_check "device net accepted" sh -c "echo net > $fn/vmed/device"
tap_check "the device type is net" grep -qx net "$fn/vmed/device"
for bad in "zz:00:00:00:00:01" "52:54:00:12:34" "52:54:00:12:34:56:78" \
	   "01:00:5e:00:00:01" "00:00:00:00:00:00" ""; do
	refused "mac '$bad' refused" mac "$bad"
done
refused "features beyond the type refused" features 0x8000
tap_check "tunables accepted" sh -c "echo $HOST_MAC > $fn/vmed/mac &&
	echo $POLL_CPU > $fn/vmed/poll_cpu && echo $IRQ_CPU > $fn/vmed/irq_cpu &&
	echo 3 > $fn/msix_interrupts"
tap_check "configfs keeps the MAC" grep -qx "$HOST_MAC" "$fn/vmed/mac"
tap_diag "features offered: $(cat "$fn/vmed/features")"

# --- bind: the local device, then the host ------------------------------------
tap_check "bind mnet0 to controller 0" vmed_link 0
rig_need "local virtio_net binds" rig_wait 30 vmed_local_bound "$fn" virtio_net
local_dev=$(cat "$fn/vmed/local")
rig_wait 10 has_local_if
ep_if=$(vmed_local_ifname "$fn")
rig_need "local interface ${ep_if:-?} appears for $local_dev" test -n "$ep_if"
tap_check "local interface has its own MAC ($LOCAL_MAC)" \
	grep -qx "$LOCAL_MAC" "/sys/class/net/$ep_if/address"
tap_check "local interface has MTU 1500" \
	grep -qx 1500 "/sys/class/net/$ep_if/mtu"
lfeats=$(cat "/sys/bus/virtio/devices/$local_dev/features")
tap_diag "local features: $lfeats"
for f in "0 CSUM" "1 GUEST_CSUM" "3 MTU" "5 MAC" "16 STATUS" "32 VERSION_1"; do
	tap_check "local driver accepted ${f#* }" has_bit "$lfeats" "${f% *}"
done
refused "mac refused while bound" mac 52:54:00:00:00:01
refused "device refused while bound" device console

tap_check "link up" vmed_up 0
bdf=$(host_bdf 0)
rig_need "host virtio_net binds the device" host_wait_bound "$bdf" 30
term_sides
rig_wait 10 has_host_if "$bdf"
host_if=$(host_ifname "$bdf")
tap_diag "host device $bdf, interface ${host_if:-none}; local $ep_if"
tap_check "host interface has the MAC from configfs" \
	grep -qx "$HOST_MAC" "/sys/class/net/$host_if/address"
tap_check "host interface has MTU 1500" \
	grep -qx 1500 "/sys/class/net/$host_if/mtu"
vdev=$(basename /sys/bus/pci/devices/"$bdf"/virtio*)
hfeats=$(cat "/sys/bus/virtio/devices/$vdev/features")
tap_diag "host features: $hfeats"
for f in "0 CSUM" "1 GUEST_CSUM" "3 MTU" "5 MAC" "16 STATUS" "29 EVENT_IDX"; do
	tap_check "host accepted ${f#* }" has_bit "$hfeats" "${f% *}"
done
# Event indices are the host rings' alone: the local rings keep flags
if has_bit "$lfeats" 29; then
	tap_fail "no event indices on the local rings"
else
	tap_ok "no event indices on the local rings"
fi
if has_bit "$hfeats" 15; then
	tap_fail "no mergeable buffers on the host"
else
	tap_ok "no mergeable buffers on the host"
fi

# --- namespaces, addresses, ping -----------------------------------------------
tap_check "two network namespaces" vnet_ns_start
tap_check "host interface in its namespace" vnet_host_setup "$host_if" "$HOST_IP"
tap_check "endpoint interface in its namespace" vnet_ep_setup "$ep_if" "$EP_IP"
tap_check "endpoint has carrier" rig_wait 10 has_carrier in_ep "$ep_if"
tap_check "host has carrier" rig_wait 10 has_carrier in_host "$host_if"
ping_both ""
tap_check "ping 1472 bytes host -> endpoint" \
	rig_ping nsenter -t "$VNET_HOST_NS" -n ping -c 2 -W 5 -s 1472 "$EP_IP"
tap_check "ping 1472 bytes endpoint -> host" \
	rig_ping nsenter -t "$VNET_EP_NS" -n ping -c 2 -W 5 -s 1472 "$HOST_IP"
tap_check "ping 6000 bytes (fragments) host -> endpoint" \
	rig_ping nsenter -t "$VNET_HOST_NS" -n ping -c 2 -W 5 -s 6000 "$EP_IP"
tap_check "ping 6000 bytes (fragments) endpoint -> host" \
	rig_ping nsenter -t "$VNET_EP_NS" -n ping -c 2 -W 5 -s 6000 "$HOST_IP"

# --- bulk, checked ---------------------------------------------------------------
xfer_tcp "TCP 64 MiB host -> endpoint, checked" 67108864 in_host in_ep "$EP_IP"
xfer_tcp "TCP 64 MiB endpoint -> host, checked" 67108864 in_ep in_host "$HOST_IP"
tap_diag "endpoint /proc/net/dev: $(in_ep grep "$ep_if:" /proc/net/dev | tr -s ' ')"
tap_diag "host /proc/net/dev: $(in_host grep "$host_if:" /proc/net/dev | tr -s ' ')"
tap_diag "dropped by the function: $(cat "$fn/vmed/dropped")"

# --- host driver unbind / bind ----------------------------------------------------
tap_check "unbind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/unbind"
tap_check "local device stays bound" vmed_local_bound "$fn" virtio_net
tap_check "endpoint loses carrier" rig_wait 10 no_carrier in_ep "$ep_if"
tap_check "bind the host driver" sh -c "echo $bdf > $VIRTIO_PCI/bind"
tap_check "host virtio_net binds again, interface in its namespace" host_up
tap_check "endpoint has carrier again" rig_wait 10 has_carrier in_ep "$ep_if"
ping_both "after host rebind"

# --- link stop / start --------------------------------------------------------------
tap_check "stop the link" vmed_down 0
tap_check "host device gone" test ! -e "/sys/bus/pci/devices/$bdf"
tap_check "local device stays bound" vmed_local_bound "$fn" virtio_net
tap_check "endpoint loses carrier on link down" \
	rig_wait 10 no_carrier in_ep "$ep_if"
tap_check "start the link" vmed_up 0
tap_check "host virtio_net binds after restart, interface in its namespace" \
	host_up
tap_check "endpoint has carrier after restart" \
	rig_wait 10 has_carrier in_ep "$ep_if"
ping_both "after restart"
xfer_tcp "TCP 8 MiB host -> endpoint after restart, checked" 8388608 \
	in_host in_ep "$EP_IP"
tap_diag "dropped by the function: $(cat "$fn/vmed/dropped")"

# --- a frame too big for the receiver's buffers: dropped, counted ---------
# Without the MTU feature both drivers let their MTU be raised, but still
# post buffers for 1500-byte frames.
tap_check "stop the link" vmed_down 0
tap_check "unlink the function" rm "$epc/mnet0"
tap_check "local device gone" test ! -e "/sys/bus/virtio/devices/$local_dev"
nomtu=$(printf '0x%x' $(($(cat "$fn/vmed/features") & ~8)))
tap_check "features without MTU ($nomtu)" sh -c "echo $nomtu > $fn/vmed/features"
tap_check "bind mnet0 to controller 0 again" vmed_link 0
rig_need "local virtio_net binds again" rig_wait 30 vmed_local_bound "$fn" virtio_net
local_dev=$(cat "$fn/vmed/local")
rig_wait 10 has_local_if
ep_if=$(vmed_local_ifname "$fn")
tap_check "endpoint interface ${ep_if:-?} in its namespace" \
	vnet_ep_setup "$ep_if" "$EP_IP"
tap_check "link up" vmed_up 0
tap_check "host virtio_net binds, interface in its namespace" host_up
tap_check "endpoint has carrier" rig_wait 10 has_carrier in_ep "$ep_if"
ping_both "without the MTU feature"
tap_check "MTU 4000 on both sides" sh -c \
	"nsenter -t $VNET_HOST_NS -n ip link set $host_if mtu 4000 &&
	 nsenter -t $VNET_EP_NS -n ip link set $ep_if mtu 4000"
d0=$(cat "$fn/vmed/dropped")
tap_check "3000-byte ping host -> endpoint lost" sh -c \
	"! nsenter -t $VNET_HOST_NS -n ping -c 2 -W 2 -s 3000 $EP_IP"
d1=$(cat "$fn/vmed/dropped")
tap_check "the function counted the drops ($d0 -> $d1)" test "$d1" -ge $((d0 + 2))
tap_check "3000-byte ping endpoint -> host lost" sh -c \
	"! nsenter -t $VNET_EP_NS -n ping -c 2 -W 2 -s 3000 $HOST_IP"
d2=$(cat "$fn/vmed/dropped")
tap_check "the function counted the drops ($d1 -> $d2)" test "$d2" -ge $((d1 + 2))
ping_both "with small frames, after the drops"

# --- teardown ----------------------------------------------------------------------
tap_check "stop the link" vmed_down 0
tap_check "unlink the function" rm "$epc/mnet0"
tap_check "local device gone" test ! -e "/sys/bus/virtio/devices/$local_dev"
tap_check "endpoint interface gone" sh -c \
	"! nsenter -t $VNET_EP_NS -n ip link show dev $ep_if 2>/dev/null"
vnet_ns_stop
tap_check "remove the function" rmdir "$fn"
tap_check "unload pci-epf-vmed" rmmod pci_epf_vmed
tap_check "unload pci-epf-virtio" rmmod pci_epf_virtio
rig_check_dmesg
tap_end
exit $?
