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
 * start() brings the link up: functions get a link_up event and, 100 ms
 * later as from a root port, the device is scanned on the virtual bus, so
 * host drivers probe it. stop() brings the
 * link down: the device is removed from the virtual bus. Both run from a
 * work item, because host drivers may wait for the endpoint side while they
 * probe or go away.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/irq.h>
#include <linux/irq_work.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-epc.h>
#include <linux/pci-epf.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "pci-epc-emul.h"

/* PCI IDs of the QEMU ivshmem device used as a RAM alias */
#define EPC_LOOP_ALIAS_VENDOR	PCI_VENDOR_ID_REDHAT_QUMRANET
#define EPC_LOOP_ALIAS_DEVICE	0x1110
#define EPC_LOOP_ALIAS_BAR	2

/* At most this many alias devices are used: one inbound, the rest outbound */
#define EPC_LOOP_MAX_ALIASES	16

/* Functions per controller: devfn 0..N-1 of the device on the virtual bus */
#define EPC_LOOP_MAX_FUNCS	PCI_EPC_EMUL_MAX_FUNCS

/* Pending interrupt bits: MSI hwirqs first, then INTx of each function */
#define EPC_LOOP_PEND_INTX	PCI_EPC_EMUL_MSI_VECTORS
#define EPC_LOOP_PEND_BITS	(PCI_EPC_EMUL_MSI_VECTORS + EPC_LOOP_MAX_FUNCS)

/* Bit of pci_epc_loop::irq_flags: the cross-CPU delivery call is queued */
#define EPC_LOOP_IRQ_IPI	0

/* From link up to the first configuration request (PCIe r6.0 sec 6.6.1) */
#define EPC_LOOP_LINK_DELAY_MS	100

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
 * DMA channels per controller, as an eDMA would have (0: none), and their
 * kind: private slave channels between endpoint memory and host PCI
 * addresses, or, for the controllers dma_memcpy_mask names, public memcpy
 * channels (see pci-epc-emul.h).  A controller keeps its configfs group,
 * and so this module, as long as it exists: both kinds in one load.
 */
static unsigned int dma_chans;
module_param(dma_chans, uint, 0444);
MODULE_PARM_DESC(dma_chans,
		 "DMA channels per controller (0: none, default; at most 16)");
static unsigned int dma_memcpy_mask;
module_param(dma_memcpy_mask, uint, 0444);
MODULE_PARM_DESC(dma_memcpy_mask,
		 "Controllers (bit N: controller N) with public memcpy DMA channels instead of private slave channels");

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

/**
 * struct pci_epc_loop - one loopback controller
 * @pdev: platform device that owns the EPC
 * @epc: the endpoint controller
 * @id: controller index
 * @ebus: virtual root bus on the host side; its lock protects @func,
 *	  @bar_mem and @link_up, and is taken from config accessors, which
 *	  may run with interrupts off
 * @func: host-visible state of each function
 * @bar_mem: endpoint memory of each function's BARs
 * @irq_pending: host interrupts raised and not yet delivered; atomic bitops
 * @irq_work: delivers @irq_pending to the host's handlers on this CPU
 * @irq_csd: delivers @irq_pending on host_cpu, from another CPU
 * @irq_flags: EPC_LOOP_IRQ_IPI while @irq_csd is queued; atomic bitops
 * @link_work: brings the link up or down, as @link_want asks; runs on an
 *	       ordered workqueue, so link changes are serialized
 * @link_want: link state asked for by start()/stop()
 * @link_up: link state as seen by the host (device scanned)
 * @dma: the controller's DMA channels, or NULL
 */
struct pci_epc_loop {
	struct platform_device *pdev;
	struct pci_epc *epc;
	int id;
	struct pci_epc_emul_dma *dma;

	struct pci_epc_emul_bus ebus;
	struct pci_epc_emul_func func[EPC_LOOP_MAX_FUNCS];
	void *bar_mem[EPC_LOOP_MAX_FUNCS][PCI_STD_NUM_BARS];

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

/* The function @fn as the host can reach it, or NULL; under ebus.lock */
static struct pci_epc_emul_func *
pci_epc_loop_host_func(struct pci_epc_emul_bus *ebus, unsigned int fn)
{
	struct pci_epc_loop *loop = container_of(ebus, struct pci_epc_loop,
						 ebus);

	lockdep_assert_held(&ebus->lock);
	if (!loop->link_up || !loop->func[fn].present)
		return NULL;

	return &loop->func[fn];
}

static const struct pci_epc_emul_bus_ops pci_epc_loop_bus_ops = {
	.func = pci_epc_loop_host_func,
};

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
	unsigned long flags;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	pci_epc_emul_header(&loop->func[func_no], hdr,
			    epc->max_functions > 1);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	return 0;
}

