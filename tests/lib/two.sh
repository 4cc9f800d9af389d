# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the two-machine groups (tests/two/*.sh), run by tests/run.sh
# on the build machine with bash: a stock Debian host VM and an endpoint VM
# running the project's kernel, joined by pci-ivshmem-host and
# pci-epc-ivshmem (scripts/rig2.sh).  Source after tap.sh and rig2.sh.
#
# tests/run.sh exports what the rig boots: TWO_HOST_KERNEL, TWO_HOST_INITRD
# (scripts/hostinitramfs.sh, with the host modules of scripts/hostmodules.sh
# in /lib/modules/vep), TWO_EP_KERNEL, TWO_EP_INITRD (the guest groups'
# initramfs, or the arm64 one), TWO_EP_QEMU and TWO_EP_ARCH (x86_64 or
# arm64), TWO_SERVER (the ivshmem server) and TWO_LOGDIR (where the
# group's console and agent logs are kept).

# The endpoint controller, as configfs and sysfs name it
TWO_EPC=/sys/kernel/config/pci_ep/controllers/pci-epc-ivshmem
TWO_EPC_LINK=/sys/devices/platform/pci-epc-ivshmem/link
TWO_EPF=/sys/kernel/config/pci_ep/functions

# The host machine has two CPUs, as every real host has more than one: the
# stock virtio_console waits for the device with interrupts off, spinning
# until it answers or the device is marked broken, which a surprise
# removal running on another CPU does ($TWO_HOST_CPUS sets another count)
TWO_HOST_CPUS=${TWO_HOST_CPUS:-2}

# The endpoint machine has two CPUs ($TWO_EP_CPUS), and its functions' poll
# threads run on the last, kept from other tasks (isolcpus);
# scripts/rig2.sh gives the endpoint machine a host CPU of its own, where
# that vCPU comes first.  On a real endpoint the poll thread has a core.
TWO_EP_CPUS=${TWO_EP_CPUS:-2}
TWO_POLL_CPU=$((TWO_EP_CPUS - 1))

# Outbound windows the endpoint machine has (ivshmem-plain devices on the
# host's RAM), $TWO_WINDOWS sets another count
TWO_WINDOWS=${TWO_WINDOWS:-4}

# The endpoint's device on the host's virtual bus (the link's PCI domain)
TWO_BDF=10000:00:00.0

TWO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vep-two.XXXXXX")
RIG2_DIR=$TWO_TMP/rig
RIG2_LOGDIR=${TWO_LOGDIR:-}
trap '[ -z "${TWO_STALL_PID:-}" ] || kill "$TWO_STALL_PID" 2>/dev/null; rig2_stop; rm -rf "$TWO_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# two_check NAME CMD...: one case from a command run here; its output is
# the failure's reason, or a "#" line when it passes
two_check() {
	local name=$1
	shift
	if "$@" >"$TWO_TMP/check.out" 2>&1; then
		tap_ok "$name"
		[ ! -s "$TWO_TMP/check.out" ] ||
			sed 's/^/# /' "$TWO_TMP/check.out"
		return 0
	fi
	tap_fail "$name" "$(head -c 2000 "$TWO_TMP/check.out")"
	two_stall_report
	return 1
}

# two_need NAME CMD...: two_check that ends the group when it fails, with
# the kernel trouble check of both machines
two_need() {
	two_check "$@" && return 0
	two_ktrouble_case
	tap_end
	exit 1
}

