#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on the given C sources, and sparse on the modules
# against each rig kernel (7.2, 6.12) that is built (it never starts a
# kernel build).
#
#   scripts/lint.sh FILE...

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
src=$("$top/scripts/kernel.sh" --src "$kver")
rc=0

[ $# -gt 0 ] || { echo "lint: no sources given" >&2; exit 1; }

echo "checkpatch --strict: $*"
perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	-f "$@" || rc=1

# sparse on the modules against each supported kernel that is built.  The
# kernel refuses a sparse too old for it (7.2 wants __typeof_unqual__,
# which Debian 12's sparse 0.6.4 lacks) and then checks nothing: that is
# said, never taken for a clean run.
for k in 7.2 6.12; do
	if ! command -v sparse >/dev/null; then
		echo "sparse: skipped (not installed)"
		break
	fi
	if ! kdir=$("$top/scripts/kernel.sh" --built "$k" 2>/dev/null); then
		echo "sparse: skipped on $k (its rig kernel is not built)"
		continue
	fi
	# The kernel's own test first: a kernel that refuses the checker
	# would otherwise build every module without it
	cv=$("$top/scripts/kernel.sh" --src "$k")/scripts/checker-valid.sh
	if [ -x "$cv" ] && [ "$("$cv" sparse -m64 2>/dev/null)" != 1 ]; then
		echo "sparse: skipped on $k ($(sparse --version) is too old for it)"
		continue
	fi
	out=$(make -s -j"$(nproc)" -C "$kdir" M="$top" C=2 CHECK=sparse modules 2>&1) || rc=1
	if printf '%s\n' "$out" | grep -q 'is not available or not up to date'; then
		echo "sparse: skipped on $k ($(sparse --version) is too old for it)"
		continue
	fi
	echo "sparse: modules against $k ($kdir)"
	warn=$(printf '%s\n' "$out" | grep -E 'warning:|error:' || true)
	if [ -n "$warn" ]; then
		printf '%s\n' "$warn"
		rc=1
	fi
done

exit $rc