static int pci_epc_loop_set_bar(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
				struct pci_epf_bar *epf_bar)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	enum pci_barno bar = epf_bar->barno;
	bool is64 = epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64;
	resource_size_t alias = pci_epc_loop_alias_size();
	unsigned long flags;

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

	spin_lock_irqsave(&loop->ebus.lock, flags);
	pci_epc_emul_set_bar(&loop->func[func_no], epf_bar);
	loop->bar_mem[func_no][bar] = epf_bar->addr;
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	return 0;
}

static void pci_epc_loop_clear_bar(struct pci_epc *epc, u8 func_no,
				   u8 vfunc_no, struct pci_epf_bar *epf_bar)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned long flags;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return;

	/*
	 * The BAR memory is about to be freed: the host must not reach it any
	 * more, so the host device goes away first, as a surprise removal.
	 */
	if (pci_epc_emul_bus_remove_func(&loop->ebus, func_no))
		dev_info(&epc->dev,
			 "function %u goes away while the link is up: removed its host device\n",
			 func_no);

	spin_lock_irqsave(&loop->ebus.lock, flags);
	loop->bar_mem[func_no][epf_bar->barno] = NULL;
	pci_epc_emul_clear_bar(&loop->func[func_no], epf_bar);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);
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

static int pci_epc_loop_set_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
				u8 nr)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned int nr_irqs = PCI_EPC_EMUL_MSI_NR(nr);
	unsigned long flags;
	int ret;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	ret = pci_epc_emul_set_msi(&loop->func[func_no], nr_irqs);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	if (ret)
		dev_err(&epc->dev, "invalid MSI vector count %u (1-32)\n",
			nr_irqs);

	return ret;
}

static int pci_epc_loop_get_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned long flags;
	int ret;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	ret = pci_epc_emul_get_msi(&loop->func[func_no]);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	return ret < 0 ? ret : PCI_EPC_EMUL_MSI_RET(ret);
}

static int pci_epc_loop_set_msix(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no, u16 nr, enum pci_barno bir,
				 u32 offset)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned int nr_irqs = PCI_EPC_EMUL_MSIX_NR(nr);
	unsigned long flags;
	int ret;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	ret = pci_epc_emul_set_msix(&loop->func[func_no], nr_irqs, bir,
				    offset);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	if (ret)
		dev_err(&epc->dev,
			"MSI-X table of %u vectors (1-%u) at BAR%d+%#x does not fit a BAR the function set\n",
			nr_irqs, PCI_MSIX_FLAGS_QSIZE + 1, bir, offset);

	return ret;
}

static int pci_epc_loop_get_msix(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	unsigned long flags;
	int ret;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	ret = pci_epc_emul_get_msix(&loop->func[func_no]);
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	return ret < 0 ? ret : PCI_EPC_EMUL_MSIX_RET(ret);
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
			virq = pci_epc_emul_bus_intx_irq(&loop->ebus,
							 bit - EPC_LOOP_PEND_INTX);
		else
			virq = pci_epc_emul_bus_msi_irq(&loop->ebus,
							PCI_EPC_EMUL_MSI_ADDR,
							bit);
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
	if (!pci_epc_emul_bus_msi_irq(&loop->ebus, addr, data)) {
		if (addr != PCI_EPC_EMUL_MSI_ADDR ||
		    data >= PCI_EPC_EMUL_MSI_VECTORS)
			dev_err_ratelimited(&loop->epc->dev,
					    "host programmed an unknown MSI message %#llx/%#x\n",
					    addr, data);
		return -EINVAL;
	}

	pci_epc_loop_irq_queue(loop, data);

	return 0;
}

