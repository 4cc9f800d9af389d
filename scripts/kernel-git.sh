#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A git repository of a rig kernel's source, for the patch series: the
# source scripts/kernel.sh extracts (Debian's linux-source-KVER), as one
# commit on branch "base", made once and cached outside the repository.
#
#   scripts/kernel-git.sh [KVER]            prints the repository's git dir
#   scripts/kernel-git.sh --worktree NAME [KVER]
#                                           prints a clone of it (sharing its
#                                           objects), checked out clean at
#                                           "base" (made once, reset on every
#                                           call)
#
# The repository is bare and never checked out itself: every user takes a
# clone of its own, so "base" stays the pristine source and the users'
# commits stay in their clones.  The commit's
# author and date are fixed (the date is that of the source's Makefile),
# so the same source gives the same commit on every machine.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
wt=
if [ "${1:-}" = --worktree ]; then
	wt=${2:?usage: scripts/kernel-git.sh --worktree NAME [KVER]}
	shift 2
fi
kver=${1:-${KVER:-7.2}}
cache=${VEP_CACHE:-$HOME/.cache/vep}

log() { echo "kernel-git.sh: $*" >&2; }

src=$("$top/scripts/kernel.sh" --src "$kver")
name=$(basename "$src")			# linux-source-KVER-DEBIANVERSION
repo=$cache/git/$name.git
mkdir -p "$cache/git"

exec 9>"$cache/git/.lock"
flock 9

if [ ! -f "$repo/vep-base" ]; then
	ver=${name#linux-source-"$kver"-}	# the Debian version, 7.2.13-1
	up=${ver%-*}				# the upstream one, 7.2.13
	log "making $repo from $src (once)"
	rm -rf "$repo" "$repo.tmp"
	git init -q --bare "$repo.tmp"
	g=(git --git-dir="$repo.tmp" --work-tree="$src")
	# Every file of the extracted source, ignored or not (the tarball's
	# .gitignore files would hide the few files upstream force-added);
	# the extraction's stamp is kept out.  Loose objects compressed
	# lightly: the repository lives in a cache, made once.
	"${g[@]}" -c core.looseCompression=1 add -A -f -- . ':!.extracted'
	when=$(date -r "$src/Makefile" '+%s +0000')
	GIT_AUTHOR_NAME="Debian linux-source" \
	GIT_AUTHOR_EMAIL="linux-source@debian.invalid" \
	GIT_COMMITTER_NAME="Debian linux-source" \
	GIT_COMMITTER_EMAIL="linux-source@debian.invalid" \
	GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when \
		"${g[@]}" commit -q --no-verify -m "Linux $up (Debian linux-source)" \
		-m "linux-source-$kver $ver from the Debian archive, as scripts/kernel.sh extracted it."
	"${g[@]}" branch -q -M base
	rm -f "$repo.tmp/index"
	"${g[@]}" rev-parse base >"$repo.tmp/vep-base"
	mv "$repo.tmp" "$repo"
fi

if [ -z "$wt" ]; then
	echo "$repo"
	exit 0
fi

dir=$cache/git/$name-wt/$wt
if [ "$(git -C "$dir" rev-parse --absolute-git-dir 2>/dev/null)" != "$dir/.git" ]
then
	# A clone sharing the repository's objects (a plain repository, not
	# a "git worktree" of a bare one: the kernel's scripts/spdxcheck.py,
	# which checkpatch runs, refuses those as bare)
	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	log "checking out $dir (once)"
	git clone -q --shared --no-checkout "$repo" "$dir"
fi
# Back to the pristine source: an unfinished "git am" is dropped, every
# change and every file git does not know is removed.
git -C "$dir" am --abort >/dev/null 2>&1 || true
git -C "$dir" checkout -q -f --detach origin/base
git -C "$dir" clean -q -ffdx
echo "$dir"
