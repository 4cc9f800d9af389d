#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A sparse that a kernel accepts as its checker (C=1, C=2).
#
#   scripts/sparse.sh [KSRC]     prints the path of the sparse binary
#
# With KSRC (a kernel source tree) the installed sparse is used if that
# kernel's scripts/checker-valid.sh accepts it.  Otherwise, or without
# KSRC, it is sparse built from Debian sid's source package: Debian 12's
# sparse 0.6.4 lacks __typeof_unqual__, which 7.2 asks for, and sid's
# binary package needs a newer C library than Debian 12's.  The source
# package is fetched with "apt-get source --download-only" through the
# sources list scripts/apt/sparse.list, with apt's state under the cache
# as scripts/kernel.sh keeps it (the machine's own apt configuration is
# never read or touched), and built once, with the machine's gcc and no
# optional libraries, into ~/.cache/vep/sparse/VERSION/.  Exits 1, saying
# why, if the kernel refuses that one too.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ksrc=${1:-}
cache=${VEP_CACHE:-$HOME/.cache/vep}
list=${VEP_SPARSE_LIST:-$top/scripts/apt/sparse.list}

log() { echo "sparse.sh: $*" >&2; }

# valid SPARSE: KSRC's own test of its checker (1 on stdout if accepted)
valid() {
	[ -z "$ksrc" ] && return 0
	[ -x "$ksrc/scripts/checker-valid.sh" ] || return 0
	[ "$("$ksrc/scripts/checker-valid.sh" "$1" -m64 2>/dev/null)" = 1 ]
}

if sys=$(command -v sparse) && [ -n "$ksrc" ] && valid "$sys"; then
	echo "$sys"
	exit 0
fi

mkdir -p "$cache/sparse"
exec 9>"$cache/sparse/.lock"
flock 9

# A sparse built before, the newest version first
built=$(find "$cache/sparse" -mindepth 3 -maxdepth 3 -path '*/bin/sparse' \
	     -type f 2>/dev/null | sort -V -r | head -n 1)
if [ -z "$built" ]; then
	[ -r "$list" ] || { log "cannot read the sources list $list"; exit 1; }
	aptdir=$cache/apt/$(printf '%s' "$(readlink -f "$list")" | sha256sum | cut -c1-12)
	mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
	apt_opts=(-o "Dir::Etc::sourcelist=$list"
		  -o "Dir::Etc::sourceparts=-"
		  -o "Dir::State::Lists=$aptdir/lists"
		  -o "Dir::Cache=$aptdir")
	[ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")
	# Check-Valid-Until=false: as in scripts/kernel.sh, this fetch
	# installs nothing, and the files are checked against the signed
	# Sources index all the same.
	log "fetching sparse's source package from $list"
	apt-get "${apt_opts[@]}" -o Acquire::Check-Valid-Until=false \
		--error-on=any -qq update >&2
	tmp=$(mktemp -d "$cache/sparse/tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get "${apt_opts[@]}" -qq --download-only \
		source sparse >&2)
	dsc=$(ls "$tmp"/sparse_*.dsc)
	ver=$(basename "$dsc" .dsc)
	ver=${ver#sparse_}
	orig=$(ls "$tmp"/sparse_*.orig.tar.*)
	# Debian's patches only pin the compiler to sid's gcc; the
	# upstream source builds as it is
	mkdir "$tmp/src"
	tar -xf "$orig" -C "$tmp/src" --strip-components=1
	log "building sparse $ver"
	make -C "$tmp/src" -j"$(nproc)" CC=gcc HAVE_LLVM=no HAVE_GTK=no \
		HAVE_LIBXML=no HAVE_SQLITE=no HAVE_BOOLECTOR=no \
		SPARSE_VERSION="$ver (Debian sid source, built here)" \
		sparse >"$tmp/build.log" 2>&1 || {
		cat "$tmp/build.log" >&2
		log "building sparse $ver failed"
		exit 1
	}
	dir=$cache/sparse/$ver
	rm -rf "$dir"
	mkdir -p "$dir/bin"
	cp "$tmp/src/sparse" "$dir/bin/sparse"
	built=$dir/bin/sparse
fi

if ! valid "$built"; then
	log "$ksrc refuses $("$built" --version) as its checker" \
	    "(scripts/checker-valid.sh)"
	exit 1
fi
echo "$built"
