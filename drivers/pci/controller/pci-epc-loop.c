// SPDX-License-Identifier: GPL-2.0
/*
 * Loopback PCI endpoint controller.
 *
 * Lets one Linux kernel be both the PCIe endpoint and the PCIe host, so that
 * endpoint functions can be exercised without endpoint hardware.
 *
 * The endpoint side is an ordinary EPC (struct pci_epc). The host side is a
 * virtual PCI root bus in the same kernel whose configuration space is
 * emulated from what the endpoint functions program (header, BARs, MSI and
 * MSI-X capabilities). The two sides reach each other's memory through
 * "alias" devices: QEMU ivshmem-plain devices whose BAR2 is backed by the
 * same file as the guest RAM, so that offset X in such a BAR is guest
 * physical address X.
 *
 *  - Inbound (host -> endpoint BAR memory): the virtual root bus has one
 *    alias as its memory window, with a bus address offset, so a BAR's bus
 *    address is the physical address of the endpoint's BAR memory and its
 *    CPU address falls in the alias.
 *  - Outbound (endpoint -> host memory): each remaining alias is one
 *    outbound window. A mapping always starts at PCI address 0 of a window
 *    (see pci_epc_loop_align_addr()), so one mapping takes one window, like
 *    the few outbound ATU regions of real controllers. Only users of
 *    pci_epc_mem_map() are served; a caller of the old
 *    pci_epc_mem_alloc_addr() + pci_epc_map_addr() API is refused.
 *  - Interrupts: INTx through a small linear IRQ domain, MSI and MSI-X
 *    through an MSI parent domain of the virtual bus. Raising an interrupt
 *    reads the message the host programmed (MSI capability or MSI-X table)
 *    and marks the host's vector pending; an irq_work then runs the host's
 *    handler in hard interrupt context, as a real interrupt would, never
 *    inside the caller of pci_epc_raise_irq() with its locks held.
 *
 * start() brings the link up: functions get a link_up event and the device
 * is scanned on the virtual bus, so host drivers probe it. stop() brings the
 * link down: the device is removed from the virtual bus. Both run from a
 * work item, because host drivers may wait for the endpoint side while they
 * probe or go away.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/irq_work.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/pci.h>
#include <linux/pci-epc.h>
#include <linux/pci-epf.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>

/* EPC_LOOP_* feature macros come from the Makefile, which reads the tree */
#ifdef EPC_LOOP_MSI_PARENT
#include <linux/irqchip/irq-msi-lib.h>
#endif

/* PCI IDs of the QEMU ivshmem device used as a RAM alias */
#define EPC_LOOP_ALIAS_VENDOR	PCI_VENDOR_ID_REDHAT_QUMRANET
#define EPC_LOOP_ALIAS_DEVICE	0x1110
#define EPC_LOOP_ALIAS_BAR	2

/* At most this many alias devices are used: one inbound, the rest outbound */
#define EPC_LOOP_MAX_ALIASES	16

/* Functions per controller: devfn 0..N-1 of the device on the virtual bus */
#define EPC_LOOP_MAX_FUNCS	4

/* Emulated configuration space layout */
#define EPC_LOOP_CFG_SIZE	256
#define EPC_LOOP_MSI_CAP	0x40
#define EPC_LOOP_MSIX_CAP	0x60

/* MSI vectors of one virtual bus (hwirqs of its MSI parent domain) */
#define EPC_LOOP_MSI_VECTORS	256

/* Older kernels make per-CPU workqueues unless told WQ_UNBOUND */
#ifndef EPC_LOOP_WQ_PERCPU
#define WQ_PERCPU	0
#endif

/* Address part of the MSI messages composed by the MSI parent domain */
#define EPC_LOOP_MSI_ADDR	0xfee0f000u

/* Pending interrupt bits: MSI hwirqs first, then INTx of each function */
#define EPC_LOOP_PEND_INTX	EPC_LOOP_MSI_VECTORS
#define EPC_LOOP_PEND_BITS	(EPC_LOOP_MSI_VECTORS + EPC_LOOP_MAX_FUNCS)

/* Bit of pci_epc_loop::irq_flags: the cross-CPU delivery call is queued */
#define EPC_LOOP_IRQ_IPI	0

static int nr_controllers = 2;
module_param(nr_controllers, int, 0444);
MODULE_PARM_DESC(nr_controllers, "Number of loopback controllers (1-8)");

/*
 * Real controllers have few outbound regions: DesignWare ones 4 to 8 (one
 * of them often taken for MSI), where the rig has one window per alias
 * device.  nr_windows gives each controller as few, so that functions meet
 * the budget they will meet on hardware.
 */
static int nr_windows;
module_param(nr_windows, int, 0444);
MODULE_PARM_DESC(nr_windows,
		 "Outbound windows per controller (0: one per alias device, default)");

/*
 * Host and endpoint share one kernel here, so host code running on the CPU
 * where an endpoint function polls can hold that function off while the
 * host waits for it (a host driver probing, or an interrupt handler taking
 * a lock that a host task holds while it waits for the device). host_cpu
 * keeps the host's side of link changes (bus scan, driver probe and
 * removal) and the host's interrupt handlers on one CPU, as an interrupt
 * controller routes a device's interrupts to the CPUs it was told to.
 */
static int host_cpu = -1;
module_param(host_cpu, int, 0444);
MODULE_PARM_DESC(host_cpu,
		 "CPU for the host's link changes and interrupts (-1: any, default)");

struct pci_epc_loop;

/**
 * struct pci_epc_loop_func - host-visible state of one endpoint function
 * @cfg: emulated configuration space
 * @bar: BARs set by the function (size 0: not set)
 * @bar_mask: writable bits of each BAR register
 * @present: the function has written its header
 * @msi_max: MSI vectors the function asked for (0: no MSI capability)
 * @msix_max: MSI-X vectors the function asked for (0: no MSI-X capability)
 * @msix_bar: BAR holding the MSI-X table and PBA
 * @msix_offset: offset of the MSI-X table in that BAR
 */
struct pci_epc_loop_func {
	u8 cfg[EPC_LOOP_CFG_SIZE];
	struct pci_epf_bar bar[PCI_STD_NUM_BARS];
	u32 bar_mask[PCI_STD_NUM_BARS];
	bool present;
	u8 msi_max;
	u16 msix_max;
	enum pci_barno msix_bar;
	u32 msix_offset;
};

/**
 * struct pci_epc_loop - one loopback controller
 * @sysdata: x86 PCI bus data of the virtual root bus; must stay first
 * @pdev: platform device that owns the EPC
 * @epc: the endpoint controller
 * @id: controller index
 * @bus: virtual root bus on the host side
 * @mem_res: host-side memory window (the inbound alias)
 * @busn_res: bus number range of the virtual bus
 * @msi_domain: MSI parent domain of the virtual bus
 * @intx_domain: INTx domain of the virtual bus
 * @msi_map: allocated MSI hwirqs; protected by @msi_lock
 * @msi_lock: protects @msi_map
 * @cfg_lock: protects @func (configuration space and BAR state), taken from
 *	      config accessors, which may run with interrupts off
 * @func: per-function host-visible state
 * @irq_pending: host interrupts raised and not yet delivered; atomic bitops
 * @irq_work: delivers @irq_pending to the host's handlers on this CPU
 * @irq_csd: delivers @irq_pending on host_cpu, from another CPU
 * @irq_flags: EPC_LOOP_IRQ_IPI while @irq_csd is queued; atomic bitops
 * @link_work: brings the link up or down, as @link_want asks; runs on an
 *	       ordered workqueue, so link changes are serialized
 * @link_want: link state asked for by start()/stop()
 * @link_up: link state as seen by the host (device scanned)
 */
