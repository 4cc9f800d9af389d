#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own pci-epf-test function across two machines, driven by the
# stock Debian host through pci_endpoint_test and pcitest, both built from
# Debian's source of the host's kernel (Debian builds neither): BARs, INTx,
# MSI, MSI-X, and read, write and copy through the endpoint's outbound
# windows, by MMIO and by DMA.  Each pcitest run is one case.
#
# vep-timeout: 600

set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/rig2.sh"
. "$top/tests/lib/two.sh"

FN=$TWO_EPF/pci_epf_test/t0
PT=/tests/host-bin/pcitest

# pt NAME ARGS...: one case, pcitest ARGS on the host; its output is the
# reason when it fails
pt() {
	local name=$1
	shift
	two_check "pcitest: $name" on_host -t 60 "$PT $*"
}

two_start
two_host_load
two_need "host: pci_endpoint_test (built from Debian's source) loads" \
	on_host "insmod /lib/modules/vep/pci_endpoint_test.ko"
# Public memcpy DMA channels on the endpoint's controller: pci-epf-test's
# DMA read, write and copy all run on them (its copy gives a private slave
# channel no source address)
TWO_EPC_PARAMS="dma_chans=2 dma_memcpy=1"
two_ep_load
two_need "t0, a pci-epf-test function (TI DRA74x IDs, 4 MSI, 8 MSI-X, INTA), bound" on_ep "
	mkdir $FN && echo 0x104c >$FN/vendorid && echo 0xb500 >$FN/deviceid &&
	echo 4 >$FN/msi_interrupts && echo 8 >$FN/msix_interrupts &&
	echo 1 >$FN/interrupt_pin && ln -s $FN $TWO_EPC/"
two_need "endpoint starts its controller" on_ep "echo 1 >$TWO_EPC/start"
two_check "endpoint link up" two_ep_link up
two_need "host pci_endpoint_test binds the device" on_host "n=300
	while [ \$n -gt 0 ]; do
		[ -c /dev/pci-endpoint-test.0 ] && exit 0
		sleep 0.1; n=\$((n - 1))
	done; echo no /dev/pci-endpoint-test.0; exit 1"

for b in 0 1 2 3 4 5; do
	pt "BAR$b" -b $b
done
pt "INTx" "-i 0 && $PT -l"
on_host "$PT -i 1" >/dev/null
for n in 1 2 4; do
	pt "MSI$n" -m $n
done
on_host "$PT -i 2" >/dev/null
for n in 1 2 8; do
	pt "MSI-X$n" -x $n
done

# Transfers: the endpoint maps host memory in its outbound windows.  A
# pci-epf-test before 6.14 (6.12: it has pci_epc_mem_map(), but the
# function does not use it yet) maps it with pci_epc_mem_alloc_addr() and
# pci_epc_map_addr(), which the controller cannot serve: the transfer must
# fail, with the controller saying why.
if on_ep 'v=$(uname -r | cut -d. -f1,2)
	[ "${v%.*}" -gt 6 ] || [ "${v#*.}" -ge 14 ]'; then
	for t in READ:-r WRITE:-w COPY:-c; do
		for s in 1 1024 1025 1024000; do
			pt "${t%%:*} $s bytes" "${t#*:} -s $s"
		done
	done
	for t in READ:-r WRITE:-w COPY:-c; do
		for s in 1 1025 1024000; do
			pt "${t%%:*} $s bytes with DMA" "${t#*:} -d -s $s"
		done
	done
	two_check "the endpoint controller's DMA channel moved them" \
		two_ep_dma_moved
else
	two_check "pcitest: READ with the old mapping API is refused" \
		on_host "! $PT -r -s 1024"
	two_check "pcitest: the refusal names the supported API" \
		on_ep "dmesg | grep 'only pci_epc_mem_map() is supported'"
	for t in READ WRITE COPY; do
		tap_skip "pcitest: $t" \
			"this kernel's pci-epf-test uses the old mapping API"
		tap_skip "pcitest: $t with DMA" \
			"this kernel's pci-epf-test uses the old mapping API"
	done
fi

two_check "endpoint stops its controller" on_ep "echo 0 >$TWO_EPC/start"
two_check "host removes the endpoint's device" two_host_gone 30
two_check "host's test device goes with it" \
	on_host "! test -e /dev/pci-endpoint-test.0"
two_check "endpoint unbinds and removes the function" \
	on_ep "rm $TWO_EPC/t0 && rmdir $FN"
two_ktrouble_case
tap_end
