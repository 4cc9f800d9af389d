#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the rig's initramfs (gzip'd newc cpio).
#
#   scripts/initramfs.sh -o OUT.cpio.gz [-m MODULE.ko ...] [-f SRC:DST ...]
#                        [-b BINARY[:DST] ...] [-A ARCH] [MODULE.ko ...]
#
# The image holds busybox-static with all its applet links, overlaid by the
# real Debian tools where both exist (agetty, login, setsid, script, stty,
# dd, head, sha256sum, ip) plus iperf3, ethtool and socat, each with its
# shared libraries and the dynamic loader; a minimal PAM setup (pam_unix)
# so that agetty + login authenticate for real; the project modules given
# with -m (or as plain arguments) in /lib/modules/vep/; extra files from
# -f SRC:DST (parent directories created, mode kept; a dynamically linked
# ELF also gets its libraries); extra host binaries from -b (same path in
# the image unless :DST is given).  The only account is root, password
# "root" unless VEP_ROOT_PASSWORD says otherwise (stored as a SHA-512 crypt
# hash).
#
# /init mounts proc, sysfs, devtmpfs, devpts, configfs, debugfs and tmpfs
# (/tmp, /run), loading first the modules that /etc/modules names if the
# image has that file (scripts/hostinitramfs.sh gives it one), sets the
# hostname "vep", brings lo up and then, if the kernel command line has
# vep.run=SCRIPT, runs "/bin/sh SCRIPT" with its output on the console,
# prints "VEP-EXIT <rc>" on a line of its own and powers off; otherwise it
# starts an interactive shell with job control on the console and powers
# off when that shell exits.
#
# -A arm64 builds the image of the arm64 endpoint kernel (scripts/kernel.sh
# --arch arm64) instead: busybox-static:arm64 from Debian (or $BUSYBOX),
# fetched once with "apt-get download" through scripts/apt/kernel.list,
# apt's lists under ~/.cache/vep/apt (or $VEP_CACHE) for arm64 alone, so
# the machine needs no foreign architecture in dpkg, and the binary kept in
# ~/.cache/vep/busybox-arm64/ (remove it to fetch again).  That image has
# busybox only: none of the Debian tools above, no PAM (so no agetty +
# login), no -b (host binaries are amd64; -f takes static arm64 ones).
# /init makes the applet links itself (busybox --install -s), since a
# foreign busybox cannot list them here, and the interactive shell runs
# under busybox's setsid.  -A x86_64 is the default.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}

out=
modules=()
files=()
bins=()
arch=x86_64
while getopts "o:m:f:b:A:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	m) modules+=("$OPTARG") ;;
	f) files+=("$OPTARG") ;;
	b) bins+=("$OPTARG") ;;
	A) arch=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
for a in "$@"; do
	case $a in
	*.ko) modules+=("$a") ;;
	*) echo "initramfs.sh: unexpected argument: $a" >&2; usage ;;
	esac
done
[ -n "$out" ] || usage

die() { echo "initramfs.sh: $*" >&2; exit 1; }

