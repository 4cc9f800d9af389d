#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The dedicated console function across two machines: the stock Debian
# host's virtio_console on its /dev/hvc0, /dev/hvcEP0 on the endpoint.
# Data both ways (a megabyte first, then 256 KiB); hvcEP0 opened, closed
# and hung up while the host writes; the function unbound while it writes
# to the host, bound again without MSI-X vectors (the host's driver takes
# INTx), data again; then the endpoint machine killed while it writes to
# the host (the host must drop the device, no oops, no hung task), a new
# endpoint machine whose function moves its data by DMA, data again; then
# the host rebooted while the endpoint writes to it by DMA (link down,
# link up, the new host's driver binds), data again; last the function
# unbound while it writes by DMA, its channels back, no transfer failed.
#
# vep-timeout: 900

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

FN=$TWO_EPF/pci_epf_vcon/con0

# host_bound WHEN: the host's virtio_console binds the device, or the group
# ends with the endpoint's last lines
host_bound() {
	two_check "host virtio_console binds the device ($1)" \
		two_host_bound virtio_console || {
		on_ep 'dmesg | grep -E "pci_epf|pci_epc" | tail -n 8' |
			sed 's/^/# endpoint: /'
		two_ktrouble_case
		tap_end
		exit 1
	}
}

# The controller gets DMA channels; the function uses them only in the
# second endpoint machine (ep_setup 256)
TWO_EPC_PARAMS="dma_chans=2"

# ep_setup [DMA]: the console function con0 with 4 MSI-X vectors (and DMA
# as its dma_threshold, if given), link up
ep_setup() {
	two_ep_load pci-epf-virtio pci-epf-vcon
	two_need "con0 on pci-epc-ivshmem${1:+, DMA from $1 bytes}" on_ep "
		mkdir $FN && echo $TWO_POLL_CPU >$FN/vcon/poll_cpu &&
		echo 4 >$FN/msix_interrupts &&
		echo ${1:-0} >$FN/vcon/dma_threshold && ln -s $FN $TWO_EPC/"
	two_need "endpoint starts its controller" two_ep_start
	host_bound "MSI-X"
	two_check "endpoint link up" two_ep_link up
	two_check "endpoint has /dev/hvcEP0" on_ep 'test -c /dev/hvcEP0'
}

# ep_write_bg: the endpoint writes 64 MiB to the host, which reads it, both
# in the background
ep_write_bg() {
	on_host "(exec 3<>/dev/hvc0; stty raw -echo -ixon -ixoff <&3
		 dd of=/dev/null bs=4096 <&3) </dev/null >/dev/null 2>&1 &" >/dev/null
	on_ep "(exec 3<>/dev/hvcEP0; stty raw -echo -ixon -ixoff <&3
		head -c 67108864 /dev/urandom >&3) </dev/null >/dev/null 2>&1 &
		sleep 2" >/dev/null
}

# dma_held N: N of the endpoint controller's DMA channels are held
dma_held() {
	on_ep "mount -t debugfs none /sys/kernel/debug 2>/dev/null
		n=\$(grep -Ec '^ dma[0-9]+chan[0-9]+ +\\| in use' \
			/sys/kernel/debug/dmaengine/summary)
		[ \$n -eq $1 ] || { echo \$n held; exit 1; }"
}

# host_reader_ends: the host's reader of hvc0 (a dd) ended
host_reader_ends() {
	on_host "n=100
	while grep -qsx dd /proc/[0-9]*/comm; do
		[ \$n -gt 0 ] || { echo still reading; exit 1; }
		sleep 0.1; n=\$((n - 1))
	done"
}

# data WHEN [KIB]: 4 KiB each way, then KIB KiB (default 256) each way
data() {
	local k=${2:-256}

	two_xfer "host to endpoint: 4 KiB ($1)" 4096 host /dev/hvc0 ep /dev/hvcEP0
	two_xfer "endpoint to host: 4 KiB ($1)" 4096 ep /dev/hvcEP0 host /dev/hvc0
	two_xfer "host to endpoint: $k KiB ($1)" $((k * 1024)) \
		host /dev/hvc0 ep /dev/hvcEP0 300
	two_xfer "endpoint to host: $k KiB ($1)" $((k * 1024)) \
		ep /dev/hvcEP0 host /dev/hvc0 300
}

