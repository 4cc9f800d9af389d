#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's nvmet-pci-epf function on the loopback controller, with a
# memory-backed null_blk namespace, seen by the host's stock nvme driver.
# Data written on the host is read back on the host and checked on the
# endpoint's own block device.  The controller has DMA channels, which
# nvmet-pci-epf finds as it finds eDMA's and moves the data with.

. /tests/lib/tap.sh
. /tests/lib/rig.sh

if [ ! -d "$EPCFS/functions/nvmet_pci_epf" ]; then
	tap_skip "nvmet-pci-epf" "this kernel has no nvmet-pci-epf"
	tap_end; exit $?
fi

rig_load_epc dma_chans=2 || exit 1
epc=$(rig_epc 0)

nb=/sys/kernel/config/nullb/nullb1
mkdir $nb
echo 64 > $nb/size		# MiB
echo 1 > $nb/memory_backed
echo 1 > $nb/power
tap_check "memory-backed null_blk on the endpoint" rig_wait 5 test -b /dev/nullb1

sub=/sys/kernel/config/nvmet/subsystems/vep.nqn
mkdir $sub
echo -n "vep-rig" > $sub/attr_model
echo 0x1b96 > $sub/attr_vendor_id
echo 0x1b96 > $sub/attr_subsys_vendor_id
echo 1 > $sub/attr_allow_any_host
echo 2 > $sub/attr_qid_max
mkdir $sub/namespaces/1
echo -n /dev/nullb1 > $sub/namespaces/1/device_path
echo 1 > $sub/namespaces/1/enable
port=/sys/kernel/config/nvmet/ports/1
mkdir $port
echo -n pci > $port/addr_trtype
ln -s $sub $port/subsystems/vep.nqn

fn=$EPCFS/functions/nvmet_pci_epf/nvme0
mkdir $fn
echo 0xbeef > $fn/deviceid
echo 8 > $fn/msix_interrupts
echo 1 > $fn/nvme/portid
echo vep.nqn > $fn/nvme/subsysnqn
ln -s $fn "$epc/"
tap_check "nvmet-pci-epf: start the link" sh -c "echo 1 > $epc/start"
tap_check "host nvme sees a namespace" rig_wait 60 test -b /dev/nvme0n1

dd if=/dev/urandom of=/tmp/data bs=1M count=8 2>/dev/null
tap_check "host writes 8 MiB" \
	dd if=/tmp/data of=/dev/nvme0n1 bs=1M oflag=direct conv=fsync
tap_check "host reads 8 MiB back" \
	dd if=/dev/nvme0n1 of=/tmp/back bs=1M count=8 iflag=direct
want=$(sha256sum < /tmp/data)
got=$(sha256sum < /tmp/back)
tap_check "host checksum matches" test "$want" = "$got"
dd if=/dev/nullb1 of=/tmp/ep bs=1M count=8 iflag=direct 2>/dev/null
got=$(sha256sum < /tmp/ep)
tap_check "endpoint block device holds the same data" test "$want" = "$got"
tap_check "nvmet-pci-epf took the controller's DMA channels" \
	sh -c "! dmesg | grep -q 'DMA not supported, falling back to MMIO'"
tap_check "the controller's DMA channels moved the data" \
	rig_dma_moved pci-epc-loop.0

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "host nvme device removed" rig_wait 30 sh -c '! test -e /dev/nvme0n1'
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/nvme0"
rig_check_dmesg
tap_end
exit $?
