// SPDX-License-Identifier: GPL-2.0
/*
 * Emulated PCI functions for endpoint controllers without a PCIe link: the
 * configuration space a real device would implement, and (x86 hosts) a
 * virtual root bus that shows such functions to the host's PCI core.
 * See pci-epc-emul.h.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/bitmap.h>
#include <linux/dma-direct.h>
#include <linux/dmaengine.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#ifdef EPC_EMUL_ASM_UNALIGNED
#include <asm/unaligned.h>
#else
#include <linux/unaligned.h>
#endif

#include "pci-epc-emul.h"

/* Multi-function bit of the header type register, named in 6.7 */
#ifndef PCI_HEADER_TYPE_MFD
#define PCI_HEADER_TYPE_MFD	0x80
#endif

/* EPC_EMUL_* feature macros come from the Makefile, which reads the tree */
#ifdef EPC_EMUL_MSI_PARENT
#include <linux/irqchip/irq-msi-lib.h>
#endif

/* ------------------------------------------------------------------------
 * Configuration space
 */

static u32 pci_epc_emul_rd(const u8 *cfg, int where, int size)
{
	switch (size) {
	case 1:
		return cfg[where];
	case 2:
		return get_unaligned_le16(&cfg[where]);
	default:
		return get_unaligned_le32(&cfg[where]);
	}
}

static void pci_epc_emul_wr(u8 *cfg, int where, int size, u32 val)
{
	switch (size) {
	case 1:
		cfg[where] = val;
		break;
	case 2:
		put_unaligned_le16(val, &cfg[where]);
		break;
	default:
		put_unaligned_le32(val, &cfg[where]);
		break;
	}
}