two_start
host_boot=$(on_host 'cat /proc/sys/kernel/random/boot_id')
two_host_load virtio_console
ep_setup
kind=$(two_irq_kind)
two_check "the host uses MSI-X" test "$kind" = MSI-X ||
	{ tap_diag "interrupts: $kind; the endpoint says:"
	  on_ep 'dmesg | grep -E "pci_epf|pci_epc" | tail -n 8' | sed 's/^/# /'; }
data "first endpoint" 1024

# --- hvcEP0 opened, closed and hung up while the host writes ---------------
#
# The host writes all along; meanwhile the endpoint opens and closes its
# tty, reads a little, and has it hung up (agetty calls vhangup() when it
# starts).  What arrives while the tty is closed is dropped, as on a
# serial line; the host's writer must never get stuck.  Each step's status
# is kept: an open must work (0), a read of 100 bytes must get them or
# still wait at its timeout (0, or 143: killed by busybox timeout's
# SIGTERM), and agetty must still wait for a login name at its timeout
# (143), having opened the tty and hung it up (where the endpoint has no
# agetty, busybox's getty does not hang the tty up: tests/tools/vep-hangup
# does what agetty does up to its prompt).  Not in the one-kernel rig:
# there the host's virtio_console waits for the device with its CPU's
# interrupts off, and the endpoint's tty work may need that CPU.
on_ep "cat >/tmp/ep-opens.sh <<'EOS'
n=0
while [ \$n -lt 30 ]; do
	case \$((n % 3)) in
	0) sh -c 'exec 5</dev/hvcEP0; sleep 0.05' ;;
	1) timeout 1 head -c 100 /dev/hvcEP0 >/dev/null ;;
	2) if command -v agetty >/dev/null; then
		timeout 1 agetty -L --nohints hvcEP0 vt100
	   else
		timeout 1 /tests/bin/vep-hangup /dev/hvcEP0
	   fi </dev/null >/dev/null 2>&1 ;;
	esac
	echo \"\$((n % 3)) \$?\" >>/tmp/ep-opens-st
	n=\$((n + 1))
done
echo \$n >/tmp/ep-opens
EOS
rm -f /tmp/ep-opens /tmp/ep-opens-st" >/dev/null
on_host "head -c 65536 /dev/zero >/tmp/zero; rm -f /tmp/writer-stop /tmp/writer-done
	(exec 3<>/dev/hvc0; stty raw -echo -ixon -ixoff <&3
	 while [ ! -e /tmp/writer-stop ]; do cat /tmp/zero >&3; done
	 touch /tmp/writer-done) </dev/null >/dev/null 2>&1 &
	sleep 0.5" >/dev/null
on_ep "sh /tmp/ep-opens.sh </dev/null >/dev/null 2>&1 &" \
	>/dev/null
two_check "endpoint opened, closed, hung up hvcEP0 30 times while the host wrote" \
	on_ep -t 150 "n=1200
	while [ ! -e /tmp/ep-opens ] && [ \$n -gt 0 ]; do
		sleep 0.1; n=\$((n - 1))
	done
	grep -qx 30 /tmp/ep-opens || { wc -l </tmp/ep-opens-st; exit 1; }"
tap_diag "the hang-up step: $(on_ep 'command -v agetty || echo vep-hangup')"
tap_diag "step statuses (step status count): $(on_ep "sort /tmp/ep-opens-st |
	uniq -c" | awk '{ printf "%s %s x%s; ", $2, $3, $1 }')"
two_check "every open worked, every read got its data or waited, every agetty waited" \
	on_ep "[ \$(wc -l </tmp/ep-opens-st) -eq 30 ] && ! awk '!(\$1 == 0 && \$2 == 0) && !(\$1 == 1 && (\$2 == 0 || \$2 == 143)) &&
		!(\$1 == 2 && \$2 == 143)' /tmp/ep-opens-st | grep ."
two_check "host writer not stuck: it ends within 30 s once told" \
	on_host -t 40 "touch /tmp/writer-stop; n=300
	while [ ! -e /tmp/writer-done ] && [ \$n -gt 0 ]; do
		sleep 0.1; n=\$((n - 1))
	done
	[ -e /tmp/writer-done ] || { killall cat; echo still writing; exit 1; }"
on_ep 'pkill -f ep-opens.sh; killall -q agetty vep-hangup head; true' >/dev/null
# What the host's writer had handed to its tty but the device not yet
# taken arrives now, as on a serial line: zeros, all of it
two_check "the host's last writes reach hvcEP0 whole: zeros only" on_ep "
	exec 3<>/dev/hvcEP0; stty raw -echo -ixon -ixoff <&3
	timeout 3 cat <&3 >/tmp/drain
	echo \$(wc -c </tmp/drain) bytes, \$(tr -d '\\000' </tmp/drain | wc -c) not zero
	[ \$(tr -d '\\000' </tmp/drain | wc -c) -eq 0 ]"
