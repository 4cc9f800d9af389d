#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The two-machine rig: a PCIe host VM and a PCIe endpoint VM, two QEMU
# processes that see each other's RAM.
#
#   scripts/rig2.sh start -d DIR -K HOST_KERNEL -I HOST_INITRD
#                   -k EP_KERNEL -i EP_INITRD [-q EP_QEMU] [-A EP_ARCH]
#                   [-n WINDOWS] [-V VECTORS] [-m MEM] [-c HOST_CPUS]
#                   [-C EP_CPUS] [-P HOST_CPU,EP_CPU] [-a 'HOST ARGS']
#                   [-e 'EP ARGS'] [-s SERVER]
#   scripts/rig2.sh host_reset -d DIR [-Q SECONDS]
#   scripts/rig2.sh stop|ep_kill|ep_restart|ep_booted|status -d DIR
#
# "start" makes DIR (which must be new or empty), two RAM files in /dev/shm
# (MEM each: both VMs' RAM size, a power of two, default 512M) and
# starts, in the background: the ivshmem server (SERVER, default
# build/tools-$KVER/vep-ivshmem-server; 64 KiB, VECTORS vectors, default
# 4; -D: a client that goes raises vector 0 of the others; -L 0: the
# bitmap of connected clients at offset 0, the "live" word of
# drivers/pci/controller/pci-ivshmem-link.h), the host VM (ivshmem ID 0),
# then the endpoint VM (ID 1, then 2, ... on restarts).  It returns once
# both QEMUs run; their agents come later (tests/lib/rig2.sh
# waits for them).  If a part does not start, what did is stopped.
#
#   host VM       q35, HOST_CPUS vCPUs (default 1); RAM: the host RAM file;
#                 one ivshmem-plain on the endpoint RAM file (inbound BAR2);
#                 one ivshmem-doorbell; console ttyS0, agent ttyS1 (a second
#                 16550, so that the host's virtio_console numbering belongs
#                 to the endpoint's devices).  A reset, a guest reboot or
#                 a panic (panic=-1) boots it again on the same RAM file.
#   endpoint VM   EP_QEMU (default qemu-system-x86_64; EP_ARCH x86_64 or
#                 arm64, default from EP_QEMU's name), EP_CPUS vCPUs
#                 (default 1); RAM: the endpoint RAM file; WINDOWS (default
#                 4) ivshmem-plain on the host RAM file (outbound BAR2s);
#                 one ivshmem-doorbell; a virtio-serial-pci virtconsole as
#                 agent (/dev/hvc0); console ttyS0 (x86_64: q35) or ttyAMA0
#                 (arm64: virt, GICv3, guest RAM at 1 GiB, so file offset =
#                 guest address - 1 GiB).  -no-reboot: when it stops, it
#                 stays down until ep_restart.
#
# Both kernels get "vep.run=/agent.sh vep.agent=TTY" (the initrd must hold
# tests/lib/agent.sh as /agent.sh) and the console, panic and clock
# arguments of scripts/qemu.sh, then -a / -e.  Host RAM file offset = host
# physical address (q35, MEM at most 2 GiB).  Each BAR2 of the doorbells is
# the server's shared memory; BAR0+12 takes (peer ID << 16) | vector.
#
# The host VM's QEMU runs on HOST_CPU and the endpoint VM's on EP_CPU (-P,
# default 0,1; 0,0 on a one-CPU machine): no CPU is shared between the two
# machines.  Priorities: see raise_vcpus.  The server and the agent
# readers (a cat each) run where the caller does.
#
# In DIR: rig.env (the settings), server.{sock,log}, and for VM host and
# ep: VM.console (console), VM.agent.log (all the agent said),
# VM.agent.in/.out (the agent's FIFOs), VM.mon (QEMU monitor socket),
# VM.qemu.log, VM.pid.  "stop" ends what "start" started and removes the
# RAM files, sockets and FIFOs (logs stay in DIR).  "ep_kill" kills the
# endpoint's QEMU (SIGKILL: power lost); "ep_restart" kills it if it runs
# and starts a new one on the same RAM file and server socket (the host's
# inbound BAR keeps pointing at the same file).  "host_reset" resets the
# host VM as a platform reset does, PERST# included: it stops the host's
# vCPUs, asserts the host's reset line at the server (the endpoint sees
# the host go), waits until the endpoint's link page says its link is
# down (its functions stopped: no more writes into the host's RAM, where
# the firmware and the next kernel are about to load), then resets the
# VM, deasserts the line and lets it run.  An endpoint that does not
# take its link down within 30 s fails it (the host runs on all the
# same).  With -Q SECONDS, it also fails if anything writes into the
# host's RAM during SECONDS after that link down (a function that still
# writes).  "status" prints which parts run.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}
die() { echo "rig2.sh: $*" >&2; exit 1; }

