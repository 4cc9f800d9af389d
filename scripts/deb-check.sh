#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check the Debian package (scripts/deb.sh) the way a board vendor uses it,
# on a fresh machine: a new "debootstrap --variant=minbase bookworm" chroot
# (scripts/lib/chroot.sh) where apt installs the package, which brings
# dkms and the compiler, then dkms builds the modules against kernels made
# visible in it (read-only bind mounts, at the paths they have here):
#
#    1  the package: its version in dkms.conf, Kbuild, include/, the
#       functions, none of the test rig's sources
#    2  the chroot
#    3  apt-get install of the package with no kernel headers at all: it
#       installs, dkms has the sources added and builds nothing
#    4  Debian 12's own kernel (apt-get install linux-headers-amd64, 6.1,
#       no PCI endpoint framework): its headers install (dkms's hook skips
#       the module), and "dkms build" for it exits 77, BUILD_EXCLUSIVE
#    5  dkms build for the rig's x86_64 7.2 tree (scripts/kernel.sh 7.2),
#       as /lib/modules/KERNELRELEASE/build: the four modules, its vermagic
#    6  dkms install for it: the modules in updates/dkms, in modules.dep
#    7  dkms build for the 6.12 tree, the oldest kernel supported
#    8  dkms build -a arm64 --kernelsourcedir for the arm64 7.2 tree
#       (scripts/kernel.sh --arch arm64 7.2), with gcc-aarch64-linux-gnu
#       installed in the chroot: AArch64 modules, its vermagic
#    9  apt-get purge: the package's prerm takes the module out of dkms
#
#   scripts/deb-check.sh [-k] [-d DIR] [-m MIRROR]
#
# -k keeps the chroot, -d puts it in DIR, which must not exist yet (default:
# a new directory under /var/tmp; it needs about 1 GiB), -m names the
# Debian mirror (default deb.debian.org).  Kernels not built yet are built
# (scripts/kernel.sh caches them).  Needs root, and debootstrap (installed
# if missing).  Prints TAP, one case per check with its time, the end of a
# failed one's output as "#" lines, and "N passed, N failed"; when there is
# no package, no chroot or the package is not installed, the checks after
# that are not run.
# Exits 1 if any check failed.

# The checks are functions that check() calls by name
# shellcheck disable=SC2317

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/chroot.sh
. "$top/scripts/lib/chroot.sh"
chroot_unshare "$0" "$@"

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}

dir='' mirror=http://deb.debian.org/debian
while getopts "kd:m:h" opt; do
	case $opt in
	k) chroot_keep=1 ;;
	d) dir=$OPTARG ;;
	m) mirror=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

name=pci-epf-virtio
mods=(pci-epf-virtio pci-epf-vcon pci-epf-vnet pci-epf-vmed pci-epf-vsock)
start=$SECONDS
step() { echo "# [$((SECONDS - start)) s] $*"; }

n=0 passed=0 failed=0 last=0
# check [-s] DESCRIPTION FUNCTION: run FUNCTION in a subshell with set -e,
# its output in a log, and print the case; FUNCTION's status in $last.
# -s runs it in this shell instead (for what must last: mounts), where it
# must return its failures itself.  (Never "check ... || ...": set -e
# would be off in FUNCTION.)
check() {
	local t0=$SECONDS rc=0 log sub=1
	[ "$1" != -s ] || { sub=0; shift; }
	n=$((n + 1))
	log=$work/check-$n.log
	if [ $sub -eq 1 ]; then
		set +e
		(set -e; "$2") >"$log" 2>&1
		rc=$?
		set -e
	else
		"$2" >"$log" 2>&1 || rc=$?
	fi
	if [ $rc -eq 0 ]; then
		echo "ok $n - $1 ($((SECONDS - t0)) s)"
		passed=$((passed + 1))
	else
		echo "not ok $n - $1 ($((SECONDS - t0)) s)"
		echo "#   exit status $rc; the end of its output:"
		tail -n 25 "$log" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
	last=$rc
}
finish() {
	[ "$1" = all ] || echo "# the checks after it need it: not run"
	echo "1..$n"
	echo "# $((SECONDS - start)) s in all"
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
	exit
}
fail() { echo "$*" >&2; exit 1; }

