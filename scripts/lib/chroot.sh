# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# A fresh Debian 12 machine for the checks that want one
# (scripts/fresh-check.sh, scripts/deb-check.sh): a new
# "debootstrap --variant=minbase bookworm" chroot, in a mount namespace of
# the caller's own, so that its mounts are seen nowhere else and go with
# it.  Sourced, not run; the caller defines step() (a progress line) and
# sets chroot_keep=1 to keep the chroot.
#
#   chroot_unshare "$0" "$@"   as root: run the caller again, with the same
#                              arguments, in a private mount namespace
#                              (returns in that second run)
#   chroot_new DIR             DIR (must not exist) or, if empty, a new
#                              directory under /var/tmp; sets chroot_dir and
#                              root ($chroot_dir/root), and removes it at
#                              exit (trap) unless chroot_keep=1
#   chroot_debootstrap MIRROR  debootstrap into $root (its log in
#                              $chroot_dir/debootstrap.log, the end of it
#                              on stderr if it fails), then mount /proc,
#                              /sys, /dev, /dev/pts, /dev/shm, /tmp and
#                              copy resolv.conf
#   chroot_mount SRC DEST ARGS...
#                              mount SRC on $root/DEST with mount's ARGS,
#                              unmounted at exit
#   in_root CMD...             run CMD in the chroot, in a clean environment
#   chroot_apt LOG PACKAGES... apt-get install (no recommends) in the
#                              chroot, the output appended to LOG, its end
#                              on stderr if it fails

chroot_mounts=()
chroot_keep=${chroot_keep:-0}

chroot_unshare() {
	[ "$(id -u)" -eq 0 ] ||
		{ echo "$(basename "$1"): needs root (debootstrap, chroot)" >&2; exit 2; }
	if [ -z "${VEP_CHROOT_NS:-}" ]; then
		VEP_CHROOT_NS=1 exec unshare --mount --propagation private -- "$@"
	fi
}

chroot_cleanup() {
	local i p
	# what ran in the chroot may have left processes behind
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] &&
			{ kill -9 "${p#/proc/}" 2>/dev/null || true; }
	done
	for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${chroot_mounts[i]}" 2>/dev/null || true
	done
	if [ "$chroot_keep" -eq 1 ]; then
		step "kept the chroot in $root"
	else
		rm -rf --one-file-system "$chroot_dir"
	fi
}

chroot_new() {
	if ! command -v debootstrap >/dev/null; then
		step "installing debootstrap on this machine"
		DEBIAN_FRONTEND=noninteractive apt-get -y -q install \
			debootstrap >/dev/null
	fi
	if [ -n "$1" ]; then
		# removed at the end: never a directory that holds anything else
		[ ! -e "$1" ] || { echo "$(basename "$0"): $1 exists" >&2; exit 2; }
		mkdir -p "$1"
		chroot_dir=$(cd "$1" && pwd)
	else
		chroot_dir=$(mktemp -d /var/tmp/vep-fresh.XXXXXX)
	fi
	root=$chroot_dir/root
	trap chroot_cleanup EXIT
}

chroot_mount() {
	mkdir -p "$root$2"
	mount "${@:3}" "$1" "$root$2"
	chroot_mounts+=("$root$2")
}

chroot_debootstrap() {
	step "debootstrap --variant=minbase bookworm into $root"
	debootstrap --variant=minbase bookworm "$root" "$1" \
		>"$chroot_dir/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$chroot_dir/debootstrap.log" >&2; return 1; }
	chroot_mount proc /proc -t proc
	chroot_mount sysfs /sys -t sysfs
	chroot_mount /dev /dev --bind
	chroot_mount devpts /dev/pts -t devpts \
		-o newinstance,ptmxmode=0666,gid=5,mode=620
	chroot_mount tmpfs /dev/shm -t tmpfs -o mode=1777
	chroot_mount tmpfs /tmp -t tmpfs -o mode=1777
	cp /etc/resolv.conf "$root/etc/resolv.conf"
}

in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		TERM="${TERM:-dumb}" LANG=C.UTF-8 "$@"
}

chroot_apt() {
	local log=$1
	shift
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
		--no-install-recommends install "$@" >>"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; return 1; }
}
