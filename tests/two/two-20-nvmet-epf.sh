#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's nvmet-pci-epf function across two machines, with a
# memory-backed null_blk namespace on the endpoint, seen by the stock Debian
# host's nvme driver.  Data the host writes is read back on the host and
# checked on the endpoint's own block device.  The endpoint's controller
# has DMA channels, and the function must have moved the data with them.
#
# vep-timeout: 600

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

NB=/sys/kernel/config/nullb/nullb1
SUB=/sys/kernel/config/nvmet/subsystems/vep.nqn
PORT=/sys/kernel/config/nvmet/ports/1
FN=$TWO_EPF/nvmet_pci_epf/nvme0
MIB=8

two_start
if ! on_ep "test -d $TWO_EPF/nvmet_pci_epf" >/dev/null; then
	tap_skip "nvmet-pci-epf" "this endpoint kernel has no nvmet-pci-epf"
	two_ktrouble_case
	tap_end
	exit $?
fi
two_host_load nvme
# DMA channels on the endpoint's controller: nvmet-pci-epf moves its data
# with them, as with an eDMA
TWO_EPC_PARAMS="dma_chans=2"
two_ep_load
two_need "endpoint: a memory-backed null_blk of 64 MiB" on_ep "
	mkdir $NB && echo 64 >$NB/size && echo 1 >$NB/memory_backed &&
	echo 1 >$NB/power && n=50 &&
	while [ ! -b /dev/nullb1 ] && [ \$n -gt 0 ]; do
		sleep 0.1; n=\$((n - 1))
	done && test -b /dev/nullb1"
two_need "endpoint: an nvmet subsystem with it as namespace 1, on a PCI port" on_ep "
	mkdir $SUB && echo -n vep-rig >$SUB/attr_model &&
	echo 1 >$SUB/attr_allow_any_host && echo 2 >$SUB/attr_qid_max &&
	mkdir $SUB/namespaces/1 &&
	echo -n /dev/nullb1 >$SUB/namespaces/1/device_path &&
	echo 1 >$SUB/namespaces/1/enable &&
	mkdir $PORT && echo -n pci >$PORT/addr_trtype &&
	ln -s $SUB $PORT/subsystems/vep.nqn"
two_need "nvme0, an nvmet-pci-epf function with 8 MSI-X vectors, bound" on_ep "
	mkdir $FN && echo 0xbeef >$FN/deviceid && echo 8 >$FN/msix_interrupts &&
	echo 1 >$FN/nvme/portid && echo vep.nqn >$FN/nvme/subsysnqn &&
	ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller" on_ep "echo 1 >$TWO_EPC/start"
two_check "endpoint link up" two_ep_link up
two_need "host nvme sees the namespace" on_host "n=600
	while [ \$n -gt 0 ]; do
		[ -b /dev/nvme0n1 ] && exit 0
		sleep 0.1; n=\$((n - 1))
	done; echo no /dev/nvme0n1; dmesg | grep -i nvme | tail -n 5; exit 1"
kind=$(two_irq_kind)
two_check "the host uses MSI-X ($kind)" test "$kind" = MSI-X

sum=$(on_host "head -c $((MIB << 20)) /dev/urandom >/tmp/data &&
	sha256sum </tmp/data")
two_check "host writes $MIB MiB (direct)" on_host -t 300 \
	"dd if=/tmp/data of=/dev/nvme0n1 bs=1M oflag=direct conv=fsync 2>&1"
two_check "host reads $MIB MiB back (direct), the same" on_host -t 300 "
	s=\$(dd if=/dev/nvme0n1 bs=1M count=$MIB iflag=direct 2>/dev/null |
	     sha256sum)
	[ \"\$s\" = '$sum' ] || { echo \"read \$s\"; exit 1; }"
two_check "endpoint's null_blk holds the same data" on_ep -t 120 "
	s=\$(dd if=/dev/nullb1 bs=1M count=$MIB iflag=direct 2>/dev/null |
	     sha256sum)
	[ \"\$s\" = '$sum' ] || { echo \"read \$s\"; exit 1; }"

two_check "nvmet-pci-epf took the controller's DMA channels" on_ep \
	"! dmesg | grep 'DMA not supported, falling back to MMIO'"
two_check "the controller's DMA channels moved the data" two_ep_dma_moved

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "host's namespace goes with it" on_host "! test -e /dev/nvme0n1"
two_check "endpoint unbinds the function" on_ep "rm $TWO_EPC/nvme0"
two_ktrouble_case
tap_end
