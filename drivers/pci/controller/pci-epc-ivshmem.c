// SPDX-License-Identifier: GPL-2.0
/*
 * PCI endpoint controller over QEMU ivshmem devices: the endpoint half of a
 * PCIe link between two virtual machines (see pci-ivshmem-link.h).
 *
 * The machine running this is the endpoint.  Its functions' configuration
 * space lives in the link page, where the host half (pci-ivshmem-host)
 * reads it; their BAR memory is this machine's RAM, which the host reaches
 * through an alias of the RAM file.  Outbound windows are ivshmem-plain
 * devices aliasing the host's RAM: as on pci-epc-loop, one mapping takes
 * one whole window, like the few outbound ATU regions of real controllers,
 * and only users of pci_epc_mem_map() are served.
 *
 * Interrupts: raising one reads the message the host programmed (MSI
 * capability or MSI-X table), sets its bit in the page and rings the
 * host's doorbell; INTx likewise.  Link: the link is up while the
 * controller is started and the host half runs; a host that reboots or
 * goes away takes it down.  On the way up the functions hear of it first,
 * then the host (which scans the device); on the way down the host first
 * removes the device, then the functions hear of it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-epc.h>
#include <linux/pci-epf.h>
#include <linux/platform_device.h>
#include <linux/workqueue.h>

#include "pci-ivshmem-link.h"

#define EPC_IVS_MAX_WINDOWS	16

/* How long stop() waits for the host to take its devices away */
#define EPC_IVS_ACK_MS		5000

/*
 * The rig's QEMU machines place RAM at physical 0 (x86 q35) and at 1 GiB
 * (arm64 virt); the host reaches this machine's RAM through its file, so it
 * needs to know where the file starts.
 */
#ifdef CONFIG_ARM64
#define EPC_IVS_RAM_BASE	0x40000000ULL
#else
#define EPC_IVS_RAM_BASE	0ULL
#endif

static unsigned long long ram_base = EPC_IVS_RAM_BASE;
module_param(ram_base, ullong, 0444);
MODULE_PARM_DESC(ram_base,
		 "Physical address of the start of this machine's RAM file");

static int nr_windows;
module_param(nr_windows, int, 0444);
MODULE_PARM_DESC(nr_windows,
		 "Outbound windows (0: one per alias device, default)");

/*
 * DMA channels, as an eDMA would have (0: none), and their kind: private
 * slave channels between endpoint memory and host PCI addresses, or public
 * memcpy channels (see pci-epc-emul.h)
 */
static unsigned int dma_chans;
module_param(dma_chans, uint, 0444);
MODULE_PARM_DESC(dma_chans, "DMA channels (0: none, default; at most 16)");
static bool dma_memcpy;
module_param(dma_memcpy, bool, 0444);
MODULE_PARM_DESC(dma_memcpy,
		 "Public memcpy DMA channels instead of private slave channels");

/**
 * struct pci_epc_ivs - the controller
 * @pdev: platform device that owns the EPC
 * @epc: the endpoint controller
 * @db: the ivshmem-doorbell device
 * @regs: its registers
 * @page: the link page (its shared memory)
 * @win: the outbound alias devices
 * @nr_win: how many there are
 * @lock: serializes this machine's changes to the page's functions and
 *	  the interrupts it raises; taken with interrupts off
 * @bar_mem: endpoint memory of each function's BARs; under @lock
 * @link_work: follows the controller's and the host's state; runs on an
 *	       ordered workqueue, so link changes are serialized
 * @started: the controller is started; written by start() and stop()
 * @link_up: functions were told the link is up; only in @link_work
 * @host_boot: the host boot the link came up with; only in @link_work
 * @host_lost: the link went down because the host went away (its machine
 *	       held in reset, or its QEMU gone): it comes up again with a
 *	       new host boot only; only in @link_work
 * @host_bme: the page's host_bme counts last seen; only in @link_work
 * @dma: the controller's DMA channels, or NULL
 */
struct pci_epc_ivs {
	struct platform_device *pdev;
	struct pci_epc *epc;

	struct pci_dev *db;
	void __iomem *regs;
	struct pci_ivs_page *page;
	struct pci_dev *win[EPC_IVS_MAX_WINDOWS];
	int nr_win;

