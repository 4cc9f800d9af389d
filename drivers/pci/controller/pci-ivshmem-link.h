/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A PCIe link between two QEMU machines, made of ivshmem devices: what the
 * endpoint half (pci-epc-ivshmem) and the host half (pci-ivshmem-host)
 * share.
 *
 * Each machine has an ivshmem-doorbell device on one ivshmem server.  Its
 * BAR2 is the server's shared memory, the same in both machines: the link
 * page below.  Writing (peer << 16) | vector to its doorbell register
 * raises that MSI-X vector in the peer.  Memory crosses the link through
 * ivshmem-plain devices whose BAR2 is the other machine's RAM file: the
 * endpoint's outbound windows alias the host's RAM, and one device in the
 * host aliases the endpoint's RAM, where its BARs live.
 *
 * Every field of the page has one writer.  The endpoint writes its state,
 * the configuration space of its functions while the host cannot see them,
 * and sets pending interrupt bits; the host writes its state and the
 * writable registers of functions it sees, and clears the pending bits;
 * the server keeps the bitmap of machines that are connected.  Both
 * machines are little-endian (x86_64 and arm64).
 */

#ifndef __PCI_IVSHMEM_LINK_H
#define __PCI_IVSHMEM_LINK_H

#include <linux/bits.h>
#include <linux/types.h>

#include "pci-epc-emul.h"

#define PCI_IVS_VENDOR		0x1af4		/* Red Hat / Qumranet */
#define PCI_IVS_DEVICE		0x1110		/* ivshmem */
#define PCI_IVS_BAR_REGS	0
#define PCI_IVS_BAR_MSIX	1		/* ivshmem-doorbell only */
#define PCI_IVS_BAR_MEM		2
#define PCI_IVS_REG_IVPOSITION	8		/* own peer ID */
#define PCI_IVS_REG_DOORBELL	12

/* Doorbell vectors (the doorbell devices have at least this many) */
#define PCI_IVS_VEC_LINK	0	/* link state changed, either way */
#define PCI_IVS_VEC_IRQ		1	/* endpoint to host: interrupts */
#define PCI_IVS_VECTORS		2

#define PCI_IVS_MAGIC		0x4b4e4c56	/* "VLNK" */
#define PCI_IVS_VERSION		2

/* Pending interrupt bits: MSI data values first, then INTx per function */
#define PCI_IVS_PEND_INTX	PCI_EPC_EMUL_MSI_VECTORS
#define PCI_IVS_PEND_BITS	(PCI_EPC_EMUL_MSI_VECTORS + \
				 PCI_EPC_EMUL_MAX_FUNCS)

/**
 * struct pci_ivs_page - the link page, at offset 0 of the shared memory
 * @live: bit N set while the machine with peer ID N (modulo 32) is
 *	  connected to the server and not held in reset (the host's PERST#,
 *	  which the server models); written by the server
 * @pad0: reserved
 * @magic: PCI_IVS_MAGIC, written by the endpoint half when it first starts
 * @version: PCI_IVS_VERSION, likewise
 * @ep_peer: the endpoint's peer ID + 1 (0: never seen)
 * @ep_seq: bumped by the endpoint after each change of @ep_link or of its
 *	    functions
 * @ep_link: 1 while the endpoint's link is up: controller started, a host
 *	     half running, the functions told
 * @ep_boot: the @host_boot that @ep_link is up with
 * @ep_ram_base: endpoint physical address at offset 0 of its RAM file
 * @host_peer: the host's peer ID + 1 (0: never seen)
 * @host_ack: the last @ep_seq the host has acted on
 * @host_boot: bumped each time the host half starts (a host reboot)
 * @host_up: 1 while the host half runs
 * @pending: interrupts raised by the endpoint, not yet taken by the host;
 *	     atomic bitops from both machines
 * @func: the endpoint's functions, as the host sees them
 * @host_bme: bumped by the host each time it sets Bus Master Enable in a
 *	      function's Command register, which a host driver does right
 *	      before it sets the device up
 */
struct pci_ivs_page {
	__le32 live;
	__le32 pad0[3];
	__le32 magic;
	__le32 version;
	__le32 ep_peer;
	__le32 ep_seq;
	__le32 ep_link;
	__le32 ep_boot;
	__le64 ep_ram_base;
	__le32 host_peer;
	__le32 host_ack;
	__le32 host_boot;
	__le32 host_up;
	unsigned long pending[BITS_TO_LONGS(PCI_IVS_PEND_BITS)];
	struct pci_epc_emul_func func[PCI_EPC_EMUL_MAX_FUNCS];
	__le32 host_bme[PCI_EPC_EMUL_MAX_FUNCS];
};

#endif /* __PCI_IVSHMEM_LINK_H */
