#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Socket benchmark, run in the rig by scripts/bench.sh: stream throughput
# both ways over three paths, in one boot, taking turns in every
# repetition (vsock, tcp, loopback; vsock, ...):
#
#   vsock     AF_VSOCK through the vsock function (pci-epf-vsock): the
#             host side's sockets through its stock virtio_vsock, the
#             endpoint's through the function's host-to-guest transport
#   tcp       TCP over the dedicated network function (pci-epf-vnet with
#             the features it offers by default), each end in a network
#             namespace of its own
#   loopback  AF_VSOCK within the kernel (vsock_loopback, loaded for this
#             turn only: while it is loaded, the host side's own CID goes
#             through it): what the socket layer does with no device
#
# Each function is bound for its own turn only.  The same tool moves the
# data on every path: vep-tcp -q (64 KiB writes and reads of zeros, not
# checked byte by byte, so that the tool costs little), MIB MiB
# (vep.bench_mib) from a sender on the host's CPU to a receiver on the
# endpoint's ("h2e") and from the endpoint's to the host's ("e2h"); the
# receiver times it.  The loopback path has no sides: its "h2e" is the
# same placement, its "e2h" the other.  The receiver's count of bytes must
# match, or the run fails.
#
#   BENCH-PLACEMENT TEXT...
#   BENCH PATH METRIC REP VALUE     METRIC: h2e_mibps, e2h_mibps (MiB/s)
#   BENCH-FAIL PATH METRIC REP

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/host.sh
. /tests/lib/vnet.sh