	/* protects page->func[] and bar_mem on this side */
	spinlock_t lock;
	void *bar_mem[PCI_EPC_EMUL_MAX_FUNCS][PCI_STD_NUM_BARS];

	struct work_struct link_work;
	bool started;
	bool link_up;
	u32 host_boot;
	bool host_lost;
	u32 host_bme[PCI_EPC_EMUL_MAX_FUNCS];
	struct pci_epc_emul_dma *dma;
};

static struct pci_epc_ivs pci_epc_ivs;
static struct workqueue_struct *pci_epc_ivs_wq;

static struct pci_epc_ivs *pci_epc_ivs_from_epc(struct pci_epc *epc)
{
	return epc_get_drvdata(epc);
}

static resource_size_t pci_epc_ivs_win_size(struct pci_epc_ivs *ivs)
{
	return pci_resource_len(ivs->win[0], PCI_IVS_BAR_MEM);
}

/* Ring vector @vec of the peer with ID + 1 @peer, if it is known */
static void pci_epc_ivs_ring(struct pci_epc_ivs *ivs, u32 peer,
			     unsigned int vec)
{
	if (peer)
		writel(((peer - 1) << 16) | vec,
		       ivs->regs + PCI_IVS_REG_DOORBELL);
}

static bool pci_epc_ivs_alive(struct pci_epc_ivs *ivs, u32 peer)
{
	return peer && le32_to_cpu(READ_ONCE(ivs->page->live)) &
		       BIT((peer - 1) % 32);
}

/* Tell the host that the state in the page changed */
static void pci_epc_ivs_publish(struct pci_epc_ivs *ivs)
{
	struct pci_ivs_page *page = ivs->page;

	/* The state before the sequence number: the host reads it after */
	wmb();
	WRITE_ONCE(page->ep_seq, cpu_to_le32(le32_to_cpu(page->ep_seq) + 1));
	/* The number before the doorbell that makes the host read it */
	wmb();
	pci_epc_ivs_ring(ivs, le32_to_cpu(READ_ONCE(page->host_peer)),
			 PCI_IVS_VEC_LINK);
}

/* Wait until a running host has acted on everything published so far */
static void pci_epc_ivs_wait_host(struct pci_epc_ivs *ivs, const char *what)
{
	unsigned long end = jiffies + msecs_to_jiffies(EPC_IVS_ACK_MS);
	struct pci_ivs_page *page = ivs->page;
	u32 seq = le32_to_cpu(page->ep_seq);

	do {
		if (!le32_to_cpu(READ_ONCE(page->host_up)) ||
		    !pci_epc_ivs_alive(ivs,
				       le32_to_cpu(READ_ONCE(page->host_peer))) ||
		    le32_to_cpu(READ_ONCE(page->host_ack)) == seq)
			return;
		usleep_range(5000, 10000);
	} while (time_before(jiffies, end));

	dev_warn(&ivs->epc->dev,
		 "host did not take its devices away in %d ms (%s): going on\n",
		 EPC_IVS_ACK_MS, what);
}

/* ------------------------------------------------------------------------
 * Endpoint controller operations
 */

static int pci_epc_ivs_write_header(struct pci_epc *epc, u8 func_no,
				    u8 vfunc_no, struct pci_epf_header *hdr)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	unsigned long flags;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&ivs->lock, flags);
	pci_epc_emul_header(&ivs->page->func[func_no], hdr,
			    epc->max_functions > 1);
	spin_unlock_irqrestore(&ivs->lock, flags);

	return 0;
}