struct pci_epc_loop {
	struct pci_sysdata sysdata;
	struct platform_device *pdev;
	struct pci_epc *epc;
	int id;

	struct pci_bus *bus;
	struct resource mem_res;
	struct resource busn_res;
	struct irq_domain *msi_domain;
	struct irq_domain *intx_domain;
	DECLARE_BITMAP(msi_map, EPC_LOOP_MSI_VECTORS);
	/* protects msi_map */
	spinlock_t msi_lock;

	/* protects func[]; taken by config accessors with interrupts off */
	spinlock_t cfg_lock;
	struct pci_epc_loop_func func[EPC_LOOP_MAX_FUNCS];

	DECLARE_BITMAP(irq_pending, EPC_LOOP_PEND_BITS);
	struct irq_work irq_work;
	call_single_data_t irq_csd;
	unsigned long irq_flags;

	struct work_struct link_work;
	bool link_want;
	bool link_up;
};

/* The alias devices found, in PCI order; protected by pci_epc_loop_lock */
static struct pci_dev *pci_epc_loop_alias[EPC_LOOP_MAX_ALIASES];
static int pci_epc_loop_nr_alias;
static struct pci_epc_loop *pci_epc_loop_ctrl[8];
static int pci_epc_loop_nr_ctrl;
static DEFINE_MUTEX(pci_epc_loop_lock);
static struct workqueue_struct *pci_epc_loop_wq;

static resource_size_t pci_epc_loop_alias_size(void)
{
	return pci_resource_len(pci_epc_loop_alias[0], EPC_LOOP_ALIAS_BAR);
}

/* ------------------------------------------------------------------------
 * Emulated configuration space
 */

static u32 pci_epc_loop_cfg_rd(struct pci_epc_loop_func *f, int where,
			       int size)
{
	switch (size) {
	case 1:
		return f->cfg[where];
	case 2:
		return get_unaligned_le16(&f->cfg[where]);
	default:
		return get_unaligned_le32(&f->cfg[where]);
	}
}

static void pci_epc_loop_cfg_wr(struct pci_epc_loop_func *f, int where,
				int size, u32 val)
{
	switch (size) {
	case 1:
		f->cfg[where] = val;
		break;
	case 2:
		put_unaligned_le16(val, &f->cfg[where]);
		break;
	default:
		put_unaligned_le32(val, &f->cfg[where]);
		break;
	}
}

/* Write @val to the bits of the register at @where that @wmask allows */
static void pci_epc_loop_cfg_wr_masked(struct pci_epc_loop_func *f, int where,
				       int size, u32 val, u32 wmask)
{
	u32 old = pci_epc_loop_cfg_rd(f, where, size);

	pci_epc_loop_cfg_wr(f, where, size, (old & ~wmask) | (val & wmask));
}

/* Writable bits of the byte at configuration offset @off */
static u8 pci_epc_loop_cfg_wmask(struct pci_epc_loop_func *f, int off)
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
		return f->bar_mask[bar] >> (8 * (off & 3));
	}

	if (f->msi_max) {
		if (off == EPC_LOOP_MSI_CAP + PCI_MSI_FLAGS)
			return PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
		if (off >= EPC_LOOP_MSI_CAP + PCI_MSI_ADDRESS_LO &&
		    off < EPC_LOOP_MSI_CAP + PCI_MSI_DATA_64 + 2)
			return off == EPC_LOOP_MSI_CAP + PCI_MSI_ADDRESS_LO ?
			       0xfc : 0xff;
	}

	if (f->msix_max && off == EPC_LOOP_MSIX_CAP + PCI_MSIX_FLAGS + 1)
		return (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;

	return 0;
}