# two_start: boot both machines; a "#" line says which kernels met.  This
# harness, the server and the agents' readers stay on the host machine's
# CPU: the endpoint's vCPU has the other one to itself.
two_start() {
	local iso=()
	[ "$TWO_POLL_CPU" -eq 0 ] || iso=(-e "isolcpus=$TWO_POLL_CPU")
	[ "$(getconf _NPROCESSORS_ONLN)" -lt 2 ] || taskset -p -c 0 $$ >/dev/null
	two_need "the rig starts and both agents answer" \
		rig2_start -K "$TWO_HOST_KERNEL" -I "$TWO_HOST_INITRD" \
		-k "$TWO_EP_KERNEL" -i "$TWO_EP_INITRD" -s "$TWO_SERVER" \
		-c "$TWO_HOST_CPUS" -C "$TWO_EP_CPUS" -n "$TWO_WINDOWS" "${iso[@]}" \
		-q "${TWO_EP_QEMU:-qemu-system-x86_64}"
	two_check "host and endpoint VMs on host CPUs of their own" \
		two_placement
	tap_diag "host: $(on_host 'echo $(uname -r) $(uname -m)'), endpoint: $(on_ep 'echo $(uname -r) $(uname -m)')"
	two_stall_watch
}

# The endpoint's poll vCPU, watched from the host machine while the group
# runs (tests/tools/vep-stallwatch): after a failure or a set-up lapse,
# "#" lines say where that thread was in its longest spells off its host
# CPU of the last 120 s, so that a lapse the endpoint logs can be told
# apart: the host CPU taken by others or by a hypervisor (waited, steal),
# the vCPU halted or blocked in QEMU (neither), or no spell at all (the
# guest itself held the poll thread up).
TWO_STALLWATCH=${TWO_SERVER%/*}/vep-stallwatch
TWO_STALL_PID=

# two_stall_watch: start the watcher on the endpoint's QEMU
two_stall_watch() {
	local pid
	[ -z "$TWO_STALL_PID" ] || kill "$TWO_STALL_PID" 2>/dev/null
	TWO_STALL_PID=
	[ -x "$TWO_STALLWATCH" ] || return 0
	pid=$(cat "$RIG2_DIR/ep.pid" 2>/dev/null) || return 0
	"$TWO_STALLWATCH" "$pid" "CPU $TWO_POLL_CPU/TCG" \
		"$TWO_TMP/stalls" 2>/dev/null &
	TWO_STALL_PID=$!
}

# two_ep_restart [-w SECONDS]: ep_restart (tests/lib/rig2.sh), and the
# watcher moved to the new endpoint's QEMU: one left on the old one
# reports spells of a machine that is gone
two_ep_restart() {
	ep_restart "$@" || return 1
	two_stall_watch
}

# two_stall_report: the watcher's longest spells, as "#" lines
two_stall_report() {
	local i
	[ -n "$TWO_STALL_PID" ] && kill -0 "$TWO_STALL_PID" 2>/dev/null ||
		return 0
	rm -f "$TWO_TMP/stalls"
	kill -USR1 "$TWO_STALL_PID"
	for ((i = 0; i < 20; i++)); do
		[ -s "$TWO_TMP/stalls" ] && break
		sleep 0.05
	done
	tap_diag "endpoint poll vCPU's longest spells off its host CPU (began MS ago, lasted MS; its ms run and waiting to run; host CPUs' steal; others' run):"
	head -n 5 "$TWO_TMP/stalls" 2>/dev/null | sed 's/^/#   /'
}

# two_placement: no host CPU runs threads of both machines: every thread of
# the host's QEMU may use host CPU $host_cpu alone, every thread of the
# endpoint's $ep_cpu alone (scripts/rig2.sh's settings), and the endpoint
# has the vCPU its functions poll from; says where they are
two_placement() {
	local ep_cpu host_cpu last="CPU $((TWO_EP_CPUS - 1))/TCG" bad
	ep_cpu=$(rig2_get ep_cpu)
	host_cpu=$(rig2_get host_cpu)
	[ "$ep_cpu" != "$host_cpu" ] ||
		{ echo "host and endpoint share host CPU $ep_cpu"; return 1; }
	bad=$(rig2_threads | awk -F'\t' -v last="$last" -v e="$ep_cpu" \
		-v h="$host_cpu" '
		$1 == "ep" && $2 == last { n++ }
		($1 == "ep" && $3 != e) || ($1 == "host" && $3 != h) { print }
		END { if (n != 1) print "no single endpoint thread " last }')
	[ -z "$bad" ] || { echo "misplaced (VM, thread, CPUs):"; echo "$bad"; return 1; }
	echo "host VM on host CPU $host_cpu, endpoint VM on $ep_cpu"
}

# two_host_load DRIVER...: the host half of the link, then the stock
# drivers (there is no udev to load them when the device appears)
two_host_load() {
	local m cmd='insmod /lib/modules/vep/pci-epc-emul.ko &&
		insmod /lib/modules/vep/pci-ivshmem-host.ko && modprobe virtio_pci'
	for m in "$@"; do
		cmd="$cmd && modprobe $m"
	done
	two_need "host: pci-ivshmem-host and the stock drivers (virtio_pci${*:+ $*}) load" \
		on_host "$cmd"
}

# two_ep_load MODULE...: the endpoint controller (module parameters in
# $TWO_EPC_PARAMS), then the function modules
two_ep_load() {
	local m cmd="insmod /lib/modules/vep/pci-epc-emul.ko &&
		insmod /lib/modules/vep/pci-epc-ivshmem.ko ${TWO_EPC_PARAMS:-}"
	for m in "$@"; do
		cmd="$cmd && insmod /lib/modules/vep/$m.ko"
	done
	two_need "endpoint: pci-epc-ivshmem${*:+ and the functions ($*)} load" \
		on_ep "$cmd"
}

# two_ep_link STATE [SECONDS]: the endpoint's link is STATE (up or down)
# once its change is complete
two_ep_link() {
	on_ep "n=$((${2:-30} * 10)); while [ \$n -gt 0 ]; do
		grep -qx $1 $TWO_EPC_LINK && exit 0; sleep 0.1; n=\$((n - 1))
	done; echo \"link: \$(cat $TWO_EPC_LINK), not $1\"; exit 1"
}

# two_ep_start: the endpoint starts its controller.  Callers check the
# host's side next and the endpoint's link (two_ep_link up) only after the
# host's driver has set the device up: nothing but the function may run on
# the endpoint meanwhile.  Its two vCPUs share one host CPU; while the poll
# thread spins, the other vCPU gets a few percent of that CPU, in slices
# of a host tick, and each slice keeps the poll vCPU off its CPU for 4 to
# 5 ms: longer than a host's legacy set-up leaves between two queues (perf
# on that host CPU, sched_switch: the poll vCPU preempted by the other one
# in most set-ups of a freshly booted endpoint).  An agent command polling
# the link (about 0.1 s of CPU under TCG) is stretched over the second the
# host waits after link up (PCI_IVS_HOST_LINK_DELAY_MS), into its set-up.
two_ep_start() {
	on_ep "echo 1 >$TWO_EPC/start"
}

# two_host_bound DRIVER [SECONDS]: the host's stock DRIVER drives the
# endpoint's virtio device
two_host_bound() {
	on_host "n=$((${2:-30} * 10)); while [ \$n -gt 0 ]; do
		readlink /sys/bus/pci/devices/$TWO_BDF/virtio*/driver 2>/dev/null |
			grep -q /$1\$ && exit 0
		sleep 0.1; n=\$((n - 1))
	done; echo 'no $1 on $TWO_BDF'; ls /sys/bus/pci/devices; exit 1"
}