# The kernels, before anything else (built here if they are not yet)
step "kernel trees (scripts/kernel.sh)"
kx=$("$top/scripts/kernel.sh" 7.2)
k6=$("$top/scripts/kernel.sh" 6.12)
ka=$("$top/scripts/kernel.sh" --arch arm64 7.2)
krel() { cat "$1/include/config/kernel.release"; }
kx_rel=$(krel "$kx") k6_rel=$(krel "$k6") ka_rel=$(krel "$ka")

chroot_new "$dir"
work=$chroot_dir

# 1: the package
check_package() {
	local f list ctl
	deb=$("$top/scripts/deb.sh" "$work/deb")
	version=$(dpkg-deb -f "$deb" Version)
	echo "$deb: version $version"
	echo "$deb" >"$work/deb.path"
	src=/usr/src/$name-$version
	dpkg-deb -f "$deb" Depends | grep -q '^dkms' ||
		fail "it does not depend on dkms"
	# what is under $src, relative to it ($src has regex characters)
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,/,' |
	       while IFS= read -r f; do
		       [ "${f#"$src/"}" = "$f" ] || echo "${f#"$src/"}"
	       done)
	for f in dkms.conf Kbuild include/linux/pci-epf-virtio.h \
		 include/compat/vep-compat.h \
		 drivers/pci/endpoint/functions/Makefile \
		 drivers/pci/endpoint/functions/virtio/core.c; do
		grep -qxF "$f" <<<"$list" || fail "no $src/$f in it"
	done
	! grep -E "^(tests|drivers/pci/controller|scripts|configs)(/|$)" \
		<<<"$list" || fail "the test rig's files above are in $src"
	ctl=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$src/dkms.conf")
	grep -qx "PACKAGE_VERSION=\"$version\"" <<<"$ctl" ||
		fail "its dkms.conf has not PACKAGE_VERSION=\"$version\""
	grep -qx "PACKAGE_NAME=\"$name\"" <<<"$ctl" ||
		fail "its dkms.conf has not PACKAGE_NAME=\"$name\""
}
check "make deb: $name-dkms, with its version in dkms.conf and none of the test rig's sources" \
	check_package
[ -s "$work/deb.path" ] || finish early
deb=$(cat "$work/deb.path")
version=$(dpkg-deb -f "$deb" Version)
src=/usr/src/$name-$version

# 2: the chroot, and the kernel trees in it at the same paths (a build
# directory's links and Makefile name its source directory there)
mounted=()
mount_tree() {
	local d
	for d in "$1" "$(readlink -f "$1/source")"; do
		[[ " ${mounted[*]} " != *" $d "* ]] || continue
		chroot_mount "$d" "$d" --bind -o ro || return 1
		mounted+=("$d")
	done
}
check_chroot() {
	chroot_debootstrap "$mirror" &&
	in_root apt-get -q update &&
	mount_tree "$kx" && mount_tree "$k6" && mount_tree "$ka"
}
check -s "debootstrap --variant=minbase bookworm" check_chroot
[ $last -eq 0 ] || finish early

# 3: the package, on a machine with no kernel headers
dkms_status() { in_root dkms status -m "$name" -v "$version"; }
check_install() {
	cp "$deb" "$root/tmp/"
	chroot_apt "$work/apt.log" "/tmp/$(basename "$deb")"
	cat "$work/apt.log"
	# shellcheck disable=SC2016
	in_root dpkg-query -W -f '${Status}\n' "$name-dkms" |
		grep -qx 'install ok installed'
	in_root sh -c 'command -v gcc && command -v make'
	dkms_status
	dkms_status | grep -qx "$name/$version: added" ||
		fail "dkms has not the sources added (and nothing more)"
}
check "apt-get install of the package, no kernel headers: dkms and gcc come with it, the sources added, nothing built" \
	check_install
# shellcheck disable=SC2016
in_root dpkg-query -W -f '${Status}\n' "$name-dkms" 2>/dev/null |
	grep -qx 'install ok installed' || finish early

# 4: Debian 12's kernel, refused
check_stock() {
	local rel rc=0 out
	chroot_apt "$work/apt.log" linux-headers-amd64
	# shellcheck disable=SC2016
	rel=$(in_root dpkg-query -W -f '${Depends}' linux-headers-amd64 |
	      sed -n 's/.*linux-headers-\([^ ,]*\).*/\1/p')
	echo "Debian's kernel: $rel"
	dkms_status
	! dkms_status | grep -q ": installed" ||
		fail "installed for $rel"
	in_root dkms autoinstall -k "$rel"
	out=$(in_root dkms build -m "$name" -v "$version" -k "$rel" 2>&1) ||
		rc=$?
	echo "$out"
	[ "$rc" -eq 77 ] || fail "dkms build exited $rc, not 77"
	grep -q 'BUILD_EXCLUSIVE directive which does not match' <<<"$out" ||
		fail "dkms did not say BUILD_EXCLUSIVE"
}
check "Debian 12's linux-headers-amd64 (6.1, no PCI endpoint framework) installs; dkms build for it refused (77, BUILD_EXCLUSIVE)" \
	check_stock 

