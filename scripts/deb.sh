#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian package of the product modules' sources with their DKMS
# hooks, pci-epf-virtio-dkms_VERSION_all.deb, with dpkg-deb alone.
#
#   scripts/deb.sh [OUTDIR]         prints the .deb's path (OUTDIR: build/deb)
#
# The package holds /usr/src/pci-epf-virtio-VERSION: dkms.conf, Kbuild,
# include/ and drivers/pci/endpoint/functions/ (the git-tracked files, as
# they are in the work tree); Kbuild leaves out the test rig's directories
# when they are not there.  The how-tos go to /usr/share/doc.  Its postinst
# is dkms's own (/usr/lib/dkms/common.postinst, as dh_dkms's): dkms add,
# then build and install for the running kernel (and the newest one) where
# the headers are there; a kernel without headers is skipped, one that the
# BUILD_EXCLUSIVE directives refuse is skipped.  Its prerm removes the
# module from dkms for every kernel.
#
# VERSION is $VEP_DEB_VERSION if set, else 0.0~gitYYYYMMDD.HASH from HEAD's
# commit (its date in UTC), with "+dirty" when the packaged files differ
# from HEAD's; dkms.conf's PACKAGE_VERSION in the package is set to it.
# The maintainer is git's user.name and user.email.  Needs dpkg-deb and
# git.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in -*) sed -n '/^#   scripts/p' "$0" >&2; exit 2 ;; esac
out=${1:-$top/build/deb}
name=pci-epf-virtio
pkg=$name-dkms
paths=(Kbuild include drivers/pci/endpoint/functions)
docs=(Documentation/PCI/endpoint/pci-epf-vcon-howto.rst
      Documentation/PCI/endpoint/pci-epf-virtio.rst
      Documentation/PCI/endpoint/pci-epf-vnet.rst)

die() { echo "deb.sh: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "no dpkg-deb"
cd "$top"

if [ -n "${VEP_DEB_VERSION:-}" ]; then
	version=$VEP_DEB_VERSION
else
	version=0.0~git$(TZ=UTC git log -1 --date=format-local:%Y%m%d \
			 --format=%cd).$(git rev-parse --short=7 HEAD)
	git diff --quiet HEAD -- dkms.conf "${paths[@]}" "${docs[@]}" \
		scripts/deb.sh || version+=+dirty
fi
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] ||
	die "'$version' is not a version dpkg and dkms both take"
maint="$(git config user.name) <$(git config user.email)>"
[ "$maint" != " <>" ] || die "git has no user.name and user.email"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

umask 022
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$out/root
rm -rf "$stage"
src=$stage/usr/src/$name-$version
doc=$stage/usr/share/doc/$pkg
mkdir -p "$src" "$doc" "$stage/DEBIAN"

# The sources: git's files under the packaged paths, as they are now
while IFS= read -r f; do
	[ -f "$f" ] || continue		# deleted in the work tree
	mkdir -p "$src/$(dirname "$f")"
	cp "$f" "$src/$f"
done < <(git ls-files -- "${paths[@]}")
sed "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$version\"/" dkms.conf \
	>"$src/dkms.conf"
grep -qx "PACKAGE_VERSION=\"$version\"" "$src/dkms.conf" ||
	die "dkms.conf has no PACKAGE_VERSION line"
[ -f "$src/drivers/pci/endpoint/functions/Makefile" ] ||
	die "no drivers/pci/endpoint/functions/Makefile among git's files"

for f in "${docs[@]}"; do
	cp "$f" "$doc/"
done
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name

Files: *
Copyright: the $name developers
License: GPL-2
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License version 2 as published
 by the Free Software Foundation.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
EOF
{
	echo "$name ($version) unstable; urgency=medium"
	echo
	echo "  * Built from $(git rev-parse HEAD)."
	echo
	echo " -- $maint  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -n9 >"$doc/changelog.gz"

cat >"$stage/DEBIAN/control" <<EOF
Package: $pkg
Source: $name
Version: $version
Architecture: all
Maintainer: $maint
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: dkms (>= 3.0)
Suggests: gcc-aarch64-linux-gnu
Section: kernel
Priority: optional
Description: virtio devices presented by a Linux PCIe endpoint (DKMS)
 PCI endpoint functions that make a Linux system in PCIe endpoint mode show
 up on the PCIe host as legacy virtio devices, driven by the host's stock
 drivers: pci-epf-vcon, a console (the host's /dev/hvc0, the endpoint's
 /dev/hvcEP0); pci-epf-vnet, a network interface; pci-epf-vsock, AF_VSOCK
 sockets between host and endpoint; pci-epf-vmed, the mediated baseline;
 all on the core, pci-epf-virtio.
 .
 This package builds them with DKMS for the endpoint's kernel: Linux 6.12.y
 or later, with CONFIG_PCI_ENDPOINT and CONFIG_VHOST_RING.
EOF

cat >"$stage/DEBIAN/postinst" <<EOF
#!/bin/sh
# dkms add, then build and install for the running (and the newest) kernel
# where its headers are there: dkms's common postinst, as dh_dkms's
set -e
case "\$1" in
configure)
	/usr/lib/dkms/common.postinst $name $version /usr/share/$pkg "" "\$2"
	;;
esac
exit 0
EOF
cat >"$stage/DEBIAN/prerm" <<EOF
#!/bin/sh
# the module out of dkms, for every kernel it was built for
set -e
case "\$1" in
remove|upgrade|deconfigure)
	if [ -n "\$(dkms status -m $name -v $version)" ]; then
		dkms remove -m $name -v $version --all
	fi
	;;
esac
exit 0
EOF
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum --) \
	>"$stage/DEBIAN/md5sums"

deb=$out/${pkg}_${version}_all.deb
rm -f "$out/${pkg}"_*_all.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
echo "$deb"
