#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch the stock kernel of the two-machine rig's host: Debian 12's
# linux-image-amd64, with its headers, unpacked under the cache.
#
#   scripts/hostkernel.sh               prints KEY=VALUE lines (eval-safe)
#
#     HOST_VERSION  the package version, e.g. 6.1.192-3
#     HOST_KVER     the kernel release, e.g. 6.1.0-57-amd64
#     HOST_ROOT     where the packages are unpacked (boot/, lib/, usr/)
#     HOST_VMLINUZ  the kernel image, for qemu -kernel
#     HOST_CONFIG   its configuration
#     HOST_MODDIR   its /lib/modules/KVER, with modules.dep (depmod -b)
#     HOST_KDIR     the headers tree: make -C $HOST_KDIR M=DIR modules
#     HOST_UPSTREAM files of the same kernel's source that Debian builds
#                   nothing of: drivers/misc/pci_endpoint_test.c,
#                   include/uapi/linux/pcitest.h, tools/pci/pcitest.c
#
# The packages are linux-image-6.1.0-N-amd64 (the one linux-image-amd64
# depends on in the newest version the archive carries),
# linux-headers-6.1.0-N-amd64, linux-headers-6.1.0-N-common and
# linux-kbuild-6.1 (the headers' scripts/ and tools/ are links into it),
# fetched with "apt-get download" and the sources list scripts/apt/host.list
# (or $VEP_HOST_APT_LIST), apt's lists under the cache as in
# scripts/kernel.sh, and unpacked with "dpkg-deb -x" into
# ~/.cache/vep/host/VERSION/: nothing is installed on the machine.  The
# headers as packaged point at /usr/src and /usr/lib; their copy here is
# made to point within itself (relative links and includes), so that an
# out-of-tree module builds against it with the machine's gcc-12 and gets
# the image's vermagic.  Debian's kernel has no pci_endpoint_test (the
# host driver of pci-epf-test): its source and its user tool come from
# linux-source-6.1 of the same version, of which only those three files
# are kept (HOST_UPSTREAM).  Once a new version is in place, older ones are
# removed from the cache.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 0 ] || { sed -n '/^#   scripts/,/^$/p' "$0" >&2; exit 2; }
cache=${VEP_CACHE:-$HOME/.cache/vep}
list=${VEP_HOST_APT_LIST:-$top/scripts/apt/host.list}