# built_ok KERNELRELEASE ARCH [VERMAGIC-WORD]: the modules dkms keeps, of
# that kernel (and with that word in their vermagic: arm64 has its own)
built_ok() {
	local m f vm
	for m in "${mods[@]}"; do
		f=/var/lib/dkms/$name/$version/$1/$2/module/$m.ko
		vm=$(in_root modinfo -F vermagic "$f") || fail "no $f"
		echo "$f: $vm"
		[[ "$vm " == "$1 "* ]] || fail "$f: vermagic not of $1"
		[[ -z "${3:-}" || " $vm " == *" $3 "* ]] ||
			fail "$f: no $3 in its vermagic"
	done
}
# build_native TREE KERNELRELEASE
build_native() {
	mkdir -p "$root/lib/modules/$2"
	ln -sfn "$1" "$root/lib/modules/$2/build"
	in_root dkms build -m "$name" -v "$version" -k "$2" || {
		cat "$root/var/lib/dkms/$name/$version/build/make.log"
		return 1
	}
	built_ok "$2" x86_64
}

# 5, 6: the rig's 7.2, built and installed
check_x86() { build_native "$kx" "$kx_rel"; }
check "dkms build for the rig's x86_64 $kx_rel tree (/lib/modules/$kx_rel/build): ${mods[*]}" \
	check_x86 

check_x86_install() {
	local m f dep
	in_root dkms install -m "$name" -v "$version" -k "$kx_rel"
	dkms_status
	for m in "${mods[@]}"; do
		f=/lib/modules/$kx_rel/updates/dkms/$m.ko
		[ "$(in_root modinfo -k "$kx_rel" -n "$m")" = "$f" ] ||
			fail "modinfo -k $kx_rel -n $m is not $f"
	done
	dep=$(grep "^updates/dkms/pci-epf-vcon.ko:" \
		"$root/lib/modules/$kx_rel/modules.dep") ||
		fail "pci-epf-vcon is not in modules.dep"
	echo "$dep"
	grep -q 'updates/dkms/pci-epf-virtio\.ko' <<<"$dep" ||
		fail "pci-epf-vcon does not depend on pci-epf-virtio"
}
check "dkms install for it: the modules in /lib/modules/$kx_rel/updates/dkms, in modules.dep" \
	check_x86_install 

# 7: the oldest
check_6_12() { build_native "$k6" "$k6_rel"; }
check "dkms build for the $k6_rel tree, the oldest kernel supported" \
	check_6_12 

# 8: arm64, cross-built
check_arm64() {
	local m f
	chroot_apt "$work/apt.log" gcc-aarch64-linux-gnu
	in_root dkms build -m "$name" -v "$version" -k "$ka_rel" -a arm64 \
		--kernelsourcedir "$ka" || {
		cat "$root/var/lib/dkms/$name/$version/build/make.log"
		return 1
	}
	for m in "${mods[@]}"; do
		f=/var/lib/dkms/$name/$version/$ka_rel/arm64/module/$m.ko
		in_root readelf -h "$f" | grep -q 'Machine:.*AArch64' ||
			fail "$f is not an AArch64 object"
	done
	built_ok "$ka_rel" arm64 aarch64
}
check "dkms build -a arm64 --kernelsourcedir for the arm64 $ka_rel tree, cross with gcc-aarch64-linux-gnu" \
	check_arm64 

# 9: removed
check_purge() {
	local left
	in_root env DEBIAN_FRONTEND=noninteractive apt-get -y -q purge \
		"$name-dkms"
	[ -z "$(dkms_status)" ] || fail "dkms still has it"
	[ ! -e "$root/var/lib/dkms/$name" ] || fail "/var/lib/dkms/$name is left"
	[ ! -e "$root$src" ] || fail "$src is left"
	left=$(cd "$root/lib/modules" && find . -name 'pci-epf-*.ko*')
	[ -z "$left" ] || fail "modules left: $left"
}
check "apt-get purge: its prerm takes the module out of dkms, the modules and sources go" \
	check_purge 

finish all
