#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Terminal helpers for guest tests: drive a tty from the far side of a link
# the way a person at a terminal would, and move checksummed data across.
# Source after tap.sh and rig.sh.
#
# One terminal session at a time: term_open DEV keeps DEV open read-write on
# fd 7 (a tty whose driver resets its settings on last close would lose
# "raw" otherwise), puts it in raw mode without echo and copies everything
# it shows into $TERM_LOG.  busybox sh runs its own stty applet first, so
# coreutils stty is called by path.
#
# Host and endpoint share the rig's kernel, and the host's console driver
# spins with interrupts off until the endpoint has taken its data.  So the
# two sides keep to their own CPUs: the caller runs on the host's CPU
# (HOST_CPUS, a taskset mask), and whatever plays the endpoint's part runs
# with on_ep, on the CPU of the endpoint's poll thread (EP_CPUS).

HOST_CPUS=${HOST_CPUS:-1}
EP_CPUS=${EP_CPUS:-2}

# term_sides: put unbound kernel work, the caller and the host's console
# thread on the host's CPU.  The endpoint's side runs on its poll thread's
# CPU: the console function queues its tty flip work there (on kernels
# that let it; see pci-epf-vcon.c), and tests start its tasks with on_ep.
term_sides() {
	echo "$HOST_CPUS" >/sys/devices/virtual/workqueue/cpumask || return 1
	taskset -p "$HOST_CPUS" $$ >/dev/null
	for ts_p in /proc/[0-9]*; do
		[ "$(cat "$ts_p/comm" 2>/dev/null)" = khvcd ] &&
			taskset -p "$HOST_CPUS" "${ts_p#/proc/}" >/dev/null
	done
	return 0
}

# on_ep CMD...: run CMD on the endpoint's CPU
on_ep() {
	taskset "$EP_CPUS" "$@"
}

# on_host CMD...: run CMD on the host's CPU
on_host() {
	taskset "$HOST_CPUS" "$@"
}

# side DEV: "on_ep" for an endpoint tty, else "on_host"
side() {
	case $1 in
	*hvcEP*) echo on_ep ;;
	*) echo "${TERM_SIDE:-on_host}" ;;
	esac
}

TERM_LOG=
TERM_CAT=

# term_raw DEV: raw mode, no echo, no flow control characters
term_raw() {
	/bin/stty -F "$1" raw -echo -ixon -ixoff 2>/dev/null
}

# term_open DEV: start a session on DEV
term_open() {
	TERM_LOG=$(mktemp /tmp/term.XXXXXX)
	exec 7<>"$1" || return 1
	term_raw "$1" || return 1
	$(side "$1") cat <&7 >"$TERM_LOG" &
	TERM_CAT=$!
}

# term_close: end the session
term_close() {
	[ -n "$TERM_CAT" ] && rig_kill "$TERM_CAT"
	wait "$TERM_CAT" 2>/dev/null
	exec 7>&-
	TERM_CAT=
}

# term_send TEXT: type TEXT and Enter
term_send() {
	printf '%s\r' "$1" >&7
}

# term_wait TEXT [COUNT] [SECONDS]: until TEXT was shown COUNT times
term_wait() {
	tw_n=$((${3:-20} * 10))
	while [ "$(grep -cF -- "$1" "$TERM_LOG" 2>/dev/null)" -lt "${2:-1}" ]; do
		tw_n=$((tw_n - 1))
		[ $tw_n -gt 0 ] || return 1
		sleep 0.1
	done
}

# term_dump: what the session showed, as TAP comments
term_dump() {
	tr -d '\r' <"$TERM_LOG" | tail -n 15 | sed 's/^/# | /'
}

# term_login NAME: log in as root on the terminal, run a command that prints
# the tty it runs on, and log out; one TAP case NAME.  A getty must already
# be running on the far side.
term_login() {
	if term_wait "login: " 1 30 && term_send root &&
	   term_wait "Password: " 1 && term_send root &&
	   term_wait "# " 1 && term_send 'echo LOGIN-OK $((6 * 7)) $(tty)' &&
	   term_wait "LOGIN-OK 42 " 1; then
		tap_ok "$1 ($(grep -o 'LOGIN-OK 42 [^[:space:]]*' "$TERM_LOG" |
			      tail -n 1 | cut -d' ' -f3))"
		term_send exit
		return 0
	fi
	tap_fail "$1"
	term_dump
	return 1
}