# QEMU option values separate with commas; a comma in a path is doubled.
qesc() { printf '%s' "${1//,/,,}"; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pidof_part() { cat "$dir/$1.pid" 2>/dev/null || true; }

# stop_pid PID [SIG]: signal PID (TERM by default), wait up to 5 s for it
# to go, then KILL it
stop_pid() {
	local pid=$1 i
	alive "$pid" || return 0
	kill "-${2:-TERM}" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
}

# --- QEMU arguments -----------------------------------------------------

# common_args NAME RAMFILE CPUS: memory, CPUs and the doorbell of one VM
common_args() {
	# shellcheck disable=SC2054 # the commas are QEMU's
	args+=(-accel tcg -smp "$3" -m "$mem" -name "vep-$1,debug-threads=on"
	       -object "memory-backend-file,id=ram,size=$mem,mem-path=$(qesc "$2"),share=on"
	       -machine memory-backend=ram
	       -chardev "socket,id=db,path=$(qesc "$dir/server.sock")"
	       -device "ivshmem-doorbell,chardev=db,vectors=$vectors"
	       -display none -monitor none -parallel none -nic none
	       -chardev "file,id=con,path=$(qesc "$dir/$1.console")"
	       -chardev "pipe,id=agent,path=$(qesc "$dir/$1.agent")"
	       -mon "chardev=mon,mode=readline"
	       -chardev "socket,id=mon,path=$(qesc "$dir/$1.mon"),server=on,wait=off")
}

kargs_common="panic=-1 oops=panic loglevel=5 printk.time=1 vep.run=/agent.sh"

# The stock host kernel skips its crypto self-tests.  At boot one of its
# CPUs patches a jump label in alg_test() (__crypto_boot_test_finished)
# while a self-test thread runs there on the other; under TCG that vCPU
# once kept executing the old code (soft lockups at alg_test+0x4f from
# 26 s on, a 5-byte NOP at RIP; the host never booted: a CI run, 5
# December).  The tests check the link and the endpoint's devices, not
# the host's crypto.
kargs_host="cryptomgr.notests"

host_args() {
	args=(-M q35 -cpu max)
	common_args host "$host_ram" "$host_cpus"
	# shellcheck disable=SC2054
	args+=(-vga none
	       -object "memory-backend-file,id=inbound,size=$mem,mem-path=$(qesc "$ep_ram"),share=on"
	       -device ivshmem-plain,memdev=inbound
	       -serial chardev:con -serial chardev:agent
	       -kernel "$host_kernel" -initrd "$host_initrd"
	       -append "console=ttyS0 tsc=reliable $kargs_common $kargs_host vep.agent=/dev/ttyS1 $host_append")
}

# ep_args: the endpoint's arguments, per architecture
ep_args() {
	local i console
	case $ep_arch in
	x86_64)
		args=(-M q35 -cpu max -vga none)
		console="console=ttyS0 tsc=reliable"
		;;
	arm64)
		# booted once with an arm64 rig kernel and a busybox-only
		# initramfs (agent, devices); scripts/initramfs.sh cannot
		# make an arm64 one yet (it runs the image's busybox)
		# shellcheck disable=SC2054 # the commas are QEMU's
		args=(-M virt,gic-version=3 -cpu max)
		console="console=ttyAMA0"
		;;
	*) die "unknown endpoint architecture $ep_arch" ;;
	esac
	common_args ep "$ep_ram" "$ep_cpus"
	for ((i = 0; i < windows; i++)); do
		# shellcheck disable=SC2054
		args+=(-object "memory-backend-file,id=win$i,size=$mem,mem-path=$(qesc "$host_ram"),share=on"
		       -device "ivshmem-plain,memdev=win$i")
	done
	# shellcheck disable=SC2054
	args+=(-no-reboot -serial chardev:con
	       -device virtio-serial-pci,id=agentbus
	       -device virtconsole,chardev=agent,bus=agentbus.0
	       -kernel "$ep_kernel" -initrd "$ep_initrd"
	       -append "$console $kargs_common vep.agent=/dev/hvc0 $ep_append")
}