case $arch in
x86_64|arm64) ;;
*) echo "initramfs.sh: unknown -A $arch (x86_64 or arm64)" >&2; usage ;;
esac
[ "$arch" = x86_64 ] || [ ${#bins[@]} -eq 0 ] ||
	die "-b copies the build machine's binaries, not $arch ones (use -f)"

# fetch_busybox ARCH: print the path of Debian's busybox-static for ARCH,
# fetched into the cache the first time.
fetch_busybox() {
	local a=$1 cache=${VEP_CACHE:-$HOME/.cache/vep}
	local list=$top/scripts/apt/kernel.list dir aptdir opts
	dir=$cache/busybox-$a
	if [ ! -x "$dir/busybox" ]; then
		echo "initramfs.sh: fetching busybox-static:$a" >&2
		aptdir=$cache/apt/$a-$(printf '%s' "$(readlink -f "$list")" |
			sha256sum | cut -c1-12)
		mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" \
			"$dir"
		# A private apt state whose only architecture is $a: its
		# lists hold $a's packages and nothing else, and dpkg is never
		# asked about foreign architectures.
		opts=(-o "Dir::Etc::sourcelist=$list"
		      -o "Dir::Etc::sourceparts=-"
		      -o "Dir::State::Lists=$aptdir/lists"
		      -o "Dir::Cache=$aptdir"
		      -o "APT::Architecture=$a"
		      -o "APT::Architectures::=$a")
		[ "$(id -u)" -ne 0 ] || opts+=(-o "APT::Sandbox::User=root")
		# Check-Valid-Until=false: see scripts/kernel.sh.
		apt-get "${opts[@]}" -o Acquire::Check-Valid-Until=false \
			-qq update >&2 || die "apt-get update failed for $a"
		(
			tmp=$(mktemp -d "$dir/tmp.XXXXXX")
			trap 'rm -rf "$tmp"' EXIT
			cd "$tmp"
			apt-get "${opts[@]}" -qq download \
				"busybox-static:$a" >&2
			dpkg-deb --fsys-tarfile busybox-static_*.deb |
				tar -xO --wildcards './*bin/busybox' >busybox
			[ -s busybox ]
			chmod 755 busybox
			dpkg-deb -f busybox-static_*.deb Version >"$dir/version"
			mv busybox "$dir/busybox"
		) || die "could not fetch busybox-static:$a"
	fi
	echo "$dir/busybox"
}

# elf_machine FILE: the ELF machine number of FILE (62 x86_64, 183 arm64)
elf_machine() {
	od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}

root=$(mktemp -d "${TMPDIR:-/tmp}/vep-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

# Copy one file into the image, creating parent directories and keeping
# the mode (symlinks are followed).
put() {
	mkdir -p "$root$(dirname "$2")"
	cp -L --preserve=mode "$1" "$root$2"
}

# Copy the shared libraries of an ELF file (and the loader) into the image,
# at the paths the host's loader resolved them to.
is_dynamic_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] &&
		ldd "$1" >/dev/null 2>&1
}
add_libs() {
	local lib
	is_dynamic_elf "$1" || return 0
	ldd "$1" | awk '
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }' |
	while read -r lib; do
		[ -e "$root$lib" ] || put "$lib" "$lib"
	done
}

# A host binary: copy it with its libraries.
add_bin() {
	local src=$1 dst=${2:-$1}
	[ -e "$src" ] || die "$src not found"
	rm -f "$root$dst"
	put "$src" "$dst"
	add_libs "$src"
}

if [ "$arch" = x86_64 ]; then
	busybox=${BUSYBOX:-/bin/busybox}
	[ -x "$busybox" ] ||
		die "$busybox not found (apt-get install busybox-static)"
	is_dynamic_elf "$busybox" &&
		die "$busybox is not static (install busybox-static)"
	hostbb=$busybox		# run here: mkpasswd
else
	busybox=${BUSYBOX:-$(fetch_busybox "$arch")}
	[ "$(elf_machine "$busybox")" = 183 ] ||
		die "$busybox is not an $arch ELF binary"
	hostbb=/bin/busybox
	[ -x "$hostbb" ] ||
		die "$hostbb not found (apt-get install busybox-static)"
fi

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp}
mkdir -p "$root"/{run,root,mnt,var/log,lib/modules/vep,etc/pam.d}
ln -s ../run "$root/var/run"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"

