#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's modules for another architecture's kernel build (the
# arm64 endpoint of the two-machine rig: scripts/kernel.sh --arch arm64).
#
#   scripts/crossmodules.sh KDIR ARCH OUTDIR
#
# The modules build from a copy of the Kbuild tree in OUTDIR
# (scripts/kbuild-tree.sh), so that the repository's own objects, built for
# the x86_64 kernel, are left alone.  Prints the .ko paths.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 3 ] || { sed -n '/^#   scripts/p' "$0" >&2; exit 2; }
kdir=$1 arch=$2 out=$3

case $arch in
arm64) cross=aarch64-linux-gnu- ;;
*) echo "crossmodules.sh: unknown architecture $arch" >&2; exit 2 ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
"$top/scripts/kbuild-tree.sh" "$out"
make -s -C "$kdir" M="$out" ARCH="$arch" CROSS_COMPILE="$cross" W=1 modules \
	>&2
find "$out" -name '*.ko' | sort