/* Writable bits of the byte at configuration offset @off */
static u8 pci_epc_emul_wmask(struct pci_epc_emul_func *f, int off)
{
	int bar;

	switch (off) {
	case PCI_COMMAND:
		return PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
		       PCI_COMMAND_PARITY;
	case PCI_COMMAND + 1:
		return (PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE) >> 8;
	case PCI_CACHE_LINE_SIZE:
	case PCI_LATENCY_TIMER:
	case PCI_INTERRUPT_LINE:
		return 0xff;
	}

	if (off >= PCI_BASE_ADDRESS_0 && off < PCI_CARDBUS_CIS) {
		bar = (off - PCI_BASE_ADDRESS_0) / 4;
		return le32_to_cpu(f->bar_mask[bar]) >> (8 * (off & 3));
	}

	if (f->msi_max) {
		if (off == PCI_EPC_EMUL_MSI_CAP + PCI_MSI_FLAGS)
			return PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
		if (off >= PCI_EPC_EMUL_MSI_CAP + PCI_MSI_ADDRESS_LO &&
		    off < PCI_EPC_EMUL_MSI_CAP + PCI_MSI_DATA_64 + 2)
			return off == PCI_EPC_EMUL_MSI_CAP + PCI_MSI_ADDRESS_LO ?
			       0xfc : 0xff;
	}

	if (f->msix_max && off == PCI_EPC_EMUL_MSIX_CAP + PCI_MSIX_FLAGS + 1)
		return (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;

	return 0;
}

/* Rebuild the capability list after MSI or MSI-X settings changed */
static void pci_epc_emul_caps(struct pci_epc_emul_func *f)
{
	u16 msix_max = le16_to_cpu(f->msix_max);
	u32 msix_offset = le32_to_cpu(f->msix_offset);
	u8 *cfg = f->cfg;
	u8 next = 0;
	u16 ctrl;

	if (msix_max) {
		cfg[PCI_EPC_EMUL_MSIX_CAP] = PCI_CAP_ID_MSIX;
		cfg[PCI_EPC_EMUL_MSIX_CAP + 1] = 0;
		ctrl = get_unaligned_le16(&cfg[PCI_EPC_EMUL_MSIX_CAP +
					       PCI_MSIX_FLAGS]);
		ctrl &= PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
		ctrl |= msix_max - 1;
		put_unaligned_le16(ctrl, &cfg[PCI_EPC_EMUL_MSIX_CAP +
					      PCI_MSIX_FLAGS]);
		put_unaligned_le32(msix_offset | f->msix_bar,
				   &cfg[PCI_EPC_EMUL_MSIX_CAP + PCI_MSIX_TABLE]);
		put_unaligned_le32((msix_offset +
				    msix_max * PCI_MSIX_ENTRY_SIZE) |
				   f->msix_bar,
				   &cfg[PCI_EPC_EMUL_MSIX_CAP + PCI_MSIX_PBA]);
		next = PCI_EPC_EMUL_MSIX_CAP;
	}

	if (f->msi_max) {
		cfg[PCI_EPC_EMUL_MSI_CAP] = PCI_CAP_ID_MSI;
		cfg[PCI_EPC_EMUL_MSI_CAP + 1] = next;
		ctrl = get_unaligned_le16(&cfg[PCI_EPC_EMUL_MSI_CAP +
					       PCI_MSI_FLAGS]);
		ctrl &= PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
		ctrl |= PCI_MSI_FLAGS_64BIT;
		ctrl |= ilog2(f->msi_max) << 1;
		put_unaligned_le16(ctrl, &cfg[PCI_EPC_EMUL_MSI_CAP +
					      PCI_MSI_FLAGS]);
		next = PCI_EPC_EMUL_MSI_CAP;
	}

	cfg[PCI_CAPABILITY_LIST] = next;
	if (next)
		cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	else
		cfg[PCI_STATUS] &= ~PCI_STATUS_CAP_LIST;
}

/**
 * pci_epc_emul_header() - set the identity registers of a function
 * @f: the function
 * @hdr: the header the endpoint function wrote
 * @multi: the device has more than one function (header type bit 7)
 *
 * The function is present from then on.
 */
void pci_epc_emul_header(struct pci_epc_emul_func *f,
			 const struct pci_epf_header *hdr, bool multi)
{
	u8 *cfg = f->cfg;

	put_unaligned_le16(hdr->vendorid, &cfg[PCI_VENDOR_ID]);
	put_unaligned_le16(hdr->deviceid, &cfg[PCI_DEVICE_ID]);
	cfg[PCI_REVISION_ID] = hdr->revid;
	cfg[PCI_CLASS_PROG] = hdr->progif_code;
	cfg[PCI_CLASS_DEVICE] = hdr->subclass_code;
	cfg[PCI_CLASS_DEVICE + 1] = hdr->baseclass_code;
	cfg[PCI_CACHE_LINE_SIZE] = hdr->cache_line_size;
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	if (multi)
		cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MFD;
	put_unaligned_le16(hdr->subsys_vendor_id,
			   &cfg[PCI_SUBSYSTEM_VENDOR_ID]);
	put_unaligned_le16(hdr->subsys_id, &cfg[PCI_SUBSYSTEM_ID]);
	cfg[PCI_INTERRUPT_PIN] = hdr->interrupt_pin;
	f->present = 1;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_header);

/**
 * pci_epc_emul_set_bar() - set up a BAR of a function
 * @f: the function
 * @epf_bar: the BAR: number, size, flags and physical address of its memory
 *
 * The caller has checked that the host can reach the memory, that it is
 * aligned to its size and that a 64-bit BAR is not BAR5.  The BAR register
 * starts out holding the memory's physical address, so a host that does
 * not move BARs reaches the memory at that bus address.
 */
void pci_epc_emul_set_bar(struct pci_epc_emul_func *f,
			  const struct pci_epf_bar *epf_bar)
{
	enum pci_barno bar = epf_bar->barno;
	bool is64 = epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64;
	u64 mask = ~((u64)epf_bar->size - 1);

	f->bar_size[bar] = cpu_to_le64(epf_bar->size);
	f->bar_phys[bar] = cpu_to_le64(epf_bar->phys_addr);
	f->bar_mask[bar] = cpu_to_le32(lower_32_bits(mask) &
				       PCI_BASE_ADDRESS_MEM_MASK);
	put_unaligned_le32(lower_32_bits(epf_bar->phys_addr) |
			   (epf_bar->flags & ~PCI_BASE_ADDRESS_MEM_MASK),
			   &f->cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
	if (is64) {
		f->bar_mask[bar + 1] = cpu_to_le32(upper_32_bits(mask));
		put_unaligned_le32(upper_32_bits(epf_bar->phys_addr),
				   &f->cfg[PCI_BASE_ADDRESS_0 + 4 * (bar + 1)]);
	}
}
EXPORT_SYMBOL_GPL(pci_epc_emul_set_bar);

/**
 * pci_epc_emul_clear_bar() - take a BAR of a function away
 * @f: the function
 * @epf_bar: the BAR, as it was set
 *
 * A function without BARs left is being unbound: it is then forgotten
 * whole (no longer present).
 *
 * Return: true if the function was forgotten.
 */
bool pci_epc_emul_clear_bar(struct pci_epc_emul_func *f,
			    const struct pci_epf_bar *epf_bar)
{
	enum pci_barno bar = epf_bar->barno;

	f->bar_size[bar] = 0;
	f->bar_phys[bar] = 0;
	f->bar_mask[bar] = 0;
	put_unaligned_le32(0, &f->cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
	if (epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64 && bar < BAR_5) {
		f->bar_mask[bar + 1] = 0;
		put_unaligned_le32(0, &f->cfg[PCI_BASE_ADDRESS_0 +
					     4 * (bar + 1)]);
	}

	for (bar = BAR_0; bar < PCI_STD_NUM_BARS; bar++)
		if (f->bar_size[bar])
			return false;

	memset(f, 0, sizeof(*f));
	return true;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_clear_bar);

/**
 * pci_epc_emul_reset() - put the host's registers back to their reset values
 * @f: the function
 *
 * As a fundamental reset (a host reboot) does: memory decoding, bus
 * mastering, MSI and MSI-X off, every BAR back at the address of its
 * memory.  What the endpoint function set stays.
 */
void pci_epc_emul_reset(struct pci_epc_emul_func *f)
{
	u8 *cfg = f->cfg;
	u32 mask, reg;
	int bar;

	put_unaligned_le16(0, &cfg[PCI_COMMAND]);
	cfg[PCI_CACHE_LINE_SIZE] = 0;
	cfg[PCI_LATENCY_TIMER] = 0;
	cfg[PCI_INTERRUPT_LINE] = 0;

	for (bar = BAR_0; bar < PCI_STD_NUM_BARS; bar++) {
		mask = le32_to_cpu(f->bar_mask[bar]);
		reg = get_unaligned_le32(&cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
		reg &= ~mask;
		if (f->bar_size[bar])
			reg |= lower_32_bits(le64_to_cpu(f->bar_phys[bar])) &
			       mask;
		else if (bar && f->bar_size[bar - 1])
			/* The upper half of a 64-bit BAR */
			reg |= upper_32_bits(le64_to_cpu(f->bar_phys[bar - 1])) &
			       mask;
		put_unaligned_le32(reg, &cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
	}

	if (f->msi_max)
		memset(&cfg[PCI_EPC_EMUL_MSI_CAP + PCI_MSI_FLAGS], 0,
		       PCI_MSI_DATA_64 + 2 - PCI_MSI_FLAGS);
	if (f->msix_max)
		put_unaligned_le16(0, &cfg[PCI_EPC_EMUL_MSIX_CAP +
					   PCI_MSIX_FLAGS]);
	pci_epc_emul_caps(f);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_reset);

/**
 * pci_epc_emul_set_msi() - give a function an MSI capability
 * @f: the function
 * @nr_irqs: vectors asked for, 1 to 32 (rounded up to a power of two)
 *
 * Return: 0, or -EINVAL for a count out of range.
 */
int pci_epc_emul_set_msi(struct pci_epc_emul_func *f, unsigned int nr_irqs)
{
	if (nr_irqs < 1 || nr_irqs > 32)
		return -EINVAL;

	f->msi_max = roundup_pow_of_two(nr_irqs);
	pci_epc_emul_caps(f);

	return 0;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_set_msi);

/**
 * pci_epc_emul_get_msi() - MSI vectors the host enabled
 * @f: the function
 *
 * Return: the number of vectors, or -EINVAL when MSI is off.
 */
int pci_epc_emul_get_msi(struct pci_epc_emul_func *f)
{
	u16 ctrl = pci_epc_emul_cfg_word(f, PCI_EPC_EMUL_MSI_CAP +
					 PCI_MSI_FLAGS);

	if (!f->msi_max || !(ctrl & PCI_MSI_FLAGS_ENABLE))
		return -EINVAL;

	return 1 << FIELD_GET(PCI_MSI_FLAGS_QSIZE, ctrl);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_get_msi);

/**
 * pci_epc_emul_set_msix() - give a function an MSI-X capability
 * @f: the function
 * @nr_irqs: vectors, 1 to 2048
 * @bir: BAR holding the table, then the pending bit array
 * @offset: offset of the table in that BAR
 *
 * Return: 0, or -EINVAL for a count out of range or a table that does not
 * fit in a BAR the function has set.
 */
int pci_epc_emul_set_msix(struct pci_epc_emul_func *f, unsigned int nr_irqs,
			  enum pci_barno bir, u32 offset)
{
	u64 end;

	if (nr_irqs < 1 || nr_irqs > PCI_MSIX_FLAGS_QSIZE + 1 ||
	    bir >= PCI_STD_NUM_BARS || offset & PCI_MSIX_TABLE_BIR)
		return -EINVAL;

	end = (u64)offset + nr_irqs * PCI_MSIX_ENTRY_SIZE +
	      ALIGN(DIV_ROUND_UP(nr_irqs, 8), 8);
	if (!f->bar_size[bir] || end > le64_to_cpu(f->bar_size[bir]))
		return -EINVAL;

	f->msix_max = cpu_to_le16(nr_irqs);
	f->msix_bar = bir;
	f->msix_offset = cpu_to_le32(offset);
	pci_epc_emul_caps(f);

	return 0;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_set_msix);

/**
 * pci_epc_emul_get_msix() - MSI-X vectors of a function the host enabled
 * @f: the function
 *
 * Return: the number of vectors, or -EINVAL when MSI-X is off.
 */
int pci_epc_emul_get_msix(struct pci_epc_emul_func *f)
{
	u16 ctrl = pci_epc_emul_cfg_word(f, PCI_EPC_EMUL_MSIX_CAP +
					 PCI_MSIX_FLAGS);

	if (!f->msix_max || !(ctrl & PCI_MSIX_FLAGS_ENABLE))
		return -EINVAL;

	return le16_to_cpu(f->msix_max);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_get_msix);

/**
 * pci_epc_emul_cfg_read() - a configuration read of the host
 * @f: the function
 * @where: offset, below PCI_EPC_EMUL_CFG_SIZE
 * @size: 1, 2 or 4, with @where + @size within the space
 *
 * Return: the value read.
 */
u32 pci_epc_emul_cfg_read(struct pci_epc_emul_func *f, int where, int size)
{
	return pci_epc_emul_rd(f->cfg, where, size);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_cfg_read);

/**
 * pci_epc_emul_cfg_write() - a configuration write of the host
 * @f: the function
 * @where: offset, below PCI_EPC_EMUL_CFG_SIZE
 * @size: 1, 2 or 4, with @where + @size within the space
 * @val: the value written; only the bits a device leaves writable change
 */
void pci_epc_emul_cfg_write(struct pci_epc_emul_func *f, int where, int size,
			    u32 val)
{
	u32 old = pci_epc_emul_rd(f->cfg, where, size);
	u32 wmask = 0;
	int i;

	for (i = 0; i < size; i++)
		wmask |= (u32)pci_epc_emul_wmask(f, where + i) << (8 * i);
	pci_epc_emul_wr(f->cfg, where, size, (old & ~wmask) | (val & wmask));
}
EXPORT_SYMBOL_GPL(pci_epc_emul_cfg_write);

/**
 * pci_epc_emul_cfg_word() - one 16-bit register, as the host left it
 * @f: the function
 * @where: its offset
 *
 * Return: the register.
 */
u16 pci_epc_emul_cfg_word(struct pci_epc_emul_func *f, int where)
{
	return get_unaligned_le16(&f->cfg[where]);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_cfg_word);

/**
 * pci_epc_emul_msi_msg() - the MSI message of one vector
 * @f: the function
 * @num: the vector, from 1
 * @addr: the message address, on success
 * @data: the message data, on success
 *
 * Return: 0, or -EINVAL when MSI is off or @num is beyond what the host
 * enabled.
 */
int pci_epc_emul_msi_msg(struct pci_epc_emul_func *f, unsigned int num,
			 u64 *addr, u32 *data)
{
	const u8 *cap = &f->cfg[PCI_EPC_EMUL_MSI_CAP];
	u16 ctrl = get_unaligned_le16(&cap[PCI_MSI_FLAGS]);
	unsigned int nvec;

	if (!f->msi_max || !(ctrl & PCI_MSI_FLAGS_ENABLE))
		return -EINVAL;

	nvec = 1 << FIELD_GET(PCI_MSI_FLAGS_QSIZE, ctrl);
	if (num < 1 || num > nvec)
		return -EINVAL;

	*addr = get_unaligned_le32(&cap[PCI_MSI_ADDRESS_LO]) |
		(u64)get_unaligned_le32(&cap[PCI_MSI_ADDRESS_HI]) << 32;
	*data = get_unaligned_le16(&cap[PCI_MSI_DATA_64]) | (num - 1);

	return 0;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_msi_msg);

/**
 * pci_epc_emul_msix_msg() - the MSI-X message of one vector
 * @f: the function
 * @bar_mem: the endpoint's memory of the BAR that holds the table
 * @num: the vector, from 1
 * @addr: the message address, when it is to be sent
 * @data: the message data, when it is to be sent
 *
 * The host writes the table into the BAR memory.  A masked vector is not
 * sent: its pending bit is set instead, as a device does.
 *
 * Return: 0 when the message is to be sent, 1 when the vector is masked,
 * or -EINVAL when MSI-X is off or @num is beyond the table.
 */
int pci_epc_emul_msix_msg(struct pci_epc_emul_func *f, void *bar_mem,
			  unsigned int num, u64 *addr, u32 *data)
{
	u16 ctrl = pci_epc_emul_cfg_word(f, PCI_EPC_EMUL_MSIX_CAP +
					 PCI_MSIX_FLAGS);
	u16 nvec = le16_to_cpu(f->msix_max);
	void __iomem *entry;
	u8 *pba;

	if (!nvec || !(ctrl & PCI_MSIX_FLAGS_ENABLE) || num < 1 ||
	    num > nvec || !bar_mem)
		return -EINVAL;

	entry = (void __force __iomem *)bar_mem +
		le32_to_cpu(f->msix_offset) + (num - 1) * PCI_MSIX_ENTRY_SIZE;

	if (ctrl & PCI_MSIX_FLAGS_MASKALL ||
	    readl(entry + PCI_MSIX_ENTRY_VECTOR_CTRL) &
	    PCI_MSIX_ENTRY_CTRL_MASKBIT) {
		pba = (u8 *)bar_mem + le32_to_cpu(f->msix_offset) +
		      nvec * PCI_MSIX_ENTRY_SIZE;
		pba[(num - 1) / 8] |= BIT((num - 1) % 8);
		return 1;
	}

	*addr = readl(entry + PCI_MSIX_ENTRY_LOWER_ADDR) |
		(u64)readl(entry + PCI_MSIX_ENTRY_UPPER_ADDR) << 32;
	*data = readl(entry + PCI_MSIX_ENTRY_DATA);

	return 0;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_msix_msg);

/**
 * pci_epc_emul_intx_enabled() - whether a function may assert INTx
 * @f: the function
 *
 * Return: true if it has an interrupt pin and the host left INTx enabled.
 */
bool pci_epc_emul_intx_enabled(struct pci_epc_emul_func *f)
{
	return f->cfg[PCI_INTERRUPT_PIN] &&
	       !(pci_epc_emul_cfg_word(f, PCI_COMMAND) &
		 PCI_COMMAND_INTX_DISABLE);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_intx_enabled);

#if IS_ENABLED(CONFIG_DMA_ENGINE)
/* ------------------------------------------------------------------------
 * DMA engine
 *
 * Real endpoint controllers carry DMA channels (DesignWare's eDMA, for one)
 * that copy between endpoint memory and host PCI addresses.  The rig's
 * controllers reach host memory through aliases instead: host PCI address
 * X is at offset X of an outbound alias.  This engine copies through one
 * such alias with the CPU, from a kthread of its own, so that endpoint
 * functions find channels where they find eDMA's and their DMA paths run.
 * The kthread may run on any CPU: a client that busy-waits for its
 * transfer keeps only its own CPU, and where one kernel is both host and
 * endpoint, a host CPU spinning with interrupts off for the device holds
 * up no transfer.
 *
 * Slave channels (the default) are private, as eDMA's are: their device is
 * the controller's, they copy both ways, the host end is the slave
 * configuration's address, and the endpoint end a DMA address of the
 * controller's device, which has no IOMMU: RAM at that CPU physical
 * address.  Memcpy channels are public and take two such addresses, RAM
 * or an outbound window a function mapped, as a generic DMA engine does.
 *
 * A failed transfer fails every transfer issued after it on its channel,
 * as a channel error does on hardware: their cookies report DMA_ERROR.
 */

/* Copies go in pieces this big, with a chance to reschedule between */
#define PCI_EPC_EMUL_DMA_CHUNK		SZ_64K

/* Transfers to fail on purpose: the next ones, whichever engine runs them */
static atomic_t pci_epc_emul_dma_fail = ATOMIC_INIT(0);

static int pci_epc_emul_dma_fail_set(const char *val,
				     const struct kernel_param *kp)
{
	int n, ret;

	ret = kstrtoint(val, 0, &n);
	if (ret)
		return ret;
	if (n < 0)
		return -EINVAL;
	atomic_set(&pci_epc_emul_dma_fail, n);
	return 0;
}

static int pci_epc_emul_dma_fail_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&pci_epc_emul_dma_fail));
}

static const struct kernel_param_ops pci_epc_emul_dma_fail_ops = {
	.set = pci_epc_emul_dma_fail_set,
	.get = pci_epc_emul_dma_fail_get,
};
module_param_cb(dma_fail, &pci_epc_emul_dma_fail_ops, NULL, 0644);
MODULE_PARM_DESC(dma_fail,
		 "Fail this many of the next DMA transfers (fault injection)");

/**
 * struct pci_epc_emul_dma_seg - one piece of a transfer
 * @addr: its endpoint end (slave) or its destination (memcpy)
 * @len: its length
 */
struct pci_epc_emul_dma_seg {
	dma_addr_t addr;
	size_t len;
};

/**
 * struct pci_epc_emul_dma_desc - one transfer
 * @txd: what the client sees
 * @node: on its channel's submitted or issued list, or a list of failed
 *	  ones
 * @dir: DMA_DEV_TO_MEM or DMA_MEM_TO_DEV (slave), DMA_MEM_TO_MEM (memcpy)
 * @remote: slave: host PCI address of the first piece, the others follow;
 *	    memcpy: the source
 * @len: bytes in all
 * @nr_segs: pieces in @segs
 * @segs: the pieces
 */
struct pci_epc_emul_dma_desc {
	struct dma_async_tx_descriptor txd;
	struct list_head node;
	enum dma_transfer_direction dir;
	dma_addr_t remote;
	size_t len;
	unsigned int nr_segs;
	struct pci_epc_emul_dma_seg segs[] __counted_by(nr_segs);
};

/**
 * struct pci_epc_emul_dma_chan - one channel
 * @chan: the dmaengine channel
 * @dma: its engine
 * @lock: protects the members below and the channel's cookies; taken
 *	  with interrupts off (clients submit from any context)
 * @cfg: the slave configuration
 * @submitted: transfers submitted, not yet issued
 * @issued: transfers issued, in order, not yet started
 * @failed_lo: first cookie of the last failed run of transfers
 * @failed_hi: its last cookie (0: none failed)
 * @gen: bumped by terminate_all: a transfer started before has no callback
 * @xfers: transfers done
 * @bytes: bytes they moved
 * @errors: transfers failed
 * @work: runs the issued transfers, one after the other
 * @bounce: memcpy channels: a page for device memory to device memory
 */
struct pci_epc_emul_dma_chan {
	struct dma_chan chan;
	struct pci_epc_emul_dma *dma;
	/* protects the members below, and chan's cookies */
	spinlock_t lock;
	struct dma_slave_config cfg;
	struct list_head submitted;
	struct list_head issued;
	dma_cookie_t failed_lo;
	dma_cookie_t failed_hi;
	unsigned int gen;
	u64 xfers;
	u64 bytes;
	u64 errors;
	struct kthread_work work;
	void *bounce;
};

/**
 * struct pci_epc_emul_dma - one engine
 * @dd: the dmaengine device
 * @alias: slave engines: the outbound alias, host PCI address X at @alias + X
 * @alias_size: its size
 * @worker: the kthread that runs every channel's transfers
 * @nr_chans: channels in @chans
 * @chans: the channels
 */
struct pci_epc_emul_dma {
	struct dma_device dd;
	void __iomem *alias;
	resource_size_t alias_size;
	struct kthread_worker *worker;
	unsigned int nr_chans;
	struct pci_epc_emul_dma_chan chans[] __counted_by(nr_chans);
};

static struct pci_epc_emul_dma_chan *
pci_epc_emul_to_dma_chan(struct dma_chan *c)
{
	return container_of(c, struct pci_epc_emul_dma_chan, chan);
}

static struct pci_epc_emul_dma_desc *
pci_epc_emul_to_dma_desc(struct dma_async_tx_descriptor *txd)
{
	return container_of(txd, struct pci_epc_emul_dma_desc, txd);
}

/*
 * Map the end of a copy at DMA address @addr: RAM in the linear map (*@io
 * NULL), or, unless @ram_only, device memory (*@io set); NULL for anything
 * else, or a range that is both
 */
static void *pci_epc_emul_dma_map(struct pci_epc_emul_dma *dma,
				  dma_addr_t addr, size_t len, bool ram_only,
				  void __iomem **io)
{
	phys_addr_t phys = dma_to_phys(dma->dd.dev, addr);

	*io = NULL;
	switch (region_intersects(phys, len, IORESOURCE_SYSTEM_RAM,
				  IORES_DESC_NONE)) {
	case REGION_INTERSECTS:
		return memremap(phys, len, MEMREMAP_WB);
	case REGION_DISJOINT:
		if (ram_only)
			return NULL;
		*io = ioremap(phys, len);
		return (__force void *)*io;
	default:
		return NULL;
	}
}

static void pci_epc_emul_dma_unmap(void *va, void __iomem *io)
{
	if (io)
		iounmap(io);
	else
		memunmap(va);
}

/* Slave transfer: @desc's pieces to or from the host, through the alias */
static int pci_epc_emul_dma_run_slave(struct pci_epc_emul_dma *dma,
				      struct pci_epc_emul_dma_desc *desc)
{
	dma_addr_t remote = desc->remote;
	unsigned int i;

	for (i = 0; i < desc->nr_segs; i++) {
		const struct pci_epc_emul_dma_seg *seg = &desc->segs[i];
		void __iomem *io = dma->alias + remote;
		void __iomem *not_ram;
		size_t off, n;
		void *ram;

		if (!seg->len)
			continue;
		ram = pci_epc_emul_dma_map(dma, seg->addr, seg->len, true,
					   &not_ram);
		if (!ram)
			return -EFAULT;
		for (off = 0; off < seg->len; off += n) {
			n = min_t(size_t, seg->len - off,
				  PCI_EPC_EMUL_DMA_CHUNK);
			if (desc->dir == DMA_DEV_TO_MEM)
				memcpy_fromio(ram + off, io + off, n);
			else
				memcpy_toio(io + off, ram + off, n);
			cond_resched();
		}
		memunmap(ram);
		remote += seg->len;
	}
	return 0;
}

/*
 * Memcpy transfer: each end is RAM or device memory (an outbound window);
 * device memory to device memory goes through the channel's bounce page
 */
static int pci_epc_emul_dma_run_memcpy(struct pci_epc_emul_dma_chan *ec,
				       struct pci_epc_emul_dma_desc *desc)
{
	size_t off, n, len = desc->len;
	void __iomem *src_io, *dst_io;
	void *src, *dst;

	src = pci_epc_emul_dma_map(ec->dma, desc->remote, len, false, &src_io);
	if (!src)
		return -EFAULT;
	dst = pci_epc_emul_dma_map(ec->dma, desc->segs[0].addr, len, false,
				   &dst_io);
	if (!dst) {
		pci_epc_emul_dma_unmap(src, src_io);
		return -EFAULT;
	}

	for (off = 0; off < len; off += n) {
		n = min_t(size_t, len - off,
			  src_io && dst_io ? PAGE_SIZE : PCI_EPC_EMUL_DMA_CHUNK);
		if (src_io && dst_io) {
			memcpy_fromio(ec->bounce, src_io + off, n);
			memcpy_toio(dst_io + off, ec->bounce, n);
		} else if (src_io) {
			memcpy_fromio(dst + off, src_io + off, n);
		} else if (dst_io) {
			memcpy_toio(dst_io + off, src + off, n);
		} else {
			memcpy(dst + off, src + off, n);
		}
		cond_resched();
	}

	pci_epc_emul_dma_unmap(dst, dst_io);
	pci_epc_emul_dma_unmap(src, src_io);
	return 0;
}

/* Tell the client how @desc ended, unless terminate_all came since @gen */
static void pci_epc_emul_dma_done(struct pci_epc_emul_dma_chan *ec,
				  struct pci_epc_emul_dma_desc *desc,
				  unsigned int gen,
				  enum dmaengine_tx_result result)
{
	struct dmaengine_result res = {
		.result = result,
		.residue = result == DMA_TRANS_NOERROR ? 0 : desc->len,
	};
	unsigned long flags;
	bool callback;

	spin_lock_irqsave(&ec->lock, flags);
	callback = gen == ec->gen;
	spin_unlock_irqrestore(&ec->lock, flags);

	if (callback) {
		if (desc->txd.callback_result)
			desc->txd.callback_result(desc->txd.callback_param,
						  &res);
		else if (desc->txd.callback)
			desc->txd.callback(desc->txd.callback_param);
	}
	kfree(desc);
}

/*
 * One transfer of the channel per call, then the work goes back in line:
 * every channel of the engine gets its turn
 */
static void pci_epc_emul_dma_work(struct kthread_work *work)
{
	struct pci_epc_emul_dma_chan *ec =
		container_of(work, struct pci_epc_emul_dma_chan, work);
	struct pci_epc_emul_dma_desc *desc, *tmp;
	enum dmaengine_tx_result result;
	LIST_HEAD(failed);
	dma_cookie_t bad;
	unsigned int gen;
	bool more;
	int ret;

	spin_lock_irq(&ec->lock);
	desc = list_first_entry_or_null(&ec->issued,
					struct pci_epc_emul_dma_desc, node);
	if (!desc) {
		spin_unlock_irq(&ec->lock);
		return;
	}
	list_del_init(&desc->node);
	gen = ec->gen;
	spin_unlock_irq(&ec->lock);

	if (atomic_add_unless(&pci_epc_emul_dma_fail, -1, 0))
		ret = -EIO;
	else if (desc->dir == DMA_MEM_TO_MEM)
		ret = pci_epc_emul_dma_run_memcpy(ec, desc);
	else
		ret = pci_epc_emul_dma_run_slave(ec->dma, desc);

	spin_lock_irq(&ec->lock);
	/* One worker for the channel: transfers complete in order */
	ec->chan.completed_cookie = desc->txd.cookie;
	if (ret) {
		list_add_tail(&desc->node, &failed);
		/*
		 * The channel's error ends whatever was issued after it,
		 * unless the client terminated the channel meanwhile: what
		 * it issued since is not this transfer's business
		 */
		if (gen == ec->gen)
			list_splice_tail_init(&ec->issued, &failed);
		ec->failed_lo = desc->txd.cookie;
		ec->failed_hi = list_last_entry(&failed,
						struct pci_epc_emul_dma_desc,
						node)->txd.cookie;
		ec->chan.completed_cookie = ec->failed_hi;
		ec->errors++;
	} else {
		ec->xfers++;
		ec->bytes += desc->len;
	}
	more = !list_empty(&ec->issued);
	spin_unlock_irq(&ec->lock);

	if (!ret) {
		pci_epc_emul_dma_done(ec, desc, gen, DMA_TRANS_NOERROR);
	} else {
		dev_err_ratelimited(ec->dma->dd.dev,
				    "%s: transfer of %zu bytes failed (err=%d)\n",
				    dma_chan_name(&ec->chan), desc->len, ret);
		/* The failed one says how; those after it never ran */
		bad = desc->txd.cookie;
		list_for_each_entry_safe(desc, tmp, &failed, node) {
			list_del(&desc->node);
			result = DMA_TRANS_ABORTED;
			if (desc->txd.cookie == bad)
				result = desc->dir == DMA_MEM_TO_DEV ?
					 DMA_TRANS_WRITE_FAILED :
					 DMA_TRANS_READ_FAILED;
			pci_epc_emul_dma_done(ec, desc, gen, result);
		}
	}

	if (more)
		kthread_queue_work(ec->dma->worker, &ec->work);
}

/* @cookie is in the channel's last failed run (cookies wrap to 1) */
static bool pci_epc_emul_dma_failed(struct pci_epc_emul_dma_chan *ec,
				    dma_cookie_t cookie)
{
	lockdep_assert_held(&ec->lock);

	if (!ec->failed_hi)
		return false;
	if (ec->failed_lo <= ec->failed_hi)
		return cookie >= ec->failed_lo && cookie <= ec->failed_hi;
	return cookie >= ec->failed_lo || cookie <= ec->failed_hi;
}

static dma_cookie_t pci_epc_emul_dma_submit(struct dma_async_tx_descriptor *txd)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(txd->chan);
	struct pci_epc_emul_dma_desc *desc = pci_epc_emul_to_dma_desc(txd);
	unsigned long flags;
	dma_cookie_t cookie;

	spin_lock_irqsave(&ec->lock, flags);
	cookie = ec->chan.cookie + 1;
	if (cookie < DMA_MIN_COOKIE)
		cookie = DMA_MIN_COOKIE;
	ec->chan.cookie = cookie;
	txd->cookie = cookie;
	/* The numbers came round again: the old failures are not these */
	if (pci_epc_emul_dma_failed(ec, cookie))
		ec->failed_hi = 0;
	list_add_tail(&desc->node, &ec->submitted);
	spin_unlock_irqrestore(&ec->lock, flags);

	return cookie;
}

static struct pci_epc_emul_dma_desc *
pci_epc_emul_dma_alloc(struct dma_chan *c, unsigned int nr_segs,
		       unsigned long flags)
{
	struct pci_epc_emul_dma_desc *desc;

	desc = kzalloc(struct_size(desc, segs, nr_segs), GFP_NOWAIT);
	if (!desc)
		return NULL;
	desc->nr_segs = nr_segs;
	INIT_LIST_HEAD(&desc->node);
	dma_async_tx_descriptor_init(&desc->txd, c);
	desc->txd.flags = flags;
	desc->txd.tx_submit = pci_epc_emul_dma_submit;
	return desc;
}

static struct dma_async_tx_descriptor *
pci_epc_emul_dma_prep_slave_sg(struct dma_chan *c, struct scatterlist *sgl,
			       unsigned int sg_len,
			       enum dma_transfer_direction dir,
			       unsigned long flags, void *context)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);
	resource_size_t size = ec->dma->alias_size;
	struct pci_epc_emul_dma_desc *desc;
	struct scatterlist *sg;
	unsigned long irqflags;
	dma_addr_t remote = 0;
	unsigned int i;
	size_t len = 0;

	if (!sg_len ||
	    (dir != DMA_DEV_TO_MEM && dir != DMA_MEM_TO_DEV))
		return NULL;

	desc = pci_epc_emul_dma_alloc(c, sg_len, flags);
	if (!desc)
		return NULL;

	for_each_sg(sgl, sg, sg_len, i) {
		desc->segs[i].addr = sg_dma_address(sg);
		desc->segs[i].len = sg_dma_len(sg);
		if (check_add_overflow(len, (size_t)sg_dma_len(sg), &len)) {
			dev_err_ratelimited(c->device->dev,
					    "%s: scatterlist longer than the address space\n",
					    dma_chan_name(c));
			kfree(desc);
			return NULL;
		}
	}

	spin_lock_irqsave(&ec->lock, irqflags);
	remote = dir == DMA_DEV_TO_MEM ? ec->cfg.src_addr : ec->cfg.dst_addr;
	spin_unlock_irqrestore(&ec->lock, irqflags);

	/* The host end must lie in host memory the alias reaches */
	if (!len || len > size || remote > size - len)
		goto err_free_desc;

	desc->dir = dir;
	desc->remote = remote;
	desc->len = len;
	return &desc->txd;