static int pci_epc_ivs_set_bar(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
			       struct pci_epf_bar *epf_bar)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	enum pci_barno bar = epf_bar->barno;
	bool is64 = epf_bar->flags & PCI_BASE_ADDRESS_MEM_TYPE_64;
	unsigned long flags;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	if (epf_bar->flags & PCI_BASE_ADDRESS_SPACE_IO) {
		dev_err(&epc->dev, "BAR%d: I/O BARs are not supported\n", bar);
		return -EINVAL;
	}

	if (epf_bar->size < 128 || epf_bar->phys_addr < ram_base) {
		dev_err(&epc->dev,
			"BAR%d: %zu bytes at %pad is outside the RAM the host reaches\n",
			bar, epf_bar->size, &epf_bar->phys_addr);
		return -EINVAL;
	}

	if (!IS_ALIGNED(epf_bar->phys_addr, epf_bar->size)) {
		dev_err(&epc->dev, "BAR%d: memory at %pad not aligned to its size\n",
			bar, &epf_bar->phys_addr);
		return -EINVAL;
	}

	if (is64 && bar == BAR_5)
		return -EINVAL;

	spin_lock_irqsave(&ivs->lock, flags);
	pci_epc_emul_set_bar(&ivs->page->func[func_no], epf_bar);
	ivs->bar_mem[func_no][bar] = epf_bar->addr;
	spin_unlock_irqrestore(&ivs->lock, flags);

	return 0;
}

static void pci_epc_ivs_clear_bar(struct pci_epc *epc, u8 func_no,
				  u8 vfunc_no, struct pci_epf_bar *epf_bar)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	unsigned long flags;
	bool gone;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return;

	spin_lock_irqsave(&ivs->lock, flags);
	ivs->bar_mem[func_no][epf_bar->barno] = NULL;
	gone = pci_epc_emul_clear_bar(&ivs->page->func[func_no], epf_bar);
	spin_unlock_irqrestore(&ivs->lock, flags);

	/*
	 * The BAR memory is about to be freed: a host that still has the
	 * function must drop it first, as a surprise removal.
	 */
	if (gone && READ_ONCE(ivs->link_up)) {
		pci_epc_ivs_publish(ivs);
		pci_epc_ivs_wait_host(ivs, "function unbound");
	}
}

/*
 * Every mapping starts at PCI address 0 of an alias window, whose offset X
 * is host RAM address X; see pci-epc-loop.c.
 */
static u64 pci_epc_ivs_align_addr(struct pci_epc *epc, u64 pci_addr,
				  size_t *size, size_t *offset)
{
	resource_size_t win = pci_epc_ivs_win_size(pci_epc_ivs_from_epc(epc));

	if (pci_addr >= win) {
		*offset = 0;
		return pci_addr;
	}

	*offset = pci_addr;
	*size = min_t(u64, pci_addr + *size, win);

	return 0;
}

static int pci_epc_ivs_map_addr(struct pci_epc *epc, u8 func_no,
				u8 vfunc_no, phys_addr_t addr, u64 pci_addr,
				size_t size)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);

	if (pci_addr) {
		dev_err_ratelimited(&epc->dev,
				    "cannot map PCI address %#llx: %s\n",
				    pci_addr,
				    pci_addr < pci_epc_ivs_win_size(ivs) ?
				    "only pci_epc_mem_map() is supported" :
				    "beyond host memory");
		return -EINVAL;
	}

	return 0;
}

static void pci_epc_ivs_unmap_addr(struct pci_epc *epc, u8 func_no,
				   u8 vfunc_no, phys_addr_t addr)
{
}

static int pci_epc_ivs_set_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
			       u8 nr)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	unsigned int nr_irqs = PCI_EPC_EMUL_MSI_NR(nr);
	unsigned long flags;
	int ret;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&ivs->lock, flags);
	ret = pci_epc_emul_set_msi(&ivs->page->func[func_no], nr_irqs);
	spin_unlock_irqrestore(&ivs->lock, flags);

	if (ret)
		dev_err(&epc->dev, "invalid MSI vector count %u (1-32)\n",
			nr_irqs);

	return ret;
}

static int pci_epc_ivs_get_msi(struct pci_epc *epc, u8 func_no, u8 vfunc_no)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	int ret;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	ret = pci_epc_emul_get_msi(&ivs->page->func[func_no]);

	return ret < 0 ? ret : PCI_EPC_EMUL_MSI_RET(ret);
}

