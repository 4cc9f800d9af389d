#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's modules with W=1 against each kernel it supports and
# one it does not, each from a copy of the Kbuild tree in
# build/check-builds/NAME (scripts/kbuild-tree.sh), and fail on any
# warning or error:
#
#   7.2-x86_64    the rig kernel (scripts/kernel.sh 7.2)
#   6.12-x86_64   the older rig kernel (scripts/kernel.sh 6.12)
#   7.2-arm64     the two-machine rig's arm64 endpoint kernel, cross-built
#   6.1-host      Debian 12's stock kernel (scripts/hostkernel.sh), the
#                 two-machine rig's host: the host half of the link and
#                 the host test driver build; the endpoint functions need
#                 pci_epc_mem_map() (Linux 6.13; 6.12.y has it too), which
#                 6.1 lacks, so Kbuild leaves them out, and this says so
#
#   scripts/check-builds.sh [NAME...]
#
# Kernels that are not built yet are built (scripts/kernel.sh caches
# them).  Prints a line per tree, "ok NAME: MODULES" or "FAIL NAME" with
# the build's output, and exits 1 if any failed.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || set -- 7.2-x86_64 6.12-x86_64 7.2-arm64 6.1-host

rc=0
for name in "$@"; do
	out=$top/build/check-builds/$name
	mk=()
	case $name in
	7.2-x86_64) kdir=$("$top/scripts/kernel.sh" 7.2) ;;
	6.12-x86_64) kdir=$("$top/scripts/kernel.sh" 6.12) ;;
	7.2-arm64)
		mk=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
		kdir=$("$top/scripts/kernel.sh" --arch arm64 7.2) ;;
	6.1-host)
		kdir=$(eval "$("$top/scripts/hostkernel.sh")" &&
		       echo "$HOST_KDIR") ;;
	*) echo "check-builds: unknown tree $name" >&2; exit 2 ;;
	esac || { echo "FAIL $name: no kernel tree"; rc=1; continue; }
	"$top/scripts/kbuild-tree.sh" "$out"
	# Every object built again: a warning must show on every run
	make -s -C "$kdir" M="$out" "${mk[@]}" clean >/dev/null 2>&1
	log=$(make -C "$kdir" M="$out" "${mk[@]}" W=1 modules 2>&1)
	st=$?
	# Anything the compiler or modpost says is a warning
	warn=$(grep -E 'warning:|error:|WARNING:' <<<"$log")
	if [ $st -ne 0 ] || [ -n "$warn" ]; then
		echo "FAIL $name (make exit status $st):"
		if [ -n "$warn" ]; then
			echo "$warn"
		else
			tail -n 20 <<<"$log"
		fi | head -n 40 | sed 's/^/  /'
		rc=1
		continue
	fi
	mods=$(cd "$out" && find . -name '*.ko' -printf '%f\n' | sort |
	       sed 's/\.ko$//' | tr '\n' ' ')
	echo "ok $name: ${mods% }"
	case " $mods " in
	*" pci-epf-virtio "*) ;;
	*) if ! grep -qx 'CONFIG_PCI_ENDPOINT=y' "$kdir/include/config/auto.conf"; then
		echo "  (no endpoint functions: its configuration has no" \
		     "PCI endpoint framework)"
	   else
		echo "  (no endpoint functions: it has no pci_epc_mem_map()," \
		     "which they need; the oldest kernel they build on is 6.12.y)"
	   fi ;;
	esac
done
exit $rc