err_free_desc:
	dev_err_ratelimited(c->device->dev,
			    "%s: %zu bytes at host address %pad: beyond the %pa bytes this controller reaches\n",
			    dma_chan_name(c), len, &remote, &size);
	kfree(desc);
	return NULL;
}

static struct dma_async_tx_descriptor *
pci_epc_emul_dma_prep_memcpy(struct dma_chan *c, dma_addr_t dst,
			     dma_addr_t src, size_t len, unsigned long flags)
{
	struct pci_epc_emul_dma_desc *desc;

	if (!len)
		return NULL;

	desc = pci_epc_emul_dma_alloc(c, 1, flags);
	if (!desc)
		return NULL;
	desc->segs[0].addr = dst;
	desc->segs[0].len = len;
	desc->dir = DMA_MEM_TO_MEM;
	desc->remote = src;
	desc->len = len;
	return &desc->txd;
}

static int pci_epc_emul_dma_config(struct dma_chan *c,
				   struct dma_slave_config *cfg)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	ec->cfg = *cfg;
	spin_unlock_irqrestore(&ec->lock, flags);
	return 0;
}

static void pci_epc_emul_dma_issue_pending(struct dma_chan *c)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);
	unsigned long flags;
	bool any;

	spin_lock_irqsave(&ec->lock, flags);
	list_splice_tail_init(&ec->submitted, &ec->issued);
	any = !list_empty(&ec->issued);
	spin_unlock_irqrestore(&ec->lock, flags);

	if (any)
		kthread_queue_work(ec->dma->worker, &ec->work);
}