static int pci_epc_loop_config_read(struct pci_bus *bus, unsigned int devfn,
				    int where, int size, u32 *val)
{
	struct pci_epc_loop *loop = bus->sysdata;
	unsigned int fn = PCI_FUNC(devfn);
	unsigned long flags;

	*val = ~0u;
	if (PCI_SLOT(devfn) || fn >= EPC_LOOP_MAX_FUNCS)
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (where + size > EPC_LOOP_CFG_SIZE) {
		*val = 0;
		return PCIBIOS_SUCCESSFUL;
	}

	spin_lock_irqsave(&loop->cfg_lock, flags);
	if (!loop->link_up || !loop->func[fn].present) {
		spin_unlock_irqrestore(&loop->cfg_lock, flags);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	*val = pci_epc_loop_cfg_rd(&loop->func[fn], where, size);
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return PCIBIOS_SUCCESSFUL;
}

static int pci_epc_loop_config_write(struct pci_bus *bus, unsigned int devfn,
				     int where, int size, u32 val)
{
	struct pci_epc_loop *loop = bus->sysdata;
	unsigned int fn = PCI_FUNC(devfn);
	struct pci_epc_loop_func *f;
	unsigned long flags;
	u32 wmask = 0;
	int i;

	if (PCI_SLOT(devfn) || fn >= EPC_LOOP_MAX_FUNCS)
		return PCIBIOS_DEVICE_NOT_FOUND;
	if (where + size > EPC_LOOP_CFG_SIZE)
		return PCIBIOS_SUCCESSFUL;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	f = &loop->func[fn];
	if (!loop->link_up || !f->present) {
		spin_unlock_irqrestore(&loop->cfg_lock, flags);
		return PCIBIOS_DEVICE_NOT_FOUND;
	}
	for (i = 0; i < size; i++)
		wmask |= (u32)pci_epc_loop_cfg_wmask(f, where + i) << (8 * i);
	pci_epc_loop_cfg_wr_masked(f, where, size, val, wmask);
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops pci_epc_loop_pci_ops = {
	.read = pci_epc_loop_config_read,
	.write = pci_epc_loop_config_write,
};

/* One 16-bit register of @f's configuration space, as the host left it */
static u16 pci_epc_loop_cfg_word(struct pci_epc_loop *loop,
				 struct pci_epc_loop_func *f, int where)
{
	unsigned long flags;
	u16 val;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	val = get_unaligned_le16(&f->cfg[where]);
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return val;
}

/* Rebuild the capability list after MSI or MSI-X settings changed */
static void pci_epc_loop_cfg_caps(struct pci_epc_loop_func *f)
{
	u8 *cfg = f->cfg;
	u8 next = 0;
	u16 ctrl;

	if (f->msix_max) {
		cfg[EPC_LOOP_MSIX_CAP] = PCI_CAP_ID_MSIX;
		cfg[EPC_LOOP_MSIX_CAP + 1] = 0;
		ctrl = get_unaligned_le16(&cfg[EPC_LOOP_MSIX_CAP +
					       PCI_MSIX_FLAGS]);
		ctrl &= PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
		ctrl |= f->msix_max - 1;
		put_unaligned_le16(ctrl, &cfg[EPC_LOOP_MSIX_CAP +
					      PCI_MSIX_FLAGS]);
		put_unaligned_le32(f->msix_offset | f->msix_bar,
				   &cfg[EPC_LOOP_MSIX_CAP + PCI_MSIX_TABLE]);
		put_unaligned_le32((f->msix_offset +
				    f->msix_max * PCI_MSIX_ENTRY_SIZE) |
				   f->msix_bar,
				   &cfg[EPC_LOOP_MSIX_CAP + PCI_MSIX_PBA]);
		next = EPC_LOOP_MSIX_CAP;
	}

	if (f->msi_max) {
		cfg[EPC_LOOP_MSI_CAP] = PCI_CAP_ID_MSI;
		cfg[EPC_LOOP_MSI_CAP + 1] = next;
		ctrl = get_unaligned_le16(&cfg[EPC_LOOP_MSI_CAP +
					       PCI_MSI_FLAGS]);
		ctrl &= PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
		ctrl |= PCI_MSI_FLAGS_64BIT;
		ctrl |= ilog2(f->msi_max) << 1;
		put_unaligned_le16(ctrl, &cfg[EPC_LOOP_MSI_CAP +
					      PCI_MSI_FLAGS]);
		next = EPC_LOOP_MSI_CAP;
	}

	cfg[PCI_CAPABILITY_LIST] = next;
	if (next)
		cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	else
		cfg[PCI_STATUS] &= ~PCI_STATUS_CAP_LIST;
}

/* ------------------------------------------------------------------------
 * Endpoint controller operations
 */

static struct pci_epc_loop *pci_epc_loop_from_epc(struct pci_epc *epc)
{
	return epc_get_drvdata(epc);
}

static int pci_epc_loop_write_header(struct pci_epc *epc, u8 func_no,
				     u8 vfunc_no, struct pci_epf_header *hdr)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	struct pci_epc_loop_func *f;
	unsigned long flags;
	u8 *cfg;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	f = &loop->func[func_no];
	cfg = f->cfg;
	put_unaligned_le16(hdr->vendorid, &cfg[PCI_VENDOR_ID]);
	put_unaligned_le16(hdr->deviceid, &cfg[PCI_DEVICE_ID]);
	cfg[PCI_REVISION_ID] = hdr->revid;
	cfg[PCI_CLASS_PROG] = hdr->progif_code;
	cfg[PCI_CLASS_DEVICE] = hdr->subclass_code;
	cfg[PCI_CLASS_DEVICE + 1] = hdr->baseclass_code;
	cfg[PCI_CACHE_LINE_SIZE] = hdr->cache_line_size;
	cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
	if (func_no == 0 && epc->max_functions > 1)
		cfg[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MFD;
	put_unaligned_le16(hdr->subsys_vendor_id,
			   &cfg[PCI_SUBSYSTEM_VENDOR_ID]);
	put_unaligned_le16(hdr->subsys_id, &cfg[PCI_SUBSYSTEM_ID]);
	cfg[PCI_INTERRUPT_PIN] = hdr->interrupt_pin;
	f->present = true;
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return 0;
}

static int pci_epc_loop_set_bar(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
				struct pci_epf_bar *epf_bar)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	enum pci_barno bar = epf_bar->barno;
	bool is64 = epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64;
	resource_size_t alias = pci_epc_loop_alias_size();
	struct pci_epc_loop_func *f;
	unsigned long flags;
	u64 mask;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	if (epf_bar->flags & PCI_BASE_ADDRESS_SPACE_IO) {
		dev_err(&epc->dev, "BAR%d: I/O BARs are not supported\n", bar);
		return -EINVAL;
	}

	if (epf_bar->size < 128 || epf_bar->size > alias ||
	    epf_bar->phys_addr + epf_bar->size > alias) {
		dev_err(&epc->dev,
			"BAR%d: %zu bytes at %pad is outside the %pa byte host window\n",
			bar, epf_bar->size, &epf_bar->phys_addr, &alias);
		return -EINVAL;
	}

	if (!IS_ALIGNED(epf_bar->phys_addr, epf_bar->size)) {
		dev_err(&epc->dev, "BAR%d: memory at %pad not aligned to its size\n",
			bar, &epf_bar->phys_addr);
		return -EINVAL;
	}

	if (is64 && bar == BAR_5)
		return -EINVAL;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	f = &loop->func[func_no];
	f->bar[bar] = *epf_bar;
	mask = ~((u64)epf_bar->size - 1);
	f->bar_mask[bar] = lower_32_bits(mask) & PCI_BASE_ADDRESS_MEM_MASK;
	/* The bus address of a BAR is the physical address of its memory */
	put_unaligned_le32(lower_32_bits(epf_bar->phys_addr) |
			   (epf_bar->flags & ~PCI_BASE_ADDRESS_MEM_MASK),
			   &f->cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
	if (is64) {
		f->bar_mask[bar + 1] = upper_32_bits(mask);
		put_unaligned_le32(upper_32_bits(epf_bar->phys_addr),
				   &f->cfg[PCI_BASE_ADDRESS_0 + 4 * (bar + 1)]);
	}
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return 0;
}

static void pci_epc_loop_remove_host_func(struct pci_epc_loop *loop, u8 fn);

static void pci_epc_loop_clear_bar(struct pci_epc *epc, u8 func_no,
				   u8 vfunc_no, struct pci_epf_bar *epf_bar)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	enum pci_barno bar = epf_bar->barno;
	struct pci_epc_loop_func *f;
	unsigned long flags;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return;

	/*
	 * The BAR memory is about to be freed: the host must not reach it any
	 * more, so the host device goes away first, as a surprise removal.
	 */
	pci_epc_loop_remove_host_func(loop, func_no);

	spin_lock_irqsave(&loop->cfg_lock, flags);
	f = &loop->func[func_no];
	memset(&f->bar[bar], 0, sizeof(f->bar[bar]));
	f->bar_mask[bar] = 0;
	put_unaligned_le32(0, &f->cfg[PCI_BASE_ADDRESS_0 + 4 * bar]);
	if (epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64 && bar < BAR_5) {
		f->bar_mask[bar + 1] = 0;
		put_unaligned_le32(0, &f->cfg[PCI_BASE_ADDRESS_0 +
					     4 * (bar + 1)]);
	}
	/* A function without BARs left is being unbound: forget it */
	for (bar = BAR_0; bar < PCI_STD_NUM_BARS; bar++)
		if (f->bar[bar].size)
			break;
	if (bar == PCI_STD_NUM_BARS)
		memset(f, 0, sizeof(*f));
	spin_unlock_irqrestore(&loop->cfg_lock, flags);
}

/*
 * Every mapping starts at PCI address 0 of an alias window, whose offset X
 * is host RAM address X: the window is used whole, the offset into it is the
 * PCI address itself. An address beyond the window cannot be reached; it is
 * passed through unchanged so that map_addr() refuses it.
 */
static u64 pci_epc_loop_align_addr(struct pci_epc *epc, u64 pci_addr,
				   size_t *size, size_t *offset)
{
	resource_size_t alias = pci_epc_loop_alias_size();

	if (pci_addr >= alias) {
		*offset = 0;
		return pci_addr;
	}

	*offset = pci_addr;
	*size = min_t(u64, pci_addr + *size, alias);

	return 0;
}

static int pci_epc_loop_map_addr(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no, phys_addr_t addr, u64 pci_addr,
				 size_t size)
{
	if (pci_addr) {
		dev_err_ratelimited(&epc->dev,
				    "cannot map PCI address %#llx: %s\n",
				    pci_addr,
				    pci_addr < pci_epc_loop_alias_size() ?
				    "only pci_epc_mem_map() is supported" :
				    "beyond host memory");
		return -EINVAL;
	}

	return 0;
}

static void pci_epc_loop_unmap_addr(struct pci_epc *epc, u8 func_no,
				    u8 vfunc_no, phys_addr_t addr)
{
}

/*
 * Newer EPC cores pass the MSI and MSI-X counts as plain numbers, older
 * ones as encoded fields; these helpers hide the difference.
 */
#ifdef EPC_LOOP_PLAIN_NR_IRQS
#define EPC_LOOP_MSI_NR(x)	(x)
#define EPC_LOOP_MSIX_NR(x)	(x)
#define EPC_LOOP_MSI_RET(n)	(n)
#define EPC_LOOP_MSIX_RET(n)	(n)
#else
#define EPC_LOOP_MSI_NR(x)	(1 << (x))
#define EPC_LOOP_MSIX_NR(x)	((x) + 1)
#define EPC_LOOP_MSI_RET(n)	ilog2(n)
#define EPC_LOOP_MSIX_RET(n)	((n) - 1)
#endif

static int pci_epc_loop_set_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
				u8 nr)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned int nr_irqs = EPC_LOOP_MSI_NR(nr);
	unsigned long flags;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	if (nr_irqs < 1 || nr_irqs > 32) {
		dev_err(&epc->dev, "invalid MSI vector count %u (1-32)\n",
			nr_irqs);
		return -EINVAL;
	}

	spin_lock_irqsave(&loop->cfg_lock, flags);
	loop->func[func_no].msi_max = roundup_pow_of_two(nr_irqs);
	pci_epc_loop_cfg_caps(&loop->func[func_no]);
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return 0;
}