static int pci_epc_ivs_set_msix(struct pci_epc *epc, u8 func_no, u8 vfunc_no,
				u16 nr, enum pci_barno bir, u32 offset)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	unsigned int nr_irqs = PCI_EPC_EMUL_MSIX_NR(nr);
	unsigned long flags;
	int ret;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	spin_lock_irqsave(&ivs->lock, flags);
	ret = pci_epc_emul_set_msix(&ivs->page->func[func_no], nr_irqs, bir,
				    offset);
	spin_unlock_irqrestore(&ivs->lock, flags);

	if (ret)
		dev_err(&epc->dev,
			"MSI-X table of %u vectors (1-%u) at BAR%d+%#x does not fit a BAR the function set\n",
			nr_irqs, PCI_MSIX_FLAGS_QSIZE + 1, bir, offset);

	return ret;
}

static int pci_epc_ivs_get_msix(struct pci_epc *epc, u8 func_no,
				u8 vfunc_no)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	int ret;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;

	ret = pci_epc_emul_get_msix(&ivs->page->func[func_no]);

	return ret < 0 ? ret : PCI_EPC_EMUL_MSIX_RET(ret);
}

static int pci_epc_ivs_raise_irq(struct pci_epc *epc, u8 func_no,
				 u8 vfunc_no, unsigned int type,
				 u16 interrupt_num)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);
	struct pci_epc_emul_func *f;
	unsigned long flags;
	unsigned int bit;
	u32 data = 0;
	u64 addr = 0;
	int ret;

	if (func_no >= PCI_EPC_EMUL_MAX_FUNCS || vfunc_no)
		return -EINVAL;
	if (!READ_ONCE(ivs->link_up))
		return -ENOLINK;

	f = &ivs->page->func[func_no];
	spin_lock_irqsave(&ivs->lock, flags);
	switch (type) {
	case PCI_IRQ_INTX:
		ret = pci_epc_emul_intx_enabled(f) ? 0 : -EINVAL;
		bit = PCI_IVS_PEND_INTX + func_no;
		break;
	case PCI_IRQ_MSI:
		ret = pci_epc_emul_msi_msg(f, interrupt_num, &addr, &data);
		bit = data;
		break;
	case PCI_IRQ_MSIX:
		ret = pci_epc_emul_msix_msg(f,
					    ivs->bar_mem[func_no][f->msix_bar],
					    interrupt_num, &addr, &data);
		bit = data;
		break;
	default:
		dev_err(&epc->dev, "unknown interrupt type %u\n", type);
		ret = -EINVAL;
		break;
	}
	spin_unlock_irqrestore(&ivs->lock, flags);

	/* A masked MSI-X vector is left pending in the PBA */
	if (ret)
		return ret < 0 ? ret : 0;

	if (type != PCI_IRQ_INTX &&
	    (addr != PCI_EPC_EMUL_MSI_ADDR ||
	     data >= PCI_EPC_EMUL_MSI_VECTORS)) {
		dev_err_ratelimited(&epc->dev,
				    "host programmed an unknown MSI message %#llx/%#x\n",
				    addr, data);
		return -EINVAL;
	}

	/* The message is a bit in the page, then the host's doorbell */
	set_bit(bit, ivs->page->pending);
	/* The bit before the doorbell whose handler looks for it */
	smp_mb__after_atomic();
	pci_epc_ivs_ring(ivs, le32_to_cpu(READ_ONCE(ivs->page->host_peer)),
			 PCI_IVS_VEC_IRQ);

	return 0;
}

static int pci_epc_ivs_start(struct pci_epc *epc)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);

	WRITE_ONCE(ivs->started, true);
	queue_work(pci_epc_ivs_wq, &ivs->link_work);

	return 0;
}

/*
 * The link goes down in the link work: the host's device removed, then the
 * functions told.  Not waited for here: the EPC core holds epc->lock
 * around this, and the functions' link-down handling may take it.
 */
static void pci_epc_ivs_stop(struct pci_epc *epc)
{
	struct pci_epc_ivs *ivs = pci_epc_ivs_from_epc(epc);

	WRITE_ONCE(ivs->started, false);
	queue_work(pci_epc_ivs_wq, &ivs->link_work);
}

static const struct pci_epc_features pci_epc_ivs_features = {
	.linkup_notifier = true,
	.msi_capable = true,
	.msix_capable = true,
#ifdef EPC_LOOP_INTX_FLAG
	.intx_capable = true,
#endif
	.align = SZ_4K,
};

