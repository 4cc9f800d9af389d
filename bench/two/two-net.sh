#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Network benchmark across the two machines, run by scripts/bench.sh -s
# two-net as a two-machine group of scripts/test.sh: the stock Debian
# host's virtio_net against the dedicated function (pci-epf-vnet: the
# host's rings straight into the endpoint's epvnet interface) with the
# features it offers by default ("tso": segmentation offload both ways,
# mergeable receive buffers, event indices) and with the mediated
# function's ("dedicated"), and against the mediated one (pci-epf-vmed
# device "net": a local virtio_net on the endpoint, data copied between
# the two sets of rings), in one boot of the rig.  For each: TCP and UDP
# both ways and the ping round trip.  The paths take turns in every
# repetition, each function bound for its own turn only.  All links run
# at MTU 1500; "dedicated" and "mediated" have the same features
# (checksum offload, no mergeable buffers, no segmentation offload: what
# the mediator supports), so that the two designs are compared on equal
# terms.  Prints TAP for the rig's set-up, and for the measurements
#
#   BENCH-PLACEMENT TEXT...
#   BENCH PATH METRIC REP VALUE
#   BENCH-FAIL PATH METRIC REP
#
# METRIC: tcp_h2e, tcp_e2h, udp_h2e, udp_e2h (received Mbit/s),
# udp_h2e_loss, udp_e2h_loss (percent of datagrams lost), ping_us (average
# round trip of 20 pings, host to endpoint).  The host runs the iperf3
# client, the endpoint its server.  An endpoint without iperf3 (the arm64
# image has busybox and the project's tools only) gets its TCP figures
# from tests/tools/vep-tcp (16 MiB, checked), and UDP reads
# "n/a (no iperf3 on the endpoint)".  iperf3 runs last $VEP_BENCH_SECS
# seconds (default 5); $VEP_BENCH_REPS repetitions (default 3).
#
# vep-timeout: 3600
# vep-two-default: no

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

SECS=${VEP_BENCH_SECS:-5}
REPS=${VEP_BENCH_REPS:-3}
HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
# VIRTIO_NET_F_CSUM, GUEST_CSUM, MTU, MAC, STATUS
NET_FEATURES=0x1002b
TCP_BYTES=16777216
NET=$TWO_EPF/pci_epf_vnet/net0
MED=$TWO_EPF/pci_epf_vmed/med0
METRICS="tcp_h2e tcp_e2h udp_h2e udp_e2h udp_h2e_loss udp_e2h_loss ping_us"

# fail_all PATH WHY: every measurement of PATH in this repetition failed
fail_all() {
	local m
	echo "# $1 run $rep: $2; its measurements of this run failed"
	for m in $METRICS; do
		echo "BENCH-FAIL $1 $m $rep"
	done
}

# iperf PATH NAME ARGS...: one iperf3 run from the host to the endpoint's
# server; its BENCH (or BENCH-FAIL) lines
iperf() {
	local path=$1 name=$2 json rate loss
	shift 2
	json=$(on_host -t $((SECS + 60)) "iperf3 -c $EP_IP -t $SECS -J $* 2>&1")
	rate=$(awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ {
		gsub(/[,]/, ""); printf "%.1f", $2 / 1e6; exit }' <<<"$json")
	if [ -z "$rate" ]; then
		echo "# $path $name run $rep: iperf3 failed: $(grep -m1 error <<<"$json")"
		echo "BENCH-FAIL $path $name $rep"
		case $name in
		udp_*) echo "BENCH-FAIL $path ${name}_loss $rep" ;;
		esac
		return 1
	fi
	echo "BENCH $path $name $rep $rate"
	case $name in
	udp_*)
		loss=$(awk '/"sum_received"/ { s = 1 } s && /"lost_percent"/ {
			gsub(/[,]/, ""); printf "%.2f", $2; exit }' <<<"$json")
		if [ -n "$loss" ]; then
			echo "BENCH $path ${name}_loss $rep $loss"
		else
			echo "BENCH-FAIL $path ${name}_loss $rep"
		fi
		;;
	esac
}

