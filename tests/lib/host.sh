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
# its CPU during the host's set-up; or, if it was off for all of a set-up
# that came while the status still read FAILED from the one before, it saw
# nothing at all, and the host logged a failed probe the endpoint did not.
# Off its CPU from a driver's unbind to the next one's start, it finds the
# configuration still where MSI-X put it, and refuses that set-up (the new
# driver may have read a MAC from the wrong offset).
# host_wait_bound rebinds after exactly one of those (twice at most), counts
# it in SETUP_RETRIES, and fails on anything else.  A set-up that fails
# inside "echo > bind" logs before host_wait_bound starts, so lapses are
# counted from the end of the previous call; the rebind follows the failure
# at once, while the endpoint still polls fast.
SETUP_RETRIES=${SETUP_RETRIES:-0}
SETUP_LAPSES_SEEN=${SETUP_LAPSES_SEEN:-0}

# setup_lapses: lapses logged so far, and host set-up failures the endpoint
# never saw
setup_lapses() {
	dmesg | awk -v drv="$HOST_DRIVER" '/was off its CPU for/ { lapses++ }
		/its set-up is refused/ { lapses++ }
		$0 ~ "probe with driver " drv " failed" { host++ }
		/Host driver failed the device/ { ep++ }
		END { print lapses + (host > ep ? host - ep : 0) }'
}

# bound_or_lapse BDF: the host drives BDF, or a new lapse was logged
bound_or_lapse() {
	host_bound "$1" || [ "$(setup_lapses)" -gt "$SETUP_LAPSES_SEEN" ]
}

# host_wait_bound BDF SECONDS: the host's virtio_console binds BDF
host_wait_bound() {
	hw_try=0
	while :; do
		rig_wait "$2" bound_or_lapse "$1"
		# the endpoint's own word on a failure may come a moment later
		host_bound "$1" || sleep 0.3
		hw_now=$(setup_lapses)
		if host_bound "$1"; then
			SETUP_LAPSES_SEEN=$hw_now
			return 0
		fi
		[ "$hw_now" -gt "$SETUP_LAPSES_SEEN" ] && [ $hw_try -lt 2 ] ||
			return 1
		SETUP_LAPSES_SEEN=$hw_now
		hw_try=$((hw_try + 1))
		SETUP_RETRIES=$((SETUP_RETRIES + 1))
		echo "# host set-up failed after a poll thread lapse; rebinding" \
		     "(retry $SETUP_RETRIES)"
		echo "$1" >"$VIRTIO_PCI/unbind" 2>/dev/null
		echo "$1" >"$VIRTIO_PCI/bind" 2>/dev/null
	done
}
