#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test tools for the guest, statically: the pci_endpoint kselftest
# of the kernel tree where it has one (6.14 and later), else
# tools/pci/pcitest, the tree's vsock_test and vsock_perf, and the
# project's own tools in tests/tools/.
#
#   scripts/tools.sh KDIR OUTDIR
#   scripts/tools.sh --arch arm64 OUTDIR
#
# With --arch arm64: the project's tools alone, cross-built with Debian's
# aarch64-linux-gnu-gcc (libc6-dev-arm64-cross), for the arm64 endpoint.
# Prints SRC:DST lines for scripts/initramfs.sh -f.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# own_tools CC OUT: tests/tools/*.c, built with CC into OUT
own_tools() {
	local t n
	for t in "$top"/tests/tools/*.c; do
		n=$(basename "$t" .c)
		if [ ! -x "$2/$n" ] || [ "$t" -nt "$2/$n" ]; then
			"$1" -static -O2 -Wall -o "$2/$n" "$t"
		fi
		echo "$2/$n:/tests/bin/$n"
	done
}

if [ "${1:-}" = --arch ]; then
	if [ "${2:-}" != arm64 ] || [ $# -ne 3 ]; then
		echo "usage: tools.sh --arch arm64 OUTDIR" >&2
		exit 2
	fi
	mkdir -p "$3"
	own_tools aarch64-linux-gnu-gcc "$3"
	exit 0
fi

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

# The kernel's own vsock tests: vsock_test (its cases) and vsock_perf
# (its throughput tool), from the same tree
vs=$src/tools/testing/vsock
if [ -f "$vs/vsock_test.c" ]; then
	vs_common=("$vs/timeout.c" "$vs/control.c" "$vs/util.c"
		   "$vs/msg_zerocopy_common.c")
	vs_flags=(-static -O2 -Wall -D_GNU_SOURCE -U_FORTIFY_SOURCE
		  -Wno-pointer-sign -fno-strict-aliasing -I "$vs"
		  -I "$src/tools/include" -isystem "$kdir/usr/include")
	[ -x "$out/vsock_test" ] ||
	gcc "${vs_flags[@]}" -o "$out/vsock_test" "$vs/vsock_test.c" \
		"$vs/vsock_test_zerocopy.c" "${vs_common[@]}" -lpthread
	[ -x "$out/vsock_perf" ] ||
	gcc "${vs_flags[@]}" -o "$out/vsock_perf" "$vs/vsock_perf.c" \
		"$vs/msg_zerocopy_common.c"
	echo "$out/vsock_test:/tests/bin/vsock_test"
	echo "$out/vsock_perf:/tests/bin/vsock_perf"
fi

own_tools gcc "$out"