# busybox and its applets (a foreign busybox cannot list them here: /bin/sh
# only, /init makes the others)
put "$busybox" /bin/busybox
if [ "$arch" = x86_64 ]; then
	"$busybox" --list-full | while read -r app; do
		case $app in
		*/*) ;;
		*) continue ;;	# linuxrc and the like
		esac
		[ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
	done
else
	ln -s /bin/busybox "$root/bin/sh"
fi

# The x86_64 image only (these are the build machine's binaries).
if [ "$arch" = x86_64 ]; then
	# Real tools over the applets of the same name.  Note that busybox
	# sh (built with FEATURE_SH_STANDALONE in Debian) still runs its own
	# applet when a command is named without a path: call /bin/stty,
	# /usr/bin/setsid, /bin/dd, /usr/bin/head, /usr/bin/sha256sum,
	# /bin/login, /sbin/ip by path (busybox's ip cannot make a veth
	# pair).  Other programs (agetty starting /bin/login, script starting
	# $SHELL) get these.
	add_bin /sbin/agetty
	add_bin /bin/login
	add_bin /usr/bin/setsid
	add_bin /usr/bin/script
	add_bin /bin/stty
	add_bin /bin/dd
	add_bin /usr/bin/head
	add_bin /usr/bin/sha256sum
	add_bin /usr/bin/iperf3
	add_bin /sbin/ethtool
	add_bin /usr/bin/socat
	add_bin /sbin/ip

	# PAM: login authenticates with pam_unix against /etc/shadow; every
	# other service is denied.  The modules are dlopen()ed, so ldd of
	# login does not list them.
	pamdir=/lib/x86_64-linux-gnu/security
	for m in pam_unix.so pam_deny.so pam_permit.so; do
		add_bin "$pamdir/$m"
	done
	cat >"$root/etc/pam.d/login" <<'EOF'
# Minimal PAM stack for login(1) in the rig.
auth     required pam_unix.so
account  required pam_unix.so
password required pam_unix.so sha512
session  required pam_unix.so
EOF
	cat >"$root/etc/pam.d/other" <<'EOF'
auth     required pam_deny.so
account  required pam_deny.so
password required pam_deny.so
session  required pam_deny.so
EOF
fi

pw=${VEP_ROOT_PASSWORD-root}
hash=$("$hostbb" mkpasswd -m sha512 "$pw")
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
printf 'root:%s:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' "$hash" \
	>"$root/etc/shadow"
chmod 600 "$root/etc/shadow"
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
shadow: files
hosts:  files
EOF
cat >"$root/etc/login.defs" <<'EOF'
LOGIN_RETRIES	3
LOGIN_TIMEOUT	60
ENV_SUPATH	PATH=/sbin:/usr/sbin:/bin:/usr/bin
ENV_PATH	PATH=/bin:/usr/bin:/sbin:/usr/sbin
TTYGROUP	tty
TTYPERM		0600
UMASK		022
EOF
printf '/bin/sh\n/bin/ash\n' >"$root/etc/shells"
echo vep >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost vep\n::1\t\tlocalhost\n' >"$root/etc/hosts"
printf 'vep rig \\l\n\n' >"$root/etc/issue"
cat >"$root/etc/profile" <<'EOF'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=${HOME:-/root}
PS1='\h:\w\$ '
EOF

# project modules
for m in "${modules[@]}"; do
	[ -f "$m" ] || die "module $m not found"
	put "$m" "/lib/modules/vep/$(basename "$m")"
done

# extra host binaries
for b in "${bins[@]}"; do
	case $b in
	*:*) add_bin "${b%%:*}" "${b#*:}" ;;
	*) add_bin "$b" ;;
	esac
done

# extra files
for f in "${files[@]}"; do
	case $f in
	*:/*) ;;
	*) die "-f wants SRC:/ABSOLUTE/DST, got $f" ;;
	esac
	src=${f%%:*}
	dst=${f#*:}
	[ -e "$src" ] || die "$src not found"
	if [ -d "$src" ]; then
		mkdir -p "$root$dst"
		cp -RL --preserve=mode "$src/." "$root$dst/"
	else
		rm -f "$root$dst"
		put "$src" "$dst"
		add_libs "$src"
	fi
done

cat >"$root/init" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Init of the rig's initramfs: see scripts/initramfs.sh.

export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root TERM=vt100 SHELL=/bin/sh

mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Modules named in /etc/modules, one a line, load before the other mounts,
# which may need them (an image for a modular kernel has this file).
if [ -f /etc/modules ]; then
	while read -r m; do modprobe "$m"; done </etc/modules
fi
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t configfs configfs /sys/kernel/config
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
: >/run/utmp
: >/var/log/wtmp
hostname -F /etc/hostname
ip link set lo up

run=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vep.run=*) run=${arg#vep.run=} ;;
	esac
done

if [ -n "$run" ]; then
	cd /
	/bin/sh "$run" </dev/null
	rc=$?
	# Start on a fresh line even if the script's output did not end in one,
	# and give the UART time to drain before the power goes.
	printf '\nVEP-EXIT %d\n' "$rc"
	sleep 1
else
	echo "vep rig: interactive shell; exit it to power off"
	cd /root
	/usr/bin/setsid -w cttyhack /bin/sh -l
fi
poweroff -f
EOF
chmod 755 "$root/init"
# A foreign busybox: the applet links made at boot, and busybox's setsid
# (no -w; run by the shell in a child of its own, it waits all the same).
if [ "$arch" != x86_64 ]; then
	sed -i -e '/^export HOME=/a /bin/busybox --install -s' \
	       -e 's|^\t/usr/bin/setsid -w cttyhack |\tsetsid cttyhack |' \
	       "$root/init"
	grep -q '^	setsid cttyhack ' "$root/init" ||
		die "/init: no setsid line to change"
fi

# /dev/console for the kernel to open before /init runs (the kernel's own
# built-in initramfs has one too; this only helps when building as root).
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio -o -0 -H newc -R 0:0 --quiet) | gzip -6 -n >"$out.tmp"
mv "$out.tmp" "$out"