static const struct pci_epc_features *
pci_epc_ivs_get_features(struct pci_epc *epc, u8 func_no, u8 vfunc_no)
{
	return &pci_epc_ivs_features;
}

static const struct pci_epc_ops pci_epc_ivs_ops = {
	.write_header = pci_epc_ivs_write_header,
	.set_bar = pci_epc_ivs_set_bar,
	.clear_bar = pci_epc_ivs_clear_bar,
	.align_addr = pci_epc_ivs_align_addr,
	.map_addr = pci_epc_ivs_map_addr,
	.unmap_addr = pci_epc_ivs_unmap_addr,
	.set_msi = pci_epc_ivs_set_msi,
	.get_msi = pci_epc_ivs_get_msi,
	.set_msix = pci_epc_ivs_set_msix,
	.get_msix = pci_epc_ivs_get_msix,
	.raise_irq = pci_epc_ivs_raise_irq,
	.start = pci_epc_ivs_start,
	.stop = pci_epc_ivs_stop,
	.get_features = pci_epc_ivs_get_features,
	.owner = THIS_MODULE,
};

/* ------------------------------------------------------------------------
 * The link
 */

/*
 * Follow the state of both ends: the link is up while the controller is
 * started and a host half runs.  A host that went away, or booted again
 * since the link came up, takes the link down first.
 *
 * On the way up the host is told first: it sends no configuration request
 * for 1 s (pci-ivshmem-host), and the functions hear of the link at
 * once, so their poll threads watch before the host may set the device
 * up.  Told the other way round, a poll thread that starts spinning at
 * once may keep this work from running on a loaded machine (a vCPU that
 * shares its host CPU), and its watch may be over by the time the host
 * hears of the link.  On the way down the host removes the device while
 * the functions still serve it.
 *
 * A host that went away is a reset (PERST#) or a power loss: its memory
 * is about to be reused by its firmware and its next kernel.  The
 * functions are stopped before @ep_link reads 0, so that whoever resets
 * the host's machine can wait for that before it lets the machine run
 * again (scripts/rig2.sh host_reset), and the link stays down until a
 * new host half starts: the host half that went away never took the
 * device down and its rings are gone.
 */
static void pci_epc_ivs_link_work(struct work_struct *work)
{
	struct pci_epc_ivs *ivs = container_of(work, struct pci_epc_ivs,
					       link_work);
	struct pci_ivs_page *page = ivs->page;
	u32 peer = le32_to_cpu(READ_ONCE(page->host_peer));
	u32 boot = le32_to_cpu(READ_ONCE(page->host_boot));
	bool started = READ_ONCE(ivs->started);
	bool host = le32_to_cpu(READ_ONCE(page->host_up)) &&
		    pci_epc_ivs_alive(ivs, peer);
	bool bme = false;
	unsigned int fn;

	if (ivs->link_up && (!host || boot != ivs->host_boot || !started)) {
		if (host) {
			WRITE_ONCE(page->ep_link, 0);
			pci_epc_ivs_publish(ivs);
			if (boot == ivs->host_boot)
				pci_epc_ivs_wait_host(ivs, "link down");
		}
		WRITE_ONCE(ivs->link_up, false);
		ivs->host_lost = !host;
		pci_epc_linkdown(ivs->epc);
		if (!host) {
			WRITE_ONCE(page->ep_link, 0);
			pci_epc_ivs_publish(ivs);
		}
		dev_info(&ivs->epc->dev, "link down (%s)\n",
			 !started ? "stopped" :
			 !host ? "host gone" : "host rebooted");
	}

	if (!ivs->link_up && host && started &&
	    !(ivs->host_lost && boot == ivs->host_boot)) {
		ivs->host_boot = boot;
		ivs->host_lost = false;
		for (fn = 0; fn < PCI_EPC_EMUL_MAX_FUNCS; fn++)
			ivs->host_bme[fn] =
				le32_to_cpu(READ_ONCE(page->host_bme[fn]));
		WRITE_ONCE(ivs->link_up, true);
		WRITE_ONCE(page->ep_boot, cpu_to_le32(boot));
		WRITE_ONCE(page->ep_link, cpu_to_le32(1));
		pci_epc_ivs_publish(ivs);
		dev_info(&ivs->epc->dev, "link up (host boot %u)\n", boot);
		pci_epc_linkup(ivs->epc);
		return;
	}

	/*
	 * Bus mastering set by the host: its driver sets the device up next,
	 * and the functions want to be watching by then
	 */
	for (fn = 0; ivs->link_up && fn < PCI_EPC_EMUL_MAX_FUNCS; fn++) {
		u32 n = le32_to_cpu(READ_ONCE(page->host_bme[fn]));

		if (n != ivs->host_bme[fn]) {
			ivs->host_bme[fn] = n;
			bme = true;
		}
	}
	if (bme)
		pci_epc_bus_master_enable_notify(ivs->epc);
}

