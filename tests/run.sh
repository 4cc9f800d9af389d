#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the guest test groups in the rig and report TAP.
#
#   tests/run.sh [-k KVER] [-M DIR] [-t SECONDS] [-a 'KERNEL ARGS'] [-v]
#                [GROUP ...]
#
# A group is a guest script tests/guest/GROUP.sh, or a local one,
# tests/local/GROUP.sh, run here with bash rather than in the rig, or a
# two-machine one, tests/two/GROUP.sh, also run here, which boots the
# two-machine rig (tests/lib/two.sh) (GROUP may also be given as GROUP.sh
# or a path to it), or a benchmark across two machines, bench/two/GROUP.sh,
# run the same way for scripts/bench.sh; by default every local group,
# then every guest group, then every two-machine group (not with
# VEP_TWO=0; nor one whose script has a line "# vep-two-default: no": make
# test-two names those), each set sorted.  A local or two-machine group
# prints the same lines as a guest group, and its output is its log; a
# two-machine group's consoles and agent logs are kept in GROUP/ next to
# it.  For those, the run also builds the stock Debian host's kernel
# side (scripts/hostkernel.sh, hostmodules.sh, hostinitramfs.sh); the
# endpoint boots the guest groups' kernel and initramfs.
# One initramfs is built for the run, with tests/guest/ and tests/lib/ under
# /tests, the project modules in /lib/modules/vep/ and the extra files named
# in $VEP_EXTRA (whitespace-separated SRC:DST pairs).  The modules are the
# *.ko files under -M DIR, else the files listed in $VEP_MODULES, else every
# *.ko in the repository (outside .git and build/logs).  Each group boots the
# rig once (scripts/qemu.sh) and runs /tests/guest/GROUP.sh; its "ok ..." and
# "not ok ..." console lines are numbered across groups and printed as TAP 13
# ("ok 1 - GROUP: NAME"), "# ..." lines are passed through, and a run that
# did not end cleanly (timeout, kernel oops/panic/WARNING, no VEP-EXIT, a
# nonzero exit with no failed case, no case at all) adds a failed "GROUP:
# guest run (REASON)" case followed by the console tail.  The output ends
# with "1..N", "# K skipped" and "P passed, F failed" (skips count as
# neither); the exit status is 0 only if F is 0 and P is not.  A group
# with a failed case is followed by the last 40 kernel lines of its log.
# The kernel is $VEP_BZIMAGE if set, else the bzImage of
# "scripts/kernel.sh KVER" (-k, default $KVER or 7.2).  The timeout per
# group is -t, else $VEP_TIMEOUT, else 600 s; a group script may raise its
# own with a line "# vep-timeout: SECONDS".  -a (or $VEP_APPEND) adds kernel
# arguments to every group, a line "# vep-append: ARGS" in a group script to
# that group only; $VEP_QEMU_ARGS adds QEMU arguments (e.g. "-s" for a gdb
# stub); -v streams the console to stderr.  Console logs are kept in
# $VEP_LOGDIR (default build/logs/ in the repository) as GROUP.log.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '/^#   tests/,/^$/p' "$0" >&2
	exit 2
}

kver=${KVER:-7.2}
moddir=
timeout=${VEP_TIMEOUT:-600}
append=${VEP_APPEND:-}
verbose=0
while getopts "k:M:t:a:vh" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	M) moddir=$OPTARG ;;
	t) timeout=$OPTARG ;;
	a) append="$append $OPTARG" ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

log() { echo "run.sh: $*" >&2; }

# --- groups -------------------------------------------------------------
# gdir GROUP: the directory of GROUP's script, tests/local or tests/guest
gdir() {
	if [ -f "$top/tests/local/$1.sh" ]; then
		echo "$top/tests/local"
	elif [ -f "$top/tests/guest/$1.sh" ]; then
		echo "$top/tests/guest"
	elif [ -f "$top/tests/two/$1.sh" ]; then
		echo "$top/tests/two"
	elif [ -f "$top/bench/two/$1.sh" ]; then
		echo "$top/bench/two"
	fi
}

# is_two GROUP: GROUP runs on the two-machine rig (a test, or one of the
# benchmarks across two machines that scripts/bench.sh runs through here)
is_two() {
	case $(gdir "$1") in
	"$top/tests/two"|"$top/bench/two") return 0 ;;
	esac
	return 1
}

