#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Misuse of the loopback controller through configfs: each gets a clear
# error (or is handled as a link change), never an oops.

. /tests/lib/tap.sh
. /tests/lib/rig.sh

# Before the module is loaded: a refused load must be the parameter's doing
# (once loaded, any second insmod fails with EEXIST).
bad_param() {
	rig_mark bad-param
	rig_insmod pci-epc-emul &&
	! insmod /lib/modules/vep/pci-epc-loop.ko nr_controllers=99 &&
		! grep -q '^pci_epc_loop ' /proc/modules &&
		rig_dmesg_since bad-param | grep -q 'nr_controllers must be 1 to'
}
tap_check "bad module parameter refused, and said so" bad_param

rig_load_epc || exit 1
epc=$(rig_epc 0)

# fails_with ERRNO-TEXT CMD: CMD fails and its error message says ERRNO-TEXT
fails_with() {
	want=$1
	shift
	out=$("$@" 2>&1) && return 1
	echo "$out" | grep -q "$want" || { echo "# got: $out"; return 1; }
}

add_test_fn() {
	mkdir "$EPCFS/functions/pci_epf_test/$1"
	echo 0x104c > "$EPCFS/functions/pci_epf_test/$1/vendorid"
	echo 0xb500 > "$EPCFS/functions/pci_epf_test/$1/deviceid"
	echo 1 > "$EPCFS/functions/pci_epf_test/$1/msi_interrupts"
	echo 8 > "$EPCFS/functions/pci_epf_test/$1/msix_interrupts"
}

# Starting twice
add_test_fn m0
ln -s "$EPCFS/functions/pci_epf_test/m0" "$epc/"
echo 1 > "$epc/start"
tap_check "host device appears" rig_wait 20 test -c /dev/pci-endpoint-test.0
tap_check "start twice is refused (EALREADY)" \
	fails_with "already" sh -c "echo 1 > $epc/start"

# Stopping while a function is bound is a link down
tap_check "stop with a bound function: link down" sh -c "echo 0 > $epc/start"
tap_check "host device removed" \
	rig_wait 20 sh -c '! test -e /dev/pci-endpoint-test.0'
tap_check "restart: link up again" sh -c "echo 1 > $epc/start"
tap_check "host device back" rig_wait 20 test -c /dev/pci-endpoint-test.0

tap_check "stop again" sh -c "echo 0 > $epc/start"
tap_check "stop twice is refused (EALREADY)" \
	fails_with "already" sh -c "echo 0 > $epc/start"
rig_link 0 down
rm "$epc/m0"
rmdir "$EPCFS/functions/pci_epf_test/m0"

# An MSI-X count beyond what a table can hold
add_test_fn m2
echo 4096 > "$EPCFS/functions/pci_epf_test/m2/msix_interrupts"
rig_mark m2
ln -s "$EPCFS/functions/pci_epf_test/m2" "$epc/" 2>/dev/null
msix_error() {
	rig_dmesg_since m2 | grep -q 'MSI-X'
}
tap_check "4096 MSI-X vectors get a clear error" msix_error
rig_dmesg_since m2 | grep -i msi | sed 's/^/# /'
rm -f "$epc/m2"
rmdir "$EPCFS/functions/pci_epf_test/m2"

# Each controller's configfs group holds a reference on the module that
# created it (pci_ep_cfs_add_epc_group), so unloading is refused, cleanly.
tap_check "unload refused while configfs holds the controllers" \
	sh -c '! rmmod pci_epc_loop && test -d /sys/module/pci_epc_loop'
rig_check_dmesg
tap_end
exit $?
