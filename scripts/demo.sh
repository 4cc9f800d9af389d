#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What "make demo" runs: boot the rig on this terminal and show the product.
# The guest (scripts/demo-guest.sh) sets up the dedicated console function,
# runs a getty on the endpoint's /dev/hvcEP0 and puts this terminal on the
# host's /dev/hvc0: the first prompt is the endpoint's login, over the
# link.  Ctrl-X there leads to a menu (endpoint console, host shell, the
# network function, power off).  Ctrl-A X quits QEMU at any time.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}

"$top/scripts/deps.sh"
kdir=$("$top/scripts/kernel.sh" "$kver")
make -s -C "$kdir" M="$top" W=1 modules >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The console's login shell runs the demo, once; other logins (the one
# over the link among them) get the plain profile.
cat > "$tmp/profile" <<'PROFILE'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=${HOME:-/root}
PS1='\h:\w\$ '
if [ "$(tty)" = /dev/ttyS0 ] && [ ! -e /run/vep-demo ]; then
	: >/run/vep-demo
	exec /bin/sh /demo/demo.sh
fi
PROFILE

mods=()
while read -r m; do mods+=(-m "$m"); done < <(find "$top/drivers" -name '*.ko')
"$top/scripts/initramfs.sh" -o "$tmp/initramfs.cpio.gz" "${mods[@]}" \
	-f "$tmp/profile:/etc/profile" -f "$top/tests/lib:/tests/lib" \
	-f "$top/scripts/demo-guest.sh:/demo/demo.sh"
echo "demo: booting the rig (QEMU, software emulation: about a minute);" \
     "Ctrl-A X quits QEMU at any time" >&2
# loglevel=3: kernel messages below errors stay off the terminal.  With
# VEP_DEMO_KLOG=FILE (tests/local/02-demo.sh), the whole kernel log goes to
# FILE too, over a second serial port.
klog=()
if [ -n "${VEP_DEMO_KLOG:-}" ]; then
	: >"$VEP_DEMO_KLOG"
	klog=(-a vep.klog -- -serial "file:$VEP_DEMO_KLOG")
fi
"$top/scripts/qemu.sh" -I -a loglevel=3 -k "$kdir/arch/x86/boot/bzImage" \
	-i "$tmp/initramfs.cpio.gz" "${klog[@]}"
