#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Network benchmark, run in the rig by scripts/bench.sh: the dedicated
# function (pci-epf-vnet: the host's virtio_net interface and epvnet0)
# with the features it offers by default ("tso": TCP segmentation offload
# both ways, mergeable receive buffers, event indices), the same without
# event indices ("noidx": VIRTIO_RING_F_EVENT_IDX left out), and with the
# mediated function's
# features, moving its packets by MMIO ("dedicated") and by the controller's DMA
# channels ("dma": dma_threshold 256, copies left in flight, and ring
# state read in bulk on a third channel, dma_rings 1), its default
# features on those DMA channels ("tsodma": 64 KiB segments, each chain of
# many copies in flight), the
# mediated one (pci-epf-vmed device "net": a local virtio_net on the
# endpoint) and a veth pair, in one boot.  Each link joins a host network
# namespace and an endpoint one.  For each: iperf3 TCP and UDP both ways
# and a ping round trip.  The paths take turns in every repetition
# (tso, noidx, tsodma, dedicated, dma, mediated, veth; tso, ...), and each
# function is bound for its own turn only: set up, measured, unlinked and
# removed again, so that every measurement runs with exactly one function
# linked (the veth pair with none).  Prints one line per measurement and
# one "BENCH-FAIL" line per measurement that failed; scripts/bench.sh
# makes the table.
#
#   BENCH-PLACEMENT TEXT...
#   BENCH PATH METRIC REP VALUE
#   BENCH-COST PATH METRIC REP RING_RD DATA_RD WR DMA DMA_BYTES CHAINS BYTES EP_CPU_US IRQS KICKS
#   BENCH-FAIL PATH METRIC REP
#
# METRIC: tcp_h2e, tcp_e2h (Mbit/s received), udp_h2e, udp_e2h (Mbit/s
# received, sent as fast as iperf3 can), udp150_h2e, udp150_e2h (sent at
# 150 Mbit/s), udp_h2e_loss, udp_e2h_loss, udp150_h2e_loss, udp150_e2h_loss
# (percent of datagrams lost), ping_us (average round trip).
#
# BENCH-COST: what a function's iperf3 run cost the link (pci_epf_virtio's
# debugfs "cost", all queues summed, from just before the run to just
# after it; see bench/README, "A cost model for real hardware"): CPU reads
# of the host's rings and of packet data, CPU writes, DMA transfers and
# bytes, chains, the bytes moved (by CPU or DMA), the poll thread's CPU
# time in us, the interrupts raised for the host and the polls that found
# a host notify (QUEUE_NOTIFY written).  The veth pair has none: "n/a:no-endpoint".
#
# Placement, the same for every path (CPU 0 the host's, CPU 1 the
# endpoint's): the host namespace's tasks (iperf3 client, ping) on CPU 0,
# the endpoint namespace's (iperf3 server, in both directions) on CPU 1;
# the poll thread on CPU 1; the host's interrupts (pci-epc-loop
# host_cpu=0), the mediated function's local interrupts (irq_cpu 0) and
# unbound kernel work on CPU 0.
#
# Both virtio links run at MTU 1500.  "dedicated", "dma" and "mediated"
# have the same features (checksum offload, no mergeable buffers, no
# segmentation offload: what the mediator supports), so the two designs
# are compared on equal terms; "tso" is the dedicated function as it
# ships.

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
PLACEMENT="host namespace's tasks (iperf3 client, ping) CPU 0, endpoint namespace's (iperf3 server) CPU 1; poll thread CPU $POLL_CPU; host and local interrupts, unbound work CPU 0"

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

# udp_snmp SIDE: "RCVBUF SNDBUF" of SIDE's namespace (in_host or in_ep):
# UDP datagrams dropped for a full socket receive buffer, and sends that
# found the send buffer or the device queue full
udp_snmp() {
	$1 cat /proc/net/snmp | awk '$1 == "Udp:" && $2 ~ /^[0-9]/ {
		print $6, $7; exit }'
}