static int pci_epc_loop_get_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	struct pci_epc_loop_func *f;
	u16 ctrl;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	f = &loop->func[func_no];
	ctrl = pci_epc_loop_cfg_word(loop, f, EPC_LOOP_MSI_CAP + PCI_MSI_FLAGS);
	if (!f->msi_max || !(ctrl & PCI_MSI_FLAGS_ENABLE))
		return -EINVAL;

	return EPC_LOOP_MSI_RET(1 << FIELD_GET(PCI_MSI_FLAGS_QSIZE, ctrl));
}

static int pci_epc_loop_set_msix(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no, u16 nr, enum pci_barno bir,
				 u32 offset)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned int nr_irqs = EPC_LOOP_MSIX_NR(nr);
	struct pci_epc_loop_func *f;
	unsigned long flags;
	size_t end;
	int ret = 0;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	if (nr_irqs < 1 || nr_irqs > PCI_MSIX_FLAGS_QSIZE + 1) {
		dev_err(&epc->dev, "invalid MSI-X vector count %u (1-%u)\n",
			nr_irqs, PCI_MSIX_FLAGS_QSIZE + 1);
		return -EINVAL;
	}

	if (bir >= PCI_STD_NUM_BARS || offset & PCI_MSIX_TABLE_BIR) {
		dev_err(&epc->dev, "invalid MSI-X table location BAR%d+%#x\n",
			bir, offset);
		return -EINVAL;
	}

	/* Table, then the pending bit array, must fit in the BAR */
	end = offset + nr_irqs * PCI_MSIX_ENTRY_SIZE +
	      ALIGN(DIV_ROUND_UP(nr_irqs, 8), 8);

	spin_lock_irqsave(&loop->cfg_lock, flags);
	f = &loop->func[func_no];
	if (!f->bar[bir].size || end > f->bar[bir].size) {
		ret = -EINVAL;
	} else {
		f->msix_max = nr_irqs;
		f->msix_bar = bir;
		f->msix_offset = offset;
		pci_epc_loop_cfg_caps(f);
	}
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	if (ret)
		dev_err(&epc->dev,
			"MSI-X table of %u vectors at BAR%d+%#x does not fit in the BAR (%zu bytes)\n",
			nr_irqs, bir, offset, f->bar[bir].size);

	return ret;
}

static int pci_epc_loop_get_msix(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	struct pci_epc_loop_func *f;
	u16 ctrl;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	f = &loop->func[func_no];
	ctrl = pci_epc_loop_cfg_word(loop, f,
				     EPC_LOOP_MSIX_CAP + PCI_MSIX_FLAGS);
	if (!f->msix_max || !(ctrl & PCI_MSIX_FLAGS_ENABLE))
		return -EINVAL;

	return EPC_LOOP_MSIX_RET(f->msix_max);
}

/*
 * Run the host handlers of the interrupts raised since the last run. A
 * vector raised twice before this runs is delivered once, as an edge
 * interrupt that is still pending in a real interrupt controller is.
 */
static void pci_epc_loop_irq_work(struct irq_work *work)
{
	struct pci_epc_loop *loop = container_of(work, struct pci_epc_loop,
						 irq_work);
	unsigned int bit, virq;

	for_each_set_bit(bit, loop->irq_pending, EPC_LOOP_PEND_BITS) {
		if (!test_and_clear_bit(bit, loop->irq_pending))
			continue;
		if (bit >= EPC_LOOP_PEND_INTX)
			virq = irq_find_mapping(loop->intx_domain,
						bit - EPC_LOOP_PEND_INTX);
		else
			virq = irq_find_mapping(loop->msi_domain, bit);
		/* The host may have freed the vector since it was raised */
		if (virq)
			generic_handle_irq_safe(virq);
	}
}

/* Runs on host_cpu, in its interrupt context */
static void pci_epc_loop_irq_ipi(void *data)
{
	struct pci_epc_loop *loop = data;

	/*
	 * A vector raised while this runs sees the flag still set and sends
	 * no call of its own: look again after clearing it.
	 */
	for (;;) {
		pci_epc_loop_irq_work(&loop->irq_work);
		clear_bit(EPC_LOOP_IRQ_IPI, &loop->irq_flags);
		/* Pairs with set_bit() before the raiser's test_and_set_bit() */
		smp_mb__after_atomic();
		if (bitmap_empty(loop->irq_pending, EPC_LOOP_PEND_BITS) ||
		    test_and_set_bit(EPC_LOOP_IRQ_IPI, &loop->irq_flags))
			break;
	}
}

/* Wait until no raised interrupt is on its way to a host handler */
static void pci_epc_loop_irq_sync(struct pci_epc_loop *loop)
{
	while (test_bit(EPC_LOOP_IRQ_IPI, &loop->irq_flags))
		cpu_relax();
	irq_work_sync(&loop->irq_work);
}

static void pci_epc_loop_irq_queue(struct pci_epc_loop *loop,
				   unsigned int bit)
{
	int cpu;

	set_bit(bit, loop->irq_pending);

	cpu = get_cpu();
	if (host_cpu < 0 || host_cpu == cpu)
		irq_work_queue(&loop->irq_work);
	else if (!test_and_set_bit(EPC_LOOP_IRQ_IPI, &loop->irq_flags))
		smp_call_function_single_async(host_cpu, &loop->irq_csd);
	put_cpu();
}

/* Deliver the MSI message @addr/@data the host programmed */
static int pci_epc_loop_deliver_msi(struct pci_epc_loop *loop, u64 addr,
				    u32 data)
{
	if (addr != EPC_LOOP_MSI_ADDR || data >= EPC_LOOP_MSI_VECTORS) {
		dev_err_ratelimited(&loop->epc->dev,
				    "host programmed an unknown MSI message %#llx/%#x\n",
				    addr, data);
		return -EINVAL;
	}

	if (!irq_find_mapping(loop->msi_domain, data))
		return -EINVAL;

	pci_epc_loop_irq_queue(loop, data);

	return 0;
}

