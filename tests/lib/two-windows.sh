# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Body of the two-machine outbound window budget groups: source it after
# setting BUDGET.  The endpoint machine gets BUDGET outbound windows, as a
# real controller has a few (DesignWare: 4 to 8), and as many console
# functions as fit (each takes 3: one per ring, one for data), plus one,
# all on its controller.  Every function that fits must work and move
# data whole, both ways; the one that does not must fail, alone, saying
# what it needs, and take nothing from the others.  Host to endpoint data
# under a budget is the case the one-kernel rig cannot run
# (tests/lib/windows.sh says why).

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
TWO_WINDOWS=$BUDGET
TWO_EPC_PARAMS="nr_windows=$BUDGET"
. "$top/tests/lib/two.sh"

WIN_PER_FN=3
FIT=$((BUDGET / WIN_PER_FN))
NFN=$((FIT + 1))

# The host's PCI devices: WIN_DEV.K at function K
WIN_DEV=/sys/bus/pci/devices/10000:00:00

# win_status K: the host's status of the device at function K (hex), or
# nothing when the host has no virtio device there
win_status() {
	on_host "cat $WIN_DEV.$1/virtio*/status" \
		2>/dev/null
}

# win_settled: the functions that fit run, one is stopped (needs a reset);
# says how each stands
win_settled() {
	local i s run=0 refused=0
	for ((i = 0; i < NFN; i++)); do
		s=$(win_status $i)
		echo "function $i: host status ${s:-none}"
		[ "$s" != 0x00000007 ] || run=$((run + 1))
		[ -z "$s" ] || [ $((s & 0x40)) -eq 0 ] || refused=$((refused + 1))
	done
	[ $run -eq $FIT ] && [ $refused -eq 1 ]
}

# win_wait_settled SECONDS
win_wait_settled() {
	local n=$(($1 * 2))
	until win_settled >/dev/null; do
		[ $n -gt 0 ] || break
		sleep 0.5
		n=$((n - 1))
	done
	win_settled
}

# win_bind K: the host's virtio_console takes function K's device; true
# once the endpoint activated or refused it.  One device at a time, each
# once the endpoint is done with the one before: every function shares
# one poll thread, which polls no other while it activates one (see
# tests/lib/windows.sh).  The host's bind returns once the driver has set
# the device up, so the endpoint is asked only when no set-up runs.
win_bind() {
	local d=$WIN_DEV.$1
	on_ep "echo vep-mark win-bind-$1 >/dev/kmsg" &&
	on_host "basename $d/virtio* >/sys/bus/virtio/drivers/virtio_console/bind" &&
	on_ep "n=50; until dmesg | sed -n '/vep-mark win-bind-$1\$/,\$p' |
			grep -Eq 'Host driver ready|No outbound window free|Failed to activate'; do
			[ \$n -gt 0 ] || { echo 'neither activated nor refused'; exit 1; }
			sleep 0.1; n=\$((n - 1))
		done"
}

two_start
two_host_load virtio_console
two_ep_load pci-epf-virtio pci-epf-vcon
two_need "host: virtio drivers wait to be bound" \
	on_host "echo 0 >/sys/bus/virtio/drivers_autoprobe"
cmd=
for ((i = 0; i < NFN; i++)); do
	f=$TWO_EPF/pci_epf_vcon/con$i
	cmd="$cmd mkdir $f && echo $TWO_POLL_CPU >$f/vcon/poll_cpu &&
		echo 4 >$f/msix_interrupts && ln -s $f $TWO_EPC/ &&"
done
two_need "$NFN console functions on pci-epc-ivshmem ($BUDGET windows), link up" \
	on_ep "$cmd echo 1 >$TWO_EPC/start"
two_check "endpoint link up" two_ep_link up
# The host's scan adds the devices one after the other: once the last one
# has its virtio device, every one is on the virtio bus, ready to bind
last=$WIN_DEV.$((NFN - 1))
two_check "host has a virtio device at each function" \
	on_host "n=100; until [ -e $last/virtio* ]; do
			[ \$n -gt 0 ] || { ls /sys/bus/virtio/devices; exit 1; }
			sleep 0.1; n=\$((n - 1))
		done"
for ((i = 0; i < NFN; i++)); do
	two_check "host binds function $i's device" win_bind $i
done
on_host "echo 1 >/sys/bus/virtio/drivers_autoprobe"
two_check "$FIT function(s) run, one is refused" win_wait_settled 60
two_check "the refused one says what it needs" on_ep "dmesg | grep -q 'No outbound window free for 1000 ms: this function needs $WIN_PER_FN (one per ring, one for data) of the controller.s $BUDGET'"

# The functions were bound in order: the host's hvcK is function K's
for ((i = 0; i < NFN; i++)); do
	[ "$(win_status $i)" = 0x00000007 ] || continue
	ep=/dev/$(on_ep "cat $TWO_EPF/pci_epf_vcon/con$i/vcon/tty")
	two_xfer "function $i: host to endpoint, 4 KiB" 4096 \
		host /dev/hvc$i ep "$ep"
	two_xfer "function $i: endpoint to host, 4 KiB" 4096 \
		ep "$ep" host /dev/hvc$i
	two_xfer "function $i: host to endpoint, 256 KiB" 262144 \
		host /dev/hvc$i ep "$ep" 300
	two_xfer "function $i: endpoint to host, 256 KiB" 262144 \
		ep "$ep" host /dev/hvc$i 300
done
two_check "still $FIT running, one refused, after the data" win_settled

two_check "endpoint stops the link" on_ep "echo 0 >$TWO_EPC/start"
two_check "endpoint link down" two_ep_link down
two_check "host removes the endpoint's devices" two_host_gone 30
two_ktrouble_case
tap_end
