/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Emulated PCI functions for endpoint controllers without a PCIe link.
 *
 * The rig's controllers (pci-epc-loop, where one kernel is both host and
 * endpoint; pci-epc-ivshmem and pci-ivshmem-host, two machines joined
 * through QEMU ivshmem devices) have no hardware that answers the host's
 * configuration requests.  This library (module pci-epc-emul) is that
 * hardware:
 *
 *  - struct pci_epc_emul_func is the configuration space of one function as
 *    the host sees it, built from what the endpoint function programs
 *    (header, BARs, MSI and MSI-X capabilities) and written by the host
 *    through the bits a real device leaves writable.  Its layout is fixed
 *    and little-endian, so it can live in memory shared by two machines.
 *  - struct pci_epc_emul_bus (x86 hosts) is a virtual PCI root bus whose
 *    devices are such functions, with an MSI and an INTx interrupt domain,
 *    so that the host's stock drivers bind them as they would a real device.
 *  - struct pci_epc_emul_dma is a DMA engine with the channels an endpoint
 *    controller's own DMA would offer, copying through an outbound alias.
 *
 * The functions of the first two take no lock: each caller serializes
 * access to a function with a lock of its own, and says which.  The DMA
 * engine locks its channels itself.
 */

#ifndef __PCI_EPC_EMUL_H
#define __PCI_EPC_EMUL_H

#include <linux/pci.h>
#include <linux/pci-epf.h>
#include <linux/types.h>

/* Size of the emulated configuration space (no extended space) */
#define PCI_EPC_EMUL_CFG_SIZE		256
/* Where the MSI and MSI-X capabilities sit in it */
#define PCI_EPC_EMUL_MSI_CAP		0x40
#define PCI_EPC_EMUL_MSIX_CAP		0x60

/* MSI vectors of one virtual bus (hwirqs of its MSI domain) */
#define PCI_EPC_EMUL_MSI_VECTORS	256
/* Address part of every MSI message the virtual bus composes */
#define PCI_EPC_EMUL_MSI_ADDR		0xfee0f000u
/* Functions of the one device on a virtual bus */
#define PCI_EPC_EMUL_MAX_FUNCS		4

/*
 * MSI and MSI-X vector counts in the EPC ops: plain numbers on newer EPC
 * cores, encoded fields (log2, count - 1) before (the Makefile tells which).
 * set_msix changed first: 6.12.y passes it a plain count, and the others
 * still encoded.
 */
#ifdef EPC_LOOP_PLAIN_NR_IRQS
#define PCI_EPC_EMUL_MSI_NR(x)		(x)
#define PCI_EPC_EMUL_MSI_RET(n)		(n)
#define PCI_EPC_EMUL_MSIX_RET(n)	(n)
#else
#define PCI_EPC_EMUL_MSI_NR(x)		(1 << (x))
#define PCI_EPC_EMUL_MSI_RET(n)		ilog2(n)
#define PCI_EPC_EMUL_MSIX_RET(n)	((n) - 1)
#endif
#ifdef EPC_EMUL_PLAIN_MSIX_SET
#define PCI_EPC_EMUL_MSIX_NR(x)		(x)
#else
#define PCI_EPC_EMUL_MSIX_NR(x)		((x) + 1)
#endif

/**
 * struct pci_epc_emul_func - one emulated function, as the host sees it
 * @cfg: configuration space
 * @bar_mask: writable bits of each BAR register
 * @bar_size: size of each BAR set by the function (0: not set)
 * @bar_phys: endpoint physical address of each BAR's memory
 * @msix_offset: offset of the MSI-X table in its BAR
 * @msix_max: MSI-X vectors the function asked for (0: no MSI-X capability)
 * @msi_max: MSI vectors the function asked for (0: no MSI capability)
 * @msix_bar: BAR holding the MSI-X table and the pending bit array
 * @present: the function has written its header
 * @pad: keeps the layout free of implicit holes
 */
struct pci_epc_emul_func {
	u8 cfg[PCI_EPC_EMUL_CFG_SIZE];
	__le32 bar_mask[PCI_STD_NUM_BARS];
	__le64 bar_size[PCI_STD_NUM_BARS];
	__le64 bar_phys[PCI_STD_NUM_BARS];
	__le32 msix_offset;
	__le16 msix_max;
	u8 msi_max;
	u8 msix_bar;
	u8 present;
	u8 pad[7];
};

void pci_epc_emul_header(struct pci_epc_emul_func *f,
			 const struct pci_epf_header *hdr, bool multi);
void pci_epc_emul_set_bar(struct pci_epc_emul_func *f,
			  const struct pci_epf_bar *epf_bar);
bool pci_epc_emul_clear_bar(struct pci_epc_emul_func *f,
			    const struct pci_epf_bar *epf_bar);
void pci_epc_emul_reset(struct pci_epc_emul_func *f);
int pci_epc_emul_set_msi(struct pci_epc_emul_func *f, unsigned int nr_irqs);
int pci_epc_emul_get_msi(struct pci_epc_emul_func *f);
int pci_epc_emul_set_msix(struct pci_epc_emul_func *f, unsigned int nr_irqs,
			  enum pci_barno bir, u32 offset);