static enum dma_status pci_epc_emul_dma_tx_status(struct dma_chan *c,
						  dma_cookie_t cookie,
						  struct dma_tx_state *state)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);
	dma_cookie_t done, used;
	enum dma_status status;
	unsigned long flags;

	spin_lock_irqsave(&ec->lock, flags);
	done = c->completed_cookie;
	used = c->cookie;
	status = dma_async_is_complete(cookie, done, used);
	if (status == DMA_COMPLETE && pci_epc_emul_dma_failed(ec, cookie))
		status = DMA_ERROR;
	spin_unlock_irqrestore(&ec->lock, flags);

	dma_set_tx_state(state, done, used, 0);
	return status;
}

/* Drops what has not started; what runs ends with no callback */
static int pci_epc_emul_dma_terminate_all(struct dma_chan *c)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);
	struct pci_epc_emul_dma_desc *desc, *tmp;
	unsigned long flags;
	LIST_HEAD(dropped);

	spin_lock_irqsave(&ec->lock, flags);
	list_splice_tail_init(&ec->submitted, &dropped);
	list_splice_tail_init(&ec->issued, &dropped);
	ec->gen++;
	spin_unlock_irqrestore(&ec->lock, flags);

	list_for_each_entry_safe(desc, tmp, &dropped, node)
		kfree(desc);
	return 0;
}