static irqreturn_t pci_epc_ivs_link_irq(int irq, void *data)
{
	struct pci_epc_ivs *ivs = data;

	queue_work(pci_epc_ivs_wq, &ivs->link_work);

	return IRQ_HANDLED;
}

/*
 * "link" in sysfs: "up" or "down" once the functions were told, "changing"
 * while a change is on its way.
 */
static ssize_t link_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct pci_epc_ivs *ivs = dev_get_drvdata(dev);

	if (work_busy(&ivs->link_work))
		return sysfs_emit(buf, "changing\n");

	return sysfs_emit(buf, "%s\n", READ_ONCE(ivs->link_up) ? "up" : "down");
}
static DEVICE_ATTR_RO(link);

/* ------------------------------------------------------------------------
 * Controller creation
 */

static int pci_epc_ivs_create(struct pci_epc_ivs *ivs)
{
	struct pci_epc_mem_window win[EPC_IVS_MAX_WINDOWS];
	struct platform_device_info pinfo = {
		.name = "pci-epc-ivshmem",
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(32),
	};
	struct pci_ivs_page *page = ivs->page;
	int nwin = ivs->nr_win;
	struct device *dev;
	int i, ret;

	if (nr_windows)
		nwin = min(nwin, nr_windows);

	ivs->pdev = platform_device_register_full(&pinfo);
	if (IS_ERR(ivs->pdev))
		return PTR_ERR(ivs->pdev);
	dev = &ivs->pdev->dev;
	dev_set_drvdata(dev, ivs);

	ivs->epc = pci_epc_create(dev, &pci_epc_ivs_ops);
	if (IS_ERR(ivs->epc)) {
		ret = PTR_ERR(ivs->epc);
		dev_err(dev, "Failed to create EPC (err=%d)\n", ret);
		goto err_unregister_pdev;
	}
	epc_set_drvdata(ivs->epc, ivs);
	ivs->epc->max_functions = PCI_EPC_EMUL_MAX_FUNCS;

	for (i = 0; i < nwin; i++) {
		win[i].phys_base = pci_resource_start(ivs->win[i],
						      PCI_IVS_BAR_MEM);
		win[i].size = pci_epc_ivs_win_size(ivs);
		win[i].page_size = win[i].size;
	}
	ret = pci_epc_multi_mem_init(ivs->epc, win, nwin);
	if (ret) {
		dev_err(dev, "Failed to register outbound windows (err=%d)\n",
			ret);
		goto err_destroy_epc;
	}

	if (dma_chans) {
		/* Host PCI address X at offset X of the first alias */
		phys_addr_t alias = pci_resource_start(ivs->win[0],
						       PCI_IVS_BAR_MEM);

		ivs->dma = pci_epc_emul_dma_create(dev, alias,
						   pci_epc_ivs_win_size(ivs),
						   dma_chans, dma_memcpy);
		if (IS_ERR(ivs->dma)) {
			ret = PTR_ERR(ivs->dma);
			ivs->dma = NULL;
			goto err_mem_exit;
		}
	}

	ret = device_create_file(dev, &dev_attr_link);
	if (ret)
		goto err_destroy_dma;

	/* A new endpoint: no function, link down, nothing pending */
	memset(page->func, 0, sizeof(page->func));
	bitmap_zero(page->pending, PCI_IVS_PEND_BITS);
	page->ep_link = 0;
	page->ep_ram_base = cpu_to_le64(ram_base);
	page->version = cpu_to_le32(PCI_IVS_VERSION);
	page->magic = cpu_to_le32(PCI_IVS_MAGIC);
	page->ep_peer = cpu_to_le32(readl(ivs->regs +
					  PCI_IVS_REG_IVPOSITION) + 1);
	pci_epc_ivs_publish(ivs);

	ret = pci_request_irq(ivs->db, PCI_IVS_VEC_LINK, pci_epc_ivs_link_irq,
			      NULL, ivs, "pci-epc-ivshmem-link");
	if (ret)
		goto err_remove_file;

	pci_epc_init_notify(ivs->epc);
	dev_info(dev, "%s: peer %u, %d outbound windows of %pa bytes, RAM file at %#llx, %u %s DMA channels\n",
		 dev_name(&ivs->epc->dev), le32_to_cpu(page->ep_peer) - 1,
		 nwin, &win[0].size, ram_base, dma_chans,
		 dma_memcpy ? "memcpy" : "slave");

	return 0;

err_remove_file:
	device_remove_file(dev, &dev_attr_link);
err_destroy_dma:
	pci_epc_emul_dma_destroy(ivs->dma);
	ivs->dma = NULL;
err_mem_exit:
	pci_epc_mem_exit(ivs->epc);
err_destroy_epc:
	pci_epc_destroy(ivs->epc);
err_unregister_pdev:
	platform_device_unregister(ivs->pdev);
	return ret;
}

