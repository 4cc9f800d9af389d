#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the host-side test tools that come with the kernel tree, statically,
# for the guest: the pci_endpoint kselftest.
#
#   scripts/tools.sh KDIR OUTDIR

set -euo pipefail

kdir=$1
out=$2
src=$(readlink -f "$kdir/source")
st=$src/tools/testing/selftests/pci_endpoint

mkdir -p "$out"
if [ ! -f "$kdir/usr/include/linux/pcitest.h" ]; then
	make -s -C "$src" O="$kdir" ARCH=x86_64 headers
fi
if [ ! -x "$out/pci_endpoint_test" ] ||
   [ "$st/pci_endpoint_test.c" -nt "$out/pci_endpoint_test" ]; then
	gcc -static -O2 -Wall -isystem "$kdir/usr/include" \
		-I "$src/tools/testing/selftests" \
		-o "$out/pci_endpoint_test" "$st/pci_endpoint_test.c" \
		-lrt -lpthread -lm
fi
