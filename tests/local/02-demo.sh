#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo" driven as a person would, in a terminal made by tmux: the
# endpoint's login prompt comes first, root logs in over the link, a
# command runs on the endpoint's /dev/hvcEP0, logout gives the hint, Ctrl-X
# the menu, the menu's network entry pings across both ways, and "power
# off" ends make demo with status 0.  The terminal must show no kernel
# WARNING.  On a kernel where the one-kernel rig cannot run the dedicated
# console (tests/lib/term.sh), the console cases are skipped, with the
# reason the demo itself gives.
#
# vep-timeout: 900

set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
kver=${KVER:-7.2}

if ! command -v tmux >/dev/null; then
	tap_fail "tmux is installed" "scripts/deps.sh installs it"
	tap_end
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-demo-test.XXXXXX")
sock=$tmp/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$tmp"' EXIT

# the history limit applies to windows made after it is set: in the
# server's configuration, before the session
echo 'set-option -g history-limit 20000' >"$tmp/tmux.conf"
tmux -S "$sock" -f "$tmp/tmux.conf" new-session -d -x 120 -y 50 \
	"cd '$top' && VEP_DEMO_KLOG='$tmp/klog' make -s demo KVER=$kver; echo DEMO-EXIT \$?; sleep 3600"

# screen: everything the terminal showed so far
screen() {
	tmux -S "$sock" capture-pane -p -J -S - -E - 2>/dev/null
}

# seen TEXT [COUNT]: TEXT was shown at least COUNT times (default 1)
seen() {
	[ "$(screen | grep -cF -- "$1")" -ge "${2:-1}" ]
}

# wait_for SECONDS TEXT [COUNT]: until TEXT was shown COUNT times
wait_for() {
	local n=$(($1 * 5))
	while ! seen "$2" "${3:-1}"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}

# keys KEY...: type, as tmux send-keys names them
keys() {
	tmux -S "$sock" send-keys -t 0 "$@"
}

# klog_tail: the end of the demo machine's whole kernel log (the terminal
# shows only errors), records as /dev/kmsg gives them (time in us), without
# their key=value lines
klog_tail() {
	echo "# the kernel log's last lines (all levels):"
	tr -d '\r' <"$tmp/klog" 2>/dev/null | grep -v '^ ' | tail -n 40 |
		sed 's/^[0-9]*,[0-9]*,\([0-9]*\),[^;]*;/[\1] /; s/^/#   k| /'
}

# step NAME SECONDS TEXT [COUNT]: one case, passed when TEXT shows in time;
# a failure shows the end of the terminal and ends the group
step() {
	if wait_for "$2" "$3" "${4:-1}"; then
		tap_ok "$1"
		return 0
	fi
	tap_fail "$1" "'$3' not shown within $2 s; the terminal's last lines:"
	screen | grep -v '^$' | tail -n 25 | sed 's/^/#   | /'
	klog_tail
	tap_end
	exit 1
}

# The first prompt: the endpoint's login, or the menu where the kernel
# cannot run the console function in this rig.  make test has built the
# kernel and the modules already: booting takes seconds, 180 is plenty.
n=900
until seen "login: " || seen "vep demo menu" || seen "DEMO-EXIT"; do
	n=$((n - 1))
	[ $n -gt 0 ] || break
	sleep 0.2
done
if seen "has no tty_port_link_wq"; then
	why=$(screen | grep -o 'kernel [0-9.]* has no tty_port_link_wq[^;]*' |
	      head -n 1)
	for c in "the endpoint's login prompt comes first" \
		 "log in as root over the link" \
		 "a command runs on the endpoint's /dev/hvcEP0" \
		 "logout prints the hint" "Ctrl-X leads to the menu"; do
		tap_skip "$c" "$why"
	done
	step "the menu comes first" 5 "vep demo menu"
else
	step "the endpoint's login prompt comes first" 1 "login: "
	keys root Enter
	step "the login asks for a password" 30 "Password: "
	keys root Enter
	step "log in as root over the link" 60 "vep:~# "
	keys 'echo DEMO-OK $((6 * 7)) $(tty)' Enter
	step "a command runs on the endpoint's /dev/hvcEP0" 30 \
		"DEMO-OK 42 /dev/hvcEP0"
	keys exit Enter
	step "logout prints the hint" 30 "[logged out of the endpoint"
	keys C-x
	step "Ctrl-X leads to the menu" 30 "vep demo menu"
fi

keys 3 Enter
step "the network function: ping host -> endpoint, all 3 replies" 180 \
	"3 packets transmitted, 3 packets received"
step "the network function: ping endpoint -> host, all 3 replies" 60 \
	"3 packets transmitted, 3 packets received" 2
step "the network function names the host's interface" 5 "Host: eth"
step "the network function names the endpoint's interface" 5 "Endpoint: epvnet"
# The terminal shows only errors (loglevel=3): the kernel log itself must
# be free of trouble but the known warning, read from the host shell.
keys 2 Enter
keys 'echo TROUBLE-LINES $(dmesg | grep -E "WARNING:|BUG:|Oops|stall|blocked for more" | grep -vc __pci_epc_create); exit' Enter
step "the kernel log has no trouble but the known warning" 30 \
	"TROUBLE-LINES 0"
keys 4 Enter
step "power off ends make demo with status 0" 120 "DEMO-EXIT 0"
# kernel lines only: the command typed above names the word too
kwarn='\[ *[0-9]+\.[0-9]+\] .*WARNING:|cut here'
if screen | grep -Eq "$kwarn"; then
	tap_fail "no kernel WARNING on the terminal"
	screen | grep -E "$kwarn" | head -n 5 | sed 's/^/#   | /'
else
	tap_ok "no kernel WARNING on the terminal"
fi
tap_end
