#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the patch series scripts/series.sh wrote: apply it with "git am"
# to a clean tree of the kernel it was made against, build it in that
# tree after every patch that changes the build, run checkpatch --strict
# on every patch and kernel-doc -Wall on the sources it adds.
#
#   scripts/check-series.sh [SERIESDIR] [KVER]   (default build/series, 7.2)
#
# Prints TAP, one line per check, and ends with "N passed, N failed"
# (exit 1 if any failed):
#
#   sparse        a sparse the kernel takes as its checker (scripts/sparse.sh)
#   clean tree    the kernel's source as one commit (scripts/kernel-git.sh),
#                 in a clone with nothing changed or added
#   spdxcheck     the tree's scripts/spdxcheck.py works, so that checkpatch's
#                 SPDX check below is not silently skipped
#   git am        each patch (the cover letter aside) applies
#   build         after each patch that touches Kconfig, a Makefile or
#                 C: the rig kernel's .config (scripts/kernel.sh) with the
#                 series' new symbols set to m, then
#                 "make W=1 C=1 drivers/pci/endpoint/functions/" in the tree
#                 (O= a build directory in the cache), every object built
#                 again; any warning or error fails it, as does a sparse
#                 the kernel refuses, or none of the series' files checked
#   modules       the same directory as modules with modpost (M=, MO= in
#                 the build directory, the rig kernel's Module.symvers), W=1
#   out of tree   no patch carries what only the out-of-tree build needs
#   upstream text no added line speaks of the project's own build (DKMS,
#                 M= builds), its test rig or its tests and scripts, and
#                 no project-only marker of the documentation is left
#                 (scripts/series.sh drops what they enclose)
#   MAINTAINERS   every file the series adds has the series' entry
#                 (scripts/get_maintainer.pl)
#   checkpatch    --strict, with the tree, on each patch: nothing at all,
#                 but for the question "does MAINTAINERS need updating?"
#                 (FILE_PATH_CHANGES) on a patch that adds files, which the
#                 series' MAINTAINERS patch answers: it passes when that
#                 entry covers every file the patch adds
#   kernel-doc    "scripts/kernel-doc -Wall -none" on each C source and
#                 header the series adds: no output
#
# The kernel's trees (its git repository, the clone, the build directory)
# live under ~/.cache/vep/git; the clone is left with the series applied,
# for a look, and reset on the next run.

set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
series=${1:-$top/build/series}
kver=${2:-${KVER:-7.2}}
fdir=drivers/pci/endpoint/functions
jobs=${JOBS:-$(nproc)}
start=$SECONDS
# checkpatch runs the tree's scripts/spdxcheck.py with the first python3
# in PATH; it needs python3-ply and python3-git, which Debian's has
export PATH=/usr/bin:/bin:$PATH

