#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest's side of "make demo" (scripts/demo.sh puts it in the image as
# /demo/demo.sh; the console's login profile runs it once): set up the
# dedicated console function, run a getty on the endpoint's /dev/hvcEP0, and
# put this terminal on the host's /dev/hvc0, so that the first thing a user
# sees is the endpoint's login prompt arriving over the PCIe link.  Then a
# menu: the endpoint's console again, a shell on the host's side, the
# network function with a ping across, power off.
#
# In the one-kernel rig one machine is both host and endpoint: the host's
# side keeps to CPU 0 and the endpoint's to CPU 1 (see tests/lib/term.sh).

. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/host.sh

# The whole kernel log on the second serial port, for a test driving the
# demo (scripts/demo.sh connects that port only then)
if grep -qw vep.klog /proc/cmdline; then
	cat /dev/kmsg >/dev/ttyS1 2>/dev/null &
fi

# say LINE...: a message of the demo's own, set apart from the rest
say() {
	printf '\n*** %s\n' "$1"
	shift
	[ $# -eq 0 ] || printf '    %s\n' "$@"
}

# demo_shell: an interactive shell here, for when a step failed
demo_shell() {
	say "$1" "Here is a shell on the rig; 'exit' goes to the demo menu."
	/bin/sh -i
}

# demo_console_up: the console function con0 on controller 0, the host's
# virtio_console bound to it, and a getty on the endpoint's hvcEP0
CON_BDF=
demo_console_up() {
	f=$EPCFS/functions/pci_epf_vcon/con0
	rig_insmod pci-epf-virtio && rig_insmod pci-epf-vcon || return 1
	mkdir "$f" && echo 1 >"$f/vcon/poll_cpu" &&
		echo 4 >"$f/msix_interrupts" && ln -s "$f" "$(rig_epc 0)/" &&
		echo 1 >"$(rig_epc 0)/start" && rig_link 0 up || return 1
	CON_BDF=$(host_bdf 0)
	HOST_DRIVER=virtio_console
	host_wait_bound "$CON_BDF" 30 || return 1
	term_sides || return 1
	say "The endpoint function pci_epf_vcon/con0 is linked: the host's stock" \
	    "virtio_console drives PCI device $CON_BDF as /dev/hvc0, and the" \
	    "endpoint's side is its own tty, /dev/hvcEP0, fed straight from" \
	    "the host's rings."
	# The endpoint's getty, on the endpoint's CPU, for the whole demo.
	# It starts a moment later, once this terminal is on /dev/hvc0.
	on_ep /usr/bin/setsid /bin/sh -c '
		sleep 1
		while :; do
			/usr/bin/setsid -w /sbin/agetty -L --nohints hvcEP0 vt100
			printf "\r\n[logged out of the endpoint. Enter: log in again;" >/dev/hvcEP0
			printf " Ctrl-X: the demo menu]\r\n" >/dev/hvcEP0
			sleep 1	# a getty that cannot start must not spin
		done' </dev/null >/dev/null 2>&1 &
}

# demo_console: this terminal on the host's /dev/hvc0 until Ctrl-X
demo_console() {
	if [ -z "$CON_BDF" ]; then
		say "The console function is not set up: $CON_WHY"
		return
	fi
	say "This terminal is now the host's /dev/hvc0. What appears below" \
	    "comes from the endpoint's /dev/hvcEP0, over the PCIe link." \
	    "Log in as root, password root ('tty' there says /dev/hvcEP0)." \
	    "Press Enter if no prompt shows; Ctrl-X comes back to the menu."
	on_host microcom /dev/hvc0
}

# demo_net: the network function net0 on controller 1, the host's
# virtio_net on one end and epvnet0 on the other, each in a network
# namespace, and a ping each way
NET_HOST_NS='' NET_EP_NS='' NET_HOST_IF='' NET_EP_IF=''
demo_net_up() {
	f=$EPCFS/functions/pci_epf_vnet/net0
	rig_insmod pci-epf-virtio && rig_insmod pci-epf-vnet || return 1
	mkdir "$f" && echo 1 >"$f/vnet/poll_cpu" &&
		echo 52:54:00:12:34:56 >"$f/vnet/mac" &&
		echo 3 >"$f/msix_interrupts" && ln -s "$f" "$(rig_epc 1)/" &&
		echo 1 >"$(rig_epc 1)/start" && rig_link 1 up || return 1
	bdf=$(host_bdf 1)
	HOST_DRIVER=virtio_net
	host_wait_bound "$bdf" 30 || return 1
	term_sides
	NET_EP_IF=$(cd /sys/class/net && for i in *; do
		[ "$(cat "$i/ifindex")" = "$(cat "$f/vnet/ifindex")" ] &&
			echo "$i"; done)
	for d in /sys/bus/pci/devices/"$bdf"/virtio*/net/*; do
		[ -e "$d" ] && NET_HOST_IF=${d##*/}
	done
	[ -n "$NET_EP_IF" ] && [ -n "$NET_HOST_IF" ] || return 1
	unshare -n sleep 1000000 &
	NET_HOST_NS=$!
	# not on_ep: $! of a backgrounded function is a subshell's
	taskset "$EP_CPUS" unshare -n sleep 1000000 &
	NET_EP_NS=$!
	sleep 0.2
	for ns in "$NET_HOST_NS" "$NET_EP_NS"; do
		[ -e "/proc/$ns/ns/net" ] && [ "$(readlink "/proc/$ns/ns/net")" != \
			"$(readlink /proc/self/ns/net)" ] || return 1
	done
	ip link set "$NET_HOST_IF" netns "$NET_HOST_NS" &&
		ip link set "$NET_EP_IF" netns "$NET_EP_NS" &&
		nsenter -t "$NET_HOST_NS" -n ip addr add 10.9.0.1/24 dev "$NET_HOST_IF" &&
		nsenter -t "$NET_HOST_NS" -n ip link set "$NET_HOST_IF" up &&
		nsenter -t "$NET_EP_NS" -n ip addr add 10.9.0.2/24 dev "$NET_EP_IF" &&
		nsenter -t "$NET_EP_NS" -n ip link set "$NET_EP_IF" up &&
		rig_wait 10 sh -c "nsenter -t $NET_HOST_NS -n ip link show $NET_HOST_IF | grep -q LOWER_UP"
}

