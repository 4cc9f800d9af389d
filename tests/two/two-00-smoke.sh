#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the two-machine rig (scripts/rig2.sh, tests/lib/rig2.sh):
# both VMs boot the x86_64 rig kernel with an initramfs holding the agent
# and the test tools; prints TAP lines (tests/lib/tap.sh).
#
#   tests/two/two-00-smoke.sh [-k KVER] [-n WINDOWS]
#
# Checks that both agents answer and run the rig kernel (uname -r); that
# the endpoint has WINDOWS (default 4) ivshmem-plain devices with a BAR2 of
# the host's RAM size and one doorbell, and the host one ivshmem-plain and
# one doorbell (1af4:1110 in sysfs: busybox has no lspci); the doorbells'
# IDs (IVPosition: host 0, endpoint 1), their shared memory and the
# server's bitmap of connected machines in it (0x3).  The rig
# kernel has no /dev/mem, so a VM fills a page of its RAM through a tmpfs
# file, this script finds that page in the VM's RAM file, and the other VM
# reads it through its BAR2s (tests/tools/vep-bar.c on the sysfs resource
# file): host to endpoint through every window, endpoint to host through
# the inbound BAR.  Then ep_kill (the bitmap: 0x1) and ep_restart (the
# endpoint's new ID is 2, the bitmap 0x5; the server holds as many
# descriptors as before; both directions again) and
# host_reboot (a new boot ID, the host's ID still 0, both directions
# again), and no kernel trouble in either console.  The time from start
# to both agents, of ep_restart and of host_reboot are "#" lines.
#
# The kernel is $VEP_BZIMAGE if set, else that of "scripts/kernel.sh KVER"
# (default $KVER or 7.2); the logs go to build/logs/two-00-smoke/.  Run it
# alone on the machine: its VMs are pinned to CPUs 0 and 1.
#
# vep-two-arches: x86_64

set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)

usage() {
	sed -n '/^#   tests/,/^$/p' "$0" >&2
	exit 2
}

kver=${KVER:-7.2}
windows=4
while getopts "k:n:h" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	n) windows=$OPTARG ;;
	*) usage ;;
	esac
done

# shellcheck source=tests/lib/tap.sh
. "$top/tests/lib/tap.sh"
# shellcheck source=tests/lib/rig2.sh
. "$top/tests/lib/rig2.sh"

kdir=$("$top/scripts/kernel.sh" "$kver")
bzimage=${VEP_BZIMAGE:-$kdir/arch/x86/boot/bzImage}
# the release string of a bzImage: its header points at it
voff=$(od -An -tu2 -j 526 -N 2 "$bzimage" | tr -d ' ')
release=$(dd if="$bzimage" bs=1 skip=$((voff + 512)) count=128 2>/dev/null |
	  tr '\0' ' ' | cut -d' ' -f1)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-two.XXXXXX")
RIG2_DIR=$tmp/rig
RIG2_LOGDIR=$top/build/logs/two-00-smoke
trap 'rig2_stop; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rm -rf "$RIG2_LOGDIR"

iargs=(-o "$tmp/initrd.gz" -f "$top/tests/lib/agent.sh:/agent.sh")
while read -r e; do
	iargs+=(-f "$e")
