#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on the given C sources, and sparse on the modules
# against each rig kernel (7.2, 6.12) that is built (it never starts a
# kernel build; it may build sparse, see scripts/sparse.sh).  The checks
# run side by side, as many at once as there are CPUs: checkpatch a few
# files per process, sparse for each kernel in a copy of the Kbuild tree
# of its own (build/lint-KVER, kept so that only sparse runs next time).
#
#   scripts/lint.sh FILE...

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
src=$("$top/scripts/kernel.sh" --src "$kver")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0

[ $# -gt 0 ] || { echo "lint: no sources given" >&2; exit 1; }

# sparse_one KVER: sparse on the modules against KVER, with a sparse that
# kernel takes (scripts/sparse.sh: Debian 12's own where it will do, else
# one built from sid's source; 7.2 wants __typeof_unqual__, which Debian
# 12's sparse 0.6.4 lacks).  A kernel that still refuses it checks
# nothing: that fails the lint, never passes for a clean run.
sparse_one() {
	local k=$1 kdir sp out tree=$top/build/lint-$1

	if ! kdir=$("$top/scripts/kernel.sh" --built "$k" 2>/dev/null); then
		echo "sparse: skipped on $k (its rig kernel is not built)"
		return 0
	fi
	# Its path on standard output; what it did (a first run fetches and
	# builds sparse) on standard error, kept out of the path
	if ! sp=$("$top/scripts/sparse.sh" "$("$top/scripts/kernel.sh" --src "$k")" \
		  2>"$tmp/sparse-$k.log"); then
		echo "sparse: no sparse that $k takes: $(cat "$tmp/sparse-$k.log")"
		return 1
	fi
	cat "$tmp/sparse-$k.log"
	"$top/scripts/kbuild-tree.sh" "$tree"
	if ! out=$(make -s -C "$kdir" M="$tree" C=2 CHECK="$sp" modules 2>&1); then
		printf '%s\n' "$out"
		return 1
	fi
	if printf '%s\n' "$out" | grep -q 'is not available or not up to date'; then
		echo "sparse: $k refused $("$sp" --version)"
		return 1
	fi
	echo "sparse: modules against $k ($kdir, $("$sp" --version))"
	# Paths as in the repository
	printf '%s\n' "$out" | grep -E 'warning:|error:' | sed "s|$tree/||" &&
		return 1
	return 0
}

for k in 7.2 6.12; do
	sparse_one "$k" >"$tmp/sparse-$k" 2>&1 &
	eval "pid_${k//./_}=\$!"
done

# include/compat/ is glue for the out-of-tree build on older kernels that
# no patch of the series carries (scripts/series.sh): to give a callback
# written for today's prototype the older one, a macro there must expand
# to a declaration, a wrapper function and the renamed definition, which
# the macro checks below are made to refuse in upstream code
compat_ignore=MACRO_ARG_REUSE,MACRO_WITH_FLOW_CONTROL,COMPLEX_MACRO
echo "checkpatch --strict: $*"
printf '%s\n' "$@" | grep -v '^include/compat/' |
	xargs -n 4 -P "$(nproc)" perl "$src/scripts/checkpatch.pl" --strict \
		--no-tree --terse --show-types -f || rc=1
compat=$(printf '%s\n' "$@" | grep '^include/compat/' || true)
if [ -n "$compat" ]; then
	echo "checkpatch --strict --ignore $compat_ignore: $compat"
	# shellcheck disable=SC2086
	perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse \
		--show-types --ignore "$compat_ignore" -f $compat || rc=1
fi

for k in 7.2 6.12; do
	pid=pid_${k//./_}
	wait "${!pid}" || rc=1
	cat "$tmp/sparse-$k"
done

exit $rc
