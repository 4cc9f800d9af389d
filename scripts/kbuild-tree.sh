#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Copy the project's Kbuild tree (Kbuild, drivers/, include/, tests/host/,
# tests/ref/: sources, Makefiles) into OUTDIR, so that modules for another
# kernel build there and leave the repository's own objects alone.  Only
# what changed is copied again, so the build there stays incremental;
# generated *.mod.c files (for the repository's kernel) are left out.
#
#   scripts/kbuild-tree.sh OUTDIR

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: scripts/kbuild-tree.sh OUTDIR}

mkdir -p "$out"
while IFS= read -r f; do
	case $f in *.mod.c) continue ;; esac
	mkdir -p "$out/$(dirname "$f")"
	cmp -s "$top/$f" "$out/$f" || cp "$top/$f" "$out/$f"
done < <(cd "$top" && find Kbuild drivers include tests/host tests/ref \
		-type f \( -name '*.[ch]' -o -name Makefile -o -name Kbuild \))
