#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the network function's test groups.  Source after tap.sh,
# rig.sh and term.sh; the host's side (device lookup, set-up retry) is in
# host.sh, sourced from here for virtio_net.
#
# Host and endpoint interfaces live in this one kernel: each side gets a
# network namespace of its own, held by a sleeping process, so that traffic
# between them really crosses the virtio link.  Commands run in a side's
# namespace with in_host and in_ep; the endpoint's on its poll thread's CPU.

HOST_DRIVER=virtio_net
. /tests/lib/host.sh

POLL_CPU=${POLL_CPU:-1}
VNET_HOST_NS=
VNET_EP_NS=

# vnet_load: load the loopback controller (host side on CPU 0) and the
# network function's modules, one case each
vnet_load() {
	rig_load_epc host_cpu=0 || exit 1
	tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
	tap_check "load pci-epf-vnet" rig_insmod pci-epf-vnet
}

# vnet_ns_start: make the two namespaces
vnet_ns_start() {
	unshare -n sleep 1000000 &
	VNET_HOST_NS=$!
	# Not on_ep: $! of a backgrounded function is a subshell's
	taskset "$EP_CPUS" unshare -n sleep 1000000 &
	VNET_EP_NS=$!
	sleep 0.2
	[ -e "/proc/$VNET_HOST_NS/ns/net" ] && [ -e "/proc/$VNET_EP_NS/ns/net" ] &&
		[ "$(readlink "/proc/$VNET_HOST_NS/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
		[ "$(readlink "/proc/$VNET_EP_NS/ns/net")" != "$(readlink /proc/self/ns/net)" ] &&
		[ "$(readlink "/proc/$VNET_HOST_NS/ns/net")" != "$(readlink "/proc/$VNET_EP_NS/ns/net")" ]
}

# vnet_ns_stop: drop the namespaces (their interfaces come back here)
vnet_ns_stop() {
	kill "$VNET_HOST_NS" "$VNET_EP_NS" 2>/dev/null
	wait "$VNET_HOST_NS" "$VNET_EP_NS" 2>/dev/null
}

# in_host CMD...: run CMD in the host's namespace, on the host's CPU
in_host() {
	nsenter -t "$VNET_HOST_NS" -n taskset "$HOST_CPUS" "$@"
}

# in_ep CMD...: run CMD in the endpoint's namespace, on the endpoint's CPU
in_ep() {
	nsenter -t "$VNET_EP_NS" -n taskset "$EP_CPUS" "$@"
}

# host_ifname BDF: name of the host's interface for the device at BDF (in
# this namespace)
host_ifname() {
	for hi_d in /sys/bus/pci/devices/"$1"/virtio*/net/*; do
		[ -e "$hi_d" ] && basename "$hi_d"
	done
}

# host_has_if BDF: the host has an interface for the device at BDF (for
# rig_wait, which must run the lookup anew each time)
host_has_if() {
	[ -n "$(host_ifname "$1")" ]
}

# ifname_of IFINDEX: name of the interface with IFINDEX (in this namespace)
ifname_of() {
	for io_d in /sys/class/net/*; do
		[ "$(cat "$io_d/ifindex")" = "$1" ] && basename "$io_d"
	done
}

# vnet_fn NAME CTRL MAC MTU: set function NAME up (made if need be) on
# controller CTRL with the host's MAC and the link MTU, and bring its link up
vnet_fn() {
	f=$EPCFS/functions/pci_epf_vnet/$1
	[ -d "$f" ] || mkdir "$f" || return 1
	echo "$POLL_CPU" >"$f/vnet/poll_cpu" || return 1
	echo "$3" >"$f/vnet/mac" || return 1
	echo "$4" >"$f/vnet/mtu" || return 1
	echo 3 >"$f/msix_interrupts" || return 1
	ln -s "$f" "$(rig_epc "$2")/" || return 1
	echo 1 >"$(rig_epc "$2")/start" && rig_link "$2" up
}

# vnet_host_setup IFNAME ADDR: move the host's interface into the host's
# namespace and give it ADDR/24
vnet_host_setup() {
	ip link set "$1" netns "$VNET_HOST_NS" &&
		in_host ip addr add "$2/24" dev "$1" &&
		in_host ip link set "$1" up
}

# vnet_ep_setup IFNAME ADDR: the same for the endpoint's interface
vnet_ep_setup() {
	ip link set "$1" netns "$VNET_EP_NS" &&
		in_ep ip addr add "$2/24" dev "$1" &&
		in_ep ip link set "$1" up
}

# has_bit FEATURES BIT: BIT is set in FEATURES, a virtio device's features
# as sysfs shows them (one character per bit, bit 0 first)
has_bit() {
	[ "$(echo "$1" | cut -c$(($2 + 1)))" = 1 ]
}

# has_carrier NS IFNAME: the interface has carrier (NS: in_host or in_ep)
has_carrier() {
	$1 ip link show dev "$2" | grep -q LOWER_UP
}

# no_carrier NS IFNAME
no_carrier() {
	$1 ip link show dev "$2" | grep -q NO-CARRIER
}

# if_mtu NS IFNAME: the interface's MTU
if_mtu() {
	$1 ip link show dev "$2" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'
}

# ep_stat IFNAME FIELD: a statistics counter of the endpoint interface
ep_stat() {
	if_stat in_ep "$1" "$2"
}

# if_stat SIDE IFNAME FIELD: a counter of IFNAME in /proc/net/dev, on side
# SIDE (in_host or in_ep): rx_bytes rx_packets rx_errs rx_drop rx_fifo
# rx_frame rx_compressed rx_multicast tx_bytes tx_packets tx_errs tx_drop
if_stat() {
	$1 cat /proc/net/dev |
		awk -v d="$2:" -v f="$3" '
		$1 == d { n = split("rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed rx_multicast tx_bytes tx_packets tx_errs tx_drop", k, " ");
			  for (i = 1; i <= n; i++) if (k[i] == f) print $(i + 1) }'
}

# ep_ethstat NAME: counter NAME of ethtool -S on the endpoint interface
# ($ep_if)
ep_ethstat() {
	in_ep ethtool -S "$ep_if" | awk -v n="$1:" '$1 == n { print $2 }'
}

# xfer_seg NAME BYTES FROM TO ADDR RXSIDE RXIF MTU BIG: xfer_tcp, then one
# case on the frames the receiving interface took meanwhile: BIG "yes",
# larger on average than a frame of MTU can be (segmentation offload in
# use); "no", no larger (none).  And one case that the receiving interface
# counted no frame or length error meanwhile: a frame split or cut on the
# way (the /proc/net/dev "frame" column, which has both)
xfer_seg() {
	xs_b0=$(if_stat "$6" "$7" rx_bytes)
	xs_p0=$(if_stat "$6" "$7" rx_packets)
	xs_f0=$(if_stat "$6" "$7" rx_frame)
	xs_r0=$(tcp_retrans "$3")
	xfer_tcp "$1" "$2" "$3" "$4" "$5"
	xs_b=$(($(if_stat "$6" "$7" rx_bytes) - xs_b0))
	xs_p=$(($(if_stat "$6" "$7" rx_packets) - xs_p0))
	xs_f=$(($(if_stat "$6" "$7" rx_frame) - xs_f0))
	tap_check "$1: receiver took every frame whole ($xs_f frame or length errors)" \
		test "$xs_f" -eq 0
	xs_avg=$((xs_b / (xs_p ? xs_p : 1)))
	# A frame of MTU: payload, ethernet header and VLAN tag, and the 12
	# bytes of virtio header that virtio_net counts with it
	xs_max=$(($8 + 18 + 12))
	if [ "$9" = yes ]; then
		tap_check "$1: segmentation offload used ($xs_p frames, $xs_avg bytes each on average)" \
			test "$xs_avg" -gt "$xs_max"
	else
		tap_check "$1: no segmentation offload ($xs_p frames, $xs_avg bytes each on average)" \
			test "$xs_avg" -le "$xs_max" ||
			tap_diag "sender's TCP RetransSegs $xs_r0 -> $(tcp_retrans "$3"); receiver's $7 now: $($6 cat /proc/net/dev | grep "$7:" | tr -s ' ')"
	fi
}

# tcp_retrans SIDE: TCP segments retransmitted in SIDE's (in_host or in_ep)
# namespace so far
tcp_retrans() {
	$1 cat /proc/net/snmp | awk '$1 == "Tcp:" && $13 ~ /^[0-9]+$/ { print $13 }'
}

# xfer_tcp NAME BYTES FROM TO ADDR: a checked TCP transfer of BYTES from
# side FROM to side TO (in_host or in_ep), the receiver at ADDR; one case
xfer_tcp() {
	xt_out=$(mktemp /tmp/xfer.XXXXXX)
	$4 /tests/bin/vep-tcp -l 5001 -n "$2" -t 280 >"$xt_out" 2>&1 &
	xt_rx=$!
	rig_wait 10 grep -q listening "$xt_out"
	xt_tx=$($3 /tests/bin/vep-tcp -c "$5" 5001 -n "$2" -t 280 2>&1)
	xt_rc=$?
	wait "$xt_rx"
	xt_rxrc=$?
	xt_res=$(grep bytes "$xt_out")
	if [ "$xt_rc" -eq 0 ] && [ "$xt_rxrc" -eq 0 ] &&
	   [ "${xt_tx#*sum }" = "${xt_res#*sum }" ]; then
		tap_ok "$1 ($xt_res)"
	else
		tap_fail "$1" "sender ($xt_rc): $xt_tx"
		tap_diag "receiver ($xt_rxrc): $(cat "$xt_out")"
	fi
	rm -f "$xt_out"
}
