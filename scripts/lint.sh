#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on the given C sources, and sparse on the modules when
# a built rig kernel is at hand (it never starts a kernel build).
#
#   scripts/lint.sh FILE...

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
src=$("$top/scripts/kernel.sh" --src "$kver")
rc=0

[ $# -gt 0 ] || { echo "lint: no sources given" >&2; exit 1; }

# ALLOC_WITH_SIZEOF wants kzalloc_obj(), which 6.12 (still supported)
# does not have.
echo "checkpatch --strict: $*"
perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore ALLOC_WITH_SIZEOF -f "$@" || rc=1

kdir=$(ls -d "${VEP_CACHE:-$HOME/.cache/vep}/build/$kver"-*/ 2>/dev/null |
       while read -r d; do [ -f "$d/.built" ] && echo "$d"; done | tail -n 1)
if [ -n "$kdir" ] && command -v sparse >/dev/null; then
	echo "sparse: modules against $kdir"
	out=$(make -s -C "$kdir" M="$top" C=2 CHECK=sparse modules 2>&1) || rc=1
	warn=$(printf '%s\n' "$out" | grep -E 'warning:|error:' || true)
	if [ -n "$warn" ]; then
		printf '%s\n' "$warn"
		rc=1
	fi
else
	echo "sparse: skipped (no built rig kernel or no sparse)"
fi

exit $rc
