#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's modules for the two-machine rig's host: the stock
# Debian kernel of scripts/hostkernel.sh, against its headers.
#
#   scripts/hostmodules.sh OUTDIR
#
# The host half of the link (pci-ivshmem-host) and the emulated-function
# library it uses (pci-epc-emul) are built from a copy of
# drivers/pci/controller/ in OUTDIR, the host test driver (vep-hostile)
# from a copy of tests/host/ in OUTDIR/host, so that the repository's own
# objects, built for the endpoint's kernel, are left alone.  Prints the .ko
# paths.
# HOST_KDIR (from "eval $(scripts/hostkernel.sh)") selects the headers;
# without it, hostkernel.sh is asked.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/hostmodules.sh OUTDIR}

if [ -z "${HOST_KDIR:-}" ]; then
	eval "$("$top/scripts/hostkernel.sh")"
fi

mkdir -p "$out/host"
src=$top/drivers/pci/controller
for f in "$src"/Makefile "$src"/*.c "$src"/*.h \
	 "$top"/tests/host/Makefile "$top"/tests/host/*.c; do
	case $f in *.mod.c) continue ;; esac	# generated, for another kernel
	d=$out
	[ "${f#"$top"/tests/host/}" = "$f" ] || d=$out/host
	cmp -s "$f" "$d/${f##*/}" || cp "$f" "$d/"
done
for d in "$out" "$out/host"; do
	make -s -C "$HOST_KDIR" M="$d" W=1 modules 2>&1 |
		{ grep -v 'Skipping BTF generation' || true; } >&2
done
for m in pci-epc-emul pci-ivshmem-host host/vep-hostile; do
	[ -f "$out/$m.ko" ] || { echo "hostmodules.sh: $m.ko not built" >&2; exit 1; }
	echo "$out/$m.ko"
done