# --- parts ----------------------------------------------------------------

# start_vm NAME QEMU CPU: start one VM in the background, pinned to CPU
start_vm() {
	local name=$1 qemu=$2 cpu=$3 pid i
	local -a args
	"${name}_args"
	rm -f "$dir/$name.mon"
	# commands that the last QEMU never read must not reach the new agent
	dd if="$dir/$name.agent.in" iflag=nonblock of=/dev/null 2>/dev/null || true
	taskset -c "$cpu" "$qemu" "${args[@]}" </dev/null \
		>>"$dir/$name.qemu.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/$name.pid"
	# QEMU answers its monitor once its main loop runs: every device is
	# set up then, the doorbell connected to the server
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		[ -S "$dir/$name.mon" ] &&
			monitor "$name" 'info status' | grep -q 'VM status' &&
			{ raise_vcpus "$name" "$pid"; return 0; }
		sleep 0.1
	done
	sed 's/^/  /' "$dir/$name.qemu.log" >&2
	die "the $name VM did not start (QEMU log above)"
}

# raise_vcpus NAME PID [booted]: QEMU PID's threads get a high priority,
# its main loop (timers, devices, chardevs) above its vCPUs: a vCPU waits
# for the main loop to wake it or to let go of QEMU's global lock, and a
# main loop that vCPUs displace holds them all up.  The endpoint's
# functions poll from its last vCPU and must answer the host's legacy
# virtio set-up within microseconds (a real endpoint gives them a core of
# their own): once the endpoint has booted ("ep_booted"), that vCPU runs
# at the vCPUs' priority, the endpoint's other vCPUs at the normal one, so
# that they take its CPU mostly while it has nothing to do (about 3% of it
# when both want it).  Not nice 5 (about 1%): that cut the poll vCPU's
# longest losses of its CPU to one 4 ms tick (bench/host-gaps.sh), but the
# endpoint's tasks starved: its console moved 1 MiB in 35 and 72 s on
# arm64 instead of 20 and 18, and in that run the poll vCPU also stood
# still for 336 ms in one host set-up (3 December; cause not found).  Not
# while it boots: a vCPU with 3% of a CPU cannot
# get through one timer interrupt before the next is due, and the boot's
# stop_machine() (both vCPUs spinning until each has answered) then never
# ended (seen once in a CI run, 3 December: soft lockups from 2 s on).
# Threads that hold QEMU's global lock must not wait for a CPU the other
# machine keeps busy: all of the endpoint's threads stay on EP_CPU (its
# last vCPU once waited milliseconds for a main loop on HOST_CPU).
# The priorities need root (CAP_SYS_NICE); without it, a note.
raise_vcpus() {
	local t comm prio nice=1 last=
	[ "$1" != ep ] || [ "${3:-}" != booted ] || last="CPU $((ep_cpus - 1))/TCG"
	for t in /proc/"$2"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		case $comm in
		"$last") prio=-15 ;;
		CPU*/TCG) prio=-15; [ -z "$last" ] || prio=0 ;;
		*) prio=-20 ;;
		esac
		[ $nice -eq 0 ] ||
		renice -n $prio -p "${t##*/}" >/dev/null 2>&1 || {
			echo "rig2.sh: note: the $1 VM's threads keep their" \
			     "normal priority (not root)" >&2
			nice=0
		}
	done
	return 0
}

# monitor NAME CMD: one command on VM NAME's monitor, its answer on stdout
monitor() {
	printf '%s\n' "$2" | socat -t 1 - "UNIX-CONNECT:$dir/$1.mon" 2>/dev/null |
		tr -d '\r'
}

# a FIFO pair per agent; a reader holds both open (so that neither a QEMU
# nor a writer ever blocks in open() or sees an end of file) and keeps
# everything the agent says in VM.agent.log
start_agent_io() {
	local name=$1
	mkfifo "$dir/$name.agent.in" "$dir/$name.agent.out"
	: >"$dir/$name.agent.log"
	cat 0<>"$dir/$name.agent.out" 3<>"$dir/$name.agent.in" \
		>>"$dir/$name.agent.log" 2>/dev/null &
	echo $! >"$dir/$name.reader.pid"
}

