#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own pci-epf-test function on the loopback controller, driven
# from the host side by pci_endpoint_test and the kselftest of the same tree
# (/tests/bin/pci_endpoint_test). Each selftest case becomes one TAP line.
#
# The controllers have DMA channels (pci-epc-emul's engine).  Controller 0
# has private slave channels, as DesignWare's eDMA has: the kselftest's DMA
# reads and writes run on them, and the engine's fault knob fails one.
# The kselftest's DMA copy needs memcpy channels (pci-epf-test gives
# private channels no source address to copy from, as the kernel's
# pci-test-howto says): controller 1 has those, and the function moves
# there for the three DMA cases.

. /tests/lib/tap.sh
. /tests/lib/rig.sh

DMA_CHANS=2
ST=/tests/bin/pci_endpoint_test
DMA_FAIL=/sys/module/pci_epc_emul/parameters/dma_fail
linked=

rig_load_epc dma_chans=$DMA_CHANS dma_memcpy_mask=2 || exit 1
epc=$(rig_epc 0)

# mkfn NAME: a pci-epf-test function $fn, for pci_endpoint_test
mkfn() {
	fn=$EPCFS/functions/pci_epf_test/$1
	mkdir "$fn"
	echo 0x104c > "$fn/vendorid"	# TI DRA74x: pci_endpoint_test binds it
	echo 0xb500 > "$fn/deviceid"
	echo 4 > "$fn/msi_interrupts"
	echo 8 > "$fn/msix_interrupts"
	echo 1 > "$fn/interrupt_pin"
}
mkfn t0

# link_up [WHEN]: $fn on controller $epc, link up, the host's driver bound
link_up() {
	linked=1
	ln -s "$fn" "$epc/"
	tap_check "pci-epf-test: start the link${1:+ ($1)}" \
		sh -c "echo 1 > $epc/start"
	tap_check "pci_endpoint_test binds on the host${1:+ ($1)}" \
		rig_wait 20 test -c /dev/pci-endpoint-test.0
}

# link_down [WHEN]: the link down, the host's device gone, $fn unlinked
link_down() {
	linked=
	tap_check "stop the link${1:+ ($1)}" sh -c "echo 0 > $epc/start"
	tap_check "host device removed on link down${1:+ ($1)}" \
		rig_wait 20 sh -c '! test -e /dev/pci-endpoint-test.0'
	tap_check "link down complete${1:+ ($1)}" rig_link "${epc##*.}" down
	tap_check "unlink the function${1:+ ($1)}" rm "$epc/${fn##*/}"
}

# selftest WHAT ARGS...: the kselftest with ARGS, a TAP line per case
# ("ok N name" / "not ok N name" / "... # SKIP why"), then one for the run
# as a whole: its status, and every planned case reported
selftest() {
	st_what=$1
	shift
	$ST "$@" > /tmp/selftest.out 2>&1
	st_rc=$?
	sed -n 's/^\(not ok\|ok\) [0-9]* \(.*\)$/\1 - selftest: \2/p' \
		/tmp/selftest.out
	grep '^#' /tmp/selftest.out | tail -n 40
	st_plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' /tmp/selftest.out)
	st_ran=$(grep -cE '^(not )?ok [0-9]+ ' /tmp/selftest.out)
	tap_check "selftest ($st_what): exit status $st_rc, $st_ran of ${st_plan:-no} planned cases reported" \
		test "$st_rc" -eq 0 -a -n "$st_plan" -a "$st_ran" = "$st_plan"
}

# found KIND: pci-epf-test, bound by link_up, holds channels of KIND
# (private: both of controller 0's slave channels; generic: one of
# controller 1's memcpy channels).  Without one it raises no interrupt
# for a DMA command, and the host's driver may wait for ever: the DMA
# cases need this first.
found() {
	if [ "$1" = private ]; then
		test "$(rig_dma_held pci-epc-loop.0)" -eq 2
	else
		test "$(rig_dma_held pci-epc-loop.1)" -eq 1
	fi
}

# dma_slave: the kselftest's DMA reads and writes on controller 0's slave
# channels, and one that the engine's fault knob fails
dma_slave() {
	selftest "slave DMA" -r pci_ep_data_transfer.dma.READ_TEST \
		-r pci_ep_data_transfer.dma.WRITE_TEST
	tap_check "the reads and writes went by DMA" \
		sh -c 'dmesg | grep -q "READ => .*DMA: YES" &&
		       dmesg | grep -q "WRITE => .*DMA: YES"'
	tap_check "controller 0's DMA channels moved them" \
		rig_dma_moved pci-epc-loop.0

	echo 1 > $DMA_FAIL
	$ST -r pci_ep_data_transfer.dma.READ_TEST > /tmp/selftest.out 2>&1
	tap_check "a DMA read the engine fails fails the case" \
		sh -c '! grep -q "^ok " /tmp/selftest.out'
	tap_check "pci-epf-test saw the DMA transfer fail" \
		sh -c 'dmesg | grep -q "pci_epf_test.*DMA transfer failed" &&
		       dmesg | grep -q "transfer of [0-9]* bytes failed (err=-5)"'
	tap_check "the fault knob is spent" test "$(cat $DMA_FAIL)" = 0
	selftest "slave DMA after the failure" \
		-r pci_ep_data_transfer.dma.READ_TEST
}

# dma_memcpy: the kselftest's three DMA cases on controller 1's memcpy
# channels
dma_memcpy() {
	selftest "memcpy DMA" -v dma
	tap_check "the copies went by DMA" \
		sh -c 'dmesg | grep -q "COPY => .*DMA: YES"'
	tap_check "controller 1's memcpy channels moved them" \
		rig_dma_moved pci-epc-loop.1
}

if [ -x $ST ]; then
	link_up
	selftest "no DMA" -V dma
	if tap_check "pci-epf-test found controller 0's slave DMA channels" \
		found private; then
		dma_slave
	else
		tap_fail "slave DMA cases" "not run: no channel"
	fi
	link_down "slave DMA"

	# A new function: pci-epf-test keeps taking a channel it found
	# private for one, after it fell back to a public one on another
	# controller (7.2), and fails every DMA transfer there
	tap_check "remove the function (slave DMA)" rmdir "$fn"
	mkfn t1
	epc=$(rig_epc 1)
	link_up "memcpy DMA"
	if tap_check "pci-epf-test found controller 1's memcpy DMA channel" \
		found generic; then
		dma_memcpy
	else
		tap_fail "memcpy DMA cases" "not run: no channel"
	fi
	link_down "memcpy DMA"
elif [ -x /tests/bin/pcitest ]; then
	# Kernels before the kselftest: tools/pci/pcitest, one case each.
	link_up
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

[ -z "$linked" ] || link_down
tap_check "remove the function" rmdir "$fn"
rig_check_dmesg
tap_end
exit $?
