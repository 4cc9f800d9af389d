#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Write the project's endpoint functions as a "git format-patch" series
# against a rig kernel's source (7.2 by default), into build/series/:
#
#   0000-cover-letter.patch  scripts/series/cover.txt
#   0001  the core library, its KUnit suite, their Kconfig and Makefile lines
#   0002  pci-epf-vcon          0003  pci-epf-vnet     0004  pci-epf-vmed
#   0005  pci-epf-vsock
#   0006  Documentation (the functions' pages and their index entries)
#   0007  MAINTAINERS
#
#   scripts/series.sh [-o OUTDIR] [KVER]
#
# Everything comes from this checkout as it is when the script runs (its
# work tree, tracked and untracked files alike): the sources, the
# Kconfig entries (./Kconfig, one "config" block each), the Makefile
# lines (drivers/pci/endpoint/functions/Makefile, the lines of each
# symbol and of its objects), the documentation, and the commit messages
# in scripts/series/NN-*.txt (subject, blank line, body; the Signed-off-by
# of the checkout's last author is added).  What only the out-of-tree
# build needs (Kbuild, include/compat/) is never taken; the rig's
# controllers (drivers/pci/controller/, Documentation/.../pci-epc-*.rst)
# are no part of the series.  A product file, PCI_EPF_* symbol or Makefile
# line that no patch takes fails the run, so a new source cannot be left
# out silently.
#
# The commits are made in a work tree of the kernel's git repository
# (scripts/kernel-git.sh), dated with this checkout's last commit, so the
# same checkout gives the same series.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/series
if [ "${1:-}" = -o ]; then
	out=${2:?usage: scripts/series.sh [-o OUTDIR] [KVER]}
	shift 2
fi
kver=${1:-${KVER:-7.2}}
prefix=${SERIES_PREFIX:-RFC PATCH}
msgs=$top/scripts/series
fdir=drivers/pci/endpoint/functions

die() { echo "series.sh: $*" >&2; exit 1; }

# The patches, in order (message file scripts/series/NN-NAME.txt), with
# their Kconfig symbols and their paths (git pathspecs of this checkout).
# The documentation index and MAINTAINERS are made below.
names=(core vcon vnet vmed vsock docs maintainers)
declare -A syms=(
	[core]="PCI_EPF_VIRTIO PCI_EPF_VIRTIO_KUNIT_TEST"
	[vcon]=PCI_EPF_VCON
	[vnet]=PCI_EPF_VNET
	[vmed]=PCI_EPF_VMED
	[vsock]=PCI_EPF_VSOCK
)
declare -A paths=(
	[core]="$fdir/virtio include/linux/pci-epf-virtio.h
		$fdir/pci-epf-virtio-kunit.c $fdir/pci-epf-virtio-kunit.h"
	[vcon]=$fdir/pci-epf-vcon.c
	[vnet]=$fdir/pci-epf-vnet.c
	[vmed]=$fdir/pci-epf-vmed.c
	[vsock]=$fdir/pci-epf-vsock.c
	[docs]=":(glob)Documentation/PCI/endpoint/pci-epf-*.rst"
)
# The product files every patch together must take (the controllers'
# pages, pci-epc-*.rst, are the rig's)
product=("$fdir" include/linux
	 ":(glob)Documentation/PCI/endpoint/*.rst"
	 ":(exclude,glob)Documentation/PCI/endpoint/pci-epc-*.rst"
	 ":(exclude)$fdir/Makefile")

# patch_files NAME: the files of patch NAME (its pathspecs, unglobbed)
patch_files() {
	local -a p
	set -f
	# shellcheck disable=SC2206
	p=(${paths[$1]})
	set +f
	files "${p[@]}"
}

# files PATHSPEC...: the files of this checkout's work tree they name
files() {
	(cd "$top" && git ls-files --cached --others --exclude-standard \
		-- "$@" | sort -u | while IFS= read -r f; do
			[ ! -f "$f" ] || echo "$f"
		done)
}

