#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the project needs on a Debian 12 (bookworm) machine.
#
#   scripts/deps.sh [-n]
#
# Checks each package with dpkg-query and installs only the missing ones with
# apt-get (non-interactive, no recommends); "apt-get update" runs only when
# something is missing.  Prints nothing when all packages are present, so it
# is cheap to call at the start of every build or CI run.  Installing needs
# root: a normal user's run goes through sudo, and says so in one line when
# there is none.  -n only lists the missing packages and exits 1 if there
# are any.

set -euo pipefail

pkgs=(
	# kernel and out-of-tree module build
	gcc make flex bison bc libelf-dev libssl-dev cpio xz-utils kmod
	perl python3 sparse
	# checkpatch's SPDX check in a kernel tree (make check-series)
	python3-ply python3-git
	# fetching the kernel source (scripts/kernel.sh)
	apt dpkg tar
	# modules for the stock host kernel (its headers' Makefile runs gcc-12)
	gcc-12
	# the rig: QEMU and what goes into the initramfs
	qemu-system-x86 busybox-static util-linux bsdutils login libpam-modules
	libpam-runtime iperf3 iproute2 ethtool
	# the arm64 endpoint kernel (scripts/kernel.sh --arch arm64) and its VM
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm
	# host-side tools used by the scripts and tests (gpg signs the
	# fetch test's archive, tmux is the demo test's terminal)
	coreutils findutils gzip grep sed mawk procps socat gpg gpg-agent tmux
)

dry=0
[ "${1:-}" = "-n" ] && dry=1

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ $dry -eq 1 ]; then
	echo "missing: ${missing[*]}"
	exit 1
fi

sudo=()
how=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "deps.sh: run as root, or install sudo, to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
	how=" through sudo"
fi

echo "deps.sh: installing$how: ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@" >>"$log" 2>&1
}
# The machine's own sources, as they are.  A failed update (a suite whose
# Release file expired, say) leaves the lists it had: try with those.
run apt-get -q update ||
	echo "deps.sh: WARNING: apt-get update failed; installing from the" \
	     "package lists the machine has" >&2
run apt-get -y -q -o Dpkg::Use-Pty=0 --no-install-recommends \
	install "${missing[@]}" || {
	cat "$log" >&2
	echo "deps.sh: failed to install$how: ${missing[*]}" >&2
	exit 1
}