static void pci_epc_ivs_destroy(struct pci_epc_ivs *ivs)
{
	pci_free_irq(ivs->db, PCI_IVS_VEC_LINK, ivs);
	cancel_work_sync(&ivs->link_work);
	device_remove_file(&ivs->pdev->dev, &dev_attr_link);
	/* Functions are unbound by now: the host sees none */
	WRITE_ONCE(ivs->page->ep_link, 0);
	pci_epc_ivs_publish(ivs);
	pci_epc_emul_dma_destroy(ivs->dma);
	ivs->dma = NULL;
	pci_epc_mem_exit(ivs->epc);
	pci_epc_destroy(ivs->epc);
	platform_device_unregister(ivs->pdev);
}

/* ------------------------------------------------------------------------
 * ivshmem devices
 */

static int pci_epc_ivs_probe_db(struct pci_dev *pdev)
{
	struct pci_epc_ivs *ivs = &pci_epc_ivs;
	resource_size_t len = pci_resource_len(pdev, PCI_IVS_BAR_MEM);
	int ret;

	if (ivs->db) {
		pci_err(pdev, "a second doorbell device: only one link is supported\n");
		return -EBUSY;
	}
	if (len < sizeof(struct pci_ivs_page)) {
		pci_err(pdev, "shared memory of %pa bytes is smaller than the link page (%zu)\n",
			&len, sizeof(struct pci_ivs_page));
		return -EINVAL;
	}

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/* Without bus mastering, QEMU drops the doorbell's MSI-X writes */
	pci_set_master(pdev);

	ivs->regs = pcim_iomap(pdev, PCI_IVS_BAR_REGS, 0);
	if (!ivs->regs)
		return -ENOMEM;
	/* Shared RAM of the server, mapped as memory for atomic bitops */
	ivs->page = devm_memremap(&pdev->dev,
				  pci_resource_start(pdev, PCI_IVS_BAR_MEM),
				  sizeof(struct pci_ivs_page), MEMREMAP_WB);
	if (IS_ERR(ivs->page))
		return PTR_ERR(ivs->page);

	ret = pci_alloc_irq_vectors(pdev, PCI_IVS_VECTORS, PCI_IVS_VECTORS,
				    PCI_IRQ_MSIX);
	if (ret < 0) {
		pci_err(pdev, "cannot get %d MSI-X vectors (%d)\n",
			PCI_IVS_VECTORS, ret);
		return ret;
	}

	ivs->db = pdev;
	return 0;
}

static int pci_epc_ivs_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	struct pci_epc_ivs *ivs = &pci_epc_ivs;
	resource_size_t size = pci_resource_len(pdev, PCI_IVS_BAR_MEM);

	if (pci_resource_len(pdev, PCI_IVS_BAR_MSIX))
		return pci_epc_ivs_probe_db(pdev);

	if (!size || (ivs->nr_win && size != pci_epc_ivs_win_size(ivs))) {
		pci_err(pdev, "BAR%d of %pa bytes does not match the other windows\n",
			PCI_IVS_BAR_MEM, &size);
		return -ENODEV;
	}
	if (ivs->nr_win == EPC_IVS_MAX_WINDOWS)
		return -ENOSPC;

	ivs->win[ivs->nr_win++] = pdev;
	return pcim_enable_device(pdev);
}