data "after the opens and hang-ups" 64

# --- the function unbound while it writes, bound again without MSI-X -------
#
# While the endpoint writes, as when its machine dies below: the host's
# stock virtio_console cannot lose a device while it writes itself.
# configfs unbinds a function only with its controller stopped (the EPF
# core warns otherwise): the link goes down, the host removes the device.
ep_write_bg
two_check "endpoint stops its controller while the function writes" \
	on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "host's reader of hvc0 ended" host_reader_ends
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/con0"
on_ep 'killall head' >/dev/null
two_need "con0 bound again, with no MSI-X vectors" on_ep "
	echo 0 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller again" two_ep_start
host_bound "INTx"
two_check "endpoint link up again" two_ep_link up
# What the killed writer left in hvcEP0's output buffer reaches the next
# host, as on a serial line; the host takes it before the checked data
tap_diag "the new host read $(on_host "exec 3<>/dev/hvc0
	stty raw -echo -ixon -ixoff <&3
	(timeout 3 cat <&3) 2>/dev/null | wc -c") bytes written before the unbind"
kind=$(two_irq_kind)
two_check "the host uses INTx (no MSI-X vectors)" test "$kind" = INTx
data "INTx"
two_need "con0 bound again, with 4 MSI-X vectors" on_ep "
	echo 0 >$TWO_EPC/start && rm $TWO_EPC/con0 &&
	echo 4 >$FN/msix_interrupts && ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller again" two_ep_start
host_bound "MSI-X again"
two_check "endpoint link up again" two_ep_link up
kind=$(two_irq_kind)
two_check "the host uses MSI-X again" test "$kind" = MSI-X

# --- the endpoint machine dies while it writes to the host ----------------
#
# Not while the host writes: the stock virtio_console (6.1 to 7.2) then
# frees, in remove_vqs(), the hvc buffer that put_chars() left in the ring
# of the broken device and had already freed itself: a general protection
# fault on the host, from the stock driver alone.
ep_write_bg
two_check "endpoint machine killed while it writes to the host" ep_kill
two_check "host removes the endpoint's device" two_host_gone 60
two_check "host's hvc0 has no console behind it (open fails)" on_host \
	'! (exec 3<>/dev/hvc0) 2>/dev/null || { echo hvc0 opens; exit 1; }'
two_check "host's reader of hvc0 ended" host_reader_ends
two_check "host stayed up (same boot)" test \
	"$(on_host 'cat /proc/sys/kernel/random/boot_id')" = "$host_boot"

# --- a new endpoint machine, on DMA ----------------------------------------
#
# From here on the function moves its data by the controller's DMA
# channels: the host's reset and the function's unbind come with copies
# in flight.
two_need "a new endpoint machine boots" two_ep_restart
ep_setup 256
two_check "the function holds a DMA channel each way" dma_held 2
data "second endpoint, DMA"
two_check "the controller's DMA channels moved it" two_ep_dma_moved

# --- the host reboots while the endpoint writes to it by DMA ---------------
ep_write_bg
two_need "host machine reboots (reset) while the endpoint writes by DMA" \
	host_reboot
on_ep 'killall head' >/dev/null
two_host_load virtio_console
two_need "the new host's virtio_console binds the device" \
	two_host_bound virtio_console
two_check "endpoint saw the link go down, then up with the new host" on_ep "
	dmesg | grep -A100 'link down (host gone)' |
		grep -q 'link up (host boot 2)' || { dmesg | tail -n 5; exit 1; }"
two_check "endpoint link up again" two_ep_link up
on_ep 'killall head' >/dev/null
# What the writer left in hvcEP0's output buffer reaches the new host
tap_diag "the new host read $(on_host "exec 2>/dev/null 3<>/dev/hvc0
	stty raw -echo -ixon -ixoff <&3
	(timeout 3 cat <&3) | wc -c") bytes written before the reset"
data "rebooted host, DMA"

# --- the function unbound while it writes by DMA ---------------------------
ep_write_bg
two_check "endpoint stops its controller while the function writes by DMA" \
	on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/con0"
on_ep 'killall head' >/dev/null
two_check "its DMA channels are back" dma_held 0
two_check "no DMA transfer failed on the endpoint" on_ep \
	'! dmesg | grep "DMA transfer of"'

two_ktrouble_case
tap_end
