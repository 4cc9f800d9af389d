# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for tests of the two-machine rig (scripts/rig2.sh), run on the
# machine that runs the rig (bash; sourced, not run).
#
#   . tests/lib/rig2.sh
#   rig2_start [-w SECONDS] OPTIONS...  "scripts/rig2.sh start OPTIONS" in
#                          $RIG2_DIR (a new temporary directory if unset),
#                          then wait until both agents answer (300 s) and
#                          give the endpoint's poll vCPU its priority
#                          ("scripts/rig2.sh ep_booted")
#   rig2_stop              stop the rig; with $RIG2_LOGDIR set, its logs go
#                          there and $RIG2_DIR is removed
#   on_host [-t SECONDS] CMD
#   on_ep [-t SECONDS] CMD run the shell command CMD in that VM through its
#                          agent (tests/lib/agent.sh): CMD's output on
#                          stdout (as text: NUL bytes dropped), CMD's exit
#                          status as ours; 124 when no answer came in
#                          SECONDS (default 60; the agent kills CMD then:
#                          status 137), 125 when that VM's QEMU is not
#                          running
#   ep_kill                kill the endpoint VM's QEMU (power lost)
#   ep_restart [-w SECONDS]  a new endpoint VM on the same RAM file; waits
#                          for its agent (default 300 s), then as rig2_start
#   host_reboot [-w SECONDS] reset the host VM as PERST# does
#                          (scripts/rig2.sh host_reset; fails if anything
#                          writes into its RAM in the 1 s after the
#                          endpoint's link went down) and wait for its
#                          agent (default 300 s)
#   rig2_get NAME          a setting of the running rig (rig.env: host_ram,
#                          ep_ram, mem, windows, ...)
#   rig2_find_page FILE KEY  the page-aligned offsets in FILE where the text
#                          KEY starts, one a line (a RAM file, to find a page
#                          that a guest filled)
#   rig2_threads           "VM<TAB>THREAD<TAB>CPUS" for every thread of both
#                          QEMUs: the host CPUs each may run on
#   rig2_ktrouble          kernel trouble (oops, BUG, WARNING, stalls, as
#                          scripts/qemu.sh sees it) in either console log
#
# The agents' answers are framed by a marker unique to each call, so that
# a line cut short or left over from an earlier call is never taken for
# an answer.

RIG2_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG2_DIR=${RIG2_DIR:-}
_rig2_seq=0

_rig2() { "$RIG2_TOP/scripts/rig2.sh" "$@" -d "$RIG2_DIR"; }