int pci_epc_emul_get_msix(struct pci_epc_emul_func *f);
u32 pci_epc_emul_cfg_read(struct pci_epc_emul_func *f, int where, int size);
void pci_epc_emul_cfg_write(struct pci_epc_emul_func *f, int where, int size,
			    u32 val);
u16 pci_epc_emul_cfg_word(struct pci_epc_emul_func *f, int where);
int pci_epc_emul_msi_msg(struct pci_epc_emul_func *f, unsigned int num,
			 u64 *addr, u32 *data);
int pci_epc_emul_msix_msg(struct pci_epc_emul_func *f, void *bar_mem,
			  unsigned int num, u64 *addr, u32 *data);
bool pci_epc_emul_intx_enabled(struct pci_epc_emul_func *f);

struct pci_epc_emul_dma;

/* Channels of one DMA engine, at most */
#define PCI_EPC_EMUL_DMA_MAX_CHANS	16

#if IS_ENABLED(CONFIG_DMA_ENGINE)
struct pci_epc_emul_dma *pci_epc_emul_dma_create(struct device *dev,
						 phys_addr_t alias,
						 resource_size_t size,
						 unsigned int nr_chans,
						 bool memcpy_chans);
void pci_epc_emul_dma_destroy(struct pci_epc_emul_dma *dma);
#else
static inline struct pci_epc_emul_dma *
pci_epc_emul_dma_create(struct device *dev, phys_addr_t alias,
			resource_size_t size, unsigned int nr_chans,
			bool memcpy_chans)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void pci_epc_emul_dma_destroy(struct pci_epc_emul_dma *dma)
{
}
#endif

#ifdef CONFIG_X86
struct irq_domain;
struct pci_epc_emul_bus;

/**
 * struct pci_epc_emul_bus_ops - what the owner of a virtual bus provides
 * @func: the emulated function @fn, or NULL when the host cannot reach it
 *	  now (no link, or no such function); called under @lock
 * @bus_master: optional: the host just set Bus Master Enable in the Command
 *		register of function @fn; called under @lock, with
 *		interrupts off
 */
struct pci_epc_emul_bus_ops {
	struct pci_epc_emul_func *(*func)(struct pci_epc_emul_bus *ebus,
					  unsigned int fn);
	void (*bus_master)(struct pci_epc_emul_bus *ebus, unsigned int fn);
};

/**
 * struct pci_epc_emul_bus - a virtual PCI root bus of emulated functions
 * @sysdata: x86 PCI bus data; must stay first (the bus's sysdata)
 * @ops: the owner's callbacks
 * @lock: serializes configuration accesses of the host with the owner's
 *	  changes to its functions; taken with interrupts off (config
 *	  accessors may run so)
 * @bus: the root bus, once created
 * @mem_res: the bus's memory window
 * @busn_res: its bus number range
 * @msi_domain: MSI domain whose hwirq is the data of an MSI message
 * @pci_msi_domain: the PCI/MSI domain stacked on it, on kernels before MSI
 *		    parent domains (else NULL)
 * @intx_domain: one INTx interrupt per function
 * @msi_map: allocated MSI hwirqs; protected by @msi_lock
 * @msi_lock: protects @msi_map
 * @id: an index, unique among the owner's buses, to name the domains
 */
struct pci_epc_emul_bus {
	struct pci_sysdata sysdata;
	const struct pci_epc_emul_bus_ops *ops;
	/* protects the owner's functions against config accesses */
	spinlock_t lock;
	struct pci_bus *bus;
	struct resource mem_res;
	struct resource busn_res;
	struct irq_domain *msi_domain;
	struct irq_domain *pci_msi_domain;
	struct irq_domain *intx_domain;
	DECLARE_BITMAP(msi_map, PCI_EPC_EMUL_MSI_VECTORS);
	/* protects msi_map */
	spinlock_t msi_lock;
	int id;
};

int pci_epc_emul_bus_create(struct pci_epc_emul_bus *ebus,
			    struct device *parent,
			    const struct pci_epc_emul_bus_ops *ops, int id,
			    resource_size_t cpu_start, resource_size_t size,
			    resource_size_t bus_start);
void pci_epc_emul_bus_destroy(struct pci_epc_emul_bus *ebus);
void pci_epc_emul_bus_scan(struct pci_epc_emul_bus *ebus);
void pci_epc_emul_bus_remove(struct pci_epc_emul_bus *ebus);
bool pci_epc_emul_bus_remove_func(struct pci_epc_emul_bus *ebus,
				  unsigned int fn);
unsigned int pci_epc_emul_bus_msi_irq(struct pci_epc_emul_bus *ebus,
				      u64 addr, u32 data);
unsigned int pci_epc_emul_bus_intx_irq(struct pci_epc_emul_bus *ebus,
				       unsigned int fn);
#endif /* CONFIG_X86 */

#endif /* __PCI_EPC_EMUL_H */
