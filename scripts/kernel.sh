#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch, configure and build the rig kernel, cached outside the repository.
#
#   scripts/kernel.sh [--arch ARCH] [KVER]
#                                       prints the build directory on stdout
#   scripts/kernel.sh --src [KVER]      prints the source directory (no build)
#   scripts/kernel.sh [--arch ARCH] --built [KVER]
#                                       prints the build directory if it is
#                                       built, else exits 1 (no fetch, no build)
#   scripts/kernel.sh --resolve KVER... prints "KVER PACKAGE VERSION" for each
#                                       (nothing fetched); exits 3 if two of
#                                       them resolve to the same source
#
# ARCH is x86_64 (the default: the rig kernel, a bzImage, configured with
# configs/rig.config) or arm64 (the endpoint kernel of the two-machine rig,
# for qemu-system-aarch64 -M virt: an Image cross-built from the same source
# with CROSS_COMPILE=aarch64-linux-gnu-, configured with configs/rig.config
# and then configs/rig-arm64.config, which turns off rig.config's x86-only
# options).
#
# The kernel source comes from Debian's linux-source-$KVER package, fetched
# with "apt-get download" and the sources list scripts/apt/kernel.list (or
# $VEP_APT_LIST), with apt's lists and archives under the cache, so the
# machine's own apt configuration is never read or touched.  When the archive
# no longer carries the pinned version (sid replaces linux-source-X.Y as
# mainline moves on), the newest linux-source-X.Y it carries is used
# instead, and a warning says so; --resolve shows which one that is, so
# that a caller wanting two different kernels can tell when both became
# the same one.
#
# The build is keyed by the package version, a hash of the config fragments
# and build_rev below: bump build_rev when a change here alters the kernel.
# An arm64 build directory also carries "arm64" in its name, and its hash
# covers both fragments and the architecture; an x86_64 one is named as it
# always was.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mode=build
arch=x86_64
if [ "${1:-}" = --arch ]; then
	arch=${2:-}
	shift $(($# < 2 ? $# : 2))
fi
case ${1:-} in
--src) mode=src; shift ;;
--built) mode=built; shift ;;
--resolve) mode=resolve; shift ;;
esac
kver=${1:-${KVER:-7.2}}
cache=${VEP_CACHE:-$HOME/.cache/vep}
list=${VEP_APT_LIST:-$top/scripts/apt/kernel.list}
jobs=${JOBS:-$(nproc)}
build_rev=1

log() { echo "kernel.sh: $*" >&2; }

case $arch in
x86_64)
	frags=("$top/configs/rig.config")
	image=bzImage
	cross=()
	;;
arm64)
	frags=("$top/configs/rig.config" "$top/configs/rig-arm64.config")
	image=Image
	cross=(CROSS_COMPILE=aarch64-linux-gnu-)
	command -v aarch64-linux-gnu-gcc >/dev/null || {
		log "no aarch64-linux-gnu-gcc" \
		    "(apt-get install gcc-aarch64-linux-gnu)"
		exit 1
	}
	;;
*)
	log "unknown --arch '$arch' (x86_64 or arm64)"
	exit 2
	;;
esac

[ -r "$list" ] || { log "cannot read the sources list $list"; exit 1; }

# apt's state for this fetch lives under the cache, one directory per
# sources list, so that another list (a test's) never mixes with this one.
aptdir=$cache/apt/$(printf '%s' "$(readlink -f "$list")" | sha256sum | cut -c1-12)
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$cache/src"
apt_opts=(-o "Dir::Etc::sourcelist=$list"
	  -o "Dir::Etc::sourceparts=-"
	  -o "Dir::State::Lists=$aptdir/lists"
	  -o "Dir::Cache=$aptdir")