static int pci_epc_loop_raise_msi(struct pci_epc_loop *loop, u8 fn,
				  u16 num)
{
	struct pci_epc_loop_func *f = &loop->func[fn];
	unsigned long flags;
	u16 ctrl, data;
	u64 addr;
	int nvec;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	ctrl = get_unaligned_le16(&f->cfg[EPC_LOOP_MSI_CAP + PCI_MSI_FLAGS]);
	addr = get_unaligned_le32(&f->cfg[EPC_LOOP_MSI_CAP +
					  PCI_MSI_ADDRESS_LO]);
	addr |= (u64)get_unaligned_le32(&f->cfg[EPC_LOOP_MSI_CAP +
						PCI_MSI_ADDRESS_HI]) << 32;
	data = get_unaligned_le16(&f->cfg[EPC_LOOP_MSI_CAP + PCI_MSI_DATA_64]);
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	if (!f->msi_max || !(ctrl & PCI_MSI_FLAGS_ENABLE))
		return -EINVAL;

	nvec = 1 << FIELD_GET(PCI_MSI_FLAGS_QSIZE, ctrl);
	if (num < 1 || num > nvec)
		return -EINVAL;

	return pci_epc_loop_deliver_msi(loop, addr, data | (num - 1));
}

static int pci_epc_loop_raise_msix(struct pci_epc_loop *loop, u8 fn,
				   u16 num)
{
	struct pci_epc_loop_func *f = &loop->func[fn];
	void __iomem *entry;
	unsigned long flags;
	u32 data, vctrl;
	u16 ctrl;
	u64 addr;
	u8 *pba;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	ctrl = get_unaligned_le16(&f->cfg[EPC_LOOP_MSIX_CAP + PCI_MSIX_FLAGS]);
	if (!f->msix_max || !(ctrl & PCI_MSIX_FLAGS_ENABLE) || num < 1 ||
	    num > f->msix_max || !f->bar[f->msix_bar].addr) {
		spin_unlock_irqrestore(&loop->cfg_lock, flags);
		return -EINVAL;
	}

	/* The host wrote the table into the BAR memory through its alias */
	entry = (void __force __iomem *)f->bar[f->msix_bar].addr +
		f->msix_offset + (num - 1) * PCI_MSIX_ENTRY_SIZE;
	addr = readl(entry + PCI_MSIX_ENTRY_LOWER_ADDR);
	addr |= (u64)readl(entry + PCI_MSIX_ENTRY_UPPER_ADDR) << 32;
	data = readl(entry + PCI_MSIX_ENTRY_DATA);
	vctrl = readl(entry + PCI_MSIX_ENTRY_VECTOR_CTRL);

	if (ctrl & PCI_MSIX_FLAGS_MASKALL ||
	    vctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) {
		/* Masked: latch the pending bit, as a device does */
		pba = (u8 *)f->bar[f->msix_bar].addr + f->msix_offset +
		      f->msix_max * PCI_MSIX_ENTRY_SIZE;
		pba[(num - 1) / 8] |= BIT((num - 1) % 8);
		spin_unlock_irqrestore(&loop->cfg_lock, flags);
		return 0;
	}
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	return pci_epc_loop_deliver_msi(loop, addr, data);
}

static int pci_epc_loop_raise_irq(struct pci_epc *epc, u8 func_no,
				  u8 vfunc_no, unsigned int type,
				  u16 interrupt_num)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	struct pci_epc_loop_func *f;
	u16 cmd;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;
	if (!loop->link_up)
		return -ENOLINK;

	f = &loop->func[func_no];
	switch (type) {
	case PCI_IRQ_INTX:
		cmd = get_unaligned_le16(&f->cfg[PCI_COMMAND]);
		if (!f->cfg[PCI_INTERRUPT_PIN] || cmd & PCI_COMMAND_INTX_DISABLE)
			return -EINVAL;
		if (!irq_find_mapping(loop->intx_domain, func_no))
			return -EINVAL;
		pci_epc_loop_irq_queue(loop, EPC_LOOP_PEND_INTX + func_no);
		return 0;
	case PCI_IRQ_MSI:
		return pci_epc_loop_raise_msi(loop, func_no, interrupt_num);
	case PCI_IRQ_MSIX:
		return pci_epc_loop_raise_msix(loop, func_no, interrupt_num);
	default:
		dev_err(&epc->dev, "unknown interrupt type %u\n", type);
		return -EINVAL;
	}
}

/*
 * Link changes are ordered: an ordered workqueue, or with host_cpu a
 * workqueue running one item at a time on that CPU.
 */
static void pci_epc_loop_queue_link(struct pci_epc_loop *loop)
{
	if (host_cpu < 0)
		queue_work(pci_epc_loop_wq, &loop->link_work);
	else
		queue_work_on(host_cpu, pci_epc_loop_wq, &loop->link_work);
}

static int pci_epc_loop_start(struct pci_epc *epc)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);

	WRITE_ONCE(loop->link_want, true);
	pci_epc_loop_queue_link(loop);

	return 0;
}

static void pci_epc_loop_stop(struct pci_epc *epc)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);

	WRITE_ONCE(loop->link_want, false);
	pci_epc_loop_queue_link(loop);
}

static const struct pci_epc_features pci_epc_loop_features = {
	.linkup_notifier = true,
	.msi_capable = true,
	.msix_capable = true,
#ifdef EPC_LOOP_INTX_FLAG
	.intx_capable = true,
#endif
	.align = SZ_4K,
};

static const struct pci_epc_features *
pci_epc_loop_get_features(struct pci_epc *epc, u8 func_no, u8 vfunc_no)
{
	return &pci_epc_loop_features;
}

static const struct pci_epc_ops pci_epc_loop_ops = {
	.write_header = pci_epc_loop_write_header,
	.set_bar = pci_epc_loop_set_bar,
	.clear_bar = pci_epc_loop_clear_bar,
	.align_addr = pci_epc_loop_align_addr,
	.map_addr = pci_epc_loop_map_addr,
	.unmap_addr = pci_epc_loop_unmap_addr,
	.set_msi = pci_epc_loop_set_msi,
	.get_msi = pci_epc_loop_get_msi,
	.set_msix = pci_epc_loop_set_msix,
	.get_msix = pci_epc_loop_get_msix,
	.raise_irq = pci_epc_loop_raise_irq,
	.start = pci_epc_loop_start,
	.stop = pci_epc_loop_stop,
	.get_features = pci_epc_loop_get_features,
	.owner = THIS_MODULE,
};

/* ------------------------------------------------------------------------
 * Host side: interrupt domains of the virtual bus
 */

static void pci_epc_loop_msi_compose(struct irq_data *d, struct msi_msg *msg)
{
	msg->address_hi = 0;
	msg->address_lo = EPC_LOOP_MSI_ADDR;
	msg->data = d->hwirq;
}

static void pci_epc_loop_irq_noop(struct irq_data *d)
{
}

static int pci_epc_loop_msi_set_affinity(struct irq_data *d,
					 const struct cpumask *mask, bool force)
{
	return -EINVAL;
}

static struct irq_chip pci_epc_loop_msi_chip = {
	.name = "epc-loop-msi",
	.irq_ack = pci_epc_loop_irq_noop,
	.irq_mask = pci_epc_loop_irq_noop,
	.irq_unmask = pci_epc_loop_irq_noop,
	.irq_compose_msi_msg = pci_epc_loop_msi_compose,
	.irq_set_affinity = pci_epc_loop_msi_set_affinity,
};

