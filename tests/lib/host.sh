#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The host's side of a virtio endpoint function: find the device the host
# sees, tell how the host drives it, and wait for the host's driver to bind
# it.  Sourced by vcon.sh and vmed.sh (more than once is harmless).

VIRTIO_PCI=/sys/bus/pci/drivers/virtio-pci

# The stock driver expected on the host's virtio device
HOST_DRIVER=${HOST_DRIVER:-virtio_console}

# host_bdf CTRL: PCI address of function 0 behind controller CTRL, as the
# host sees it
host_bdf() {
	for d in /sys/devices/platform/pci-epc-loop.$1/pci*/*:00.0; do
		[ -e "$d" ] && basename "$d"
	done
}

# host_bound BDF: the host's $HOST_DRIVER drives the device at BDF
host_bound() {
	readlink /sys/bus/pci/devices/"$1"/virtio*/driver 2>/dev/null |
		grep -q "/$HOST_DRIVER\$"
}

# host_irqs BDF: interrupts the host took for the device at BDF so far
host_irqs() {
	v=$(basename /sys/bus/pci/devices/"$1"/virtio*)
	grep -E " $v(-|\$)" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i }
		     END { print n + 0 }'
}

# host_irq_kind BDF: how the host takes the device's interrupts
host_irq_kind() {
	hk_kind=$(cat /sys/bus/pci/devices/"$1"/msi_irqs/* 2>/dev/null | sort -u)
	v=$(basename /sys/bus/pci/devices/"$1"/virtio*)
	case $hk_kind in
	msix) echo MSI-X ;;
	msi) echo MSI ;;
	*) if grep -qE " $v\$" /proc/interrupts; then echo INTx; else echo none; fi ;;
	esac
}

# The stock legacy virtio-pci driver reads QUEUE_PFN back microseconds after
# writing it for the previous queue; the endpoint's poll thread must have
# consumed it by then.  In the rig the endpoint's vCPU can lose its host CPU
# for milliseconds at any moment.  The endpoint then logs that it was off
# its CPU during the host's set-up, or, off its CPU from a driver's unbind
# to the next one's start, that it refused a set-up (the new driver may
# have read a MAC from the wrong offset).
#
# host_wait_bound retries a failed set-up once per group at most
# (SETUP_RETRIES), and only after such a lapse the endpoint logged itself:
# the retry is printed as a "#" line with the endpoint's line.  A set-up
# that failed with nothing logged by the endpoint is a failure, never
# retried: that is the bug a retry would hide.  A set-up that fails inside
# "echo > bind" logs before host_wait_bound starts, so lapses are counted
# from the end of the previous call; the rebind follows the failure at
# once, while the endpoint still polls fast.
SETUP_RETRIES=${SETUP_RETRIES:-0}
SETUP_LAPSES_SEEN=${SETUP_LAPSES_SEEN:-0}

# The endpoint's lines that name a lapse
SETUP_LAPSE_RE='was off its CPU for|its set-up is refused|did not poll while the host set'

# setup_lapses: lapses the endpoint logged so far
setup_lapses() {
	dmesg | grep -cE "$SETUP_LAPSE_RE"
}

# The endpoint's line for a set-up it completed but whose queue MSI-X
# vector it missed: the device then interrupts the host on the wrong vector
SETUP_UNSEEN_RE='MSI-X vector went unseen'
SETUP_UNSEEN_SEEN=${SETUP_UNSEEN_SEEN:-0}

# setup_unseen: such lines so far
setup_unseen() {
	dmesg | grep -cE "$SETUP_UNSEEN_RE"
}

# bound_or_lapse BDF: the host drives BDF, or a new lapse was logged
bound_or_lapse() {
	host_bound "$1" || [ "$(setup_lapses)" -gt "$SETUP_LAPSES_SEEN" ]
}

# host_wait_bound BDF SECONDS: the host's $HOST_DRIVER binds BDF
host_wait_bound() {
	rig_wait "$2" bound_or_lapse "$1"
	# the endpoint's own word on a failure may come a moment later
	host_bound "$1" || sleep 0.3
	hw_now=$(setup_lapses)
	if host_bound "$1"; then
		SETUP_LAPSES_SEEN=$hw_now
		# the endpoint's word on the vectors comes as it activates
		sleep 0.3
		hw_unseen=$(setup_unseen)
		[ "$hw_unseen" -gt "$SETUP_UNSEEN_SEEN" ] || return 0
		SETUP_UNSEEN_SEEN=$hw_unseen
		hw_line=$(dmesg | grep -E "$SETUP_UNSEEN_RE" | tail -n 1)
		if [ "$SETUP_RETRIES" -ge 1 ]; then
			tap_note "host set-up of $1 lost a queue's MSI-X vector, and this group had its one retry: $hw_line"
			return 1
		fi
		SETUP_RETRIES=1
		tap_note "retry (the group's one): host set-up of $1 lost a queue's MSI-X vector: $hw_line"
		echo "$1" >"$VIRTIO_PCI/unbind" 2>/dev/null
		echo "$1" >"$VIRTIO_PCI/bind" 2>/dev/null
		rig_wait "$2" host_bound "$1" || return 1
		SETUP_LAPSES_SEEN=$(setup_lapses)
		sleep 0.3
		SETUP_UNSEEN_SEEN=$(setup_unseen)
		return 0
	fi
	hw_line=$(dmesg | grep -E "$SETUP_LAPSE_RE" | tail -n 1)
	if [ "$hw_now" -le "$SETUP_LAPSES_SEEN" ]; then
		tap_note "host set-up of $1 failed, and the endpoint logged no lapse: not retried"
		return 1
	fi
	SETUP_LAPSES_SEEN=$hw_now
	if [ "$SETUP_RETRIES" -ge 1 ]; then
		tap_note "host set-up of $1 failed after an endpoint lapse, and this group had its one retry: $hw_line"
		return 1
	fi
	SETUP_RETRIES=1
	tap_note "retry (the group's one): host set-up of $1 failed after an endpoint lapse: $hw_line"
	echo "$1" >"$VIRTIO_PCI/unbind" 2>/dev/null
	echo "$1" >"$VIRTIO_PCI/bind" 2>/dev/null
	rig_wait "$2" host_bound "$1" && SETUP_LAPSES_SEEN=$(setup_lapses)
}
