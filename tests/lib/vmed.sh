#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the mediated console function (pci-epf-vmed): bind it, and
# find the local virtio device and the two hvc ttys it gives.  Source after
# tap.sh, rig.sh and term.sh, and set fn to the function's configfs
# directory.  vmed_find_local sets local_dev and ep_hvc, vmed_find_host
# sets bdf, host_dev and host_hvc.

. /tests/lib/host.sh

# vmed_local_bound FN [DRIVER]: the endpoint's DRIVER (virtio_console if
# not given) drives FN's local device
vmed_local_bound() {
	vl_dev=$(cat "$1/vmed/local")
	[ -n "$vl_dev" ] &&
		readlink "/sys/bus/virtio/devices/$vl_dev/driver" |
		grep -q "/${2:-virtio_console}\$"
}

# vmed_local_ifname FN: the interface the endpoint's virtio_net gave FN's
# local device (in this namespace)
vmed_local_ifname() {
	for vi_d in /sys/bus/virtio/devices/"$(cat "$1/vmed/local")"/net/*; do
		[ -e "$vi_d" ] && basename "$vi_d"
	done
}

# vmed_hvcs: the hvc ttys that exist now (an hvc index nobody has taken
# cannot be opened)
vmed_hvcs() {
	for i in 0 1 2 3 4 5 6 7; do
		(exec 3<"/dev/hvc$i") 2>/dev/null && echo "hvc$i"
	done
	return 0
}

# vmed_nr_hvcs N: N hvc ttys exist
vmed_nr_hvcs() {
	[ "$(vmed_hvcs | grep -c .)" -eq "$1" ]
}

# vmed_other_hvc HVC: the one hvc that exists now besides HVC
vmed_other_hvc() {
	vo=$(vmed_hvcs | grep -vx "$1")
	[ "$(echo "$vo" | grep -c .)" -eq 1 ] && echo "$vo"
}

# vmed_irqs VIRTIO_DEV: interrupts the host took for its virtio device
vmed_irqs() {
	grep -E " $1(-|\$)" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i }
		     END { print n + 0 }'
}

# vmed_diag: the state of the local and host devices, as TAP comments
vmed_diag() {
	tap_diag "local: '$(cat "$fn/vmed/local" 2>&1)'" \
		"virtio: $(ls /sys/bus/virtio/devices 2>&1 | tr '\n' ' ')" \
		"drivers: $(for d in /sys/bus/virtio/devices/*; do
			echo "${d##*/}=$(readlink "$d/driver" | sed 's,.*/,,')"
		done | tr '\n' ' ')" \
		"hvcs: $(vmed_hvcs | tr '\n' ' ')"
	dmesg | grep -iE 'vmed|virtio|hvc' | tail -n 15 | sed 's/^/# /'
}

# vmed_link CTRL: link the function to controller CTRL (bind)
vmed_link() {
	ln -s "$fn" "$(rig_epc "$1")/"
}

# vmed_up CTRL: start the link of controller CTRL
vmed_up() {
	echo 1 >"$(rig_epc "$1")/start" && rig_link "$1" up
}

# vmed_down CTRL: stop the link of controller CTRL
vmed_down() {
	echo 0 >"$(rig_epc "$1")/start" && rig_link "$1" down
}

# vmed_find_local: the local device and its hvc, once the local driver is
# there and before the host binds (it is then the only hvc)
vmed_find_local() {
	rig_wait 30 vmed_local_bound "$fn" || return 1
	local_dev=$(cat "$fn/vmed/local")
	rig_wait 10 vmed_nr_hvcs 1 || return 1
	ep_hvc=$(vmed_hvcs)
}

# vmed_find_host: the host's device and its hvc
vmed_find_host() {
	bdf=$(host_bdf 0)
	[ -n "$bdf" ] && host_wait_bound "$bdf" 30 || return 1
	host_dev=$(basename /sys/bus/pci/devices/"$bdf"/virtio*)
	rig_wait 10 vmed_nr_hvcs 2 || return 1
	host_hvc=$(vmed_other_hvc "$ep_hvc")
	[ -n "$host_hvc" ]
}