/* Returns once the transfer that ran at terminate_all is over */
static void pci_epc_emul_dma_synchronize(struct dma_chan *c)
{
	kthread_flush_work(&pci_epc_emul_to_dma_chan(c)->work);
}

static int pci_epc_emul_dma_alloc_chan(struct dma_chan *c)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);

	if (!dma_has_cap(DMA_MEMCPY, c->device->cap_mask))
		return 0;
	ec->bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	return ec->bounce ? 0 : -ENOMEM;
}

static void pci_epc_emul_dma_free_chan(struct dma_chan *c)
{
	struct pci_epc_emul_dma_chan *ec = pci_epc_emul_to_dma_chan(c);

	pci_epc_emul_dma_terminate_all(c);
	pci_epc_emul_dma_synchronize(c);
	kfree(ec->bounce);
	ec->bounce = NULL;
}

#ifdef CONFIG_DEBUG_FS
/* Per channel in dmaengine's debugfs summary: its use and its counts */
static void pci_epc_emul_dma_summary(struct seq_file *s, struct dma_device *dd)
{
	struct pci_epc_emul_dma *dma =
		container_of(dd, struct pci_epc_emul_dma, dd);
	unsigned int i;

	for (i = 0; i < dma->nr_chans; i++) {
		struct pci_epc_emul_dma_chan *ec = &dma->chans[i];
		u64 xfers, bytes, errors;

		spin_lock_irq(&ec->lock);
		xfers = ec->xfers;
		bytes = ec->bytes;
		errors = ec->errors;
		spin_unlock_irq(&ec->lock);
		seq_printf(s, " %-13s| %s, %llu transfers, %llu bytes, %llu failed\n",
			   dma_chan_name(&ec->chan),
			   ec->chan.client_count ? "in use" : "free",
			   xfers, bytes, errors);
	}
}
#endif

