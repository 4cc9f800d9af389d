#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the rig: one q35 guest that is both PCIe host and PCIe endpoint.
#
#   scripts/qemu.sh -k BZIMAGE -i INITRD [-r /GUEST/SCRIPT] [-t SECONDS]
#                   [-l LOGFILE] [-v] [-a 'KERNEL ARGS'] [-n NALIAS]
#                   [-m MEM] [-c CPUS] [-I] [-- QEMU ARGS...]
#
# Guest RAM (-m, default 512M) lives in a shared temporary file (in /dev/shm,
# or $TMPDIR if /dev/shm is not writable; removed at exit), and NALIAS
# (default 9) ivshmem-plain devices map that same file, so BAR2 of each
# aliases all of guest RAM.  With -r the guest runs that script (the
# initramfs /init reads vep.run=) and powers off; the console goes to
# LOGFILE (default: a temporary file whose path is printed on stderr at the
# end), and to stdout too with -v.  The exit status is then the script's
# own, from the "VEP-EXIT <rc>" line, unless the run went wrong, in which
# case a one-line reason starting with "qemu.sh: " and the last 80 console
# lines go to stderr and the status is: 124 the guest timed out (-t,
# default 600, 0 = none; QEMU is killed), 125 the kernel logged a panic,
# oops, BUG or WARNING, 126 the guest stopped without a VEP-EXIT line.
# -I is interactive: console and QEMU monitor on stdio (Ctrl-A X quits), no
# timeout, no log.  Arguments after -- go to QEMU as they are.

set -euo pipefail

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}

kernel='' initrd='' script='' timeout=600 log='' verbose=0 append='' nalias=9
mem=512M cpus=2 interactive=0
while getopts "k:i:r:t:l:va:n:m:c:Ih" opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	r) script=$OPTARG ;;
	t) timeout=$OPTARG ;;
	l) log=$OPTARG ;;
	v) verbose=1 ;;
	a) append="$append $OPTARG" ;;
	n) nalias=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	I) interactive=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ -n "$kernel" ] && [ -n "$initrd" ] || usage
[ $interactive -eq 1 ] || [ -n "$script" ] ||
	{ echo "qemu.sh: need -r SCRIPT or -I" >&2; usage; }
for f in "$kernel" "$initrd"; do
	[ -f "$f" ] || { echo "qemu.sh: $f not found" >&2; exit 2; }
done
case $timeout in ''|*[!0-9]*) echo "qemu.sh: bad timeout $timeout" >&2; exit 2 ;; esac

qemu=${QEMU:-qemu-system-x86_64}
shmdir=/dev/shm
[ -d "$shmdir" ] && [ -w "$shmdir" ] || shmdir=${TMPDIR:-/tmp}
ram=$(mktemp "$shmdir/vep-ram.XXXXXX")
qpid='' tpid=''
cleanup() {
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	rm -f "$ram"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# QEMU option values separate with commas; a comma in a path is doubled.
qesc() { printf '%s' "${1//,/,,}"; }

# tsc=reliable: under TCG the clocksource watchdog can find the TSC "unstable"
# when a vCPU stalls, and switching clocksource stops the machine: with the
# host's console driver spinning (interrupts off) for the endpoint on the
# other CPU, that never completes.
cmdline="console=ttyS0 panic=-1 oops=panic loglevel=5 printk.time=1 tsc=reliable"
[ -n "$script" ] && cmdline="$cmdline vep.run=$script"
cmdline="$cmdline${append}"

# shellcheck disable=SC2054 # the commas are QEMU's
args=(-M q35 -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem"
      -name vep,debug-threads=on -no-reboot
      -object "memory-backend-file,id=ram,size=$mem,mem-path=$(qesc "$ram"),share=on"
      -machine memory-backend=ram)
for ((i = 0; i < nalias; i++)); do
	args+=(-object "memory-backend-file,id=alias$i,size=$mem,mem-path=$(qesc "$ram"),share=on"
	       -device "ivshmem-plain,memdev=alias$i")
done
args+=(-kernel "$kernel" -initrd "$initrd" -append "$cmdline")

# The endpoint's vCPU (the last one: the endpoint's poll thread runs there)
# gets a host CPU of its own and a high priority; QEMU's other threads, this
# script and its children keep to the other host CPUs.  The host's legacy
# virtio-pci driver reads QUEUE_PFN back microseconds after writing it for
# the previous queue, and the endpoint must have consumed it by then; a
# vCPU that a host task displaces stops for a whole host time slice
# (milliseconds).  Real endpoints are separate machines.
ep_cpu='' ncpu=$(getconf _NPROCESSORS_ONLN)
if [ "$ncpu" -ge 2 ] && [ "$cpus" -ge 2 ]; then
	ep_cpu=$((ncpu - 1))
	taskset -p -c "0-$((ep_cpu - 1))" $$ >/dev/null
fi

# place_threads QPID: move the endpoint's vCPU thread of QEMU QPID to
# $ep_cpu, once it exists
place_threads() {
	local pid=$1 last i t
	[ -n "$ep_cpu" ] || return 0
	last="CPU $((cpus - 1))/TCG"
	for ((i = 0; i < 50; i++)); do
		for t in /proc/"$pid"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = "$last" ] || continue
			taskset -p -c "$ep_cpu" "${t##*/}" >/dev/null || {
				echo "note (qemu.sh): the endpoint's vCPU could" \
				     "not be moved to CPU $ep_cpu" >&2
				return 0
			}
			# A raised priority needs root (CAP_SYS_NICE); without
			# it the vCPU still has a CPU of its own.
			renice -n -15 -p "${t##*/}" >/dev/null 2>&1 ||
				echo "note (qemu.sh): not root, the endpoint's vCPU" \
				     "keeps its normal priority" >&2
			return 0
		done
		sleep 0.1
	done
	echo "qemu.sh: no thread \"$last\" to place" >&2
}

