#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the initramfs of the two-machine rig's host, for Debian's stock
# kernel (scripts/hostkernel.sh).
#
#   scripts/hostinitramfs.sh -o OUT.cpio.gz [-s STOCK_MODULE ...]
#                            [-m MODULE.ko ...] [-f SRC:DST ...]
#                            [-b BINARY[:DST] ...] [MODULE.ko ...]
#
# The image is scripts/initramfs.sh's (same userland, same /init; -m, -f,
# -b and plain MODULE.ko arguments are passed on to it, so project modules
# land in /lib/modules/vep/), plus the stock modules the host needs, with
# everything they depend on (as modprobe resolves it from the kernel's
# modules.dep, soft dependencies included), in /lib/modules/KVER/ with
# their own depmod, so that "modprobe virtio_console" works in the guest:
# virtio_pci, virtio_console, virtio_net, vsock, vmw_vsock_virtio_transport,
# nvme and configfs, pci_endpoint_test when the kernel has it (Debian's has
# not: scripts/hostmodules.sh builds one from Debian's source, a -m module),
# and each STOCK_MODULE given with -s.  configfs is loaded by /init before
# its mounts (the stock kernel has it as a module).
#
# The kernel is the one scripts/hostkernel.sh fetches, unless HOST_KVER and
# HOST_MODDIR are set in the environment (its output, eval'd).

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '/^#   scripts/,/^$/p' "$0" >&2
	exit 2
}
log() { echo "hostinitramfs.sh: $*" >&2; }
die() { log "$*"; exit 1; }

out=
stock=(virtio_pci virtio_console virtio_net vsock vmw_vsock_virtio_transport
       nvme configfs)
optional=(pci_endpoint_test)
pass=()		# for scripts/initramfs.sh
while getopts "o:s:m:f:b:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	s) stock+=("$OPTARG") ;;
	m|f|b) pass+=("-$opt" "$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
pass+=("$@")
[ -n "$out" ] || usage

if [ -z "${HOST_KVER:-}" ] || [ -z "${HOST_MODDIR:-}" ]; then
	eval "$("$top/scripts/hostkernel.sh")"
fi
kver=$HOST_KVER
[ -f "$HOST_MODDIR/modules.dep" ] || die "no modules.dep in $HOST_MODDIR"
# modprobe -d wants the root that holds lib/modules/KVER
mroot=$(cd "$HOST_MODDIR/../../.." && pwd)

stage=$(mktemp -d "${TMPDIR:-/tmp}/vep-hostmods.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib/modules/$kver" "$stage/etc"

# add NAME: copy module NAME and what it depends on into the staging tree;
# fails when the kernel has no such module
add() {
	local deps line dst
	deps=$(modprobe -d "$mroot" -S "$kver" --show-depends "$1" 2>/dev/null) ||
		return 1
	while read -r line; do
		case $line in
		"insmod /"*)
			line=${line#insmod }
			line=${line%% *}
			dst=$stage/${line#"$mroot"/}
			mkdir -p "$(dirname "$dst")"
			cp "$line" "$dst" ;;
		builtin\ *) log "$1: built into $kver" ;;
		esac
	done <<<"$deps"
}

for m in "${stock[@]}"; do
	add "$m" || die "$kver has no module $m"
done
for m in "${optional[@]}"; do
	add "$m" || log "note: $kver has no module $m"
done
for f in modules.order modules.builtin modules.builtin.modinfo; do
	cp "$HOST_MODDIR/$f" "$stage/lib/modules/$kver/"
done
depmod -b "$stage" "$kver"
echo configfs >"$stage/etc/modules"

"$top/scripts/initramfs.sh" -o "$out" \
	-f "$stage/lib/modules/$kver:/lib/modules/$kver" \
	-f "$stage/etc/modules:/etc/modules" "${pass[@]}"