MIB=$(sed -n 's/.*vep\.bench_mib=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
REPS=$(sed -n 's/.*vep\.bench_reps=\([0-9][0-9]*\).*/\1/p' /proc/cmdline)
MIB=${MIB:-64}
REPS=${REPS:-3}
POLL_CPU=1
HOST_CPUS=1
EP_CPUS=2
PORT=5000
HOST_MAC=52:54:00:12:34:56
HOST_IP=10.9.0.1
EP_IP=10.9.0.2
PLACEMENT="host side's vep-tcp CPU 0, endpoint side's CPU 1; poll thread CPU $POLL_CPU; host interrupts and unbound work CPU 0"

# xfer PATH METRIC TO_RX TO_TX FAMILY ADDR: MIB MiB from a sender run with
# TO_TX (a placement, and a namespace for tcp) to a receiver run with TO_RX
# (vep-tcp -q: zeros, counted, the receiver timing from its accept to the
# sender's close), over TCP (FAMILY "") or vsock (FAMILY -V) to ADDR;
# prints a BENCH or a BENCH-FAIL line
xfer() {
	rm -f /tmp/bench.rx
	$3 /tests/bin/vep-tcp $5 -q -l $PORT -n $((MIB * 1048576)) -t 300 \
		>/tmp/bench.rx 2>&1 &
	x_l=$!
	rig_wait 5 grep -q listening /tmp/bench.rx
	$4 /tests/bin/vep-tcp $5 -q -c "$6" $PORT -n $((MIB * 1048576)) -t 300 \
		>/tmp/bench.tx 2>&1
	x_rc=$?
	wait "$x_l"
	x_lrc=$?
	x_k=$(sed -n 's/.* kibps \([0-9]*\) .*/\1/p' /tmp/bench.rx)
	if [ $x_rc -ne 0 ] || [ $x_lrc -ne 0 ] || [ -z "$x_k" ]; then
		echo "# $1 $2 run $rep: sender exit $x_rc ($(tail -n 1 /tmp/bench.tx)), receiver exit $x_lrc ($(tail -n 1 /tmp/bench.rx))"
		rig_kill "$x_l"
		echo "BENCH-FAIL $1 $2 $rep"
		return 1
	fi
	echo "BENCH $1 $2 $rep $(awk -v k="$x_k" 'BEGIN { printf "%.1f", k / 1024 }')"
}

fail_all() {
	echo "# $1 run $rep: $2; its measurements of this run failed"
	echo "BENCH-FAIL $1 h2e_mibps $rep"
	echo "BENCH-FAIL $1 e2h_mibps $rep"
}

# vsock_up: the vsock function on controller 0, the host's driver bound
vsock_up() {
	HOST_DRIVER=vmw_vsock_virtio_transport
	f=$EPCFS/functions/pci_epf_vsock/vsock0
	mkdir "$f" && echo $POLL_CPU >"$f/vsock/poll_cpu" &&
		echo 4 >"$f/msix_interrupts" && ln -s "$f" "$(rig_epc 0)/" &&
		echo 1 >"$(rig_epc 0)/start" && rig_link 0 up &&
		host_wait_bound "$(host_bdf 0)" 30
}

vsock_down() {
	echo 0 >"$(rig_epc 0)/start"
	rig_link 0 down
	rm -f "$(rig_epc 0)/vsock0"
	rmdir "$EPCFS/functions/pci_epf_vsock/vsock0" 2>/dev/null
}

# tcp_up: the network function, both interfaces up in their namespaces
tcp_up() {
	HOST_DRIVER=virtio_net
	f=$EPCFS/functions/pci_epf_vnet/net0
	vnet_ns_start &&
		vnet_fn net0 0 "$HOST_MAC" 1500 &&
		bdf=$(host_bdf 0) && host_wait_bound "$bdf" 30 &&
		rig_wait 10 host_has_if "$bdf" &&
		vnet_host_setup "$(host_ifname "$bdf")" "$HOST_IP" &&
		vnet_ep_setup "$(ifname_of "$(cat "$f/vnet/ifindex")")" "$EP_IP" &&
		rig_wait 10 in_host ping -c 1 -W 1 "$EP_IP" >/dev/null
}

tcp_down() {
	echo 0 >"$(rig_epc 0)/start"
	rig_link 0 down
	rm -f "$(rig_epc 0)/net0"
	rmdir "$EPCFS/functions/pci_epf_vnet/net0" 2>/dev/null
	vnet_ns_stop
}

loop_up() {
	insmod /lib/modules/vep/vsock_loopback.ko
}

loop_down() {
	rig_wait 10 rmmod vsock_loopback
}

# run_path PATH: one repetition of PATH, set up for it alone
run_path() {
	rp_left=$(rig_linked_fns | tr '\n' ' ')
	if [ -n "$rp_left" ]; then
		fail_all "$1" "functions still linked: ${rp_left% }"
		vsock_down 2>/dev/null
		tcp_down 2>/dev/null
		return 1
	fi
	term_sides
	case $1 in
	vsock) rp_up=vsock_up rp_down=vsock_down ;;
	tcp) rp_up=tcp_up rp_down=tcp_down ;;
	loopback) rp_up=loop_up rp_down=loop_down ;;
	esac
	if ! $rp_up; then
		fail_all "$1" "set-up failed"
		$rp_down
		return 1
	fi
	term_sides
	case $1 in
	vsock)
		xfer vsock h2e_mibps on_ep on_host -V 2
		xfer vsock e2h_mibps on_host on_ep -V 3
		;;
	tcp)
		xfer tcp h2e_mibps in_ep in_host "" $EP_IP
		xfer tcp e2h_mibps in_host in_ep "" $HOST_IP
		;;
	loopback)
		xfer loopback h2e_mibps on_ep on_host -V 1
		xfer loopback e2h_mibps on_host on_ep -V 1
		;;
	esac
	$rp_down
}

echo "# vsock benchmark: $MIB MiB each way per run, $REPS runs each, interleaved"
echo "BENCH-PLACEMENT $PLACEMENT"
rig_load_epc host_cpu=0 >/dev/null || exit 1
rig_insmod pci-epf-virtio || exit 1
rig_insmod pci-epf-vsock || echo "# loading pci-epf-vsock failed"
rig_insmod pci-epf-vnet || echo "# loading pci-epf-vnet failed"
term_sides

rep=1
while [ $rep -le "$REPS" ]; do
	for path in vsock tcp loopback; do
		run_path $path
	done
	rep=$((rep + 1))
done

echo "# host set-ups retried after a poll thread lapse: $SETUP_RETRIES"
rig_check_dmesg