log() { echo "hostkernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -r "$list" ] || die "cannot read the sources list $list"

# apt's state, one directory per sources list, as in scripts/kernel.sh.
aptdir=$cache/apt/$(printf '%s' "$(readlink -f "$list")" | sha256sum | cut -c1-12)
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$cache/host"
apt_opts=(-o "Dir::Etc::sourcelist=$list"
	  -o "Dir::Etc::sourceparts=-"
	  -o "Dir::State::Lists=$aptdir/lists"
	  -o "Dir::Cache=$aptdir")
[ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

# Refresh the package lists at most once a day, keeping the old ones when
# an update fails.  Acquire::Check-Valid-Until=false for the reason given
# in scripts/kernel.sh: bookworm-security's Release file is valid for a
# week only, a stale mirror may serve one past that, and this fetch
# installs nothing (the packages are still checked against the archive's
# signature, through signed-by in the list).
stamp=$aptdir/lists/.updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	log "updating package lists from $list"
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
		die "the update failed and there are no older package lists"
	fi
	rm -rf "$aptdir/lists.old"
fi

# show PKG: apt-cache's records of PKG (all versions), or nothing
show() { apt-cache "${apt_opts[@]}" show "$1" 2>/dev/null || true; }

# The newest linux-image-amd64, and the image it depends on.
ver=$(show linux-image-amd64 | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$ver" ] || die "no linux-image-amd64 in $list"
image=$(show "linux-image-amd64=$ver" |
	sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-amd64\) (= [^)]*).*/\1/p' |
	head -n 1)
[ -n "$image" ] || die "linux-image-amd64 $ver depends on no linux-image-*-amd64"
kver=${image#linux-image-}
kbuild=linux-kbuild-$(echo "$kver" | cut -d. -f1,2)	# linux-kbuild-6.1
common=linux-headers-${kver%-amd64}-common
pkgs=("$image" "linux-headers-$kver" "$common" "$kbuild")

root=$cache/host/$ver
if [ ! -f "$root/.extracted" ]; then
	log "fetching ${pkgs[*]} ($ver)"
	tmp=$(mktemp -d "$cache/host/tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# The headers, common part and kbuild come from the source package
	# "linux", the image from "linux-signed-amd64": one version for all.
	(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download \
		"${pkgs[@]/%/=$ver}" >&2) ||
		die "cannot download ${pkgs[*]} at version $ver"
	mkdir "$tmp/root"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done

	# Make the headers self-contained.  The arch Makefile includes the
	# common one by its absolute path: include it relative to itself.
	# The kbuild Makefile takes its source tree from the last Makefile
	# read, so srctree is the common part and objtree the arch part, as
	# when installed.
	hdr=$tmp/root/usr/src/linux-headers-$kver
	grep -qx "include /usr/src/$common/Makefile" "$hdr/Makefile" ||
		die "unexpected $hdr/Makefile: $(head -c 200 "$hdr/Makefile")"
	printf '%s\n' "# Made relative by scripts/hostkernel.sh." \
		"include \$(dir \$(realpath \$(lastword \$(MAKEFILE_LIST))))../$common/Makefile" \
		>"$hdr/Makefile"
	# scripts/ and tools/ are already relative links (into usr/lib);
	# build and source in /lib/modules/KVER are absolute.
	mod=$tmp/root/lib/modules/$kver
	ln -sfn "../../../usr/src/linux-headers-$kver" "$mod/build"
	ln -sfn "../../../usr/src/$common" "$mod/source"
	for l in "$mod/build" "$mod/source" "$hdr/scripts" "$hdr/tools"; do
		[ -e "$l/" ] || die "$l is a dangling link"
	done
	grep -q "\"$kver\"" "$hdr/include/generated/utsrelease.h" ||
		die "the headers are not those of $kver"

	# The package leaves modules.dep to its postinst's depmod.
	depmod -b "$tmp/root" "$kver"

	rm -f "$tmp"/*.deb
	rm -rf "$root"
	mv "$tmp/root" "$root"
	touch "$root/.extracted"
	rm -rf "$tmp"
	trap - EXIT

	# Older versions are of no further use.
	for old in "$cache"/host/*/; do
		old=${old%/}
		case ${old##*/} in tmp.*) continue ;; esac	# another run's
		[ "$old" = "$root" ] || rm -rf "$old"
	done
fi

# The upstream files, fetched apart so that a cache made before them
# gains them without fetching the rest again
up=$root/usr/src/vep-upstream
srcpkg=linux-source-$(echo "$kver" | cut -d. -f1,2)	# linux-source-6.1
upfiles=(drivers/misc/pci_endpoint_test.c include/uapi/linux/pcitest.h
	 tools/pci/pcitest.c)
if [ ! -f "$up/.extracted" ]; then
	log "fetching $srcpkg ($ver) for ${upfiles[*]}"
	tmp=$(mktemp -d "$cache/host/tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get "${apt_opts[@]}" -qq download "$srcpkg=$ver" >&2) ||
		die "cannot download $srcpkg at version $ver"
	mkdir "$tmp/up"
	dpkg-deb --fsys-tarfile "$tmp/${srcpkg}_${ver}_all.deb" |
		tar -xO "./usr/src/$srcpkg.tar.xz" |
		tar -xJ -C "$tmp/up" --strip-components=1 "${upfiles[@]/#/$srcpkg/}" ||
		die "cannot extract ${upfiles[*]} from $srcpkg"
	rm -rf "$up"
	mv "$tmp/up" "$up"
	touch "$up/.extracted"
	rm -rf "$tmp"
	trap - EXIT
fi

printf 'HOST_VERSION=%q\n' "$ver"
printf 'HOST_KVER=%q\n' "$kver"
printf 'HOST_ROOT=%q\n' "$root"
printf 'HOST_VMLINUZ=%q\n' "$root/boot/vmlinuz-$kver"
printf 'HOST_CONFIG=%q\n' "$root/boot/config-$kver"
printf 'HOST_MODDIR=%q\n' "$root/lib/modules/$kver"
printf 'HOST_KDIR=%q\n' "$root/usr/src/linux-headers-$kver"
printf 'HOST_UPSTREAM=%q\n' "$up"