static int pci_epc_loop_msi_alloc(struct irq_domain *domain,
				  unsigned int virq, unsigned int nr_irqs,
				  void *args)
{
	struct pci_epc_loop *loop = domain->host_data;
	unsigned long flags;
	unsigned int i;
	int hwirq;

	spin_lock_irqsave(&loop->msi_lock, flags);
	hwirq = bitmap_find_free_region(loop->msi_map, EPC_LOOP_MSI_VECTORS,
					order_base_2(nr_irqs));
	spin_unlock_irqrestore(&loop->msi_lock, flags);
	if (hwirq < 0)
		return -ENOSPC;

	for (i = 0; i < nr_irqs; i++)
		irq_domain_set_info(domain, virq + i, hwirq + i,
				    &pci_epc_loop_msi_chip, loop,
				    handle_edge_irq, NULL, NULL);

	return 0;
}

static void pci_epc_loop_msi_free(struct irq_domain *domain,
				  unsigned int virq, unsigned int nr_irqs)
{
	struct irq_data *d = irq_domain_get_irq_data(domain, virq);
	struct pci_epc_loop *loop = domain->host_data;
	unsigned long flags;

	spin_lock_irqsave(&loop->msi_lock, flags);
	bitmap_release_region(loop->msi_map, d->hwirq, order_base_2(nr_irqs));
	spin_unlock_irqrestore(&loop->msi_lock, flags);
}

static const struct irq_domain_ops pci_epc_loop_msi_ops = {
	.alloc = pci_epc_loop_msi_alloc,
	.free = pci_epc_loop_msi_free,
};

#ifdef EPC_LOOP_MSI_PARENT
#define EPC_LOOP_MSI_FLAGS_REQUIRED	(MSI_FLAG_USE_DEF_DOM_OPS | \
					 MSI_FLAG_USE_DEF_CHIP_OPS | \
					 MSI_FLAG_NO_AFFINITY)
#define EPC_LOOP_MSI_FLAGS_SUPPORTED	(MSI_GENERIC_FLAGS_MASK | \
					 MSI_FLAG_MULTI_PCI_MSI | \
					 MSI_FLAG_PCI_MSIX)

static const struct msi_parent_ops pci_epc_loop_msi_parent_ops = {
	.required_flags = EPC_LOOP_MSI_FLAGS_REQUIRED,
	.supported_flags = EPC_LOOP_MSI_FLAGS_SUPPORTED,
	.bus_select_token = DOMAIN_BUS_NEXUS,
	.bus_select_mask = MATCH_PCI_MSI,
	.chip_flags = MSI_CHIP_FLAG_SET_ACK,
	.prefix = "EPC-LOOP-",
	.init_dev_msi_info = msi_lib_init_dev_msi_info,
};

static int pci_epc_loop_create_msi_domain(struct pci_epc_loop *loop)
{
	struct irq_domain_info info = {
		.size = EPC_LOOP_MSI_VECTORS,
		.ops = &pci_epc_loop_msi_ops,
		.host_data = loop,
	};

	info.fwnode = irq_domain_alloc_named_id_fwnode("EPC-LOOP-MSI",
						       loop->id);
	if (!info.fwnode)
		return -ENOMEM;

	loop->msi_domain =
		msi_create_parent_irq_domain(&info,
					     &pci_epc_loop_msi_parent_ops);
	if (!loop->msi_domain) {
		irq_domain_free_fwnode(info.fwnode);
		return -ENOMEM;
	}

	return 0;
}

static struct irq_domain *pci_epc_loop_bus_msi_domain(struct pci_epc_loop *loop)
{
	return loop->msi_domain;
}

static void pci_epc_loop_remove_msi_domain(struct pci_epc_loop *loop)
{
	struct fwnode_handle *fwnode = loop->msi_domain->fwnode;

	irq_domain_remove(loop->msi_domain);
	irq_domain_free_fwnode(fwnode);
}
#else
/* Before the MSI parent model: a PCI/MSI domain stacked on a bottom one */
static struct msi_domain_info pci_epc_loop_pci_msi_info = {
	.flags = MSI_FLAG_USE_DEF_DOM_OPS | MSI_FLAG_USE_DEF_CHIP_OPS |
		 MSI_FLAG_MULTI_PCI_MSI | MSI_FLAG_PCI_MSIX |
		 MSI_FLAG_NO_AFFINITY,
	.chip = &(struct irq_chip) {
		.name = "epc-loop-pci-msi",
		.irq_ack = irq_chip_ack_parent,
		.irq_mask = pci_msi_mask_irq,
		.irq_unmask = pci_msi_unmask_irq,
	},
};

/* PCI/MSI domain of each controller's virtual bus, by controller index */
static struct irq_domain *pci_epc_loop_pci_msi[8];

static int pci_epc_loop_create_msi_domain(struct pci_epc_loop *loop)
{
	struct fwnode_handle *fwnode, *pci_fwnode;

	fwnode = irq_domain_alloc_named_id_fwnode("EPC-LOOP-MSI", loop->id);
	if (!fwnode)
		return -ENOMEM;

	pci_fwnode = irq_domain_alloc_named_id_fwnode("EPC-LOOP-PCI-MSI",
						      loop->id);
	if (!pci_fwnode)
		goto err_free_fwnode;

	loop->msi_domain = irq_domain_create_linear(fwnode,
						    EPC_LOOP_MSI_VECTORS,
						    &pci_epc_loop_msi_ops,
						    loop);
	if (!loop->msi_domain)
		goto err_free_pci_fwnode;

	pci_epc_loop_pci_msi[loop->id] =
		pci_msi_create_irq_domain(pci_fwnode,
					  &pci_epc_loop_pci_msi_info,
					  loop->msi_domain);
	if (!pci_epc_loop_pci_msi[loop->id])
		goto err_remove_domain;

	return 0;

err_remove_domain:
	irq_domain_remove(loop->msi_domain);
err_free_pci_fwnode:
	irq_domain_free_fwnode(pci_fwnode);
err_free_fwnode:
	irq_domain_free_fwnode(fwnode);
	return -ENOMEM;
}

static struct irq_domain *pci_epc_loop_bus_msi_domain(struct pci_epc_loop *loop)
{
	return pci_epc_loop_pci_msi[loop->id];
}

static void pci_epc_loop_remove_msi_domain(struct pci_epc_loop *loop)
{
	struct irq_domain *pci_msi = pci_epc_loop_pci_msi[loop->id];
	struct fwnode_handle *pci_fwnode = pci_msi->fwnode;
	struct fwnode_handle *fwnode = loop->msi_domain->fwnode;

	irq_domain_remove(pci_msi);
	irq_domain_free_fwnode(pci_fwnode);
	irq_domain_remove(loop->msi_domain);
	irq_domain_free_fwnode(fwnode);
}
#endif

static int pci_epc_loop_intx_map(struct irq_domain *d, unsigned int virq,
				 irq_hw_number_t hw)
{
	irq_set_chip_and_handler(virq, &dummy_irq_chip, handle_simple_irq);
	irq_set_chip_data(virq, d->host_data);

	return 0;
}

static const struct irq_domain_ops pci_epc_loop_intx_ops = {
	.map = pci_epc_loop_intx_map,
};

static int pci_epc_loop_map_irq(const struct pci_dev *pdev, u8 slot, u8 pin)
{
	struct pci_epc_loop *loop = pdev->bus->sysdata;

	return irq_create_mapping(loop->intx_domain, PCI_FUNC(pdev->devfn));
}