demo_net() {
	if [ -z "$NET_HOST_NS" ]; then
		say "Setting up the network function pci_epf_vnet/net0..."
		if ! demo_net_up; then
			NET_HOST_NS=
			demo_shell "The network function did not come up."
			return
		fi
	fi
	say "Host: $NET_HOST_IF, the stock virtio_net, 10.9.0.1, in the network" \
	    "  namespace of process $NET_HOST_NS." \
	    "Endpoint: $NET_EP_IF, fed straight from the host's rings, 10.9.0.2," \
	    "  in the network namespace of process $NET_EP_NS." \
	    "host -> endpoint:"
	on_host nsenter -t "$NET_HOST_NS" -n ping -c 3 -W 5 10.9.0.2
	say "endpoint -> host:"
	on_ep nsenter -t "$NET_EP_NS" -n ping -c 3 -W 5 10.9.0.1
	say "A shell in either namespace, from menu entry 2:" \
	    "  nsenter -t $NET_HOST_NS -n sh               (the host's)" \
	    "  nsenter -t $NET_EP_NS -n taskset 2 sh     (the endpoint's, on its CPU)"
}

say "vep demo: virtio devices presented by a PCIe endpoint." \
    "This QEMU machine plays both sides (the one-kernel rig): the PCIe" \
    "host with its stock drivers, and the endpoint with the project's" \
    "functions, joined by the loopback endpoint controller."
say "Loading the loopback endpoint controller. (Loading it logs one known" \
    "upstream WARNING, in __pci_epc_create on x86; the demo keeps kernel" \
    "messages below errors off this console, and dmesg shows them.)"
CON_WHY=
if ! rig_insmod pci-epc-loop host_cpu=0; then
	demo_shell "pci-epc-loop did not load."
elif ! CON_WHY=$(term_kernel_ok); then
	say "$CON_WHY; the dedicated console needs a newer kernel here" \
	    "(make demo KVER=7.2). The network function still works."
elif ! demo_console_up; then
	CON_WHY="its set-up failed (see dmesg)"
	demo_shell "The console function did not come up."
else
	demo_console
fi

while :; do
	cat <<'EOF'

vep demo menu
  1  the endpoint's console again: log in over the link (Ctrl-X comes back)
  2  a shell on the host's side of this machine ('exit' comes back)
  3  the network function: the host's virtio_net, the endpoint's
     interface, a ping across each way
  4  power off
EOF
	printf 'choice: '
	read -r choice || choice=4
	case $choice in
	1) demo_console ;;
	2) /bin/sh -i ;;
	3) demo_net ;;
	4) break ;;
	esac
done
say "Powering off."