/* The last reference to the engine is gone: no channel is in use */
static void pci_epc_emul_dma_release(struct dma_device *dd)
{
	struct pci_epc_emul_dma *dma =
		container_of(dd, struct pci_epc_emul_dma, dd);

	kthread_destroy_worker(dma->worker);
	if (dma->alias)
		iounmap(dma->alias);
	put_device(dd->dev);
	kfree(dma);
}

/**
 * pci_epc_emul_dma_create() - DMA channels for an emulated controller
 * @dev: the device the controller's endpoint functions map their buffers
 *	 with (the parent of its EPC); it must have a driver bound, whose
 *	 module the channels' users then hold
 * @alias: CPU physical address of an outbound alias: host PCI address X
 *	   at @alias + X (unused for memcpy channels)
 * @size: its size: the host memory the channels reach
 * @nr_chans: how many channels, at most %PCI_EPC_EMUL_DMA_MAX_CHANS
 * @memcpy_chans: public memcpy channels between CPU physical addresses,
 *		  instead of private slave channels between @dev's DMA
 *		  addresses and host PCI addresses
 *
 * The channels copy with the CPU, from a kthread of the engine, one
 * transfer at a time, each channel's in the order they were issued.
 *
 * Return: the engine, registered with dmaengine, or an ERR_PTR().
 */
struct pci_epc_emul_dma *pci_epc_emul_dma_create(struct device *dev,
						 phys_addr_t alias,
						 resource_size_t size,
						 unsigned int nr_chans,
						 bool memcpy_chans)
{
	struct pci_epc_emul_dma *dma;
	struct dma_device *dd;
	unsigned int i;
	int ret;

	if (!nr_chans || nr_chans > PCI_EPC_EMUL_DMA_MAX_CHANS)
		return ERR_PTR(-EINVAL);
	if (!dev->driver) {
		dev_err(dev, "DMA channels need a driver bound to the device\n");
		return ERR_PTR(-ENODEV);
	}

	dma = kzalloc(struct_size(dma, chans, nr_chans), GFP_KERNEL);
	if (!dma)
		return ERR_PTR(-ENOMEM);
	dma->nr_chans = nr_chans;
	dma->alias_size = size;

	if (!memcpy_chans) {
		dma->alias = ioremap(alias, size);
		if (!dma->alias) {
			ret = -ENOMEM;
			goto err_free_dma;
		}
	}

	dma->worker = kthread_create_worker(0, "%s-dma", dev_name(dev));
	if (IS_ERR(dma->worker)) {
		ret = PTR_ERR(dma->worker);
		goto err_unmap_alias;
	}
	/* Started already by kernels before 6.14, woken here by the others */
	wake_up_process(dma->worker->task);

	dd = &dma->dd;
	dd->dev = get_device(dev);
	INIT_LIST_HEAD(&dd->channels);
	if (memcpy_chans) {
		dma_cap_set(DMA_MEMCPY, dd->cap_mask);
		dd->device_prep_dma_memcpy = pci_epc_emul_dma_prep_memcpy;
		dd->directions = BIT(DMA_MEM_TO_MEM);
	} else {
		dma_cap_set(DMA_SLAVE, dd->cap_mask);
		dma_cap_set(DMA_PRIVATE, dd->cap_mask);
		dd->device_prep_slave_sg = pci_epc_emul_dma_prep_slave_sg;
		dd->device_config = pci_epc_emul_dma_config;
		dd->directions = BIT(DMA_DEV_TO_MEM) | BIT(DMA_MEM_TO_DEV);
	}
	dd->src_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_1_BYTE) |
			      BIT(DMA_SLAVE_BUSWIDTH_2_BYTES) |
			      BIT(DMA_SLAVE_BUSWIDTH_4_BYTES) |
			      BIT(DMA_SLAVE_BUSWIDTH_8_BYTES);
	dd->dst_addr_widths = dd->src_addr_widths;
	dd->residue_granularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
	dd->copy_align = DMAENGINE_ALIGN_1_BYTE;
	dd->device_alloc_chan_resources = pci_epc_emul_dma_alloc_chan;
	dd->device_free_chan_resources = pci_epc_emul_dma_free_chan;
	dd->device_issue_pending = pci_epc_emul_dma_issue_pending;
	dd->device_tx_status = pci_epc_emul_dma_tx_status;
	dd->device_terminate_all = pci_epc_emul_dma_terminate_all;
	dd->device_synchronize = pci_epc_emul_dma_synchronize;
	dd->device_release = pci_epc_emul_dma_release;
#ifdef CONFIG_DEBUG_FS
	dd->dbg_summary_show = pci_epc_emul_dma_summary;
#endif

	for (i = 0; i < nr_chans; i++) {
		struct pci_epc_emul_dma_chan *ec = &dma->chans[i];

		ec->dma = dma;
		spin_lock_init(&ec->lock);
		INIT_LIST_HEAD(&ec->submitted);
		INIT_LIST_HEAD(&ec->issued);
		kthread_init_work(&ec->work, pci_epc_emul_dma_work);
		ec->chan.device = dd;
		ec->chan.cookie = DMA_MIN_COOKIE;
		ec->chan.completed_cookie = DMA_MIN_COOKIE;
		list_add_tail(&ec->chan.device_node, &dd->channels);
	}

	ret = dma_async_device_register(dd);
	if (ret) {
		dev_err(dev, "Failed to register %u DMA channels (err=%d)\n",
			nr_chans, ret);
		goto err_put_dev;
	}
	return dma;

err_put_dev:
	put_device(dev);
	kthread_destroy_worker(dma->worker);
err_unmap_alias:
	if (dma->alias)
		iounmap(dma->alias);
err_free_dma:
	kfree(dma);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_dma_create);

/**
 * pci_epc_emul_dma_destroy() - unregister an engine
 * @dma: the engine, from pci_epc_emul_dma_create(), or NULL
 *
 * No channel may be in use: its users hold the module of the engine's
 * device.  The engine is freed with its last reference.
 */
void pci_epc_emul_dma_destroy(struct pci_epc_emul_dma *dma)
{
	if (dma)
		dma_async_device_unregister(&dma->dd);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_dma_destroy);
#endif /* CONFIG_DMA_ENGINE */

#ifdef CONFIG_X86
/* ------------------------------------------------------------------------
 * Virtual root bus: configuration accessors
 */

static struct pci_epc_emul_bus *pci_epc_emul_bus_of(struct pci_bus *bus)
{
	return container_of(bus->sysdata, struct pci_epc_emul_bus, sysdata);
}

static int pci_epc_emul_config_read(struct pci_bus *bus, unsigned int devfn,
				    int where, int size, u32 *val)
{
	struct pci_epc_emul_bus *ebus = pci_epc_emul_bus_of(bus);
	unsigned int fn = PCI_FUNC(devfn);
	struct pci_epc_emul_func *f;
	unsigned long flags;
	int ret = PCIBIOS_SUCCESSFUL;

	*val = ~0u;
	if (PCI_SLOT(devfn) || fn >= PCI_EPC_EMUL_MAX_FUNCS)
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (where + size > PCI_EPC_EMUL_CFG_SIZE) {
		*val = 0;
		return PCIBIOS_SUCCESSFUL;
	}

	spin_lock_irqsave(&ebus->lock, flags);
	f = ebus->ops->func(ebus, fn);
	if (f)
		*val = pci_epc_emul_cfg_read(f, where, size);
	else
		ret = PCIBIOS_DEVICE_NOT_FOUND;
	spin_unlock_irqrestore(&ebus->lock, flags);

	return ret;
}

static int pci_epc_emul_config_write(struct pci_bus *bus, unsigned int devfn,
				     int where, int size, u32 val)
{
	struct pci_epc_emul_bus *ebus = pci_epc_emul_bus_of(bus);
	unsigned int fn = PCI_FUNC(devfn);
	struct pci_epc_emul_func *f;
	unsigned long flags;
	int ret = PCIBIOS_SUCCESSFUL;

	if (PCI_SLOT(devfn) || fn >= PCI_EPC_EMUL_MAX_FUNCS)
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (where + size > PCI_EPC_EMUL_CFG_SIZE)
		return PCIBIOS_SUCCESSFUL;

	spin_lock_irqsave(&ebus->lock, flags);
	f = ebus->ops->func(ebus, fn);
	if (f) {
		u16 cmd = pci_epc_emul_rd(f->cfg, PCI_COMMAND, 2);

		pci_epc_emul_cfg_write(f, where, size, val);
		if (ebus->ops->bus_master && !(cmd & PCI_COMMAND_MASTER) &&
		    (pci_epc_emul_rd(f->cfg, PCI_COMMAND, 2) &
		     PCI_COMMAND_MASTER))
			ebus->ops->bus_master(ebus, fn);
	} else {
		ret = PCIBIOS_DEVICE_NOT_FOUND;
	}
	spin_unlock_irqrestore(&ebus->lock, flags);

	return ret;
}