/* ------------------------------------------------------------------------
 * Host side: the virtual bus and the link
 */

static int pci_epc_loop_create_bus(struct pci_epc_loop *loop)
{
	struct pci_dev *alias = pci_epc_loop_alias[0];
	struct pci_host_bridge *bridge;
	LIST_HEAD(resources);
	int ret;

	/* Bus address X in the window is CPU address X in the alias */
	loop->mem_res = (struct resource) {
		.name = "EPC loopback window",
		.start = pci_resource_start(alias, EPC_LOOP_ALIAS_BAR),
		.end = pci_resource_end(alias, EPC_LOOP_ALIAS_BAR),
		.flags = IORESOURCE_MEM,
	};
	loop->busn_res = (struct resource) {
		.name = "EPC loopback bus",
		.start = 0,
		.end = 0,
		.flags = IORESOURCE_BUS | IORESOURCE_PCI_FIXED,
	};
	pci_add_resource(&resources, &loop->busn_res);
	pci_add_resource_offset(&resources, &loop->mem_res,
				loop->mem_res.start);

	loop->intx_domain = irq_domain_create_linear(NULL, EPC_LOOP_MAX_FUNCS,
						     &pci_epc_loop_intx_ops,
						     loop);
	if (!loop->intx_domain) {
		ret = -ENOMEM;
		goto err_free_resources;
	}

	ret = pci_epc_loop_create_msi_domain(loop);
	if (ret)
		goto err_remove_intx;

#ifdef EPC_LOOP_EMUL_DOMAIN
	loop->sysdata.domain = pci_bus_find_emul_domain_nr(0, 0x10000,
							   INT_MAX);
#else
	loop->sysdata.domain = 0x10000 + loop->id;
#endif
	if (loop->sysdata.domain < 0) {
		ret = loop->sysdata.domain;
		goto err_remove_msi;
	}
	loop->sysdata.node = NUMA_NO_NODE;

	loop->bus = pci_create_root_bus(&loop->pdev->dev, 0,
					&pci_epc_loop_pci_ops, &loop->sysdata,
					&resources);
	if (!loop->bus) {
		ret = -ENODEV;
		goto err_release_domain;
	}

	bridge = pci_find_host_bridge(loop->bus);
	bridge->map_irq = pci_epc_loop_map_irq;
	bridge->swizzle_irq = pci_common_swizzle;
	dev_set_msi_domain(&loop->bus->dev, pci_epc_loop_bus_msi_domain(loop));

	return 0;

err_release_domain:
#ifdef EPC_LOOP_EMUL_DOMAIN
	pci_bus_release_emul_domain_nr(loop->sysdata.domain);
#endif
err_remove_msi:
	pci_epc_loop_remove_msi_domain(loop);
err_remove_intx:
	irq_domain_remove(loop->intx_domain);
err_free_resources:
	pci_free_resource_list(&resources);
	return ret;
}

static void pci_epc_loop_destroy_bus(struct pci_epc_loop *loop)
{
	unsigned int fn;

	pci_lock_rescan_remove();
	pci_stop_root_bus(loop->bus);
	pci_remove_root_bus(loop->bus);
	pci_unlock_rescan_remove();

#ifdef EPC_LOOP_EMUL_DOMAIN
	pci_bus_release_emul_domain_nr(loop->sysdata.domain);
#endif
	pci_epc_loop_remove_msi_domain(loop);
	for (fn = 0; fn < EPC_LOOP_MAX_FUNCS; fn++)
		irq_dispose_mapping(irq_find_mapping(loop->intx_domain, fn));
	irq_domain_remove(loop->intx_domain);
}

/* Remove the host device of function @fn, if the host has one */
static void pci_epc_loop_remove_host_func(struct pci_epc_loop *loop, u8 fn)
{
	struct pci_dev *pdev;

	pci_lock_rescan_remove();
	pdev = pci_get_slot(loop->bus, PCI_DEVFN(0, fn));
	if (pdev) {
		dev_info(&loop->epc->dev,
			 "function %u goes away while the link is up: removing its host device\n",
			 fn);
		pci_stop_and_remove_bus_device(pdev);
		pci_dev_put(pdev);
	}
	pci_unlock_rescan_remove();
}

static void pci_epc_loop_claim(struct pci_dev *pdev)
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

static void pci_epc_loop_link_up(struct pci_epc_loop *loop)
{
	struct pci_dev *pdev;
	unsigned long flags;

	spin_lock_irqsave(&loop->cfg_lock, flags);
	loop->link_up = true;
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	dev_info(&loop->epc->dev, "link up\n");
	pci_epc_linkup(loop->epc);

	pci_lock_rescan_remove();
	pci_scan_child_bus(loop->bus);
	list_for_each_entry(pdev, &loop->bus->devices, bus_list)
		pci_epc_loop_claim(pdev);
	pci_bus_add_devices(loop->bus);
	pci_unlock_rescan_remove();
}

static void pci_epc_loop_link_down(struct pci_epc_loop *loop)
{
	struct pci_dev *pdev, *tmp;
	unsigned long flags;

	pci_lock_rescan_remove();
	list_for_each_entry_safe_reverse(pdev, tmp, &loop->bus->devices,
					 bus_list)
		pci_stop_and_remove_bus_device(pdev);
	pci_unlock_rescan_remove();
	pci_epc_loop_irq_sync(loop);

	spin_lock_irqsave(&loop->cfg_lock, flags);
	loop->link_up = false;
	spin_unlock_irqrestore(&loop->cfg_lock, flags);

	dev_info(&loop->epc->dev, "link down\n");
	pci_epc_linkdown(loop->epc);
}

static void pci_epc_loop_link_work(struct work_struct *work)
{
	struct pci_epc_loop *loop = container_of(work, struct pci_epc_loop,
						 link_work);
	bool want = READ_ONCE(loop->link_want);

	if (want && !loop->link_up)
		pci_epc_loop_link_up(loop);
	else if (!want && loop->link_up)
		pci_epc_loop_link_down(loop);
}

/* ------------------------------------------------------------------------
 * Controller creation
 */

/*
 * "link" in sysfs: "up" or "down" once a link change is complete, functions
 * notified and host devices added or removed; "changing" before that.
 */
static ssize_t link_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct pci_epc_loop *loop = dev_get_drvdata(dev);

	if (work_busy(&loop->link_work))
		return sysfs_emit(buf, "changing\n");

	return sysfs_emit(buf, "%s\n", loop->link_up ? "up" : "down");
}
static DEVICE_ATTR_RO(link);

