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
# own, so the chroot's mounts are seen nowhere else and go with it
# (scripts/lib/chroot.sh).  Prints the time of each step; the exit status
# is that of make (or .ci/run).

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/chroot.sh
. "$top/scripts/lib/chroot.sh"
chroot_unshare "$0" "$@"

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}

as_user=0 ci=0 dir='' mirror=http://deb.debian.org/debian
while getopts "ukcd:m:h" opt; do
	case $opt in
	u) as_user=1 ;;
	k) chroot_keep=1 ;;
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

start=$SECONDS
step() { echo "fresh-check: [$((SECONDS - start)) s] $*" >&2; }

chroot_new "$dir"
chroot_debootstrap "$mirror" || exit 1

extra=(make git)
[ $as_user -eq 0 ] || extra+=(sudo)
step "apt-get install ${extra[*]} (nothing else)"
in_root apt-get -q update >"$chroot_dir/apt.log" 2>&1 ||
	{ tail -n 20 "$chroot_dir/apt.log" >&2; exit 1; }
chroot_apt "$chroot_dir/apt.log" "${extra[@]}" || exit 1

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
