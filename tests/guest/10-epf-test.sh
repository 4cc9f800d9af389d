#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own pci-epf-test function on the loopback controller, driven
# from the host side by pci_endpoint_test and the kselftest of the same tree
# (/tests/bin/pci_endpoint_test). Each selftest case becomes one TAP line.

. /tests/lib/tap.sh
. /tests/lib/rig.sh

rig_load_epc || exit 1
epc=$(rig_epc 0)

fn=$EPCFS/functions/pci_epf_test/t0
mkdir "$fn"
echo 0x104c > "$fn/vendorid"		# TI DRA74x: pci_endpoint_test binds it
echo 0xb500 > "$fn/deviceid"
echo 32 > "$fn/msi_interrupts"
echo 64 > "$fn/msix_interrupts"
echo 1 > "$fn/interrupt_pin"
ln -s "$fn" "$epc/"
tap_check "pci-epf-test: start the link" sh -c "echo 1 > $epc/start"
tap_check "pci_endpoint_test binds on the host" \
	rig_wait 20 test -c /dev/pci-endpoint-test.0

if [ -x /tests/bin/pci_endpoint_test ]; then
	# kselftest TAP: "ok N name" / "not ok N name" / "... # SKIP why".
	# The dma variants need a DMA channel, which the rig does not have.
	/tests/bin/pci_endpoint_test -V dma > /tmp/selftest.out 2>&1
	rc=$?
	sed -n 's/^\(not ok\|ok\) [0-9]* \(.*\)$/\1 - selftest: \2/p' \
		/tmp/selftest.out
	grep '^#' /tmp/selftest.out | tail -n 40
	tap_diag "selftest exit status $rc"
	for t in READ_TEST WRITE_TEST COPY_TEST; do
		tap_skip "selftest: pci_ep_data_transfer.dma.$t" \
			"the rig has no DMA channel"
	done
else
	tap_fail "selftest binary present" "/tests/bin/pci_endpoint_test missing"
fi

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "host device removed on link down" \
	rig_wait 20 sh -c '! test -e /dev/pci-endpoint-test.0'
tap_check "unlink the function" rm "$epc/t0"
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