done < <("$top/scripts/tools.sh" "$kdir" "$top/build/tools-$kver")
"$top/scripts/initramfs.sh" "${iargs[@]}"

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs_since() { local d=$(($(now_ms) - $1)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }

# --- start ------------------------------------------------------------------
t0=$(now_ms)
if ! rig2_start -K "$bzimage" -I "$tmp/initrd.gz" -k "$bzimage" \
	-i "$tmp/initrd.gz" -n "$windows" \
	-s "$top/build/tools-$kver/vep-ivshmem-server"; then
	tap_fail "the rig starts and both agents answer"
	tap_end || exit 1
fi
tap_ok "the rig starts and both agents answer"
tap_diag "rig start to both agents answering: $(secs_since "$t0") s"

mem=$(numfmt --from=iec "$(rig2_get mem)")
host_ram=$(rig2_get host_ram)
ep_ram=$(rig2_get ep_ram)

# check NAME CMD...: a case from a command (run in this shell, so that it
# may set variables) that says why it failed
check() {
	local name=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then
		tap_ok "$name"
		[ ! -s "$tmp/check.out" ] || tap_diag "$(cat "$tmp/check.out")"
	else
		tap_fail "$name" "$(cat "$tmp/check.out")"
	fi
}

uname_is() {
	local r
	r=$("on_$1" 'uname -r') || return 1
	[ "$r" = "$release" ] || { echo "uname -r: $r, not $release"; return 1; }
}

# ivshmem devices of a VM: "BDF BAR2-size" lines
ivshmem_list() {
	# shellcheck disable=SC2016 # for the guest's shell
	"on_$1" 'for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor) $(cat $d/device)" = "0x1af4 0x1110" ] || continue
		set -- $(sed -n 3p $d/resource)
		echo "${d##*/} $(($2 - $1 + 1))"
	done'
}

# devices VM WANT_PLAIN: the VM has WANT_PLAIN ivshmem devices whose BAR2
# is MEM and one doorbell (64 KiB); sets VM_plain and VM_db
devices() {
	local vm=$1 want=$2 list plain db
	list=$(ivshmem_list "$vm") || return 1
	plain=$(awk -v m="$mem" '$2 == m { print $1 }' <<<"$list" | xargs)
	db=$(awk '$2 == 65536 { print $1 }' <<<"$list" | xargs)
	printf -v "${vm}_plain" '%s' "$plain"
	printf -v "${vm}_db" '%s' "$db"
	echo "$vm: $(wc -l <<<"$list") ivshmem device(s):" "$(xargs <<<"$list")"
	[ "$(wc -w <<<"$plain")" -eq "$want" ] && [ "$(wc -w <<<"$db")" -eq 1 ]
}

# doorbell_id VM WANT: the IVPosition register of VM's doorbell is WANT
doorbell_id() {
	local db=${1}_db id
	id=$("on_$1" "/tests/bin/vep-bar -l /sys/bus/pci/devices/${!db}/resource0 8") ||
		return 1
	[ $((id)) -eq "$2" ] || { echo "$1's ID is $((id)), not $2"; return 1; }
}

ep_db='' ep_plain='' host_db='' host_plain=''

# shared_page [write]: (the endpoint writes a token into the doorbells'
# shared memory, near its end, and) the host reads it back
token=$(head -c 16 /dev/urandom | od -An -tx1 -v | tr -d ' \n')
shared_page() {
	local got
	if [ "${1:-}" = write ]; then
		on_ep "printf %s $token |
			/tests/bin/vep-bar -w /sys/bus/pci/devices/$ep_db/resource2 0xfe00" ||
			return 1
	fi
	got=$(on_host "/tests/bin/vep-bar /sys/bus/pci/devices/$host_db/resource2 0xfe00 32") ||
		return 1
	[ "$got" = "$token" ] || { echo "host reads '$got', not $token"; return 1; }
}

# live WANT: the word at offset 0 of the doorbells' memory, as the host
# reads it, is WANT
live() {
	local got
	got=$(on_host "/tests/bin/vep-bar -l /sys/bus/pci/devices/$host_db/resource2 0") ||
		return 1
	[ $((got)) -eq $(($1)) ] || { echo "the bitmap is $got, not $1"; return 1; }
}

# through FROM TO RAM BDFS: FROM fills a page of its RAM (a tmpfs file of
# random hex), the page is found in RAM (FROM's RAM file) and TO reads it
# through BAR2 of each device in BDFS
through() {
	local from=$1 to=$2 ram=$3 bdfs=$4 out sha key off='' o d got n=0
	# shellcheck disable=SC2016 # for the guest's shell
	out=$("on_$from" 'f=$(mktemp /tmp/page.XXXXXX)
		head -c 2048 /dev/urandom | od -An -tx1 -v | tr -d " \n" >$f
		echo $(sha256sum <$f | cut -c1-64) $(head -c 64 $f)') || return 1
	read -r sha key <<<"$out"
	for o in $(rig2_find_page "$ram" "$key"); do
		if [ "$(dd if="$ram" bs=4096 skip=$((o / 4096)) count=1 2>/dev/null |
			sha256sum | cut -c1-64)" = "$sha" ]; then
			off=$o
			break
		fi
	done
	[ -n "$off" ] || { echo "the page is not in $ram"; return 1; }
	out=$("on_$to" "for d in $bdfs; do
		echo \$d \$(/tests/bin/vep-bar /sys/bus/pci/devices/\$d/resource2 $off 4096 | sha256sum)
	done") || return 1
	while read -r d got _; do
		n=$((n + 1))
		[ "$got" = "$sha" ] ||
			{ echo "$to: $d reads $got at $off, not $sha"; return 1; }
	done <<<"$out"
	[ "$n" -eq "$(wc -w <<<"$bdfs")" ] || { echo "$to: $n answers"; return 1; }
	printf '%s page at 0x%x, read by %s through %d BAR(s)\n' "$from" "$off" "$to" "$n"
}

# server_fds: descriptors the ivshmem server holds
server_fds() { find "/proc/$(cat "$RIG2_DIR/server.pid")/fd" -mindepth 1 | wc -l; }

same_fds() {
	[ "$(server_fds)" -eq "$1" ] || { echo "$(server_fds) now"; return 1; }
}

new_boot() {
	local b
	b=$(on_host 'cat /proc/sys/kernel/random/boot_id') || return 1
	[ "$b" != "$1" ] || { echo "boot ID $b as before"; return 1; }
}

no_ktrouble() {
	local out
	out=$(rig2_ktrouble)
	[ -z "$out" ] || { echo "$out"; return 1; }
}

# --- the rig as it came up ---------------------------------------------------
check "host: uname -r is $release" uname_is host
check "endpoint: uname -r is $release" uname_is ep
check "endpoint: $windows windows of $mem bytes and a doorbell" devices ep "$windows"
check "host: an inbound alias of $mem bytes and a doorbell" devices host 1
check "host: doorbell ID 0" doorbell_id host 0
check "endpoint: doorbell ID 1" doorbell_id ep 1
check "the doorbells share their memory" shared_page write
check "the server's bitmap: host and endpoint connected" live 0x3
check "host RAM -> endpoint windows" through host ep "$host_ram" "$ep_plain"
check "endpoint RAM -> host inbound alias" through ep host "$ep_ram" "$host_plain"

# --- endpoint restart ----------------------------------------------------------
fds=$(server_fds)
ep_kill || tap_fail "ep_kill"
check "ep_kill: the server's bitmap: host only" live 0x1
t0=$(now_ms)
if ep_restart -w 300; then
	tap_ok "ep_restart: the new endpoint's agent answers"
	tap_diag "ep_restart to the endpoint's agent answering: $(secs_since "$t0") s"
else
	tap_fail "ep_restart: the new endpoint's agent answers"
fi
check "ep_restart: doorbell ID 2 (never reused)" doorbell_id ep 2
check "ep_restart: the server's bitmap: IDs 0 and 2" live 0x5
check "ep_restart: the server holds $fds descriptors again" same_fds "$fds"
check "ep_restart: the shared memory kept its token" shared_page
check "ep_restart: host RAM -> endpoint windows" through host ep "$host_ram" "$ep_plain"
check "ep_restart: endpoint RAM -> host inbound alias" through ep host "$ep_ram" "$host_plain"

# --- host reboot ------------------------------------------------------------------
boot=$(on_host 'cat /proc/sys/kernel/random/boot_id' || true)
t0=$(now_ms)
if host_reboot -w 300; then
	tap_ok "host_reboot: the host's agent answers again"
	tap_diag "host_reboot to the host's agent answering: $(secs_since "$t0") s"
else
	tap_fail "host_reboot: the host's agent answers again"
fi
check "host_reboot: a new boot" new_boot "$boot"
check "host_reboot: doorbell ID still 0" doorbell_id host 0
check "host_reboot: host RAM -> endpoint windows" through host ep "$host_ram" "$ep_plain"
check "host_reboot: endpoint RAM -> host inbound alias" through ep host "$ep_ram" "$host_plain"

check "no kernel trouble in either console" no_ktrouble

tap_end || exit 1
