#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the console function's test groups: load the modules and
# create a function.  Source after tap.sh, rig.sh and term.sh; the host's
# side of it is in host.sh, sourced from here.

. /tests/lib/host.sh

POLL_CPU=${POLL_CPU:-1}

# vcon_load [PARAM...]: load the loopback controller (host side on CPU 0,
# and module parameters PARAM) and the console function's modules, one
# case each
vcon_load() {
	rig_load_epc host_cpu=0 "$@" || exit 1
	tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
	tap_check "load pci-epf-vcon" rig_insmod pci-epf-vcon
}

# vcon_fn NAME CTRL MSIX [DMA]: create function NAME on controller CTRL,
# with MSIX MSI-X vectors (0: INTx only) and DMA as its dma_threshold (if
# given), and bring its link up
vcon_fn() {
	f=$EPCFS/functions/pci_epf_vcon/$1
	mkdir "$f" || return 1
	echo "$POLL_CPU" >"$f/vcon/poll_cpu" || return 1
	echo "$3" >"$f/msix_interrupts" || return 1
	if [ -n "${4:-}" ]; then
		echo "$4" >"$f/vcon/dma_threshold" || return 1
	fi
	ln -s "$f" "$(rig_epc "$2")/" || return 1
	echo 1 >"$(rig_epc "$2")/start" && rig_link "$2" up
}