static struct pci_ops pci_epc_emul_pci_ops = {
	.read = pci_epc_emul_config_read,
	.write = pci_epc_emul_config_write,
};

/* ------------------------------------------------------------------------
 * Virtual root bus: interrupt domains
 */

static void pci_epc_emul_msi_compose(struct irq_data *d, struct msi_msg *msg)
{
	msg->address_hi = 0;
	msg->address_lo = PCI_EPC_EMUL_MSI_ADDR;
	msg->data = d->hwirq;
}

static void pci_epc_emul_irq_noop(struct irq_data *d)
{
}

static int pci_epc_emul_msi_set_affinity(struct irq_data *d,
					 const struct cpumask *mask, bool force)
{
	return -EINVAL;
}

static struct irq_chip pci_epc_emul_msi_chip = {
	.name = "epc-emul-msi",
	.irq_ack = pci_epc_emul_irq_noop,
	.irq_mask = pci_epc_emul_irq_noop,
	.irq_unmask = pci_epc_emul_irq_noop,
	.irq_compose_msi_msg = pci_epc_emul_msi_compose,
	.irq_set_affinity = pci_epc_emul_msi_set_affinity,
};

static int pci_epc_emul_msi_alloc(struct irq_domain *domain,
				  unsigned int virq, unsigned int nr_irqs,
				  void *args)
{
	struct pci_epc_emul_bus *ebus = domain->host_data;
	unsigned long flags;
	unsigned int i;
	int hwirq;

	spin_lock_irqsave(&ebus->msi_lock, flags);
	hwirq = bitmap_find_free_region(ebus->msi_map,
					PCI_EPC_EMUL_MSI_VECTORS,
					order_base_2(nr_irqs));
	spin_unlock_irqrestore(&ebus->msi_lock, flags);
	if (hwirq < 0)
		return -ENOSPC;

	for (i = 0; i < nr_irqs; i++)
		irq_domain_set_info(domain, virq + i, hwirq + i,
				    &pci_epc_emul_msi_chip, ebus,
				    handle_edge_irq, NULL, NULL);

	return 0;
}

static void pci_epc_emul_msi_free(struct irq_domain *domain,
				  unsigned int virq, unsigned int nr_irqs)
{
	struct irq_data *d = irq_domain_get_irq_data(domain, virq);
	struct pci_epc_emul_bus *ebus = domain->host_data;
	unsigned long flags;

	spin_lock_irqsave(&ebus->msi_lock, flags);
	bitmap_release_region(ebus->msi_map, d->hwirq, order_base_2(nr_irqs));
	spin_unlock_irqrestore(&ebus->msi_lock, flags);
}

static const struct irq_domain_ops pci_epc_emul_msi_ops = {
	.alloc = pci_epc_emul_msi_alloc,
	.free = pci_epc_emul_msi_free,
};

#ifdef EPC_EMUL_MSI_PARENT
#define EPC_EMUL_MSI_FLAGS_REQUIRED	(MSI_FLAG_USE_DEF_DOM_OPS | \
					 MSI_FLAG_USE_DEF_CHIP_OPS | \
					 MSI_FLAG_NO_AFFINITY)
#define EPC_EMUL_MSI_FLAGS_SUPPORTED	(MSI_GENERIC_FLAGS_MASK | \
					 MSI_FLAG_MULTI_PCI_MSI | \
					 MSI_FLAG_PCI_MSIX)

static const struct msi_parent_ops pci_epc_emul_msi_parent_ops = {
	.required_flags = EPC_EMUL_MSI_FLAGS_REQUIRED,
	.supported_flags = EPC_EMUL_MSI_FLAGS_SUPPORTED,
	.bus_select_token = DOMAIN_BUS_NEXUS,
	.bus_select_mask = MATCH_PCI_MSI,
	.chip_flags = MSI_CHIP_FLAG_SET_ACK,
	.prefix = "EPC-EMUL-",
	.init_dev_msi_info = msi_lib_init_dev_msi_info,
};

static int pci_epc_emul_create_msi(struct pci_epc_emul_bus *ebus)
{
	struct irq_domain_info info = {
		.size = PCI_EPC_EMUL_MSI_VECTORS,
		.ops = &pci_epc_emul_msi_ops,
		.host_data = ebus,
	};

	info.fwnode = irq_domain_alloc_named_id_fwnode("EPC-EMUL-MSI",
						       ebus->id);
	if (!info.fwnode)
		return -ENOMEM;

	ebus->msi_domain =
		msi_create_parent_irq_domain(&info,
					     &pci_epc_emul_msi_parent_ops);
	if (!ebus->msi_domain) {
		irq_domain_free_fwnode(info.fwnode);
		return -ENOMEM;
	}

	return 0;
}

static void pci_epc_emul_remove_msi(struct pci_epc_emul_bus *ebus)
{
	struct fwnode_handle *fwnode = ebus->msi_domain->fwnode;

	irq_domain_remove(ebus->msi_domain);
	irq_domain_free_fwnode(fwnode);
}
#else
/* Before the MSI parent model: a PCI/MSI domain stacked on a bottom one */
#ifndef MSI_FLAG_NO_AFFINITY
#define MSI_FLAG_NO_AFFINITY	0
#endif

static struct msi_domain_info pci_epc_emul_pci_msi_info = {
	.flags = MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_USE_DEF_CHIP_OPS |
		 MSI_FLAG_MULTI_PCI_MSI | MSI_FLAG_PCI_MSIX |
		 MSI_FLAG_NO_AFFINITY,
	.chip = &(struct irq_chip) {
		.name = "epc-emul-pci-msi",
		.irq_ack = irq_chip_ack_parent,
		.irq_mask = pci_msi_mask_irq,
		.irq_unmask = pci_msi_unmask_irq,
	},
};

static int pci_epc_emul_create_msi(struct pci_epc_emul_bus *ebus)
{
	struct fwnode_handle *fwnode, *pci_fwnode;

	fwnode = irq_domain_alloc_named_id_fwnode("EPC-EMUL-MSI", ebus->id);
	if (!fwnode)
		return -ENOMEM;

	pci_fwnode = irq_domain_alloc_named_id_fwnode("EPC-EMUL-PCI-MSI",
						      ebus->id);
	if (!pci_fwnode)
		goto err_free_fwnode;

	ebus->msi_domain = irq_domain_create_linear(fwnode,
						    PCI_EPC_EMUL_MSI_VECTORS,
						    &pci_epc_emul_msi_ops,
						    ebus);
	if (!ebus->msi_domain)
		goto err_free_pci_fwnode;

	ebus->pci_msi_domain =
		pci_msi_create_irq_domain(pci_fwnode,
					  &pci_epc_emul_pci_msi_info,
					  ebus->msi_domain);
	if (!ebus->pci_msi_domain)
		goto err_remove_domain;

	return 0;

err_remove_domain:
	irq_domain_remove(ebus->msi_domain);
err_free_pci_fwnode:
	irq_domain_free_fwnode(pci_fwnode);
err_free_fwnode:
	irq_domain_free_fwnode(fwnode);
	return -ENOMEM;
}

static void pci_epc_emul_remove_msi(struct pci_epc_emul_bus *ebus)
{
	struct fwnode_handle *pci_fwnode = ebus->pci_msi_domain->fwnode;
	struct fwnode_handle *fwnode = ebus->msi_domain->fwnode;

	irq_domain_remove(ebus->pci_msi_domain);
	irq_domain_free_fwnode(pci_fwnode);
	irq_domain_remove(ebus->msi_domain);
	irq_domain_free_fwnode(fwnode);
}
#endif

static int pci_epc_emul_intx_map(struct irq_domain *d, unsigned int virq,
				 irq_hw_number_t hw)
{
	irq_set_chip_and_handler(virq, &dummy_irq_chip, handle_simple_irq);
	irq_set_chip_data(virq, d->host_data);

	return 0;
}