# now_cs: time since boot in centiseconds
now_cs() {
	cut -d' ' -f1 /proc/uptime | tr -d .
}

# xfer_check NAME BYTES SRC_DEV DST_DEV [SECONDS]: send BYTES random bytes
# into SRC_DEV and read them from DST_DEV (both raw); one TAP case NAME
# that passes if the sha256 sums are equal.  Reports the time taken.
# XFER_WR and XFER_RD, when set, name the side (on_host or on_ep) the
# writer and the reader run on, instead of the side of their device.
# XFER_PACE="BLOCK AHEAD", when set, makes the writer write BLOCK bytes at
# a time and stay at most AHEAD blocks ahead of the reader.
xfer_check() {
	xf_dir=$(mktemp -d /tmp/xfer.XXXXXX)
	head -c "$2" /dev/urandom >"$xf_dir/src"
	exec 8<>"$4" 9<>"$3"
	term_raw "$3"
	term_raw "$4"
	${XFER_RD:-$(side "$4")} head -c "$2" <&8 >"$xf_dir/dst" &
	xf_rd=$!
	xf_t0=$(now_cs)
	if [ -n "${XFER_PACE:-}" ]; then
		# shellcheck disable=SC2086 # two numbers
		xfer_paced "$xf_dir/src" "$xf_dir/dst" $XFER_PACE \
			"${XFER_WR:-$(side "$3")}" &
	else
		${XFER_WR:-$(side "$3")} cat "$xf_dir/src" >&9 &
	fi
	xf_wr=$!
	xf_n=$((${5:-120} * 10))
	while kill -0 $xf_rd 2>/dev/null && [ $xf_n -gt 0 ]; do
		sleep 0.1
		xf_n=$((xf_n - 1))
	done
	xf_ms=$((($(now_cs) - xf_t0) * 10))
	rig_kill "$xf_rd"
	rig_kill "$xf_wr"
	wait $xf_rd $xf_wr 2>/dev/null
	exec 8>&- 9>&-
	sha256sum <"$xf_dir/src" >"$xf_dir/src.sum"
	sha256sum <"$xf_dir/dst" >"$xf_dir/dst.sum"
	if [ $xf_n -gt 0 ] && cmp -s "$xf_dir/src.sum" "$xf_dir/dst.sum"; then
		tap_ok "$1"
		tap_diag "$2 bytes in $xf_ms ms"
		rm -rf "$xf_dir"
		return 0
	fi
	tap_fail "$1" "$( [ $xf_n -gt 0 ] || echo "timed out; ")sums differ"
	rm -rf "$xf_dir"
	return 1
}

# xfer_paced SRC DST BLOCK AHEAD SIDE: write file SRC to fd 9 BLOCK bytes
# at a time (with SIDE), never more than AHEAD blocks ahead of what file
# DST holds
xfer_paced() {
	xp_size=$(wc -c <"$1")
	xp_i=0
	while [ $((xp_i * $3)) -lt "$xp_size" ]; do
		while [ "$(wc -c <"$2")" -lt $(((xp_i - $4) * $3)) ]; do
			sleep 0.01
		done
		$5 /bin/dd if="$1" bs="$3" skip=$xp_i count=1 status=none >&9 ||
			return 1
		xp_i=$((xp_i + 1))
	done
}

# term_kernel_ok: the kernel lets the endpoint's tty flip work run on the
# endpoint's CPU (tty_port_link_wq, 6.15 on).  Without that, in this
# one-kernel rig, the endpoint's flip work can wait on the host's CPU while
# the host's console writer spins there for the endpoint: a deadlock no
# real board has.  Prints the reason when it says no.
term_kernel_ok() {
	tk_v=$(uname -r | cut -d. -f1,2)
	tk_maj=${tk_v%.*}
	tk_min=${tk_v#*.}
	if [ "$tk_maj" -gt 6 ] || { [ "$tk_maj" -eq 6 ] && [ "$tk_min" -ge 15 ]; }; then
		return 0
	fi
	echo "kernel $tk_v has no tty_port_link_wq: the one-kernel rig would deadlock"
	return 1
}

# term_require_kernel: end the group with one SKIP unless term_kernel_ok
term_require_kernel() {
	term_kernel_ok >/dev/null && return 0
	tap_skip "console function in the one-kernel rig" "$(term_kernel_ok)"
	tap_end
	exit 0
}