# tcp PATH NAME FROM TO ADDR: TCP_BYTES with vep-tcp from machine FROM to
# TO, whose address is ADDR; its BENCH (or BENCH-FAIL) line in Mbit/s
tcp() {
	local path=$1 name=$2 from=$3 to=$4 addr=$5 tx rx kibps
	on_"$to" "rm -f /tmp/tcp.out
		/tests/bin/vep-tcp -l 5001 -n $TCP_BYTES -t 300 </dev/null >/tmp/tcp.out 2>&1 &
		n=50; until grep -q listening /tmp/tcp.out; do
			[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
		done" >/dev/null 2>&1
	tx=$("on_$from" -t 330 "/tests/bin/vep-tcp -c $addr 5001 -n $TCP_BYTES -t 300" 2>&1)
	rx=$("on_$to" -t 330 "n=3000
		while [ \$n -gt 0 ] && grep -qsx vep-tcp /proc/[0-9]*/comm; do
			sleep 0.1; n=\$((n - 1))
		done
		grep bytes /tmp/tcp.out" 2>&1)
	if [[ $rx != "bytes $TCP_BYTES errors 0 "* ]]; then
		echo "# $path $name run $rep: vep-tcp failed: sender: $tx; receiver: $rx"
		echo "BENCH-FAIL $path $name $rep"
		return 1
	fi
	kibps=$(sed -n 's/.* kibps \([0-9]*\).*/\1/p' <<<"$rx")
	echo "BENCH $path $name $rep $(awk -v k="$kibps" 'BEGIN { printf "%.1f", k * 8 / 1000 }')"
}

# measure PATH: one repetition of every measurement
measure() {
	local rtt m
	if [ "$IPERF" = yes ]; then
		if ! on_ep "rm -f /tmp/iperf3.pid; iperf3 -s -D -I /tmp/iperf3.pid
			n=100; until [ -s /tmp/iperf3.pid ]; do
				[ \$n -gt 0 ] || exit 1; sleep 0.1; n=\$((n - 1))
			done" >/dev/null 2>&1; then
			fail_all "$1" "no iperf3 server"
			return 1
		fi
	fi
	on_host "ping -c 3 -W 5 $EP_IP" >/dev/null 2>&1 ||
		echo "# $1 run $rep: no ping reply before the runs"
	if [ "$IPERF" = yes ]; then
		iperf "$1" tcp_h2e
		iperf "$1" tcp_e2h -R
		iperf "$1" udp_h2e -u -b 0 -l 1400
		iperf "$1" udp_e2h -u -b 0 -l 1400 -R
		on_ep 'kill $(cat /tmp/iperf3.pid)' >/dev/null 2>&1
	else
		tcp "$1" tcp_h2e host ep $EP_IP
		tcp "$1" tcp_e2h ep host $HOST_IP
		for m in udp_h2e udp_e2h udp_h2e_loss udp_e2h_loss; do
			echo "BENCH $1 $m $rep n/a:no-iperf3-on-the-endpoint"
		done
	fi
	rtt=$(on_host "ping -c 20 -i 0.05 -W 2 $EP_IP" 2>/dev/null |
		sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
	if [ -n "$rtt" ]; then
		echo "BENCH $1 ping_us $rep $(awk -v m="$rtt" 'BEGIN { printf "%.0f", m * 1000 }')"
	else
		echo "# $1 ping_us run $rep: ping failed"
		echo "BENCH-FAIL $1 ping_us $rep"
	fi
}

# ep_ifup FIND: the endpoint's interface up, found by the commands FIND
# (which set n to its name)
ep_ifup() {
	on_ep "$1
		[ -n \"\${n:-}\" ] || { echo no interface; exit 1; }
		ip addr flush dev \$n && ip addr add $EP_IP/24 dev \$n &&
		ip link set \$n mtu 1500 up && echo \$n"
}

# up: the controller started, the host's virtio_net bound, its interface
# up, then the endpoint's (commands that set n to it: FIND).  The
# endpoint is left alone until the host's driver is bound, as in the
# tests (tests/lib/two.sh, two_ep_start).
up() {
	two_ep_start && two_host_bound virtio_net && two_ep_link up &&
		two_host_ifup $HOST_MAC $HOST_IP &&
		ep_ifup "$1" &&
		on_host "n=100; until ping -c 1 -W 1 $EP_IP; do
			[ \$n -gt 0 ] || exit 1; n=\$((n - 1)); done"
}

# down FN: the controller stopped, FN unlinked and removed, the host's
# device gone
down() {
	on_ep "echo 0 >$TWO_EPC/start; rm -f $TWO_EPC/${1##*/}; rmdir $1" \
		>/dev/null 2>&1
	two_host_gone 30 >/dev/null 2>&1
}

# run_path PATH: one repetition of PATH, its function bound for it alone
run_path() {
	local feat=
	case $1 in
	dedicated | tso)
		[ "$1" = tso ] || feat="echo $NET_FEATURES >$NET/vnet/features &&"
		if on_ep "mkdir $NET && $feat
			echo $TWO_POLL_CPU >$NET/vnet/poll_cpu &&
			echo $HOST_MAC >$NET/vnet/mac && echo 3 >$NET/msix_interrupts &&
			ln -s $NET $TWO_EPC/" >/dev/null 2>&1 &&
			up "i=\$(cat $NET/vnet/ifindex)
			    for d in /sys/class/net/*; do
				[ \"\$(cat \$d/ifindex)\" = \"\$i\" ] && n=\${d##*/}
			    done" >/dev/null 2>&1; then
			measure "$1"
		else
			fail_all "$1" "set-up failed"
		fi
		down "$NET"
		;;
	mediated)
		if on_ep "mkdir $MED && echo net >$MED/vmed/device &&
			echo $HOST_MAC >$MED/vmed/mac &&
			echo $NET_FEATURES >$MED/vmed/features &&
			echo $TWO_POLL_CPU >$MED/vmed/poll_cpu &&
			echo 4 >$MED/msix_interrupts && ln -s $MED $TWO_EPC/" \
			>/dev/null 2>&1 &&
			up "k=100; until grep -q . $MED/vmed/local; do
				[ \$k -gt 0 ] || exit 1; sleep 0.1; k=\$((k - 1))
			    done
			    for d in /sys/bus/virtio/devices/\$(cat $MED/vmed/local)/net/*; do
				[ -e \$d ] && n=\${d##*/}
			    done" >/dev/null 2>&1; then
			measure mediated
		else
			fail_all mediated "set-up failed"
		fi
		down "$MED"
		;;
	esac
}

two_start
two_host_load virtio_net
two_ep_load pci-epf-virtio pci-epf-vnet pci-epf-vmed
two_need "endpoint: unbound work off the poll thread's CPU" \
	two_ep_keep_off_poll_cpu
IPERF=no
on_ep 'command -v iperf3' >/dev/null 2>&1 && IPERF=yes
echo "# net benchmark across two machines: ${SECS} s per iperf3 run (iperf3 on the endpoint: $IPERF), $REPS runs each, interleaved"
echo "BENCH-PLACEMENT host VM and endpoint VM on host CPUs of their own; the host runs the clients, the endpoint the servers; poll thread on endpoint CPU $TWO_POLL_CPU (isolated), unbound work off it"
rep=1
while [ "$rep" -le "$REPS" ]; do
	for path in tso dedicated mediated; do
		run_path $path
	done
	rep=$((rep + 1))
done
two_ktrouble_case
tap_end