static const struct irq_domain_ops pci_epc_emul_intx_ops = {
	.map = pci_epc_emul_intx_map,
};

static int pci_epc_emul_map_irq(const struct pci_dev *pdev, u8 slot, u8 pin)
{
	struct pci_epc_emul_bus *ebus = pci_epc_emul_bus_of(pdev->bus);

	return irq_create_mapping(ebus->intx_domain, PCI_FUNC(pdev->devfn));
}

/* ------------------------------------------------------------------------
 * Virtual root bus: creation and devices
 */

/**
 * pci_epc_emul_bus_create() - create a virtual root bus
 * @ebus: the bus, zeroed except for what the caller embeds around it
 * @parent: the device that owns it
 * @ops: the owner's callbacks
 * @id: an index to name its interrupt domains
 * @cpu_start: CPU address of its memory window
 * @size: size of the window
 * @bus_start: bus address at @cpu_start
 *
 * The bus is empty until pci_epc_emul_bus_scan().
 *
 * Return: 0 or a negative error code.
 */
int pci_epc_emul_bus_create(struct pci_epc_emul_bus *ebus,
			    struct device *parent,
			    const struct pci_epc_emul_bus_ops *ops, int id,
			    resource_size_t cpu_start, resource_size_t size,
			    resource_size_t bus_start)
{
	struct pci_host_bridge *bridge;
	LIST_HEAD(resources);
	int ret;

	ebus->ops = ops;
	ebus->id = id;
	spin_lock_init(&ebus->lock);
	spin_lock_init(&ebus->msi_lock);

	ebus->mem_res = (struct resource) {
		.name = "emulated PCI window",
		.start = cpu_start,
		.end = cpu_start + size - 1,
		.flags = IORESOURCE_MEM,
	};
	ebus->busn_res = (struct resource) {
		.name = "emulated PCI bus",
		.start = 0,
		.end = 0,
		.flags = IORESOURCE_BUS | IORESOURCE_PCI_FIXED,
	};
	pci_add_resource(&resources, &ebus->busn_res);
	pci_add_resource_offset(&resources, &ebus->mem_res,
				cpu_start - bus_start);

	ebus->intx_domain = irq_domain_create_linear(NULL,
						     PCI_EPC_EMUL_MAX_FUNCS,
						     &pci_epc_emul_intx_ops,
						     ebus);
	if (!ebus->intx_domain) {
		ret = -ENOMEM;
		goto err_free_resources;
	}

	ret = pci_epc_emul_create_msi(ebus);
	if (ret)
		goto err_remove_intx;

#ifdef EPC_EMUL_EMUL_DOMAIN
	ebus->sysdata.domain = pci_bus_find_emul_domain_nr(0, 0x10000,
							   INT_MAX);
#else
	ebus->sysdata.domain = 0x10000 + id;
#endif
	if (ebus->sysdata.domain < 0) {
		ret = ebus->sysdata.domain;
		goto err_remove_msi;
	}
	ebus->sysdata.node = NUMA_NO_NODE;

	ebus->bus = pci_create_root_bus(parent, 0, &pci_epc_emul_pci_ops,
					&ebus->sysdata, &resources);
	if (!ebus->bus) {
		ret = -ENODEV;
		goto err_release_domain;
	}

	bridge = pci_find_host_bridge(ebus->bus);
	bridge->map_irq = pci_epc_emul_map_irq;
	bridge->swizzle_irq = pci_common_swizzle;
	dev_set_msi_domain(&ebus->bus->dev, ebus->pci_msi_domain ?:
			   ebus->msi_domain);

	return 0;

err_release_domain:
#ifdef EPC_EMUL_EMUL_DOMAIN
	pci_bus_release_emul_domain_nr(ebus->sysdata.domain);
#endif
err_remove_msi:
	pci_epc_emul_remove_msi(ebus);
err_remove_intx:
	irq_domain_remove(ebus->intx_domain);
err_free_resources:
	pci_free_resource_list(&resources);
	return ret;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_create);

/**
 * pci_epc_emul_bus_destroy() - remove a virtual root bus and its devices
 * @ebus: the bus
 */
void pci_epc_emul_bus_destroy(struct pci_epc_emul_bus *ebus)
{
	unsigned int fn;

	pci_lock_rescan_remove();
	pci_stop_root_bus(ebus->bus);
	pci_remove_root_bus(ebus->bus);
	pci_unlock_rescan_remove();

#ifdef EPC_EMUL_EMUL_DOMAIN
	pci_bus_release_emul_domain_nr(ebus->sysdata.domain);
#endif
	pci_epc_emul_remove_msi(ebus);
	for (fn = 0; fn < PCI_EPC_EMUL_MAX_FUNCS; fn++)
		irq_dispose_mapping(irq_find_mapping(ebus->intx_domain, fn));
	irq_domain_remove(ebus->intx_domain);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_destroy);

static void pci_epc_emul_claim(struct pci_dev *pdev)
{
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct resource *res = &pdev->resource[i];

		if (!res->flags || !resource_size(res) || res->parent)
			continue;
		if (pci_claim_resource(pdev, i))
			pci_err(pdev, "BAR%d %pR: cannot claim it\n", i, res);
	}
}

/**
 * pci_epc_emul_bus_scan() - find the functions present and add them
 * @ebus: the bus
 *
 * Their BARs keep the addresses the functions gave them; host drivers
 * probe them from here.
 */
void pci_epc_emul_bus_scan(struct pci_epc_emul_bus *ebus)
{
	struct pci_dev *pdev;

	pci_lock_rescan_remove();
	pci_scan_child_bus(ebus->bus);
	list_for_each_entry(pdev, &ebus->bus->devices, bus_list)
		pci_epc_emul_claim(pdev);
	pci_bus_add_devices(ebus->bus);
	pci_unlock_rescan_remove();
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_scan);

/**
 * pci_epc_emul_bus_remove() - remove every device of the bus
 * @ebus: the bus
 */
void pci_epc_emul_bus_remove(struct pci_epc_emul_bus *ebus)
{
	struct pci_dev *pdev, *tmp;

	pci_lock_rescan_remove();
	list_for_each_entry_safe_reverse(pdev, tmp, &ebus->bus->devices,
					 bus_list)
		pci_stop_and_remove_bus_device(pdev);
	pci_unlock_rescan_remove();
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_remove);

/**
 * pci_epc_emul_bus_remove_func() - remove the host device of one function
 * @ebus: the bus
 * @fn: the function
 *
 * Return: true if the host had a device for it.
 */
bool pci_epc_emul_bus_remove_func(struct pci_epc_emul_bus *ebus,
				  unsigned int fn)
{
	struct pci_dev *pdev;

	pci_lock_rescan_remove();
	pdev = pci_get_slot(ebus->bus, PCI_DEVFN(0, fn));
	if (pdev) {
		pci_stop_and_remove_bus_device(pdev);
		pci_dev_put(pdev);
	}
	pci_unlock_rescan_remove();

	return pdev;
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_remove_func);

/**
 * pci_epc_emul_bus_msi_irq() - the host interrupt an MSI message raises
 * @ebus: the bus
 * @addr: message address
 * @data: message data
 *
 * Return: the Linux interrupt number, or 0 when the message is not one the
 * bus composed or its vector is not allocated (the host may have freed it).
 */
unsigned int pci_epc_emul_bus_msi_irq(struct pci_epc_emul_bus *ebus,
				      u64 addr, u32 data)
{
	if (addr != PCI_EPC_EMUL_MSI_ADDR || data >= PCI_EPC_EMUL_MSI_VECTORS)
		return 0;

	return irq_find_mapping(ebus->msi_domain, data);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_msi_irq);

/**
 * pci_epc_emul_bus_intx_irq() - the host interrupt of a function's INTx
 * @ebus: the bus
 * @fn: the function
 *
 * Return: the Linux interrupt number, or 0 when the host has none for it.
 */
unsigned int pci_epc_emul_bus_intx_irq(struct pci_epc_emul_bus *ebus,
				       unsigned int fn)
{
	return irq_find_mapping(ebus->intx_domain, fn);
}
EXPORT_SYMBOL_GPL(pci_epc_emul_bus_intx_irq);
#endif /* CONFIG_X86 */

MODULE_DESCRIPTION("Emulated PCI functions for endpoint controllers without a link");
MODULE_LICENSE("GPL");