# kconfig_block SYM: SYM's block in ./Kconfig, up to the next entry or
# top-level comment, without trailing blank lines
kconfig_block() {
	awk -v sym="$1" '
		$0 ~ "^(menu)?config " sym "$" { on = 1; print; next }
		on && /^(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|comment|#)/ { exit }
		on { print }' "$top/Kconfig" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

# makefile_lines SYM...: the lines of the functions' Makefile for those
# symbols, in the Makefile's order: "obj-$(CONFIG_SYM) += x.o", x's
# "x-y := ..." lines, and per-object variables ("CFLAGS_x.o := ...") of
# those objects and of their parts.  Continuation lines stay with theirs,
# and so do the comment lines right above a line; obj- lines are aligned
# as the kernel's Makefile there has them.
makefile_lines() {
	awk -v syms=" $* " '
		function flush() {
			if (buf == "") return
			n++; text[n] = buf; first[n] = head; lead[n] = com
			gap[n] = blank; buf = ""; com = ""; blank = 0
		}
		!cont && /^[ \t]*$/ { flush(); com = ""; blank = 1; next }
		!cont && /^[ \t]*#/ { flush(); com = com $0 "\n"; next }
		{
			if (!cont) { flush(); head = $0 }
			buf = buf == "" ? $0 : buf "\n" $0
			cont = /\\$/
		}
		END {
			flush()
			# obj-$(CONFIG_SYM) lines of the symbols, and their objects
			for (i = 1; i <= n; i++) {
				if (!match(first[i], /^obj-\$\(CONFIG_[A-Z0-9_]+\)/))
					continue
				s = substr(first[i], 14, RLENGTH - 14)
				if (!index(syms, " " s " "))
					continue
				take[i] = 1
				t = text[i]
				sub(/^[^=]*\+=[ \t]*/, "", t)
				nw = split(t, w, /[ \t\\\n]+/)
				for (j = 1; j <= nw; j++)
					if (w[j] ~ /\.o$/)
						obj[w[j]] = 1
			}
			# x-y, x-objs: the parts of those objects
			for (i = 1; i <= n; i++) {
				h = first[i]
				if (h ~ /^obj-/ || !match(h, /-(y|objs)[ \t]*[:+]?=/))
					continue
				if (!((substr(h, 1, RSTART - 1) ".o") in obj))
					continue
				take[i] = 1
				t = text[i]
				sub(/^[^=]*=[ \t]*/, "", t)
				nw = split(t, w, /[ \t\\\n]+/)
				for (j = 1; j <= nw; j++)
					if (w[j] ~ /\.o$/)
						part[w[j]] = 1
			}
			# per-object variables of any of them
			for (i = 1; i <= n; i++) {
				if (!match(first[i], /^[A-Za-z_]+_[A-Za-z0-9_.\/-]+\.o[ \t]*[:+?]?=/))
					continue
				o = substr(first[i], 1, RLENGTH)
				sub(/[ \t]*[:+?]?=$/, "", o)
				sub(/^[A-Z_]*[A-Z]_/, "", o)
				if ((o in obj) || (o in part))
					take[i] = 1
			}
			out = 0
			for (i = 1; i <= n; i++) {
				if (!take[i]) continue
				t = text[i]
				if (match(t, /^obj-\$\(CONFIG_[A-Z0-9_]+\)[ \t]*\+=[ \t]*/)) {
					lhs = t; sub(/[ \t]*\+=.*/, "", lhs)
					rest = substr(t, RLENGTH + 1)
					pad = ""
					for (c = length(lhs); c < 40; c = (int(c / 8) + 1) * 8)
						pad = pad "\t"
					if (pad == "") pad = " "
					t = lhs pad "+= " rest
				}
				if (out++ && gap[i] && lead[i] != "") print ""
				printf "%s", lead[i]
				print t
			}
		}' "$top/$fdir/Makefile"
}

[ -f "$top/Kconfig" ] || die "no ./Kconfig"
for n in "${names[@]}"; do
	ls "$msgs"/[0-9][0-9]-"$n".txt >/dev/null 2>&1 ||
		die "no commit message scripts/series/NN-$n.txt"
done
[ -f "$msgs/cover.txt" ] || die "no scripts/series/cover.txt"

# Every product file, PCI_EPF_* symbol and Makefile line in some patch
declare -A owner=()
for n in "${!paths[@]}"; do
	for f in $(patch_files "$n"); do owner[$f]=$n; done
done
for f in $(files "${product[@]}"); do
	[ -n "${owner[$f]:-}" ] || die "$f is in no patch (see the table in $0)"
done
for f in "${!owner[@]}"; do
	case $f in
	*vep-compat*|include/compat/*|Kbuild) die "$f is out-of-tree only" ;;
	esac
done
all_syms=$(sed -n 's/^config \(PCI_EPF_[A-Z0-9_]*\)$/\1/p' "$top/Kconfig")
taken=" ${syms[*]} "
for s in $all_syms; do
	case $taken in *" $s "*) ;; *) die "Kconfig symbol $s is in no patch" ;; esac
	[ -n "$(kconfig_block "$s")" ] || die "no Kconfig block for $s"
done
for s in $taken; do
	grep -qx "config $s" "$top/Kconfig" || die "no symbol $s in ./Kconfig"
done
want=$(grep -Evc '^[[:space:]]*(#|$)' "$top/$fdir/Makefile" || true)
# shellcheck disable=SC2086
got=$(makefile_lines $taken | grep -Evc '^[[:space:]]*(#|$)' || true)
[ "$want" = "$got" ] ||
	die "$fdir/Makefile has $want lines, the patches take $got:" \
	    "a line for a symbol no patch has?"

author=$(git -C "$top" log -1 --format='%an <%ae>')
aname=$(git -C "$top" log -1 --format='%an')
amail=$(git -C "$top" log -1 --format='%ae')
when=$(git -C "$top" log -1 --format='%ad' --date=raw)
export GIT_AUTHOR_NAME=$aname GIT_AUTHOR_EMAIL=$amail
export GIT_COMMITTER_NAME=$aname GIT_COMMITTER_EMAIL=$amail
export GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when

# One run at a time: the work tree is reset first thing
cache=${VEP_CACHE:-$HOME/.cache/vep}
mkdir -p "$cache/git"
exec 8>"$cache/git/series-$kver.lock"
flock -n 8 || die "another series.sh holds $cache/git/series-$kver.lock"
wt=$("$top/scripts/kernel-git.sh" --worktree series "$kver")
base=$(git -C "$wt" rev-parse HEAD)
base_kconfig=$(cat "$wt/$fdir/Kconfig")
base_makefile=$(cat "$wt/$fdir/Makefile")

# Commit the work tree's changes with message file NN-NAME.txt
commit() {
	local msg
	msg=$(ls "$msgs"/[0-9][0-9]-"$1".txt)
	# -f: Debian's .gitignore ignores every top-level path
	git -C "$wt" add -A -f
	git -C "$wt" diff --cached --quiet && die "patch $1 changes nothing"
	{ cat "$msg"; printf '\nSigned-off-by: %s\n' "$author"; } |
		git -C "$wt" commit -q --no-verify --cleanup=whitespace -F -
}

done_syms=
for n in "${names[@]}"; do
	case $n in
	docs)
		docs=$(patch_files docs)
		# Without what speaks of this project's own build, rig and
		# tests: the passages between ".. project-only" and ".. end-
		# project-only" (reStructuredText comments), blank lines
		# squeezed where they were
		for f in $docs; do
			mkdir -p "$wt/$(dirname "$f")"
			awk '/^\.\. project-only$/ { skip = 1; next }
			     /^\.\. end-project-only$/ { skip = 0; next }
			     !skip' "$top/$f" | cat -s >"$wt/$f"
		done
		# The index: the overview first, then the others, after the
		# last plain entry of the toctree
		entries=$(for f in $docs; do basename "$f" .rst; done |
			  sort | awk '$0 == "pci-epf-virtio" { print; next }
				      { o[++n] = $0 }
				      END { for (i = 1; i <= n; i++) print o[i] }')
		idx=$wt/Documentation/PCI/endpoint/index.rst
		awk -v e="$entries" '
			{ l[++n] = $0 }
			/^   [A-Za-z0-9_.-]+$/ { last = n }
			END {
				if (!last) exit 1
				for (i = 1; i <= n; i++) {
					print l[i]
					if (i == last) {
						k = split(e, a, "\n")
						for (j = 1; j <= k; j++)
							print "   " a[j]
					}
				}
			}' "$idx" >"$idx.new" || die "no toctree entry in $idx"
		mv "$idx.new" "$idx"
		;;
	maintainers)
		added=$(git -C "$wt" diff --name-only --diff-filter=A "$base" HEAD)
		# A directory new as a whole is one pattern
		pats=$(for f in $added; do
			d=$(dirname "$f")
			if ! git -C "$wt" cat-file -e "$base:$d" 2>/dev/null; then
				while ! git -C "$wt" cat-file -e \
				      "$base:$(dirname "$d")" 2>/dev/null; do
					d=$(dirname "$d")
				done
				echo "$d/"
			else
				echo "$f"
			fi
		done | LC_ALL=C sort -u)
		entry=$( (sed "s|@AUTHOR@|$author|" "$msgs/MAINTAINERS.entry"
			  for p in $pats; do printf 'F:\t%s\n' "$p"; done))
		title=$(head -n 1 "$msgs/MAINTAINERS.entry")
		# After the section whose title is the greatest one below ours,
		# case aside (a section: a title after a blank line, then
		# "X:<tab>" lines)
		LC_ALL=C awk -v title="$title" -v entry="$entry" '
			function head(i) {
				return l[i - 1] == "" && l[i] != "" &&
				       l[i] !~ /^[A-Z]:\t/ && l[i + 1] ~ /^[A-Z]:\t/
			}
			{ l[++n] = $0 }
			END {
				t = toupper(title)
				for (i = 2; i < n; i++)
					if (head(i) && toupper(l[i]) < t &&
					    (best == "" || toupper(l[i]) > best)) {
						best = toupper(l[i]); bi = i
					}
				for (i = bi + 1; bi && i < n && !at; i++)
					if (head(i))
						at = i
				if (!at) exit 1
				for (i = 1; i <= n; i++) {
					if (i == at) print entry "\n"
					print l[i]
				}
			}' "$wt/MAINTAINERS" >"$wt/MAINTAINERS.new" ||
			die "no place for the entry in MAINTAINERS"
		mv "$wt/MAINTAINERS.new" "$wt/MAINTAINERS"
		;;
	*)
		for f in $(patch_files "$n"); do
			mkdir -p "$wt/$(dirname "$f")"
			cp "$top/$f" "$wt/$f"
		done
		done_syms="$done_syms ${syms[$n]}"
		# The symbols so far, in ./Kconfig's order, after the
		# kernel's own entries
		{
			printf '%s\n' "$base_kconfig"
			for s in $all_syms; do
				case " $done_syms " in
				*" $s "*) printf '\n%s\n' "$(kconfig_block "$s")" ;;
				esac
			done
		} >"$wt/$fdir/Kconfig"
		# shellcheck disable=SC2086
		{
			printf '%s\n' "$base_makefile"
			makefile_lines $done_syms
		} >"$wt/$fdir/Makefile"
		;;
	esac
	commit "$n"
done

rm -rf "$out"
mkdir -p "$out"
git -C "$wt" format-patch -q -o "$out" --cover-letter \
	--subject-prefix="$prefix" "$base..HEAD" >/dev/null

# The cover letter: its subject is cover.txt's first line, the blurb the
# rest (format-patch adds the shortlog and the diffstat)
cover=$out/0000-cover-letter.patch
subject=$(head -n 1 "$msgs/cover.txt")
awk -v subject="$subject" -v blurb="$msgs/cover.txt" '
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		skip = 1
		while ((getline line < blurb) > 0) {
			if (skip && line == "") { skip = 0; continue }
			if (!skip) print line
		}
		next
	}
	{ print }' "$cover" >"$cover.new"
mv "$cover.new" "$cover"
grep -q '\*\*\*' "$cover" && die "the cover letter still has a placeholder"

echo "series.sh: $(git -C "$wt" rev-list --count "$base..HEAD") patches" \
     "and a cover letter against $(git -C "$wt" log -1 --format=%s "$base")" \
     "in ${out#"$top"/}:" >&2
find "$out" -maxdepth 1 -name '*.patch' -printf '  %f\n' | sort >&2