groups=()
if [ $# -eq 0 ]; then
	two_default=()
	[ "${VEP_TWO:-}" = 0 ] || two_default=("$top"/tests/two/*.sh)
	for f in "$top"/tests/local/*.sh "$top"/tests/guest/*.sh \
		 "${two_default[@]}"; do
		[ -e "$f" ] || continue
		# "make test-two" only (it names every group)
		! grep -qx '# vep-two-default: no' "$f" || continue
		g=${f##*/}
		groups+=("${g%.sh}")
	done
else
	for a in "$@"; do
		g=${a##*/}
		groups+=("${g%.sh}")
	done
fi
[ ${#groups[@]} -gt 0 ] || { log "no test groups"; exit 2; }
two=0 two_arches=
for g in "${groups[@]}"; do
	[ -n "$(gdir "$g")" ] || { log "no such group: $g"; exit 2; }
	[ "$(ls "$top"/tests/{local,guest,two}/"$g.sh" "$top/bench/two/$g.sh" \
		2>/dev/null | wc -l)" -eq 1 ] ||
		{ log "group $g is in more than one of tests/local, guest, two, bench/two"; exit 2; }
	! is_two "$g" || two=1
done

# --- kernel ---------------------------------------------------------------
if [ -n "${VEP_BZIMAGE:-}" ]; then
	bzimage=$VEP_BZIMAGE
else
	kdir=$("$top/scripts/kernel.sh" "$kver")
	bzimage=$kdir/arch/x86/boot/bzImage
fi
[ -f "$bzimage" ] || { log "no kernel image at $bzimage"; exit 2; }

# --- modules --------------------------------------------------------------
modules=()
if [ -n "$moddir" ]; then
	while IFS= read -r -d '' m; do modules+=("$m"); done \
		< <(find "$moddir" -name '*.ko' -type f -print0 | sort -z)
elif [ -n "${VEP_MODULES:-}" ]; then
	read -r -a modules <<<"$VEP_MODULES"
else
	while IFS= read -r -d '' m; do modules+=("$m"); done \
		< <(find "$top" \( -path "$top/.git" -o -path "$top/build/logs" \) \
			-prune -o -name '*.ko' -type f -print0 | sort -z)
fi

# --- log dir and initramfs ------------------------------------------------
logdir=${VEP_LOGDIR:-$top/build/logs}
mkdir -p "$logdir"
if [ -z "${VEP_LOGDIR:-}" ] && [ ! -e "$top/build/.gitignore" ]; then
	echo '*' >"$top/build/.gitignore"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

iargs=(-o "$tmp/initramfs.cpio.gz"
       -f "$top/tests/guest:/tests/guest" -f "$top/tests/lib:/tests/lib"
       -f "$top/tests/known-warnings:/tests/known-warnings"
       -f "$top/tests/lib/agent.sh:/agent.sh")
for m in "${modules[@]}"; do iargs+=(-m "$m"); done
extra=()
if [ -n "${VEP_EXTRA:-}" ]; then
	read -r -a extra <<<"$VEP_EXTRA"
	for e in "${extra[@]}"; do iargs+=(-f "$e"); done
fi
log "kernel $bzimage, ${#modules[@]} module(s), logs in $logdir"
"$top/scripts/initramfs.sh" "${iargs[@]}"

# --- the two-machine rig's host -------------------------------------------
if [ $two -eq 1 ]; then
	eval "$("$top/scripts/hostkernel.sh")"
	export HOST_KVER HOST_MODDIR HOST_KDIR HOST_UPSTREAM
	mapfile -t hostmods < <("$top/scripts/hostmodules.sh" \
				"$top/build/host-modules-$HOST_KVER")
	[ ${#hostmods[@]} -eq 5 ] ||
		{ log "the host's modules did not build (above)"; exit 1; }
	hargs=(-o "$tmp/host.cpio.gz" -f "$top/tests/lib/agent.sh:/agent.sh")
	for m in "${hostmods[@]}"; do
		case $m in
		*.ko) hargs+=(-m "$m") ;;
		*) hargs+=(-f "$m") ;;	# a host tool, SRC:DST
		esac
	done
	# the test tools: static x86_64 binaries, for the host as for the guest
	for e in "${extra[@]}"; do hargs+=(-f "$e"); done
	"$top/scripts/hostinitramfs.sh" "${hargs[@]}"
	export TWO_HOST_KERNEL=$HOST_VMLINUZ TWO_HOST_INITRD=$tmp/host.cpio.gz
	export TWO_EP_KERNEL=$bzimage TWO_EP_INITRD=$tmp/initramfs.cpio.gz
	export TWO_SERVER=$top/build/tools-$kver/vep-ivshmem-server
	[ -x "$TWO_SERVER" ] ||
		"$top/scripts/tools.sh" "$kdir" "$top/build/tools-$kver" >/dev/null
	log "two-machine host: Debian $HOST_VERSION ($HOST_KVER)"
	# The endpoint kernels the two-machine groups run against: x86_64,
	# and on 7.2 arm64 too, cross-built; VEP_TWO_ARCHES names them
	# instead
	two_arches=${VEP_TWO_ARCHES:-x86_64}
	[ -n "${VEP_TWO_ARCHES:-}" ] || [ "$kver" != 7.2 ] ||
		two_arches="x86_64 arm64"
	if [[ " $two_arches " == *" arm64 "* ]]; then
		akdir=$("$top/scripts/kernel.sh" --arch arm64 "$kver")
		mapfile -t amods < <("$top/scripts/crossmodules.sh" "$akdir" \
				     arm64 "$top/build/modules-arm64-$kver")
		[ ${#amods[@]} -gt 0 ] ||
			{ log "the arm64 modules did not build (above)"; exit 1; }
		aargs=(-A arm64 -o "$tmp/ep-arm64.cpio.gz"
		       -f "$top/tests/lib:/tests/lib"
		       -f "$top/tests/known-warnings:/tests/known-warnings"
		       -f "$top/tests/lib/agent.sh:/agent.sh")
		for m in "${amods[@]}"; do aargs+=(-m "$m"); done
		mapfile -t atools < <("$top/scripts/tools.sh" --arch arm64 \
				      "$top/build/tools-arm64")
		[ ${#atools[@]} -gt 0 ] ||
			{ log "the arm64 tools did not build (above)"; exit 1; }
		for t in "${atools[@]}"; do aargs+=(-f "$t"); done
		"$top/scripts/initramfs.sh" "${aargs[@]}"
		log "two-machine arm64 endpoint: $akdir"
	fi
fi

# two_ep ARCH: the endpoint of a two-machine group, for that architecture
two_ep() {
	case $1 in
	x86_64)
		TWO_EP_KERNEL=$bzimage TWO_EP_INITRD=$tmp/initramfs.cpio.gz
		TWO_EP_QEMU=qemu-system-x86_64 ;;
	arm64)
		TWO_EP_KERNEL=$akdir/arch/arm64/boot/Image
		TWO_EP_INITRD=$tmp/ep-arm64.cpio.gz
		TWO_EP_QEMU=qemu-system-aarch64 ;;
	esac
	export TWO_EP_KERNEL TWO_EP_INITRD TWO_EP_QEMU TWO_EP_ARCH=$1
}

# The runs: each guest or local group once, each two-machine group once
# per endpoint architecture (a line "# vep-two-arches: ARCH..." in the
# script keeps it to those), labelled GROUP.ARCH
runs=()
for g in "${groups[@]}"; do
	if ! is_two "$g"; then
		runs+=("$g")
		continue
	fi
	only=$(sed -n 's/^# vep-two-arches: *//p' "$(gdir "$g")/$g.sh")
	for a in $two_arches; do
		[ -z "$only" ] || [[ " $only " == *" $a "* ]] || continue
		runs+=("$g.$a")
	done
done

# --- run ------------------------------------------------------------------
echo "TAP version 13"
n=0 passed=0 failed=0 skipped=0

for run in "${runs[@]}"; do
	g=${run%.*}
	[ -n "$(gdir "$g")" ] && is_two "$g" || g=$run
	[ "$g" = "$run" ] || two_ep "${run##*.}"
	glog=$logdir/$run.log
	gerr=$tmp/$run.err
	gscript=$(gdir "$g")/$g.sh
	gtimeout=$(sed -n 's/^# vep-timeout: *\([0-9][0-9]*\).*/\1/p' \
		"$gscript" | head -n 1)
	gtimeout=${gtimeout:-$timeout}
	log "group $run (timeout $gtimeout s)"
	t0=$(date +%s)
	rc=0
	if [ "$(gdir "$g")" != "$top/tests/guest" ]; then
		# A local or two-machine group runs here, on the build
		# machine: its output is its log, and a timeout is reported
		# the way qemu.sh does.  In the foreground, so that Ctrl-C
		# reaches it (its own traps clean up what it started).
		: >"$gerr"
		export KVER=$kver TWO_LOGDIR=$logdir/$run
		if [ $verbose -eq 1 ]; then
			timeout --foreground -k 10 "$gtimeout" bash "$gscript" 2>&1 |
				tee "$glog" >&2 || rc=$?
		else
			timeout --foreground -k 10 "$gtimeout" bash "$gscript" \
				>"$glog" 2>&1 || rc=$?
		fi
		[ $rc -ne 124 ] ||
			echo "qemu.sh: group timed out after $gtimeout s" >"$gerr"
	else
		gappend=$(sed -n 's/^# vep-append: *//p' "$gscript" | head -n 1)
		gappend="$append $gappend"
		qargs=(-k "$bzimage" -i "$tmp/initramfs.cpio.gz"
		       -r "/tests/guest/$g.sh" -t "$gtimeout" -l "$glog")
		[ -z "${gappend// /}" ] || qargs+=(-a "$gappend")
		[ $verbose -eq 0 ] || qargs+=(-v)
		if [ -n "${VEP_QEMU_ARGS:-}" ]; then
			read -r -a qextra <<<"$VEP_QEMU_ARGS"
			qargs+=(-- "${qextra[@]}")
		fi
		if [ $verbose -eq 1 ]; then
			"$top/scripts/qemu.sh" "${qargs[@]}" 2>"$gerr" >&2 || rc=$?
		else
			"$top/scripts/qemu.sh" "${qargs[@]}" 2>"$gerr" >/dev/null ||
				rc=$?
		fi
	fi
	log "group $run done in $(($(date +%s) - t0)) s, status $rc"

	gfailed=0 gcases=0
	while IFS= read -r line; do
		case $line in
		"ok "*|"not ok "*)
			if [ "${line#not ok }" != "$line" ]; then
				res="not ok"
				rest=${line#not ok }
			else
				res=ok
				rest=${line#ok }
			fi
			# drop a number and the dash, if the guest gave them
			rest=$(sed -E 's/^[0-9]+ *//; s/^- *//' <<<"$rest")
			n=$((n + 1))
			gcases=$((gcases + 1))
			echo "$res $n - $run: $rest"
			if [ "$res" = "not ok" ]; then
				failed=$((failed + 1))
				gfailed=$((gfailed + 1))
			elif grep -Eiq '# *SKIP' <<<"$rest"; then
				skipped=$((skipped + 1))
			else
				passed=$((passed + 1))
			fi
			;;
		"#"*)
			echo "$line"
			;;
		esac
	done < <(tr -d '\r' <"$glog")

	reason=
	qline=$(grep -m1 '^qemu.sh: ' "$gerr" || true)
	if [ -n "$qline" ] && [ "${qline#qemu.sh: console log}" = "$qline" ]; then
		reason=${qline#qemu.sh: }
		reason=${reason% (console log: *}
	elif [ $gcases -eq 0 ]; then
		reason="no test cases reported, exit status $rc"
	elif [ $rc -ne 0 ] && [ $gfailed -eq 0 ]; then
		reason="exit status $rc with no failed case"
	fi
	# a failed case: the kernel's side of the story, for whoever has only
	# this output (the console log is kept, but CI drops it)
	if [ $gfailed -gt 0 ] && [ "$(gdir "$g")" = "$top/tests/guest" ]; then
		echo "# $run: $gfailed failed; the last 40 kernel lines of $glog:"
		{ tr -d '\r' <"$glog" | grep -E '^\[ *[0-9]+\.[0-9]+\]' || true; } |
			tail -n 40 | sed 's/^/#   /'
	fi
	if [ -n "$reason" ]; then
		n=$((n + 1))
		failed=$((failed + 1))
		if [ "$(gdir "$g")" != "$top/tests/guest" ]; then
			echo "not ok $n - $run: local run ($reason)"
		else
			echo "not ok $n - $run: guest run ($reason)"
		fi
		echo "# console log: $glog; its last 40 lines:"
		tr -d '\r' <"$glog" | tail -n 40 | sed 's/^/#   /'
		# anything else qemu.sh said (its own errors, not the tail)
		sed -n '/^qemu.sh: /d; /^----/,$d; s/^/# stderr: /p' "$gerr"
	fi
done

echo "1..$n"
echo "# $skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
