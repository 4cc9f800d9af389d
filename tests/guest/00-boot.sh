#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Group 00-boot: proves the rig's plumbing.  Runs inside the guest (started
# by tests/run.sh through /init's vep.run=): checks the CPUs, the ivshmem
# devices that alias guest RAM, the mounts the later groups rely on, the
# project modules in the image, and that agetty + login authenticate root
# with a password through PAM on a pseudo terminal.

. /tests/lib/tap.sh

# --- CPUs -------------------------------------------------------------
ncpu=$(grep -c '^processor' /proc/cpuinfo)
if [ "$ncpu" -eq 2 ]; then
	tap_ok "2 CPUs online"
else
	tap_fail "2 CPUs online" "/proc/cpuinfo shows $ncpu"
fi

# --- ivshmem aliases of guest RAM ---------------------------------------
nalias=0
badbar=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
	[ "$(cat "$d/device")" = 0x1110 ] || continue
	nalias=$((nalias + 1))
	# resource: one "start end flags" line per BAR; BAR2 is the third.
	# shellcheck disable=SC2046 # split into start, end, flags
	set -- $(sed -n 3p "$d/resource")
	size=$(($2 - $1 + 1))
	[ "$size" -eq $((512 << 20)) ] || badbar="$badbar ${d##*/}:$size"
done
if [ $nalias -eq 9 ]; then
	tap_ok "9 ivshmem devices"
else
	tap_fail "9 ivshmem devices" "found $nalias"
fi
if [ $nalias -gt 0 ] && [ -z "$badbar" ]; then
	tap_ok "every ivshmem BAR2 is 512 MiB"
else
	tap_fail "every ivshmem BAR2 is 512 MiB" "bad:$badbar"
fi

# --- mounts and kernel interfaces ----------------------------------------
for m in /proc /sys /dev /dev/pts /sys/kernel/config /sys/kernel/debug /tmp /run; do
	tap_check "$m mounted" grep -q " $m " /proc/mounts
done
tap_check "PCI endpoint configfs present" test -d /sys/kernel/config/pci_ep
tap_check "loopback is up" sh -c 'ip link show lo | grep -q "UP"'
tap_check "hostname is vep" test "$(hostname)" = vep

n=0
for m in /lib/modules/vep/*.ko; do
	[ -e "$m" ] && n=$((n + 1))
done
tap_diag "project modules in the image: $n"
tap_check "modules dir present" test -d /lib/modules/vep

# --- real tools ---------------------------------------------------------
tap_check "agetty is util-linux" sh -c 'agetty --version | grep -q util-linux'
tap_check "login is not busybox" sh -c '! readlink /bin/login | grep -q busybox'
tap_check "iperf3 runs" iperf3 --version
# busybox sh runs its own applets before searching PATH, so the real
# tools that share an applet's name are reached by their path.
tap_check "setsid is util-linux" sh -c '/usr/bin/setsid --version | grep -q util-linux'
tap_check "stty is coreutils" sh -c '/bin/stty --version | grep -q coreutils'

# --- agetty + login + PAM on a pseudo terminal --------------------------
# util-linux script(1) gives agetty a pty; we type into it through a FIFO
# and read what the terminal showed from the typescript.
work=$(mktemp -d /tmp/login.XXXXXX)
ts=$work/typescript
mkfifo "$work/in"
SHELL=/bin/sh script -q -f -c 'exec agetty -J -L --nohints - vt100' "$ts" \
	<"$work/in" >/dev/null 2>&1 &
spid=$!
exec 3>"$work/in"

# wait_for TEXT COUNT: until TEXT shows on at least COUNT lines (20 s).
wait_for() {
	local i=0
	local n
	while :; do
		n=$(grep -cF -- "$1" "$ts" 2>/dev/null)
		[ "${n:-0}" -lt "$2" ] || return 0
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.1
	done
}

ok=1
wait_for "login: " 1 || { ok=0; tap_fail "agetty shows a login prompt"; }
if [ $ok -eq 1 ]; then
	tap_ok "agetty shows a login prompt"
	echo root >&3
	if wait_for "Password: " 1; then
		echo wrong-password >&3
		if wait_for "Login incorrect" 1 && wait_for "login: " 2; then
			tap_ok "login rejects a wrong password"
		else
			tap_fail "login rejects a wrong password"
			ok=0
		fi
	else
		tap_fail "login asks for a password"
		ok=0
	fi
fi
if [ $ok -eq 1 ]; then
	echo root >&3
	wait_for "Password: " 2 && echo root >&3
	wait_for "vep:~# " 1
	echo 'echo LOGIN-OK uid=$(id -u) tty=$(tty)' >&3
	if wait_for "LOGIN-OK uid=0 tty=/dev/pts/" 1; then
		tap_ok "root logs in with its password"
	else
		tap_fail "root logs in with its password"
	fi
	echo exit >&3
fi
exec 3>&-
i=0
while kill -0 $spid 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill $spid 2>/dev/null
wait $spid 2>/dev/null
if [ $TAP_FAILED -gt 0 ]; then
	tap_diag "login typescript:"
	tr -d '\r' <"$ts" | tail -n 30 | sed 's/^/# | /'
fi
rm -rf "$work"

tap_end
exit $?