if [ $interactive -eq 1 ]; then
	# QEMU takes this process's place.  From the side: place its vCPU,
	# and remove the RAM file once its vCPUs exist (the memory backends,
	# made before them, keep it mapped).
	trap - EXIT
	(
		place_threads $$
		for _ in $(seq 100); do
			grep -qs TCG /proc/$$/task/*/comm && break
			sleep 0.1
		done
		rm -f "$ram"
	) &
	exec "$qemu" "${args[@]}" -nographic -serial mon:stdio "$@"
fi

keeplog=1
if [ -z "$log" ]; then
	log=$(mktemp "${TMPDIR:-/tmp}/vep-console.XXXXXX")
	keeplog=0
fi
mkdir -p "$(dirname "$log")"
: >"$log"

start=$(date +%s)
"$qemu" "${args[@]}" -display none -vga none -monitor none -parallel none \
	-chardev "file,id=con,path=$(qesc "$log")" -serial chardev:con \
	"$@" </dev/null >>"$log.qemu" 2>&1 &
qpid=$!
place_threads "$qpid"
if [ $verbose -eq 1 ]; then
	tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null &
	tpid=$!
fi

timedout=0
if [ "$timeout" -gt 0 ]; then
	deadline=$((start + timeout))
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$(date +%s)" -ge $deadline ]; then
			timedout=1
			kill "$qpid" 2>/dev/null || true
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				kill -0 "$qpid" 2>/dev/null || break
				sleep 0.5
			done
			kill -9 "$qpid" 2>/dev/null || true
			break
		fi
		sleep 0.5
	done
fi
qrc=0
wait "$qpid" || qrc=$?
qpid=
if [ -n "$tpid" ]; then
	wait "$tpid" 2>/dev/null || true
	tpid=
fi
elapsed=$(($(date +%s) - start))

# QEMU's own messages (if any) go after the console output.
if [ -s "$log.qemu" ]; then
	sed 's/^/qemu: /' "$log.qemu" >>"$log"
fi
rm -f "$log.qemu"

fail() {
	local rc=$1
	shift
	echo "qemu.sh: $* (console log: $log)" >&2
	echo "---- last 80 lines of the console ----" >&2
	tr -d '\r' <"$log" | tail -n 80 >&2
	echo "----" >&2
	exit "$rc"
}

# Kernel trouble: printk lines carry a [seconds.micros] timestamp, which
# need not start the line when the kernel cut into a program's output.
# A soft lockup reports as "BUG: soft lockup"; RCU stalls and hung tasks
# have words of their own.
kpat='\[ *[0-9]+\.[0-9]{6}\] .*(Kernel panic|BUG:|Oops|WARNING:|general protection|UBSAN:|kernel BUG|detected stalls? on CPU|self-detected stall|blocked for more than [0-9]+ seconds)'
if [ $timedout -eq 1 ]; then
	fail 124 "guest timed out after $timeout s"
fi
# Warnings listed in tests/known-warnings are expected (see that file).
known=$(dirname "$0")/../tests/known-warnings
ktrouble() {
	tr -d '\r' <"$log" | grep -E "$kpat" |
		grep -Evf <(grep -Ev '^(#|$)' "$known") || true
}
if [ -n "$(ktrouble)" ]; then
	fail 125 "guest kernel oops/panic/BUG/WARNING: $(ktrouble | head -n 1 |
		sed -E 's/^.*\[ *[0-9]+\.[0-9]{6}\] //')"
fi
exitline=$(tr -d '\r' <"$log" | grep -Eo 'VEP-EXIT [0-9]+' | tail -n 1 || true)
if [ -z "$exitline" ]; then
	fail 126 "guest stopped without a VEP-EXIT line (QEMU status $qrc, after ${elapsed} s)"
fi
[ $keeplog -eq 1 ] || echo "qemu.sh: console log: $log" >&2
exit "${exitline#VEP-EXIT }"