_rig2_alive() {
	local pid
	pid=$(cat "$RIG2_DIR/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

_rig2_size() { stat -c %s "$RIG2_DIR/$1.agent.log"; }

# rig2_wait_agent VM OFFSET DEADLINE: wait until the agent log of VM shows
# "VEP-AGENT ready" after byte OFFSET, until $SECONDS reaches DEADLINE
rig2_wait_agent() {
	local vm=$1 off=$2 deadline=$3
	# grep -c reads it all: no SIGPIPE for tail (pipefail)
	while [ "$(tail -c +$((off + 1)) "$RIG2_DIR/$vm.agent.log" |
		   grep -c 'VEP-AGENT ready')" -eq 0 ]; do
		if ! _rig2_alive "$vm"; then
			echo "rig2: the $vm VM stopped; its console ends:" >&2
			tr -d '\r' <"$RIG2_DIR/$vm.console" | tail -n 20 >&2
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "rig2: no agent in the $vm VM; its console ends:" >&2
			tr -d '\r' <"$RIG2_DIR/$vm.console" | tail -n 20 >&2
			return 1
		fi
		sleep 0.2
	done
}

_rig2_wait_opt() {
	if [ "${1:-}" = -w ]; then
		echo "$2"
	else
		echo 300
	fi
}

rig2_start() {
	local deadline
	deadline=$((SECONDS + $(_rig2_wait_opt "$@")))
	[ "${1:-}" != -w ] || shift 2
	[ -n "$RIG2_DIR" ] ||
		RIG2_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vep-rig2.XXXXXX")
	"$RIG2_TOP/scripts/rig2.sh" start -d "$RIG2_DIR" "$@" || return 1
	rig2_wait_agent host 0 "$deadline" && rig2_wait_agent ep 0 "$deadline" &&
		_rig2 ep_booted
}

rig2_stop() {
	[ -n "$RIG2_DIR" ] && [ -f "$RIG2_DIR/rig.env" ] || return 0
	_rig2 stop || true
	if [ -n "${RIG2_LOGDIR:-}" ]; then
		mkdir -p "$RIG2_LOGDIR"
		cp "$RIG2_DIR"/*.console "$RIG2_DIR"/*.log "$RIG2_DIR/rig.env" \
		   "$RIG2_LOGDIR/" 2>/dev/null || true
		rm -rf "$RIG2_DIR"
	fi
}

# rig2_agent VM [-t SECONDS] CMD: on_host and on_ep (one call at a time
# per VM)
rig2_agent() {
	local vm=$1 secs=60 marker log off deadline last re rc
	shift
	if [ "${1:-}" = -t ]; then
		secs=$2
		shift 2
	fi
	[ $# -eq 1 ] || { echo "usage: on_$vm [-t SECONDS] CMD" >&2; return 2; }
	_rig2_alive "$vm" || { echo "on_$vm: the $vm VM is not running" >&2; return 125; }
	log=$RIG2_DIR/$vm.agent.log
	_rig2_seq=$((_rig2_seq + 1))
	marker=VEP-$BASHPID-$_rig2_seq-$RANDOM$RANDOM
	off=$(stat -c %s "$log")
	# the empty line first ends whatever a reset left half-sent
	printf '\nvepcmd %s %s %s\n' "$marker" "$secs" \
		"$(printf '%s' "$1" | base64 -w0)" >"$RIG2_DIR/$vm.agent.in"
	deadline=$((SECONDS + secs + 10))
	# the answer is whole once the log ends with its end line ("x" keeps
	# the newline)
	re="(^|"$'\n'")$marker end ([0-9]+)"$'\n'"x\$"
	while :; do
		last=$(tail -c 128 "$log" | tr -d '\0'; echo x)
		[[ $last =~ $re ]] && break
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "on_$vm: no answer in $secs s" >&2
			return 124
		fi
		if ! _rig2_alive "$vm"; then
			echo "on_$vm: the $vm VM stopped" >&2
			return 125
		fi
		sleep 0.05
	done
	rc=${BASH_REMATCH[2]}
	tail -c +$((off + 1)) "$log" | tr -d '\0' | awk -v m="$marker" '
		!on && $0 == m " begin" { on = 1; next }
		on && index($0, m " end ") == 1 { on = 0 }
		on { print }'
	return "$rc"
}

on_host() { rig2_agent host "$@"; }
on_ep() { rig2_agent ep "$@"; }

ep_kill() { _rig2 ep_kill; }

ep_restart() {
	local wait off
	wait=$(_rig2_wait_opt "$@")
	off=$(_rig2_size ep)
	_rig2 ep_restart || return 1
	rig2_wait_agent ep "$off" $((SECONDS + wait)) && _rig2 ep_booted
}

host_reboot() {
	local wait off
	wait=$(_rig2_wait_opt "$@")
	off=$(_rig2_size host)
	_rig2 host_reset -Q 1 || return 1
	rig2_wait_agent host "$off" $((SECONDS + wait))
}

rig2_get() {
	# shellcheck source=/dev/null
	(. "$RIG2_DIR/rig.env" && printf '%s\n' "${!1}")
}

rig2_find_page() {
	python3 - "$1" "$2" <<'EOF'
import mmap, sys
with open(sys.argv[1], 'rb') as f, \
		mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
	key = sys.argv[2].encode()
	at = m.find(key)
	while at >= 0:
		if at % 4096 == 0:
			print(at)
		at = m.find(key, at + 1)
EOF
}

rig2_threads() {
	local vm pid t comm cpus
	for vm in host ep; do
		pid=$(cat "$RIG2_DIR/$vm.pid" 2>/dev/null) || continue
		for t in /proc/"$pid"/task/*; do
			comm=$(cat "$t/comm" 2>/dev/null) &&
			cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' \
				"$t/status" 2>/dev/null) &&
			printf '%s\t%s\t%s\n' "$vm" "$comm" "$cpus"
		done
	done
}

rig2_ktrouble() {
	local kpat vm
	kpat='\[ *[0-9]+\.[0-9]{6}\] .*(Kernel panic|BUG:|Oops|WARNING:|general protection|UBSAN:|kernel BUG|detected stalls? on CPU|self-detected stall|blocked for more than [0-9]+ seconds)'
	for vm in host ep; do
		tr -d '\r' <"$RIG2_DIR/$vm.console" | grep -E "$kpat" |
			grep -Evf <(grep -Ev '^(#|$)' "$RIG2_TOP/tests/known-warnings") |
			sed "s/^/$vm: /" || true
	done
}