static int pci_epc_loop_create(int id)
{
	struct pci_epc_mem_window win[EPC_LOOP_MAX_ALIASES];
	struct platform_device_info pinfo = {
		.name = "pci-epc-loop",
		.id = id,
		.dma_mask = DMA_BIT_MASK(32),
	};
	int nwin = pci_epc_loop_nr_alias - 1;
	struct pci_epc_loop *loop;
	struct device *dev;
	int i, ret;

	if (nr_windows)
		nwin = min(nwin, nr_windows);

	loop = kzalloc(sizeof(*loop), GFP_KERNEL);
	if (!loop)
		return -ENOMEM;
	loop->id = id;
	spin_lock_init(&loop->cfg_lock);
	spin_lock_init(&loop->msi_lock);
	INIT_WORK(&loop->link_work, pci_epc_loop_link_work);
	init_irq_work(&loop->irq_work, pci_epc_loop_irq_work);
	INIT_CSD(&loop->irq_csd, pci_epc_loop_irq_ipi, loop);

	loop->pdev = platform_device_register_full(&pinfo);
	if (IS_ERR(loop->pdev)) {
		ret = PTR_ERR(loop->pdev);
		goto err_free_loop;
	}
	dev = &loop->pdev->dev;
	dev_set_drvdata(dev, loop);

	loop->epc = pci_epc_create(dev, &pci_epc_loop_ops);
	if (IS_ERR(loop->epc)) {
		ret = PTR_ERR(loop->epc);
		dev_err(dev, "Failed to create EPC (err=%d)\n", ret);
		goto err_unregister_pdev;
	}
	epc_set_drvdata(loop->epc, loop);
	loop->epc->max_functions = EPC_LOOP_MAX_FUNCS;

	for (i = 0; i < nwin; i++) {
		win[i].phys_base = pci_resource_start(pci_epc_loop_alias[i + 1],
						      EPC_LOOP_ALIAS_BAR);
		win[i].size = pci_epc_loop_alias_size();
		win[i].page_size = win[i].size;
	}
	ret = pci_epc_multi_mem_init(loop->epc, win, nwin);
	if (ret) {
		dev_err(dev, "Failed to register outbound windows (err=%d)\n",
			ret);
		goto err_destroy_epc;
	}

	ret = pci_epc_loop_create_bus(loop);
	if (ret) {
		dev_err(dev, "Failed to create the host bus (err=%d)\n", ret);
		goto err_mem_exit;
	}

	ret = device_create_file(dev, &dev_attr_link);
	if (ret)
		goto err_destroy_bus;

	pci_epc_init_notify(loop->epc);
	pci_epc_loop_ctrl[id] = loop;
	dev_info(dev, "%s: %d outbound windows of %pa bytes, host domain %04x\n",
		 dev_name(&loop->epc->dev), nwin, &win[0].size,
		 loop->sysdata.domain);

	return 0;

err_destroy_bus:
	pci_epc_loop_destroy_bus(loop);
err_mem_exit:
	pci_epc_mem_exit(loop->epc);
err_destroy_epc:
	pci_epc_destroy(loop->epc);
err_unregister_pdev:
	platform_device_unregister(loop->pdev);
err_free_loop:
	kfree(loop);
	return ret;
}

static void pci_epc_loop_destroy(struct pci_epc_loop *loop)
{
	device_remove_file(&loop->pdev->dev, &dev_attr_link);
	WRITE_ONCE(loop->link_want, false);
	cancel_work_sync(&loop->link_work);
	pci_epc_loop_irq_sync(loop);
	pci_epc_loop_destroy_bus(loop);
	pci_epc_mem_exit(loop->epc);
	pci_epc_destroy(loop->epc);
	platform_device_unregister(loop->pdev);
	kfree(loop);
}

/* ------------------------------------------------------------------------
 * Alias devices
 */

static int pci_epc_loop_alias_probe(struct pci_dev *pdev,
				    const struct pci_device_id *id)
{
	resource_size_t size = pci_resource_len(pdev, EPC_LOOP_ALIAS_BAR);
	int ret;

	if (!size || (pci_epc_loop_nr_alias &&
		      size != pci_epc_loop_alias_size())) {
		pci_err(pdev, "BAR%d of %pa bytes does not match the other aliases\n",
			EPC_LOOP_ALIAS_BAR, &size);
		return -ENODEV;
	}

	if (pci_epc_loop_nr_alias == EPC_LOOP_MAX_ALIASES)
		return -ENOSPC;

	/*
	 * The region is not requested: the host side's BARs are requested
	 * inside the inbound alias by their own drivers.
	 */
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;

	mutex_lock(&pci_epc_loop_lock);
	pci_epc_loop_alias[pci_epc_loop_nr_alias++] = pdev;
	mutex_unlock(&pci_epc_loop_lock);

	return 0;
}

static void pci_epc_loop_alias_remove(struct pci_dev *pdev)
{
	/* Controllers are gone by now: the module exits only after them */
}

static const struct pci_device_id pci_epc_loop_alias_ids[] = {
	{ PCI_DEVICE(EPC_LOOP_ALIAS_VENDOR, EPC_LOOP_ALIAS_DEVICE) },
	{ }
};

static struct pci_driver pci_epc_loop_alias_driver = {
	.name = "pci-epc-loop-alias",
	.id_table = pci_epc_loop_alias_ids,
	.probe = pci_epc_loop_alias_probe,
	.remove = pci_epc_loop_alias_remove,
	.driver.suppress_bind_attrs = true,
};

static void pci_epc_loop_destroy_all(void)
{
	while (pci_epc_loop_nr_ctrl)
		pci_epc_loop_destroy(pci_epc_loop_ctrl[--pci_epc_loop_nr_ctrl]);
}

static int __init pci_epc_loop_init(void)
{
	int ret, i;

	if (nr_controllers < 1 ||
	    nr_controllers > ARRAY_SIZE(pci_epc_loop_ctrl)) {
		pr_err("nr_controllers must be 1 to %zu\n",
		       ARRAY_SIZE(pci_epc_loop_ctrl));
		return -EINVAL;
	}

	if (nr_windows < 0 || nr_windows > EPC_LOOP_MAX_ALIASES - 1) {
		pr_err("nr_windows must be 0 (one per alias device) to %d\n",
		       EPC_LOOP_MAX_ALIASES - 1);
		return -EINVAL;
	}

	if (host_cpu >= (int)nr_cpu_ids ||
	    (host_cpu >= 0 && !cpu_online(host_cpu))) {
		pr_err("host_cpu %d is not an online CPU\n", host_cpu);
		return -EINVAL;
	}

	if (host_cpu < 0)
		pci_epc_loop_wq = alloc_ordered_workqueue("pci-epc-loop", 0);
	else
		pci_epc_loop_wq = alloc_workqueue("pci-epc-loop", WQ_PERCPU, 1);
	if (!pci_epc_loop_wq)
		return -ENOMEM;

	ret = pci_register_driver(&pci_epc_loop_alias_driver);
	if (ret)
		goto err_destroy_wq;

	if (pci_epc_loop_nr_alias < 2) {
		pr_err("needs at least 2 RAM alias devices (ivshmem-plain sharing the RAM backend), found %d\n",
		       pci_epc_loop_nr_alias);
		ret = -ENODEV;
		goto err_unregister_driver;
	}

	for (i = 0; i < nr_controllers; i++) {
		ret = pci_epc_loop_create(i);
		if (ret)
			goto err_destroy_ctrl;
		pci_epc_loop_nr_ctrl++;
	}

	return 0;

err_destroy_ctrl:
	pci_epc_loop_destroy_all();
err_unregister_driver:
	pci_unregister_driver(&pci_epc_loop_alias_driver);
err_destroy_wq:
	destroy_workqueue(pci_epc_loop_wq);
	return ret;
}
module_init(pci_epc_loop_init);

static void __exit pci_epc_loop_exit(void)
{
	pci_epc_loop_destroy_all();
	pci_unregister_driver(&pci_epc_loop_alias_driver);
	destroy_workqueue(pci_epc_loop_wq);
}
module_exit(pci_epc_loop_exit);

MODULE_DESCRIPTION("Loopback PCI endpoint controller for testing endpoint functions");
MODULE_LICENSE("GPL");
