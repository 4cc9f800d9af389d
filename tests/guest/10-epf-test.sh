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
echo 4 > "$fn/msi_interrupts"
echo 8 > "$fn/msix_interrupts"
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
	# the run as a whole: its status, and every planned case reported
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' /tmp/selftest.out)
	ran=$(grep -cE '^(not )?ok [0-9]+ ' /tmp/selftest.out)
	tap_check "selftest: exit status $rc, $ran of ${plan:-no} planned cases reported" \
		test "$rc" -eq 0 -a -n "$plan" -a "$ran" = "$plan"
	for t in READ_TEST WRITE_TEST COPY_TEST; do
		tap_skip "selftest: pci_ep_data_transfer.dma.$t" \
			"the rig has no DMA channel"
	done
elif [ -x /tests/bin/pcitest ]; then
	# Kernels before the kselftest: tools/pci/pcitest, one case each.
	pt=/tests/bin/pcitest
	for b in 0 1 2 3 4 5; do
		tap_check "pcitest: BAR$b" $pt -b $b
	done
	tap_check "pcitest: INTx" sh -c "$pt -i 0 && $pt -l"
	$pt -i 1 > /dev/null
	for n in 1 2 4; do
		tap_check "pcitest: MSI$n" $pt -m $n
	done
	$pt -i 2 > /dev/null
	for n in 1 2 8; do
		tap_check "pcitest: MSI-X$n" $pt -x $n
	done
	# This pci-epf-test maps host memory with pci_epc_mem_alloc_addr()
	# and pci_epc_map_addr(), which the loopback controller cannot
	# serve: the transfer must fail, with the controller saying why.
	rig_mark old-api
	tap_check "pcitest: READ with the old mapping API is refused" \
		sh -c "! $pt -r -s 1024"
	refused() {
		rig_dmesg_since old-api |
			grep -q 'only pci_epc_mem_map() is supported'
	}
	tap_check "pcitest: the refusal names the supported API" refused
	for t in READ WRITE COPY; do
		tap_skip "pcitest: $t" \
			"this kernel's pci-epf-test uses the old mapping API"
	done
else
	tap_fail "test tool present" "no /tests/bin/pci_endpoint_test or pcitest"
fi

tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "host device removed on link down" \
	rig_wait 20 sh -c '! test -e /dev/pci-endpoint-test.0'
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/t0"
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
