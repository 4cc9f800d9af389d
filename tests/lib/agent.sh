#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The command agent of a two-machine rig guest (busybox ash), started by the
# initramfs /init as vep.run=/agent.sh; tests/lib/rig2.sh talks to it.
#
#   vep.run=/agent.sh [vep.agent=/dev/TTY]    (kernel command line)
#
# Owns the agent terminal (vep.agent=, else /dev/hvc0 if there is one, else
# /dev/ttyS1), which is not the console, so kernel messages never mix
# with what it says.  Puts it in raw mode, prints "VEP-AGENT ready BOOT_ID"
# and then serves lines of the form
#
#   vepcmd MARKER SECONDS BASE64
#
# Other lines are ignored (an empty line ends any partial one).  BASE64 is
# a shell script; it runs with /bin/sh, stdin /dev/null, stdout and stderr
# collected, and is killed after SECONDS (0: never).  The answer is
#
#   MARKER begin
#   OUTPUT (a final newline added if it had none)
#   MARKER end STATUS
#
# (OUTPUT is taken as text: tests/lib/rig2.sh drops NUL bytes.)
#
# STATUS 137 means that the time ran out.  The agent never returns.

tty=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vep.agent=*) tty=${arg#vep.agent=} ;;
	esac
done
# the virtio console may come up after /init starts
i=0
while [ -z "$tty" ] && [ $i -lt 50 ]; do
	[ -c /dev/hvc0 ] && tty=/dev/hvc0
	i=$((i + 1))
	[ -n "$tty" ] || sleep 0.1
done
[ -n "$tty" ] || tty=/dev/ttyS1
i=0
while [ ! -c "$tty" ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
echo "agent: serving on $tty"

# raw mode once open: a driver may reset it on the last close (hvc does)
exec <"$tty" >"$tty"
# busybox's stty: the image's /bin/stty may be of another architecture
case $tty in
/dev/ttyS*) stty 115200 raw -echo ;;
*) stty raw -echo ;;
esac || echo "agent: stty on $tty failed" >&2

cmd=/tmp/agent.cmd
out=/tmp/agent.out
printf '\nVEP-AGENT ready %s\n' "$(cat /proc/sys/kernel/random/boot_id)"
while :; do
	IFS= read -r line || { sleep 0.1; continue; }
	case $line in
	"vepcmd "*) ;;
	*) continue ;;
	esac
	# shellcheck disable=SC2086 # split into its words
	set -- $line
	[ $# -eq 4 ] || continue
	marker=$2
	secs=$3
	printf '%s' "$4" | base64 -d >"$cmd" 2>/dev/null || : >"$cmd"
	if [ "$secs" -gt 0 ] 2>/dev/null; then
		timeout -s KILL "$secs" /bin/sh "$cmd" </dev/null >"$out" 2>&1
	else
		/bin/sh "$cmd" </dev/null >"$out" 2>&1
	fi
	rc=$?
	[ ! -s "$out" ] || [ "$(tail -c 1 "$out" | wc -l)" -eq 1 ] ||
		echo >>"$out"
	printf '%s begin\n' "$marker"
	cat "$out"
	printf '%s end %d\n' "$marker" "$rc"
done
