#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's modules for the two-machine rig's host: the stock
# Debian kernel of scripts/hostkernel.sh, against its headers.
#
#   scripts/hostmodules.sh OUTDIR
#
# The project's modules build from a copy of the Kbuild tree in
# OUTDIR/tree (scripts/kbuild-tree.sh), so that the repository's own
# objects, built for the endpoint's kernel, are left alone; Kbuild builds
# there what this kernel can have: the host half of the link
# (pci-ivshmem-host), the emulated-function library it uses (pci-epc-emul)
# and the host test driver (vep-hostile).  The host driver of
# pci-epf-test (pci_endpoint_test, which Debian does not build) and its
# user tool pcitest come from the kernel's own source (HOST_UPSTREAM),
# built in OUTDIR/upstream.  Prints the .ko paths, then SRC:DST for
# scripts/initramfs.sh -f: pcitest as /tests/host-bin/pcitest.
# HOST_KDIR and HOST_UPSTREAM (from "eval $(scripts/hostkernel.sh)") select
# the headers and sources; without them, hostkernel.sh is asked.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/hostmodules.sh OUTDIR}

if [ -z "${HOST_KDIR:-}" ] || [ -z "${HOST_UPSTREAM:-}" ]; then
	eval "$("$top/scripts/hostkernel.sh")"
fi

mkdir -p "$out/tree" "$out/upstream"
# pci_endpoint_test builds alone, as an out-of-tree module
[ -f "$out/upstream/Makefile" ] ||
	echo 'obj-m := pci_endpoint_test.o' >"$out/upstream/Makefile"
f=$HOST_UPSTREAM/drivers/misc/pci_endpoint_test.c
cmp -s "$f" "$out/upstream/${f##*/}" || cp "$f" "$out/upstream/"
"$top/scripts/kbuild-tree.sh" "$out/tree"
# W=1 for the project's code only: upstream's is as Debian builds it
for d in "$out/tree" "$out/upstream"; do
	w=W=1
	[ "$d" != "$out/upstream" ] || w=
	make -s -C "$HOST_KDIR" M="$d" $w modules 2>&1 |
		{ grep -v 'Skipping BTF generation' || true; } >&2
done
for m in tree/drivers/pci/controller/pci-epc-emul \
	 tree/drivers/pci/controller/pci-ivshmem-host \
	 tree/tests/host/vep-hostile upstream/pci_endpoint_test; do
	[ -f "$out/$m.ko" ] || { echo "hostmodules.sh: $m.ko not built" >&2; exit 1; }
	echo "$out/$m.ko"
done
pt=$out/upstream/pcitest
up=$HOST_UPSTREAM
if [ ! -x "$pt" ] || [ "$up/tools/pci/pcitest.c" -nt "$pt" ]; then
	gcc -static -O2 -Wall -isystem "$up/include/uapi" -o "$pt" \
		"$up/tools/pci/pcitest.c"
fi
echo "$pt:/tests/host-bin/pcitest"
