#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch, configure and build the rig kernel, cached outside the repository.
#
#   scripts/kernel.sh [KVER]        prints the build directory on stdout
#   scripts/kernel.sh --src [KVER]  prints the source directory (no build)
#
# The kernel source comes from Debian's linux-source-$KVER package, fetched
# with "apt-get download" and the sources list kept in scripts/apt/, so the
# machine's own apt configuration is never touched.  When Debian no longer
# carries the pinned version (sid replaces linux-source-X.Y as mainline moves
# on), the newest linux-source-X.Y that the archive carries is used instead,
# and a warning says so.
#
# The build is keyed by the package version, a hash of the config fragment
# and build_rev below: bump build_rev when a change here alters the kernel.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src_only=
if [ "${1:-}" = --src ]; then
	src_only=1
	shift
fi
kver=${1:-${KVER:-7.2}}
cache=${VEP_CACHE:-$HOME/.cache/vep}
jobs=${JOBS:-$(nproc)}
build_rev=1

log() { echo "kernel.sh: $*" >&2; }

aptdir=$cache/apt
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$cache/src"
apt_opts=(-o "Dir::Etc::sourcelist=$top/scripts/apt/kernel.list"
	  -o "Dir::Etc::sourceparts=-"
	  -o "Dir::State::Lists=$aptdir/lists"
	  -o "Dir::Cache=$aptdir"
	  -o "APT::Sandbox::User=root")

# Refresh the package lists at most once a day.
stamp=$aptdir/lists/.updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	log "updating package lists"
	apt-get "${apt_opts[@]}" -qq update >&2
	touch "$stamp"
fi

pkgver() {
	apt-cache "${apt_opts[@]}" show "linux-source-$1" 2>/dev/null |
		sed -n 's/^Version: //p' | sort -V | tail -n 1
}

ver=$(pkgver "$kver")
if [ -z "$ver" ]; then
	newest=$(apt-cache "${apt_opts[@]}" pkgnames linux-source- |
		 sed -n 's/^linux-source-\([0-9][0-9.]*\)$/\1/p' | sort -V | tail -n 1)
	[ -n "$newest" ] || { log "no linux-source package found"; exit 1; }
	log "WARNING: linux-source-$kver is gone from the archive;" \
	    "using the newest one it carries, linux-source-$newest"
	kver=$newest
	ver=$(pkgver "$kver")
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

if [ -n "$src_only" ]; then
	echo "$src"
	exit 0
fi

key=$( (cat "$top/configs/rig.config"; echo "$build_rev") | sha256sum |
	cut -c1-12)
out=$cache/build/$kver-$ver-$key
if [ ! -f "$out/.built" ]; then
	log "building $kver ($ver) in $out"
	mkdir -p "$out"
	make -s -C "$src" O="$out" ARCH=x86_64 tinyconfig >&2
	KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" "$top/configs/rig.config" >/dev/null
	make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >&2
	# Report fragment options the kernel did not take (renamed or gone).
	while IFS= read -r line; do
		case "$line" in CONFIG_*=*) ;; *) continue ;; esac
		grep -qx "$line" "$out/.config" ||
			log "note: $line not set in $kver"
	done < "$top/configs/rig.config"
	make -C "$src" O="$out" ARCH=x86_64 -j"$jobs" bzImage modules >&2
	touch "$out/.built"
fi
echo "$out"