static void pci_epc_ivs_remove(struct pci_dev *pdev)
{
	/* The controller is gone by now: the module exits only after it */
	if (pdev == pci_epc_ivs.db)
		pci_free_irq_vectors(pdev);
}

static const struct pci_device_id pci_epc_ivs_ids[] = {
	{ PCI_DEVICE(PCI_IVS_VENDOR, PCI_IVS_DEVICE) },
	{ }
};

static struct pci_driver pci_epc_ivs_driver = {
	.name = "pci-epc-ivshmem",
	.id_table = pci_epc_ivs_ids,
	.probe = pci_epc_ivs_probe,
	.remove = pci_epc_ivs_remove,
	.driver.suppress_bind_attrs = true,
};

/*
 * The controller's platform device gets a driver: dmaengine takes the
 * module of the driver bound to a DMA device's device, so that the
 * controller does not go while a function holds one of its channels
 */
static int pci_epc_ivs_pdev_probe(struct platform_device *pdev)
{
	return 0;
}

static struct platform_driver pci_epc_ivs_pdrv = {
	.probe = pci_epc_ivs_pdev_probe,
	.driver = {
		.name = "pci-epc-ivshmem",
		.suppress_bind_attrs = true,
	},
};

static int __init pci_epc_ivs_init(void)
{
	struct pci_epc_ivs *ivs = &pci_epc_ivs;
	int ret;

	if (nr_windows < 0 || nr_windows > EPC_IVS_MAX_WINDOWS) {
		pr_err("nr_windows must be 0 (one per alias device) to %d\n",
		       EPC_IVS_MAX_WINDOWS);
		return -EINVAL;
	}

	if (dma_chans > PCI_EPC_EMUL_DMA_MAX_CHANS) {
		pr_err("dma_chans must be 0 (no DMA) to %d\n",
		       PCI_EPC_EMUL_DMA_MAX_CHANS);
		return -EINVAL;
	}

	spin_lock_init(&ivs->lock);
	INIT_WORK(&ivs->link_work, pci_epc_ivs_link_work);
	pci_epc_ivs_wq = alloc_ordered_workqueue("pci-epc-ivshmem", 0);
	if (!pci_epc_ivs_wq)
		return -ENOMEM;

	ret = platform_driver_register(&pci_epc_ivs_pdrv);
	if (ret)
		goto err_destroy_wq;

	ret = pci_register_driver(&pci_epc_ivs_driver);
	if (ret)
		goto err_unregister_pdrv;

	if (!ivs->db || !ivs->nr_win) {
		pr_err("needs an ivshmem-doorbell device and at least one ivshmem-plain alias of the host's RAM; found %s and %d\n",
		       ivs->db ? "a doorbell" : "no doorbell", ivs->nr_win);
		ret = -ENODEV;
		goto err_unregister_driver;
	}

	ret = pci_epc_ivs_create(ivs);
	if (ret)
		goto err_unregister_driver;

	return 0;

err_unregister_driver:
	pci_unregister_driver(&pci_epc_ivs_driver);
err_unregister_pdrv:
	platform_driver_unregister(&pci_epc_ivs_pdrv);
err_destroy_wq:
	destroy_workqueue(pci_epc_ivs_wq);
	return ret;
}
module_init(pci_epc_ivs_init);

static void __exit pci_epc_ivs_exit(void)
{
	pci_epc_ivs_destroy(&pci_epc_ivs);
	pci_unregister_driver(&pci_epc_ivs_driver);
	platform_driver_unregister(&pci_epc_ivs_pdrv);
	destroy_workqueue(pci_epc_ivs_wq);
}
module_exit(pci_epc_ivs_exit);

MODULE_DESCRIPTION("PCI endpoint controller over QEMU ivshmem devices (two-machine rig)");
MODULE_LICENSE("GPL");
