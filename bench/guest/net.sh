#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Network benchmark, run in the rig by scripts/bench.sh: the dedicated
# function (pci-epf-vnet: the host's virtio_net interface and epvnet0), the
# mediated one (pci-epf-vmed device "net": a local virtio_net on the
# endpoint) and a veth pair, one after the other in one boot.  Each link
# joins a host network namespace (CPU 0) and an endpoint one (CPU 1).  For
# each: iperf3 TCP and UDP both ways and a ping round trip, each repeated.
# Prints one line per measurement; scripts/bench.sh makes the table.
#
#   BENCH PATH METRIC REP VALUE
#
# METRIC: tcp_h2e, tcp_e2h (Mbit/s received), udp_h2e, udp_e2h (Mbit/s
# received, sent as fast as iperf3 can), udp_h2e_loss, udp_e2h_loss
# (percent of datagrams lost), ping_us (average round trip).
#
# Both virtio links run at MTU 1500 with the same features (checksum
# offload, no mergeable buffers, no segmentation offload: what the
# mediator supports), so the two designs are compared on equal terms.

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vnet.sh
. /tests/lib/vmed.sh

SECS=$(sed -n 's/.*vep\.bench_secs=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
REPS=$(sed -n 's/.*vep\.bench_reps=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
SECS=${SECS:-5}
REPS=${REPS:-3}
POLL_CPU=1
HOST_CPUS=1
EP_CPUS=2
HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
# VIRTIO_NET_F_CSUM, GUEST_CSUM, MTU, MAC, STATUS
NET_FEATURES=0x1002b

# iperf_rate JSON: received bits per second of an iperf3 -J report, in Mbit/s
iperf_rate() {
	awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ {
		gsub(/[,]/, ""); printf "%.1f", $2 / 1e6; exit }' "$1"
}

# iperf_loss JSON: percent of UDP datagrams lost in an iperf3 -J report
iperf_loss() {
	awk '/"sum_received"/ { s = 1 } s && /"lost_percent"/ {
		gsub(/[,]/, ""); printf "%.2f", $2; exit }' "$1"
}

# iperf PATH NAME ARGS...: one iperf3 run from the host's namespace to the
# endpoint's server; prints its BENCH lines
iperf() {
	ip_path=$1
	ip_name=$2
	shift 2
	ip_json=/tmp/iperf.json
	if ! in_host iperf3 -c "$EP_IP" -t "$SECS" -J "$@" >"$ip_json" 2>&1; then
		echo "# $ip_path $ip_name: iperf3 failed: $(grep -m1 error "$ip_json")"
		return 1
	fi
	echo "BENCH $ip_path $ip_name $rep $(iperf_rate "$ip_json")"
	case $ip_name in
	udp_*) echo "BENCH $ip_path ${ip_name}_loss $rep $(iperf_loss "$ip_json")" ;;
	esac
}

# measure PATH: the measurements, REPS times, between the two namespaces
measure() {
	in_ep iperf3 -s -D -I /tmp/iperf3.pid >/dev/null 2>&1
	rig_wait 10 test -s /tmp/iperf3.pid || {
		echo "# $1: no iperf3 server"
		return 1
	}
	in_host ping -c 3 -W 5 "$EP_IP" >/dev/null ||
		echo "# $1: no ping reply before the runs"
	rep=1
	while [ $rep -le "$REPS" ]; do
		iperf "$1" tcp_h2e
		iperf "$1" tcp_e2h -R
		iperf "$1" udp_h2e -u -b 0 -l 1400
		iperf "$1" udp_e2h -u -b 0 -l 1400 -R
		m_rtt=$(in_host ping -c 20 -i 0.05 -W 2 "$EP_IP" |
			sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
		if [ -n "$m_rtt" ]; then
			echo "BENCH $1 ping_us $rep $(awk -v m="$m_rtt" 'BEGIN { printf "%.0f", m * 1000 }')"
		else
			echo "# $1: ping failed"
		fi
		rep=$((rep + 1))
	done
	kill "$(cat /tmp/iperf3.pid)" 2>/dev/null
	rm -f /tmp/iperf3.pid
}

# link_up PATH HOST_IF EP_IF: both interfaces in their namespaces, up
link_up() {
	vnet_host_setup "$2" "$HOST_IP" && vnet_ep_setup "$3" "$EP_IP" &&
		rig_wait 10 has_carrier in_ep "$3" &&
		rig_wait 10 has_carrier in_host "$2" || {
		echo "# $1: the link did not come up"
		return 1
	}
}

echo "# net benchmark: $SECS s per iperf3 run, $REPS runs each"
rig_load_epc host_cpu=0 || exit 1
rig_insmod pci-epf-virtio || exit 1
term_sides

# --- dedicated ------------------------------------------------------------------
rig_insmod pci-epf-vnet
vnet_ns_start
f=$EPCFS/functions/pci_epf_vnet/net0
if mkdir "$f" && echo "$NET_FEATURES" >"$f/vnet/features" &&
   vnet_fn net0 0 "$HOST_MAC" 1500 &&
   bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
   rig_wait 10 host_has_if "$bdf" &&
   link_up dedicated "$(host_ifname "$bdf")" \
	"$(ifname_of "$(cat "$f/vnet/ifindex")")"; then
	term_sides
	measure dedicated
else
	echo "# dedicated: the function did not come up"
fi
echo 0 >"$(rig_epc 0)/start"
rig_link 0 down
rm -f "$(rig_epc 0)/net0"
rmdir "$f"
vnet_ns_stop
rmmod pci_epf_vnet

# --- mediated ---------------------------------------------------------------------
rig_insmod pci-epf-vmed
vnet_ns_start
fn=$EPCFS/functions/pci_epf_vmed/med0
if mkdir "$fn" && echo net >"$fn/vmed/device" &&
   echo "$HOST_MAC" >"$fn/vmed/mac" &&
   echo "$NET_FEATURES" >"$fn/vmed/features" &&
   echo "$POLL_CPU" >"$fn/vmed/poll_cpu" && echo 0 >"$fn/vmed/irq_cpu" &&
   echo 4 >"$fn/msix_interrupts" && vmed_link 0 &&
   rig_wait 30 grep -q . "$fn/vmed/local" &&
   local_dev=$(cat "$fn/vmed/local") &&
   rig_wait 10 test -d "/sys/bus/virtio/devices/$local_dev/net" &&
   ep_if=$(basename /sys/bus/virtio/devices/"$local_dev"/net/*) &&
   vmed_up 0 && bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
   rig_wait 10 host_has_if "$bdf" &&
   link_up mediated "$(host_ifname "$bdf")" "$ep_if"; then
	term_sides
	measure mediated
else
	echo "# mediated: the function did not come up"
fi
vmed_down 0
vnet_ns_stop

# --- veth pair ------------------------------------------------------------------------
vnet_ns_start
if /sbin/ip link add vep-h type veth peer name vep-e &&
   link_up veth vep-h vep-e; then
	measure veth
else
	echo "# veth: the pair did not come up"
fi
vnet_ns_stop

echo "# host set-ups retried after a poll thread lapse: $SETUP_RETRIES"
rig_check_dmesg