static int pci_epc_loop_raise_irq(struct pci_epc *epc, u8 func_no,
				  u8 vfunc_no, unsigned int type,
				  u16 interrupt_num)
{
	struct pci_epc_loop *loop = pci_epc_loop_from_epc(epc);
	struct pci_epc_emul_func *f;
	unsigned long flags;
	u32 data = 0;
	u64 addr = 0;
	int ret;

	if (func_no >= EPC_LOOP_MAX_FUNCS || vfunc_no)
		return -EINVAL;
	if (!loop->link_up)
		return -ENOLINK;

	f = &loop->func[func_no];
	spin_lock_irqsave(&loop->ebus.lock, flags);
	switch (type) {
	case PCI_IRQ_INTX:
		ret = pci_epc_emul_intx_enabled(f) ? 0 : -EINVAL;
		break;
	case PCI_IRQ_MSI:
		ret = pci_epc_emul_msi_msg(f, interrupt_num, &addr, &data);
		break;
	case PCI_IRQ_MSIX:
		ret = pci_epc_emul_msix_msg(f,
					    loop->bar_mem[func_no][f->msix_bar],
					    interrupt_num, &addr, &data);
		break;
	default:
		dev_err(&epc->dev, "unknown interrupt type %u\n", type);
		ret = -EINVAL;
		break;
	}
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	/* A masked MSI-X vector is left pending in the PBA */
	if (ret)
		return ret < 0 ? ret : 0;

	if (type == PCI_IRQ_INTX) {
		if (!pci_epc_emul_bus_intx_irq(&loop->ebus, func_no))
			return -EINVAL;
		pci_epc_loop_irq_queue(loop, EPC_LOOP_PEND_INTX + func_no);
		return 0;
	}

	return pci_epc_loop_deliver_msi(loop, addr, data);
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
 * Host side: the link
 */

static void pci_epc_loop_link_up(struct pci_epc_loop *loop)
{
	unsigned long flags;

	spin_lock_irqsave(&loop->ebus.lock, flags);
	loop->link_up = true;
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

	dev_info(&loop->epc->dev, "link up\n");
	pci_epc_linkup(loop->epc);
	/* As a root port: no configuration request before the link settled */
	msleep(EPC_LOOP_LINK_DELAY_MS);
	pci_epc_emul_bus_scan(&loop->ebus);
}

static void pci_epc_loop_link_down(struct pci_epc_loop *loop)
{
	unsigned long flags;

	pci_epc_emul_bus_remove(&loop->ebus);
	pci_epc_loop_irq_sync(loop);

	spin_lock_irqsave(&loop->ebus.lock, flags);
	loop->link_up = false;
	spin_unlock_irqrestore(&loop->ebus.lock, flags);

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

	loop = kzalloc_obj(*loop);
	if (!loop)
		return -ENOMEM;
	loop->id = id;
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

	if (dma_chans) {
		/* Host PCI address X at offset X of the first outbound alias */
		phys_addr_t alias = pci_resource_start(pci_epc_loop_alias[1],
						       EPC_LOOP_ALIAS_BAR);

		loop->dma = pci_epc_emul_dma_create(dev, alias,
						    pci_epc_loop_alias_size(),
						    dma_chans,
						    dma_memcpy_mask & BIT(id));
		if (IS_ERR(loop->dma)) {
			ret = PTR_ERR(loop->dma);
			goto err_mem_exit;
		}
	}

	/* Bus address X in the inbound alias is endpoint RAM address X */
	ret = pci_epc_emul_bus_create(&loop->ebus, dev, &pci_epc_loop_bus_ops,
				      id,
				      pci_resource_start(pci_epc_loop_alias[0],
							 EPC_LOOP_ALIAS_BAR),
				      pci_epc_loop_alias_size(), 0);
	if (ret) {
		dev_err(dev, "Failed to create the host bus (err=%d)\n", ret);
		goto err_destroy_dma;
	}

	ret = device_create_file(dev, &dev_attr_link);
	if (ret)
		goto err_destroy_bus;

	pci_epc_init_notify(loop->epc);
	pci_epc_loop_ctrl[id] = loop;
	dev_info(dev, "%s: %d outbound windows of %pa bytes, host domain %04x, %u %s DMA channels\n",
		 dev_name(&loop->epc->dev), nwin, &win[0].size,
		 loop->ebus.sysdata.domain, dma_chans,
		 dma_memcpy_mask & BIT(id) ? "memcpy" : "slave");

	return 0;

err_destroy_bus:
	pci_epc_emul_bus_destroy(&loop->ebus);
err_destroy_dma:
	pci_epc_emul_dma_destroy(loop->dma);
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
	pci_epc_emul_bus_destroy(&loop->ebus);
	pci_epc_emul_dma_destroy(loop->dma);
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

/*
 * The controllers' platform devices get a driver: dmaengine takes the
 * module of the driver bound to a DMA device's device, so that no
 * controller goes while a function holds one of its channels
 */
static int pci_epc_loop_pdev_probe(struct platform_device *pdev)
{
	return 0;
}

static struct platform_driver pci_epc_loop_pdrv = {
	.probe = pci_epc_loop_pdev_probe,
	.driver = {
		.name = "pci-epc-loop",
		.suppress_bind_attrs = true,
	},
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

	if (dma_chans > PCI_EPC_EMUL_DMA_MAX_CHANS) {
		pr_err("dma_chans must be 0 (no DMA) to %d\n",
		       PCI_EPC_EMUL_DMA_MAX_CHANS);
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

	ret = platform_driver_register(&pci_epc_loop_pdrv);
	if (ret)
		goto err_destroy_wq;

	ret = pci_register_driver(&pci_epc_loop_alias_driver);
	if (ret)
		goto err_unregister_pdrv;

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
err_unregister_pdrv:
	platform_driver_unregister(&pci_epc_loop_pdrv);
err_destroy_wq:
	destroy_workqueue(pci_epc_loop_wq);
	return ret;
}
module_init(pci_epc_loop_init);

static void __exit pci_epc_loop_exit(void)
{
	pci_epc_loop_destroy_all();
	pci_unregister_driver(&pci_epc_loop_alias_driver);
	platform_driver_unregister(&pci_epc_loop_pdrv);
	destroy_workqueue(pci_epc_loop_wq);
}
module_exit(pci_epc_loop_exit);

MODULE_DESCRIPTION("Loopback PCI endpoint controller for testing endpoint functions");
MODULE_LICENSE("GPL");
