#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What "make demo" runs: boot the rig interactively on this terminal, with
# the project's modules in /lib/modules/vep and the loopback controller
# loaded. Leave with "poweroff -f" (or Ctrl-A X).

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}

"$top/scripts/deps.sh"
kdir=$("$top/scripts/kernel.sh" "$kver")
make -s -C "$kdir" M="$top" W=1 modules >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The login shell's profile loads the controller once and says what is there
cat > "$tmp/profile" <<'PROFILE'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if ! grep -q '^pci_epc_loop ' /proc/modules; then
	insmod /lib/modules/vep/pci-epc-loop.ko
	echo "Loopback endpoint controllers (configfs):"
	ls /sys/kernel/config/pci_ep/controllers/
	echo "Endpoint functions available:"
	ls /sys/kernel/config/pci_ep/functions/
	echo "Leave with: poweroff -f"
fi
PROFILE

mods=()
while read -r m; do mods+=(-m "$m"); done < <(find "$top/drivers" -name '*.ko')
"$top/scripts/initramfs.sh" -o "$tmp/initramfs.cpio.gz" "${mods[@]}" \
	-f "$tmp/profile:/etc/profile" -f "$top/tests/lib:/tests/lib"
"$top/scripts/qemu.sh" -I -k "$kdir/arch/x86/boot/bzImage" \
	-i "$tmp/initramfs.cpio.gz"