# As root, apt drops to its _apt user to download, and that user may not
# reach a cache under root's home: stay root (no other user is involved).
[ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

# Refresh the package lists at most once a day.
#
# Acquire::Check-Valid-Until=false: sid's Release file carries a Valid-Until
# a week ahead, and the archive mirror this must work from (a snapshot, a
# stale mirror, the one a build machine is given) may serve one past that
# date; apt then refuses the whole suite.  Valid-Until guards an apt that
# installs packages against being held on an old archive that hides
# security updates.  This fetch installs nothing: it downloads one pinned
# source package, still verified against the archive's signature through
# signed-by in the list, for a test kernel.  So the check is relaxed here,
# for this fetch and its private lists only.
stamp=$aptdir/lists/.updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	log "updating package lists from $list"
	# A failed update may delete lists (a suite whose Release file is
	# gone): keep a copy to go back to.
	rm -rf "$aptdir/lists.old"
	cp -a "$aptdir/lists" "$aptdir/lists.old"
	if apt-get "${apt_opts[@]}" -o Acquire::Check-Valid-Until=false \
		--error-on=any -qq update >&2; then
		touch "$stamp"
	elif [ -f "$stamp" ]; then
		rm -rf "$aptdir/lists"
		mv "$aptdir/lists.old" "$aptdir/lists"
		rm -f "$aptdir"/*pkgcache.bin	# built from the failed lists
		log "WARNING: the update failed; using the package lists of" \
		    "$(date -r "$stamp" '+%F %R')"
	else
		rm -rf "$aptdir/lists.old"
		log "the update failed and there are no older package lists"
		exit 1
	fi
	rm -rf "$aptdir/lists.old"
fi

# pkgver KVER: the newest version of linux-source-KVER the lists carry
pkgver() {
	{ apt-cache "${apt_opts[@]}" show "linux-source-$1" 2>/dev/null ||
		true; } | sed -n 's/^Version: //p' | sort -V | tail -n 1
}

# resolve KVER: set kver and ver to the source package to use for KVER
resolve() {
	kver=$1
	ver=$(pkgver "$kver")
	[ -z "$ver" ] || return 0
	newest=$(apt-cache "${apt_opts[@]}" pkgnames linux-source- |
		 sed -n 's/^linux-source-\([0-9][0-9.]*\)$/\1/p' | sort -V |
		 tail -n 1)
	[ -n "$newest" ] || { log "no linux-source-X.Y package in $list"; exit 1; }
	log "WARNING: linux-source-$kver is gone from the archive;" \
	    "using the newest one it carries, linux-source-$newest"
	kver=$newest
	ver=$(pkgver "$kver")
	[ -n "$ver" ] || { log "linux-source-$kver has no version"; exit 1; }
}

if [ $mode = resolve ]; then
	[ $# -gt 0 ] || { log "--resolve needs at least one KVER"; exit 2; }
	seen=()
	rc=0
	for want in "$@"; do
		resolve "$want"
		echo "$want linux-source-$kver $ver"
		for s in "${seen[@]}"; do
			[ "${s#* }" = "$kver $ver" ] || continue
			log "ERROR: kernels ${s%% *} and $want resolve to the same" \
			    "source, linux-source-$kver $ver: the archive no" \
			    "longer carries one of them; update the pinned versions"
			rc=3
		done
		seen+=("$want $kver $ver")
	done
	exit $rc
fi

resolve "$kver"

if [ "$arch" = x86_64 ]; then
	key=$( (cat "$top/configs/rig.config"; echo "$build_rev") | sha256sum |
		cut -c1-12)
	out=$cache/build/$kver-$ver-$key
else
	key=$( (cat "${frags[@]}"; echo "$arch $build_rev") | sha256sum |
		cut -c1-12)
	out=$cache/build/$kver-$ver-$arch-$key
fi

if [ $mode = built ]; then
	[ -f "$out/.built" ] || { log "$kver ($ver, $arch) is not built"; exit 1; }
	echo "$out"
	exit 0
fi

src=$cache/src/linux-source-$kver-$ver
if [ ! -f "$src/.extracted" ]; then
	log "fetching linux-source-$kver $ver"
	tmp=$(mktemp -d "$cache/src/tmp.XXXXXX")
	(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download \
		"linux-source-$kver=$ver" >&2)
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-"$kver"_*.deb |
		tar -x -C "$tmp" --wildcards './usr/src/*.tar.xz'
	rm -rf "$src"
	mkdir -p "$src"
	tar -xJf "$tmp/usr/src/linux-source-$kver.tar.xz" -C "$src" \
		--strip-components=1
	rm -rf "$tmp"
	touch "$src/.extracted"
fi

if [ $mode = src ]; then
	echo "$src"
	exit 0
fi

# wanted: the options the fragments ask for, "CONFIG_X=V" or "# CONFIG_X is
# not set", one line each, a later fragment's line replacing an earlier one
wanted() {
	cat "$@" |
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1 &/p' \
	       -e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1 &/p' |
	awk '{ name = $1; sub(/^[^ ]* /, "");
	       if (!(name in line)) order[n++] = name; line[name] = $0 }
	     END { for (i = 0; i < n; i++) print line[order[i]] }'
}

if [ ! -f "$out/.built" ]; then
	log "building $kver ($ver, $arch) in $out"
	mkdir -p "$out"
	kmake=(make -C "$src" O="$out" ARCH="$arch" "${cross[@]}")
	"${kmake[@]}" -s tinyconfig >&2
	KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	"${kmake[@]}" -s olddefconfig >&2
	# Report fragment options the kernel did not take (renamed, gone, or
	# not on this architecture).
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qx "$line" "$out/.config" ||
				log "note: $line not set in $kver"
			;;
		*)
			name=${line#\# }
			name=${name%% *}
			! grep -q "^$name=" "$out/.config" ||
				log "note: $name still set in $kver"
			;;
		esac
	done < <(wanted "${frags[@]}")
	"${kmake[@]}" -j"$jobs" "$image" modules >&2
	touch "$out/.built"
fi
echo "$out"
