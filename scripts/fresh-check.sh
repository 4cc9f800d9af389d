#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the README's commands the way a newcomer would, on a fresh machine: a
# new "debootstrap --variant=minbase bookworm" chroot with only make and
# git added, a clean clone of this repository's HEAD (committed work only),
# then "make test" in it (the demo is driven by the test group 02-demo).
# This machine's caches, packages and apt configuration play no part.
#
#   scripts/fresh-check.sh [-u] [-k] [-c] [-d DIR] [-m MIRROR] [MAKE ARGS...]
#
# MAKE ARGS default to "test KVER=7.2".  -c runs CI's command instead,
# "bash .ci/run" (both kernels, every kernel build included).  -u runs
# them as a normal user (sudo installed and allowed, as on a desktop), -k
# keeps the chroot, -d puts it in DIR, which must not exist yet (default:
# a new directory under /var/tmp; it needs about 6 GiB, 10 GiB with -c),
# -m names the Debian mirror (default deb.debian.org).  Needs root, and
# debootstrap (installed if missing).  It runs in a mount namespace of its
# own, so the chroot's mounts are seen nowhere else and go with it.  Prints
# the time of each step; the exit status is that of make (or .ci/run).

set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "fresh-check.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
# Again, with the same arguments, in a private mount namespace
if [ -z "${VEP_FRESH_NS:-}" ]; then
	VEP_FRESH_NS=1 exec unshare --mount --propagation private -- \
		"$0" "$@"
fi

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}

as_user=0 keep=0 ci=0 dir='' mirror=http://deb.debian.org/debian
while getopts "ukcd:m:h" opt; do
	case $opt in
	u) as_user=1 ;;
	k) keep=1 ;;
	c) ci=1 ;;
	d) dir=$OPTARG ;;
	m) mirror=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- test KVER=7.2
what="make $*"
[ $ci -eq 0 ] || what="bash .ci/run"

top=$(cd "$(dirname "$0")/.." && pwd)
start=$SECONDS
step() { echo "fresh-check: [$((SECONDS - start)) s] $*" >&2; }

if ! command -v debootstrap >/dev/null; then
	step "installing debootstrap on this machine"
	DEBIAN_FRONTEND=noninteractive apt-get -y -q install debootstrap >/dev/null
fi

if [ -n "$dir" ]; then
	# it is removed at the end: never a directory that holds anything else
	[ ! -e "$dir" ] || { echo "fresh-check.sh: $dir exists" >&2; exit 2; }
	mkdir -p "$dir"
else
	dir=$(mktemp -d /var/tmp/vep-fresh.XXXXXX)
fi
root=$dir/root
mounts=()
cleanup() {
	local i
	# the tests may have left processes behind in the chroot
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] &&
			{ kill -9 "${p#/proc/}" 2>/dev/null || true; }
	done
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${mounts[i]}" 2>/dev/null || true
	done
	if [ $keep -eq 1 ]; then
		step "kept the chroot in $root"
	else
		rm -rf --one-file-system "$dir"
	fi
}
trap cleanup EXIT

step "debootstrap --variant=minbase bookworm into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
	{ tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }

mnt() {
	mkdir -p "$root$2"
	mount "${@:3}" "$1" "$root$2"
	mounts+=("$root$2")
}
mnt proc /proc -t proc
mnt sysfs /sys -t sysfs
mnt /dev /dev --bind
mnt devpts /dev/pts -t devpts -o newinstance,ptmxmode=0666,gid=5,mode=620
mnt tmpfs /dev/shm -t tmpfs -o mode=1777
mnt tmpfs /tmp -t tmpfs -o mode=1777
cp /etc/resolv.conf "$root/etc/resolv.conf"

in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		TERM="${TERM:-dumb}" LANG=C.UTF-8 "$@"
}

extra=(make git)
[ $as_user -eq 0 ] || extra+=(sudo)
step "apt-get install ${extra[*]} (nothing else)"
in_root apt-get -q update >"$dir/apt.log" 2>&1 &&
in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
	--no-install-recommends install "${extra[@]}" >>"$dir/apt.log" 2>&1 ||
	{ tail -n 20 "$dir/apt.log" >&2; exit 1; }

home=/root user=root
if [ $as_user -eq 1 ]; then
	user=newcomer home=/home/newcomer
	in_root useradd -m -s /bin/bash "$user"
	echo "$user ALL=(ALL) NOPASSWD: ALL" >"$root/etc/sudoers.d/$user"
	chmod 440 "$root/etc/sudoers.d/$user"
fi
step "clean clone of $(git -C "$top" rev-parse --short HEAD) into $home/vep"
git clone -q "file://$top" "$root$home/vep"
[ $as_user -eq 0 ] || in_root chown -R "$user:$user" "$home/vep"

step "as $user: $what"
rc=0
if [ $ci -eq 1 ]; then
	set -- bash .ci/run
else
	set -- make "$@"
fi
in_root setpriv --reuid="$user" --regid="$user" --init-groups \
	env HOME="$home" USER="$user" LOGNAME="$user" \
	bash -c 'cd "$HOME/vep" && exec "$@"' run "$@" || rc=$?
step "$what exited with status $rc"
exit $rc
