#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test tools for the guest, statically: the pci_endpoint kselftest
# of the kernel tree where it has one (6.14 and later), else
# tools/pci/pcitest, and the project's own tools in tests/tools/.
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
if [ -f "$st/pci_endpoint_test.c" ]; then
	[ -x "$out/pci_endpoint_test" ] ||
	gcc -static -O2 -Wall -isystem "$kdir/usr/include" \
		-I "$src/tools/testing/selftests" \
		-o "$out/pci_endpoint_test" "$st/pci_endpoint_test.c" \
		-lrt -lpthread -lm
	echo "$out/pci_endpoint_test:/tests/bin/pci_endpoint_test"
else
	[ -x "$out/pcitest" ] ||
	gcc -static -O2 -Wall -isystem "$kdir/usr/include" \
		-o "$out/pcitest" "$src/tools/pci/pcitest.c"
	echo "$out/pcitest:/tests/bin/pcitest"
fi

top=$(cd "$(dirname "$0")/.." && pwd)
for t in "$top"/tests/tools/*.c; do
	n=$(basename "$t" .c)
	if [ ! -x "$out/$n" ] || [ "$t" -nt "$out/$n" ]; then
		gcc -static -O2 -Wall -o "$out/$n" "$t"
	fi
	echo "$out/$n:/tests/bin/$n"
done