# two_ep_dma_moved: a DMA channel of the endpoint's controller (the one
# DMA device there: pci-epc-emul's engine, a line per channel in
# dmaengine's debugfs summary) moved data; prints their lines
two_ep_dma_moved() {
	on_ep 'mount -t debugfs none /sys/kernel/debug 2>/dev/null
		grep -E "^ dma[0-9]+chan[0-9]+ +\| (in use|free), [0-9]+ transfers" \
			/sys/kernel/debug/dmaengine/summary >/tmp/dma.sum
		cat /tmp/dma.sum
		grep -qv ", 0 transfers" /tmp/dma.sum'
}

# two_host_gone [SECONDS]: the host has no device of the endpoint's left
two_host_gone() {
	on_host "n=$((${1:-30} * 10)); while [ \$n -gt 0 ]; do
		[ -e /sys/bus/pci/devices/$TWO_BDF ] || exit 0
		sleep 0.1; n=\$((n - 1))
	done; echo '$TWO_BDF is still there'; exit 1"
}

# two_irq_kind: how the host takes the endpoint device's interrupts
two_irq_kind() {
	on_host "k=\$(cat /sys/bus/pci/devices/$TWO_BDF/msi_irqs/* 2>/dev/null |
		      sort -u)
		case \$k in msix) echo MSI-X ;; msi) echo MSI ;; *) echo INTx ;; esac"
}