# cost_sum: what the one linked function cost the link so far, its queues
# summed, and its poll thread's CPU time: "RING_RD DATA_RD WR DMA
# DMA_BYTES CHAINS BYTES TICKS"; fails if there is not exactly one such
# function or no poll thread
cost_sum() {
	set -- /sys/kernel/debug/pci_epf_virtio/*/cost
	[ $# -eq 1 ] && [ -r "$1" ] || return 1
	for cs_p in /proc/[0-9]*; do
		[ "$(cat "$cs_p/comm" 2>/dev/null)" = "epf-virtio/$POLL_CPU" ] &&
			break
		cs_p=
	done
	[ -n "$cs_p" ] || return 1
	awk -v t="$(awk '{ print $14 + $15 }' "$cs_p/stat")" '
	{ for (i = 1; i < NF; i += 2) v[$i] += $(i + 1) }
	END {
		print v["ring_rd"] + 0, v["data_rd"] + 0,
		      v["ring_wr"] + v["data_wr"], v["dma"] + v["ring_dma"],
		      v["dma_bytes"] + v["ring_dma_bytes"], v["chains"] + 0,
		      v["data_rd_bytes"] + v["data_wr_bytes"] + v["dma_bytes"], t,
		      v["irqs"] + 0, v["kicks"] + 0
	}' "$1"
}

# iperf PATH NAME ARGS...: one iperf3 run from the host's namespace to the
# endpoint's server; prints its BENCH (or BENCH-FAIL) lines, and for a
# function its BENCH-COST line
iperf() {
	ip_path=$1
	ip_name=$2
	shift 2
	ip_json=/tmp/iperf.json
	ip_rate=
	ip_c0=
	[ "$ip_path" != veth ] && ip_c0=$(cost_sum)
	ip_u0=
	case $ip_name in
	udp*) ip_u0="$(udp_snmp in_host) $(udp_snmp in_ep)" ;;
	esac
	if in_host iperf3 -c "$EP_IP" -t "$SECS" -J "$@" >"$ip_json" 2>&1; then
		ip_rate=$(iperf_rate "$ip_json")
		[ -n "$ip_rate" ] ||
			echo "# $ip_path $ip_name run $rep: no rate in iperf3's report"
	else
		echo "# $ip_path $ip_name run $rep: iperf3 failed: $(grep -m1 error "$ip_json")"
	fi
	if [ -z "$ip_rate" ]; then
		echo "BENCH-FAIL $ip_path $ip_name $rep"
		case $ip_name in
		udp*) echo "BENCH-FAIL $ip_path ${ip_name}_loss $rep" ;;
		esac
		return 1
	fi
	echo "BENCH $ip_path $ip_name $rep $ip_rate"
	if [ "$ip_path" = veth ]; then
		echo "BENCH-COST $ip_path $ip_name $rep n/a:no-endpoint"
	else
		ip_c1=$(cost_sum)
		if [ -n "$ip_c0" ] && [ -n "$ip_c1" ]; then
			echo "$ip_c0 $ip_c1" | awk -v p="$ip_path" -v n="$ip_name" \
			    -v r="$rep" '{
				printf "BENCH-COST %s %s %s", p, n, r
				for (i = 1; i <= 7; i++)
					printf " %.0f", $(i + 10) - $i
				printf " %.0f", ($18 - $8) * 10000
				printf " %.0f %.0f\n", $19 - $9, $20 - $10
			}'
		else
			echo "# ERROR: $ip_path $ip_name run $rep: no cost figures (pci_epf_virtio's debugfs cost or the poll thread not found)"
			echo "BENCH-COST $ip_path $ip_name $rep n/a:no-cost-file"
		fi
	fi
	case $ip_name in
	udp*)
		# Where datagrams went: full socket buffers on either side
		echo "$ip_u0 $(udp_snmp in_host) $(udp_snmp in_ep)" |
			awk -v p="$ip_path" -v n="$ip_name" -v r="$rep" '
			NF != 8 { print "# " p " " n " run " r ": no UDP counters"; next }
			{
			printf "# %s %s run %s: receive buffer drops host %d endpoint %d, send buffer or queue full host %d endpoint %d\n",
			    p, n, r, $5 - $1, $7 - $3, $6 - $2, $8 - $4 }'
		ip_loss=$(iperf_loss "$ip_json")
		if [ -n "$ip_loss" ]; then
			echo "BENCH $ip_path ${ip_name}_loss $rep $ip_loss"
		else
			echo "# $ip_path ${ip_name}_loss run $rep: no loss in iperf3's report"
			echo "BENCH-FAIL $ip_path ${ip_name}_loss $rep"
		fi
		;;
	esac
}

METRICS="tcp_h2e tcp_e2h udp_h2e udp_e2h udp_h2e_loss udp_e2h_loss udp150_h2e udp150_e2h udp150_h2e_loss udp150_e2h_loss ping_us"

# fail_all PATH WHY: every measurement of PATH in this repetition failed
fail_all() {
	echo "# $1 run $rep: $2; its measurements of this run failed"
	for fa_m in $METRICS; do
		echo "BENCH-FAIL $1 $fa_m $rep"
	done
}

# measure PATH: one repetition of every measurement, between the two
# namespaces
measure() {
	rm -f /tmp/iperf3.pid
	in_ep iperf3 -s -D -I /tmp/iperf3.pid >/dev/null 2>&1
	if ! rig_wait 10 test -s /tmp/iperf3.pid; then
		fail_all "$1" "no iperf3 server"
		return 1
	fi
	in_host ping -c 3 -W 5 "$EP_IP" >/dev/null ||
		echo "# $1 run $rep: no ping reply before the runs"
	iperf "$1" tcp_h2e
	iperf "$1" tcp_e2h -R
	iperf "$1" udp_h2e -u -b 0 -l 1400
	iperf "$1" udp_e2h -u -b 0 -l 1400 -R
	# The same offered rate for every path, below what each carries
	iperf "$1" udp150_h2e -u -b 150M -l 1400
	iperf "$1" udp150_e2h -u -b 150M -l 1400 -R
	m_rtt=$(in_host ping -c 20 -i 0.05 -W 2 "$EP_IP" |
		sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
	if [ -n "$m_rtt" ]; then
		echo "BENCH $1 ping_us $rep $(awk -v m="$m_rtt" 'BEGIN { printf "%.0f", m * 1000 }')"
	else
		echo "# $1 ping_us run $rep: ping failed"
		echo "BENCH-FAIL $1 ping_us $rep"
	fi
	kill "$(cat /tmp/iperf3.pid)" 2>/dev/null
	rig_wait 5 sh -c '! kill -0 "$(cat /tmp/iperf3.pid)"'
	rm -f /tmp/iperf3.pid
}

# link_up PATH HOST_IF EP_IF: both interfaces in their namespaces, up
link_up() {
	vnet_host_setup "$2" "$HOST_IP" && vnet_ep_setup "$3" "$EP_IP" &&
		rig_wait 10 has_carrier in_ep "$3" &&
		rig_wait 10 has_carrier in_host "$2" || {
		echo "# $1 run $rep: the link did not come up"
		return 1
	}
}

# tso_up [BITS]: the dedicated function with its default features (but
# those in mask BITS), on controller 0, both interfaces up
tso_up() {
	f=$EPCFS/functions/pci_epf_vnet/net0
	mkdir "$f" &&
		echo $(($(cat "$f/vnet/features") & ~${1:-0})) >"$f/vnet/features" &&
		vnet_fn net0 0 "$HOST_MAC" 1500 &&
		bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
		rig_wait 10 host_has_if "$bdf" &&
		link_up tso "$(host_ifname "$bdf")" \
			"$(ifname_of "$(cat "$f/vnet/ifindex")")"
}

# ded_up: the dedicated function on controller 0, both interfaces up
ded_up() {
	f=$EPCFS/functions/pci_epf_vnet/net0
	mkdir "$f" && echo "$NET_FEATURES" >"$f/vnet/features" &&
		vnet_fn net0 0 "$HOST_MAC" 1500 &&
		bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
		rig_wait 10 host_has_if "$bdf" &&
		link_up dedicated "$(host_ifname "$bdf")" \
			"$(ifname_of "$(cat "$f/vnet/ifindex")")"
}

# dma_up PATH [FEATURES]: the dedicated function with a DMA threshold of
# 256 bytes, holding a DMA channel each way and one for ring state, with
# FEATURES (its defaults if none), both interfaces up
dma_up() {
	f=$EPCFS/functions/pci_epf_vnet/net0
	mkdir "$f" && { [ -z "$2" ] || echo "$2" >"$f/vnet/features"; } &&
		echo 256 >"$f/vnet/dma_threshold" &&
		echo 1 >"$f/vnet/dma_rings" &&
		vnet_fn net0 0 "$HOST_MAC" 1500 &&
		[ "$(rig_dma_held pci-epc-loop.0)" -eq 3 ] &&
		bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
		rig_wait 10 host_has_if "$bdf" &&
		link_up "$1" "$(host_ifname "$bdf")" \
			"$(ifname_of "$(cat "$f/vnet/ifindex")")"
}

# ded_down: stop and remove the dedicated function
ded_down() {
	echo 0 >"$(rig_epc 0)/start"
	rig_link 0 down
	rm -f "$(rig_epc 0)/net0"
	rmdir "$EPCFS/functions/pci_epf_vnet/net0" 2>/dev/null
}

# med_up: the mediated function on controller 0, both interfaces up
med_up() {
	fn=$EPCFS/functions/pci_epf_vmed/med0
	mkdir "$fn" && echo net >"$fn/vmed/device" &&
		echo "$HOST_MAC" >"$fn/vmed/mac" &&
		echo "$NET_FEATURES" >"$fn/vmed/features" &&
		echo "$POLL_CPU" >"$fn/vmed/poll_cpu" &&
		echo 0 >"$fn/vmed/irq_cpu" &&
		echo 4 >"$fn/msix_interrupts" && vmed_link 0 &&
		rig_wait 30 grep -q . "$fn/vmed/local" &&
		local_dev=$(cat "$fn/vmed/local") &&
		rig_wait 10 test -d "/sys/bus/virtio/devices/$local_dev/net" &&
		ep_if=$(basename /sys/bus/virtio/devices/"$local_dev"/net/*) &&
		vmed_up 0 && bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
		rig_wait 10 host_has_if "$bdf" &&
		link_up mediated "$(host_ifname "$bdf")" "$ep_if"
}

# med_down: stop and remove the mediated function
med_down() {
	vmed_down 0
	rm -f "$(rig_epc 0)/med0"
	rmdir "$EPCFS/functions/pci_epf_vmed/med0" 2>/dev/null
}

# veth_up: a veth pair between the namespaces, up
veth_up() {
	/sbin/ip link add vep-h type veth peer name vep-e &&
		link_up veth vep-h vep-e
}

# veth_down: remove the pair, wherever its ends are
veth_down() {
	in_host /sbin/ip link del vep-h 2>/dev/null ||
		/sbin/ip link del vep-h 2>/dev/null
}

# run_path PATH: one repetition of PATH, its function bound for it alone,
# in namespaces of its own
run_path() {
	# Nothing else linked: a function left over from a failed teardown
	# would run alongside, and the veth pair must run with none at all
	rp_left=$(rig_linked_fns | tr '\n' ' ')
	if [ -n "$rp_left" ]; then
		fail_all "$1" "functions still linked: ${rp_left% }"
		# Remove them, for the turns after this one
		ded_down 2>/dev/null
		med_down 2>/dev/null
		return 1
	fi
	if ! vnet_ns_start; then
		fail_all "$1" "no network namespaces"
		vnet_ns_stop
		return 1
	fi
	term_sides
	case $1 in
	tso) rp_up=tso_up rp_down=ded_down ;;
	noidx) rp_up="tso_up $((1 << 29))" rp_down=ded_down ;;
	dedicated) rp_up=ded_up rp_down=ded_down ;;
	tsodma) rp_up="dma_up tsodma" rp_down=ded_down ;;
	dma) rp_up="dma_up dma $NET_FEATURES" rp_down=ded_down ;;
	mediated) rp_up=med_up rp_down=med_down ;;
	veth) rp_up=veth_up rp_down=veth_down ;;
	esac
	if $rp_up; then
		term_sides
		measure "$1"
	else
		fail_all "$1" "set-up failed"
	fi
	$rp_down
	vnet_ns_stop
}

echo "# net benchmark: $SECS s per iperf3 run, $REPS runs each, interleaved"
echo "BENCH-PLACEMENT $PLACEMENT"
# DMA channels for the dma path; the others leave them unused
rig_load_epc host_cpu=0 dma_chans=3 >/dev/null || exit 1
rig_insmod pci-epf-virtio || exit 1
rig_insmod pci-epf-vnet || echo "# loading pci-epf-vnet failed"
rig_insmod pci-epf-vmed || echo "# loading pci-epf-vmed failed"
term_sides

rep=1
while [ $rep -le "$REPS" ]; do
	for path in tso noidx tsodma dedicated dma mediated veth; do
		run_path $path
	done
	rep=$((rep + 1))
done

echo "# host set-ups retried after a poll thread lapse: $SETUP_RETRIES"
rig_check_dmesg