cmd_start() {
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] ||
		die "$dir is not empty (a rig running, or a stale one)"
	for f in "$host_kernel" "$host_initrd" "$ep_kernel" "$ep_initrd" "$server"; do
		[ -f "$f" ] || die "$f not found"
	done
	command -v "$ep_qemu" >/dev/null || die "$ep_qemu not found"
	case $windows$vectors in *[!0-9]*) usage ;; esac
	# an ivshmem BAR2 is as big as its file: a power of two
	bytes=$(numfmt --from=iec "$mem" 2>/dev/null) || die "bad size $mem"
	[ $((bytes & (bytes - 1))) -eq 0 ] || die "$mem is not a power of two"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ ${#dir} -lt 90 ] || die "$dir: too long for a socket path"

	shm=/dev/shm
	[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
	host_ram=$(mktemp "$shm/vep-rig2-host.XXXXXX")
	ep_ram=$(mktemp "$shm/vep-rig2-ep.XXXXXX")
	truncate -s "$mem" "$host_ram" "$ep_ram"

	local v
	trap 'echo "rig2.sh: stopping what started" >&2; cmd_stop' EXIT
	for v in host_kernel host_initrd host_append host_cpus ep_kernel \
		 ep_initrd ep_append ep_cpus ep_qemu ep_arch windows vectors \
		 mem host_cpu ep_cpu host_ram ep_ram server; do
		printf '%s=%q\n' "$v" "${!v}"
	done >"$dir/rig.env"

	start_agent_io host
	start_agent_io ep
	"$server" -S "$dir/server.sock" -n "$vectors" -D -L 0 -R 0 -v \
		-p "$dir/server.pid" >"$dir/server.out" 2>>"$dir/server.log" ||
		die "the ivshmem server did not start: $(cat "$dir/server.log")"
	grep -qx ready "$dir/server.out" || die "no word from the ivshmem server"
	start_vm host qemu-system-x86_64 "$host_cpu"
	start_vm ep "$ep_qemu" "$ep_cpu"
	trap - EXIT
}

cmd_stop() {
	local p
	stop_pid "$(pidof_part ep)"
	stop_pid "$(pidof_part host)"
	for p in server host.reader ep.reader; do
		stop_pid "$(pidof_part "$p")"
	done
	rm -f "$host_ram" "$ep_ram" "$dir"/*.agent.in "$dir"/*.agent.out \
	      "$dir"/*.mon "$dir/server.sock" "$dir"/*.pid
}

cmd_ep_kill() {
	stop_pid "$(pidof_part ep)" KILL
}

cmd_ep_restart() {
	cmd_ep_kill
	echo "--- ep_restart $(date '+%F %T')" >>"$dir/ep.console"
	start_vm ep "$ep_qemu" "$ep_cpu"
}

# The endpoint machine has booted: its last vCPU, where its functions
# poll, gets the priority over its others (see raise_vcpus)
cmd_ep_booted() {
	local pid
	pid=$(cat "$dir/ep.pid" 2>/dev/null)
	alive "$pid" || die "the endpoint VM is not running"
	raise_vcpus ep "$pid" booted
}

# ep_link_down SECONDS: wait until the link page (the server's shared
# memory) says that the endpoint's link is down, or that no endpoint is
# connected; false after SECONDS.  Offsets: drivers/pci/controller/
# pci-ivshmem-link.h (live 0, ep_peer 24, ep_link 32).
ep_link_down() {
	python3 - "$(pidof_part server)" "$1" <<'EOF'
import os, struct, sys, time
fds = '/proc/%s/fd' % sys.argv[1]
page = next(os.path.join(fds, n) for n in os.listdir(fds)
	    if os.readlink(os.path.join(fds, n)).startswith('/memfd:vep-ivshmem'))
end = time.monotonic() + float(sys.argv[2])
while True:
	with open(page, 'rb') as f:
		b = f.read(36)
	live, = struct.unpack_from('<I', b, 0)
	peer, = struct.unpack_from('<I', b, 24)
	link, = struct.unpack_from('<I', b, 32)
	if not link or not peer or not live >> ((peer - 1) % 32) & 1:
		sys.exit(0)
	if time.monotonic() > end:
		sys.exit(1)
	time.sleep(0.02)
EOF
}

# host_ram_quiet SECONDS: nothing writes into the host's RAM file for
# SECONDS (the host VM stopped); otherwise how many bytes changed
host_ram_quiet() {
	local copy n
	copy=$(mktemp "${host_ram%/*}/vep-rig2-copy.XXXXXX") || return 1
	cp "$host_ram" "$copy" || { rm -f "$copy"; return 1; }
	sleep "$1"
	cmp -s "$host_ram" "$copy" && { rm -f "$copy"; return 0; }
	n=$(cmp -l "$host_ram" "$copy" | wc -l)
	rm -f "$copy"
	echo "rig2.sh: $n bytes of the host's RAM changed in $1 s after" \
	     "the endpoint's link went down" >&2
	return 1
}

cmd_host_reset() {
	local srv ok=0
	alive "$(pidof_part host)" || die "the host VM is not running"
	srv=$(pidof_part server)
	alive "$srv" || die "the ivshmem server is not running"
	echo "--- host_reset $(date '+%F %T')" >>"$dir/host.console"
	monitor host stop >/dev/null
	kill -USR1 "$srv"
	if ! ep_link_down 30; then
		echo "rig2.sh: the endpoint's link still up 30 s after" \
		     "the host's PERST#" >&2
		ok=1
	elif [ -n "$quiet" ]; then
		host_ram_quiet "$quiet" || ok=1
	fi
	monitor host system_reset >/dev/null
	kill -USR2 "$srv"
	monitor host cont >/dev/null
	return $ok
}

cmd_status() {
	local p
	for p in server host ep; do
		if alive "$(pidof_part "$p")"; then
			echo "$p running (pid $(pidof_part "$p"))"
		else
			echo "$p stopped"
		fi
	done
}

# Descriptors the caller left open (a lock, a TAP stream) are no business
# of the processes that outlive this script: close all but 0-2 and the
# close-on-exec ones (bash's own)
close_inherited() {
	local f fd flags
	for f in "/proc/$$/fdinfo/"*; do
		fd=${f##*/}
		[ "$fd" -gt 2 ] 2>/dev/null || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "$f" 2>/dev/null) || continue
		if [ -n "$flags" ] && [ $((8#$flags & 8#2000000)) -eq 0 ]; then
			eval "exec $fd>&-"
		fi
	done
}

# --- options ------------------------------------------------------------

[ $# -ge 1 ] || usage
cmd=$1
shift
dir='' host_kernel='' host_initrd='' ep_kernel='' ep_initrd=''
ep_qemu=qemu-system-x86_64 ep_arch='' windows=4 vectors=4 mem=512M
host_cpus=1 ep_cpus=1 host_append='' ep_append='' quiet=''
server=$top/build/tools-${KVER:-7.2}/vep-ivshmem-server
host_cpu=0 ep_cpu=1
# the online CPUs: nproc counts only those this process may use, and a
# caller pinned to one CPU would put both machines there
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || ep_cpu=0
while getopts "d:K:I:k:i:q:A:n:V:m:c:C:P:a:e:s:Q:h" opt; do
	case $opt in
	d) dir=$OPTARG ;;
	K) host_kernel=$OPTARG ;;
	I) host_initrd=$OPTARG ;;
	k) ep_kernel=$OPTARG ;;
	i) ep_initrd=$OPTARG ;;
	q) ep_qemu=$OPTARG ;;
	A) ep_arch=$OPTARG ;;
	n) windows=$OPTARG ;;
	V) vectors=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) host_cpus=$OPTARG ;;
	C) ep_cpus=$OPTARG ;;
	P) host_cpu=${OPTARG%,*} ep_cpu=${OPTARG#*,} ;;
	a) host_append="$host_append $OPTARG" ;;
	e) ep_append="$ep_append $OPTARG" ;;
	s) server=$OPTARG ;;
	Q) quiet=$OPTARG ;;
	*) usage ;;
	esac
done
[ $OPTIND -gt $# ] || usage
[ -n "$dir" ] || usage
if [ -z "$ep_arch" ]; then
	case ${ep_qemu##*/} in
	*aarch64*) ep_arch=arm64 ;;
	*) ep_arch=x86_64 ;;
	esac
fi

close_inherited
case $cmd in
start)
	if [ -z "$host_kernel" ] || [ -z "$host_initrd" ] ||
	   [ -z "$ep_kernel" ] || [ -z "$ep_initrd" ]; then
		usage
	fi
	cmd_start
	;;
stop|ep_kill|ep_restart|ep_booted|host_reset|status)
	[ -f "$dir/rig.env" ] || die "no rig in $dir"
	dir=$(cd "$dir" && pwd)
	# shellcheck source=/dev/null
	. "$dir/rig.env"
	"cmd_$cmd"
	;;
*) usage ;;
esac