pass=0
fail=0
n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
diag() { sed -e 's/^/#   /' | head -n "${1:-40}"; }
finish() {
	echo "# $((SECONDS - start)) s"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

mapfile -t patches < <(find "$series" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' \
			 ! -name '0000-cover-letter.patch' | sort)
if [ ${#patches[@]} -eq 0 ]; then
	notok "series: no patches in $series (make series)"
	finish
fi
echo "# ${#patches[@]} patches in $series"

# The rig kernel (its .config and Module.symvers), the tree, the checker
if ! kdir=$("$top/scripts/kernel.sh" "$kver"); then
	notok "rig kernel $kver: scripts/kernel.sh failed"
	finish
fi
# One run at a time: the tree is reset first thing
cache=${VEP_CACHE:-$HOME/.cache/vep}
mkdir -p "$cache/git"
exec 8>"$cache/git/check-series-$kver.lock"
if ! flock -n 8; then
	notok "clean tree: another check-series holds $cache/git/check-series-$kver.lock"
	finish
fi
if ! wt=$("$top/scripts/kernel-git.sh" --worktree check "$kver"); then
	notok "clean tree: scripts/kernel-git.sh failed"
	finish
fi
obj=$wt-obj
base=$(git -C "$wt" rev-parse origin/base)

# The tree's own test of its checker, whatever sparse.sh says
slog=$(mktemp)
if sparse=$("$top/scripts/sparse.sh" "$wt" 2>"$slog") &&
   [ "$("$wt/scripts/checker-valid.sh" "$sparse" -m64 2>&1)" = 1 ]; then
	ok "sparse: $("$sparse" --version) ($sparse), accepted by the tree's scripts/checker-valid.sh"
else
	[ -z "$sparse" ] ||
		echo "the tree's scripts/checker-valid.sh refuses $sparse" \
		     "($("$sparse" --version))" >>"$slog"
	notok "sparse: none that the kernel takes as its checker"
	diag <"$slog"
	sparse=
fi
rm -f "$slog"

st=$(git -C "$wt" status --porcelain --ignored)
if [ -z "$st" ] && [ "$(git -C "$wt" rev-parse HEAD)" = "$base" ]; then
	ok "clean tree: $(git -C "$wt" log -1 --format=%s HEAD) ($wt)"
else
	notok "clean tree: $wt is not the clean base"
	diag <<<"$st"
	finish
fi

# checkpatch's SPDX check needs the tree's spdxcheck.py to work; when it
# cannot (a python3 without ply or git), checkpatch takes every licence
# as valid without a word
out=$(cd "$wt" && printf 'SPDX-License-Identifier: GPL-2.0-bogus\n' |
      scripts/spdxcheck.py - 2>&1)
if grep -q 'Invalid License ID: GPL-2.0-bogus' <<<"$out"; then
	ok "spdxcheck: the tree's scripts/spdxcheck.py works (checkpatch's SPDX check)"
else
	notok "spdxcheck: the tree's scripts/spdxcheck.py does not work" \
	      "(python3-ply and python3-git installed?)"
	diag <<<"$out"
fi

# The symbols the series adds to the functions' Kconfig (so far)
new_syms() {
	comm -13 <(git -C "$wt" show "$base:$fdir/Kconfig" |
		   sed -n 's/^config \([A-Z0-9_]*\)$/\1/p' | sort) \
		 <(sed -n 's/^config \([A-Z0-9_]*\)$/\1/p' "$wt/$fdir/Kconfig" | sort)
}

# build NAME: configure and build the functions in the tree as it is now
build() {
	local name=$1 syms s args=() log st warn checked want mods t
	syms=$(new_syms)
	mkdir -p "$obj"
	cp "$kdir/.config" "$obj/.config"
	for s in $syms; do args+=(-m "$s"); done
	"$wt/scripts/config" --file "$obj/.config" "${args[@]}"
	if ! log=$(make -s -C "$wt" O="$obj" olddefconfig 2>&1 &&
		   make -s -C "$wt" O="$obj" -j"$jobs" modules_prepare 2>&1); then
		notok "build after $name: configuration failed"
		diag <<<"$log"
		return
	fi
	for s in $syms; do
		grep -qx "CONFIG_$s=m" "$obj/.config" || {
			notok "build after $name: CONFIG_$s is not m" \
			      "($(grep "CONFIG_${s}[= ]" "$obj/.config" || echo unset))"
			return
		}
	done
	if [ -z "$sparse" ]; then
		notok "build after $name: no sparse to check it with"
		return
	fi

	# Every object of the directory built again, so that every warning
	# shows on every run
	rm -rf "${obj:?}/$fdir" "$obj/modpost"
	t=$SECONDS
	log=$(make -C "$wt" O="$obj" -j"$jobs" W=1 C=1 CHECK="$sparse" \
		"$fdir/" 2>&1)
	st=$?
	warn=$(grep -E 'warning:|error:|WARNING:|ERROR:|is not available or not up to date' <<<"$log")
	# sparse must have seen every C file of the series so far
	want=0
	checked=0
	for f in $(git -C "$wt" diff --name-only "$base" -- "$fdir/*.c"); do
		want=$((want + 1))
		grep -qE "^ +CHECK +(.*/)?$f\$" <<<"$log" && checked=$((checked + 1))
	done
	if [ $st -ne 0 ] || [ -n "$warn" ] || [ "$checked" -lt "$want" ]; then
		notok "build after $name: W=1 C=1 $fdir/ (make exit status $st," \
		      "sparse checked $checked of the series' $want C files)"
		if [ -n "$warn" ]; then diag <<<"$warn"; else tail -n 20 <<<"$log" | diag; fi
	else
		ok "build after $name: W=1 C=1 $fdir/ with $(wc -w <<<"$syms")" \
		   "new symbols =m, sparse checked the series' $checked C files," \
		   "no warnings" \
		   "($((SECONDS - t)) s)"
	fi

	cp "$kdir/Module.symvers" "$obj/Module.symvers"
	t=$SECONDS
	log=$(make -C "$wt" O="$obj" -j"$jobs" W=1 M="$wt/$fdir" \
		MO="$obj/modpost" modules 2>&1)
	st=$?
	warn=$(grep -E 'warning:|error:|WARNING:|ERROR:' <<<"$log")
	mods=$(cd "$obj/modpost" 2>/dev/null && find . -name '*.ko' -printf '%f\n' |
	       sed 's/\.ko$//' | sort | tr '\n' ' ')
	if [ $st -ne 0 ] || [ -n "$warn" ]; then
		notok "modules after $name: modpost W=1 (make exit status $st)"
		if [ -n "$warn" ]; then diag <<<"$warn"; else tail -n 20 <<<"$log" | diag; fi
	else
		ok "modules after $name: modpost W=1, ${mods% } ($((SECONDS - t)) s)"
	fi
}

applied=0
for p in "${patches[@]}"; do
	name=$(basename "$p" .patch)
	name=${name:0:4}
	if ! log=$(git -C "$wt" -c user.name=check-series \
			-c user.email=check-series@localhost am -q "$p" 2>&1); then
		notok "git am $(basename "$p")"
		diag <<<"$log"
		git -C "$wt" am --abort >/dev/null 2>&1
		break
	fi
	applied=$((applied + 1))
	ok "git am $(basename "$p")"
	if git -C "$wt" diff --name-only HEAD~1 HEAD |
	   grep -qE '(^|/)(Kconfig|Makefile|Kbuild)$|\.[ch]$'; then
		build "$name"
	fi
done
if [ $applied -ne ${#patches[@]} ]; then
	notok "git am: $((${#patches[@]} - applied)) patches not applied; nothing more is checked"
	finish
fi

# Nothing of the out-of-tree build
hits=$(grep -nE 'vep-compat|VEP_COMPAT|include/compat/' "${patches[@]}")
if [ -z "$hits" ]; then
	ok "out of tree: no patch carries include/compat/vep-compat.h or its flags"
else
	notok "out of tree: the series carries what only the out-of-tree build needs"
	diag <<<"$hits"
fi

# Text written for the project rather than for the kernel tree: the
# out-of-tree install (DKMS, the package, M= builds), the test rig, the
# project's tests and scripts, or a project-only marker left behind
hits=$(grep -nE '^\+.*(\bdkms\b|DKMS|make deb|this project|M=<|tests/(guest|two|local|host)/|scripts/[a-z-]+\.sh|pci-epc-(loop|ivshmem)|test rig|the rig\b|one-kernel rig|two-machine rig|project-only)' \
	"${patches[@]}" | sed "s|^$series/||")
if [ -z "$hits" ]; then
	ok "upstream text: nothing of the project's own build, rig or tests"
else
	notok "upstream text: $(wc -l <<<"$hits") added lines speak of the" \
	      "project's own build, rig or tests"
	diag 60 <<<"$hits"
fi

# Every file the series adds is in its MAINTAINERS entry
added=$(git -C "$wt" diff --name-only --diff-filter=A "$base" HEAD)
section=$(git -C "$wt" diff "$base" HEAD -- MAINTAINERS |
	  awk '/^\+[A-Z0-9]/ && !/^\+[A-Z]:\t/ && !/^\+\+\+/ { sub(/^\+/, ""); print; exit }')
missing=
if [ -n "$section" ]; then
	for f in $added; do
		got=$(cd "$wt" && perl scripts/get_maintainer.pl --no-git \
			--no-git-fallback --sections -f "$f" 2>/dev/null)
		grep -qxF "$section" <<<"$got" || missing="$missing $f"
	done
fi
if [ -n "$section" ] && [ -z "$missing" ]; then
	ok "MAINTAINERS: $(wc -w <<<"$added") files added, each in \"$section\""
else
	notok "MAINTAINERS: ${section:-no new section}; not in it:${missing:- (none)}"
fi

# covered PATCH: every file PATCH adds is in the series' MAINTAINERS entry
covered() {
	local f
	[ -n "$section" ] || return 1
	# shellcheck disable=SC2013
	for f in $(awk '/^diff --git / { f = $4; sub(/^b\//, "", f) }
			/^new file mode / { print f }' "$1"); do
		case " $missing " in *" $f "*) return 1 ;; esac
	done
}

# checkpatch --strict with the tree, on each patch.  Anything on its
# standard error (a script of the tree it runs failing, such as
# spdxcheck.py) fails the patch too.
err=$(mktemp)
for p in "${patches[@]}"; do
	out=$(cd "$wt" && perl scripts/checkpatch.pl --strict --show-types \
		"$p" 2>"$err")
	st=$?
	found=$(grep -E '^(ERROR|WARNING|CHECK):' <<<"$out")
	other=$(grep -v '^WARNING:FILE_PATH_CHANGES:' <<<"$found")
	total=$(grep '^total:' <<<"$out")
	if [ -n "$total" ] && [ -z "$found" ] && [ ! -s "$err" ] && [ $st -eq 0 ]; then
		ok "checkpatch --strict $(basename "$p"): $total"
	elif [ -n "$total" ] && [ -n "$found" ] && [ -z "$other" ] &&
	     [ ! -s "$err" ] && covered "$p"; then
		ok "checkpatch --strict $(basename "$p"): $total: FILE_PATH_CHANGES" \
		   "only, and the series' MAINTAINERS entry covers what it adds"
	else
		notok "checkpatch --strict $(basename "$p"): ${total:-no result} (exit status $st)"
		{ grep -vE '^NOTE:|^      |^$' <<<"$out"; cat "$err"; } | diag 60
	fi
done
rm -f "$err"

# kernel-doc on the C sources and headers the series adds
# shellcheck disable=SC2013
for f in $(grep -E '\.[ch]$' <<<"$added"); do
	out=$(cd "$wt" && scripts/kernel-doc -Wall -none "$f" 2>&1)
	st=$?
	if [ $st -eq 0 ] && [ -z "$out" ]; then
		ok "kernel-doc -Wall $f"
	else
		notok "kernel-doc -Wall $f (exit status $st)"
		diag <<<"$out"
	fi
done

finish