# two_ep_keep_off_poll_cpu: khvcd and unbound kernel work on the endpoint's
# other CPUs.  A writer to the local device's hvc waits for the poll
# thread with interrupts off: on the poll thread's CPU it never sees it.
# isolcpus= keeps tasks away, not khvcd, which pushes every hvc's output.
two_ep_keep_off_poll_cpu() {
	on_ep "m=\$(printf %x \$(( (1 << $TWO_POLL_CPU) ^ ((1 << $TWO_EP_CPUS) - 1) )))
		echo \$m >/sys/devices/virtual/workqueue/cpumask || exit 1
		k=
		for p in /proc/[0-9]*; do
			[ \"\$(cat \$p/comm 2>/dev/null)\" = khvcd ] || continue
			k=\${p#/proc/}
			taskset -p \$m \$k >/dev/null || exit 1
		done
		[ -n \"\$k\" ] || { echo no khvcd; exit 1; }
		echo khvcd \$k and unbound work on CPU mask \$m"
}

# two_host_ifup MAC ADDR: the host's interface of the endpoint's network
# device up, with address ADDR/24, once the stock driver made it (at
# probe), and with the MAC the function was given; prints its name
two_host_ifup() {
	on_host "n=100
		while [ \$n -gt 0 ]; do
			for d in /sys/bus/pci/devices/$TWO_BDF/virtio*/net/*; do
				[ -e \$d ] && i=\${d##*/}
			done
			[ -n \"\${i:-}\" ] && break
			sleep 0.1; n=\$((n - 1))
		done
		[ -n \"\${i:-}\" ] || { echo no interface on $TWO_BDF; exit 1; }
		grep -qix $1 /sys/class/net/\$i/address ||
			{ echo \"\$i has MAC \$(cat /sys/class/net/\$i/address)\"; exit 1; }
		ip addr flush dev \$i && ip addr add $2/24 dev \$i &&
		ip link set \$i up && echo \$i"
}

# two_ping3 SIDE ADDR: three pings from SIDE (host or ep) to ADDR, every
# reply back (the first waits up to 10 s for the neighbour)
two_ping3() {
	"on_$1" "ping -c 1 -W 10 $2 >/dev/null
		r=\$(ping -c 3 -W 2 $2 2>&1); echo \"\$r\" | tail -n 2
		echo \"\$r\" | grep -q '3 packets transmitted, 3 .*received'"
}

# two_tcp [-V] NAME BYTES FROM TO ADDR: BYTES over TCP from machine FROM to
# TO (host or ep), whose address is ADDR; checked byte by byte (vep-tcp).
# With -V over AF_VSOCK, ADDR being TO's CID.
two_tcp() {
	local vs=
	[ "$1" != -V ] || { vs=-V; shift; }
	local name=$1 bytes=$2 from=$3 to=$4 addr=$5 tx rx
	if ! "on_$to" "rm -f /tmp/tcp.out
		/tests/bin/vep-tcp $vs -l 5001 -n $bytes -t 120 >/tmp/tcp.out 2>&1 &
		n=50; until grep -q listening /tmp/tcp.out; do
			[ \$n -gt 0 ] || { cat /tmp/tcp.out; exit 1; }
			sleep 0.1; n=\$((n - 1))
		done" >"$TWO_TMP/tcp.out" 2>&1; then
		tap_fail "$name" "receiver: $(cat "$TWO_TMP/tcp.out")"
		return 1
	fi
	tx=$("on_$from" -t 130 "/tests/bin/vep-tcp $vs -c $addr 5001 -n $bytes -t 120" 2>&1)
	rx=$("on_$to" -t 130 "n=1200
		while [ \$n -gt 0 ] && grep -qsx vep-tcp /proc/[0-9]*/comm; do
			sleep 0.1; n=\$((n - 1))
		done
		grep bytes /tmp/tcp.out || { cat /tmp/tcp.out; exit 1; }" 2>&1)
	if [[ $tx == "bytes $bytes sum "* ]] && [[ $rx == "bytes $bytes errors 0 "* ]] &&
	   [ "${tx##* sum }" = "${rx##* sum }" ]; then
		tap_ok "$name"
		tap_diag "$rx"
		return 0
	fi
	tap_fail "$name" "sender: $tx; receiver: $rx"
	return 1
}

# two_traffic WHEN HOST_ADDR EP_ADDR [DROPPED]: pings each way (every
# reply) and 4 MiB of checked TCP each way between the host's address
# HOST_ADDR and the endpoint's EP_ADDR, then the host's receive errors;
# five cases named after WHEN.  DROPPED, a command, prints how many
# packets to the host the function dropped and counted so far, each of
# which it gives back as an empty host buffer (none if not given)
two_traffic() {
	local empty=0

	two_check "host pings the endpoint, 3 of 3 ($1)" two_ping3 host "$3"
	two_check "endpoint pings the host, 3 of 3 ($1)" two_ping3 ep "$2"
	two_tcp "host to endpoint: 4 MiB over TCP ($1)" 4194304 host ep "$3"
	two_tcp "endpoint to host: 4 MiB over TCP ($1)" 4194304 ep host "$2"
	[ -z "${4:-}" ] || empty=$($4)
	two_check "host's interface took every frame whole ($1)" \
		two_host_rx_whole "${empty:-0}"
}

# two_host_rx_whole EMPTY: the host's interface on the endpoint's device
# counted no frame error and at most EMPTY length errors since it appeared
# (a frame split or cut on the way: virtio_net counts a frame whose
# buffers are not all there, or whose header it refuses; an empty buffer
# is a length error too)
two_host_rx_whole() {
	on_host "for d in /sys/bus/pci/devices/$TWO_BDF/virtio*/net/*; do
			s=\$d/statistics
			echo \${d##*/}: length \$(cat \$s/rx_length_errors) frame \$(cat \$s/rx_frame_errors), empty buffers given: at most $1
			[ \$(cat \$s/rx_length_errors) -le $1 ] &&
				[ \$(cat \$s/rx_frame_errors) -eq 0 ] || exit 1
		done"
}

# The host test driver's parameters, and two_host_hostile ARGS...: the host
# test driver (tests/host/vep-hostile.c) loaded on the endpoint's device
TWO_HOSTILE=/sys/module/vep_hostile/parameters
two_host_hostile() {
	on_host "insmod /lib/modules/vep/vep-hostile.ko dev=$TWO_BDF $*"
}

# two_xfer NAME BYTES WSIDE WDEV RSIDE RDEV [SECONDS]: BYTES random bytes
# written into WDEV on machine WSIDE (host or ep) are read from RDEV on
# RSIDE, both ends raw; one case NAME that passes when both machines
# compute the same sha256.  The time taken is a "#" line.
two_xfer() {
	local name=$1 bytes=$2 wside=$3 wdev=$4 rside=$5 rdev=$6
	local secs=${7:-120} t0 tx rx raw='raw -echo -ixon -ixoff'

	# Each end keeps its tty open from stty to the last byte: hvc ttys
	# go back to their default settings (echo, canonical) at each open.
	if ! "on_$rside" "rm -f /tmp/rx.sum /tmp/rx.done
		(exec 3<>$rdev; stty $raw <&3 || exit 1
		 head -c $bytes <&3 | sha256sum >/tmp/rx.sum
		 touch /tmp/rx.done) </dev/null >/dev/null 2>&1 &
		sleep 0.2" \
		>"$TWO_TMP/xfer.out" 2>&1; then
		tap_fail "$name" "reader: $(cat "$TWO_TMP/xfer.out")"
		return 1
	fi
	t0=$EPOCHREALTIME
	if ! tx=$("on_$wside" -t "$secs" "head -c $bytes /dev/urandom >/tmp/tx
		exec 3<>$wdev && stty $raw <&3 && cat /tmp/tx >&3 &&
		sha256sum </tmp/tx
		rm -f /tmp/tx" 2>&1); then
		tap_fail "$name" "writer: $tx"
		"on_$rside" "killall head" >/dev/null 2>&1
		return 1
	fi
	rx=$("on_$rside" -t "$secs" "n=$((secs * 10))
		while [ ! -e /tmp/rx.done ] && [ \$n -gt 0 ]; do
			sleep 0.1; n=\$((n - 1))
		done
		[ -e /tmp/rx.done ] || { killall head; echo timed out; exit 1; }
		cat /tmp/rx.sum" 2>&1)
	if [ "$rx" = "$tx" ]; then
		tap_ok "$name"
		tap_diag "$bytes bytes in $(printf '%.0f' \
			"$(bc <<<"($EPOCHREALTIME - $t0) * 1000")") ms"
		return 0
	fi
	tap_fail "$name" "sent ${tx%% *}, received ${rx%% *}"
	return 1
}

# two_ktrouble_context TROUBLE: as "#" lines, the console lines that follow
# the first trouble line of each machine (a stall report names its CPUs and
# its stacks there)
two_ktrouble_context() {
	local vm first n
	for vm in host ep; do
		first=$(grep -m1 "^$vm: " <<<"$1") || continue
		first=${first#"$vm: "}
		n=$(tr -d '\r' <"$RIG2_DIR/$vm.console" |
			grep -nFx -m1 -- "$first" | cut -d: -f1)
		[ -n "$n" ] || continue
		tap_diag "$vm console after it:"
		tr -d '\r' <"$RIG2_DIR/$vm.console" |
			sed -n "$((n + 1)),$((n + 24))p" | sed "s/^/# $vm: /"
	done
}

# two_ktrouble_case: one case, no kernel trouble on either machine; then a
# "#" line with the endpoint's set-up lapses, if any: its poll thread late
# for the host's legacy set-up, by kind, and the host drivers that failed
# the device (a stock driver that failed its probe over a lapse is a failed
# case of its own; a hostile-host group fails the device on purpose)
two_ktrouble_case() {
	local t con unseen missed off failed
	con=$(tr -d '\r' <"$RIG2_DIR/ep.console" 2>/dev/null)
	unseen=$(grep -c 'vector went unseen' <<<"$con")
	missed=$(grep -c 'did not poll while the host' <<<"$con")
	off=$(grep -c 'was off its CPU' <<<"$con")
	failed=$(grep -c 'Host driver failed the device' <<<"$con")
	t=$(rig2_ktrouble)
	if [ -z "$t" ]; then
		tap_ok "kernel logs of both machines clean"
	else
		tap_fail "kernel logs of both machines clean" "see below"
		head -n 10 <<<"$t" | sed 's/^/# /'
		two_ktrouble_context "$t"
	fi
	[ $((unseen + missed + off + failed)) -eq 0 ] || {
		tap_diag "endpoint set-up lapses in its console: $((unseen + missed + off)) ($unseen vector(s) unseen, $missed missed poll(s), $off off its CPU); host drivers that failed the device: $failed"
		two_stall_report
	}
}
