// SPDX-License-Identifier: GPL-2.0
/*
 * Host half of a PCIe link between two QEMU machines made of ivshmem
 * devices (see pci-ivshmem-link.h): plays the link and the root port.
 *
 * It creates a virtual PCI root bus whose one device is the endpoint's,
 * with the configuration space the endpoint keeps in the link page.  The
 * bus's memory window is an ivshmem-plain device aliasing the endpoint's
 * RAM, so BAR bus address X is endpoint physical address X.  MSI, MSI-X
 * and INTx arrive as bits in the page and a doorbell interrupt; each runs
 * the host handler of its vector.
 *
 * The link follows the endpoint: when it starts, the device is scanned and
 * the host's stock drivers probe it; when it stops, the device is removed
 * (hot removal); when the endpoint machine goes away (its connection to
 * the ivshmem server drops), the device is removed as in a surprise
 * removal, reads of its configuration space returning all ones.  A host
 * that boots resets the functions' registers, as PERST# would.
 *
 * This builds against the distribution kernels of hosts (6.1 on), not the
 * endpoint's.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/interrupt.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/irq.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/workqueue.h>

#include "pci-ivshmem-link.h"

/*
 * From link up to the first configuration request.  PCIe r6.0, 6.6.1 sets
 * 100 ms as the least; an endpoint that needs longer answers Configuration
 * Request Retry Status meanwhile, and root ports wait for it.  This link
 * waits 1 s, as for such an endpoint: an endpoint machine that emulates
 * its CPUs may take over 100 ms to run a thread it just woke (its poll
 * threads slept 100 to 260 ms instead of 50 us around link up), and the
 * stock virtio driver's set-up must find them polling.
 */
#define PCI_IVS_HOST_LINK_DELAY_MS	1000

/**
 * struct pci_ivs_host - the host half of the link
 * @ebus: the virtual root bus; its lock protects @link_up for config
 *	  accessors (the page's functions are the endpoint's to change while
 *	  the link is down)
 * @db: the ivshmem-doorbell device
 * @regs: its registers
 * @page: the link page
 * @alias: the ivshmem-plain device aliasing the endpoint's RAM
 * @bus_made: @ebus exists, with @bus_ram_base
 * @bus_ram_base: the endpoint RAM base the bus window was made for
 * @link_work: follows the endpoint's state; ordered workqueue
 * @link_up: the device is (being) scanned; written in @link_work under
 *	     @ebus.lock
 * @removed: the host half is going away: no new link
 */
struct pci_ivs_host {
	struct pci_epc_emul_bus ebus;
	struct pci_dev *db;
	void __iomem *regs;
	struct pci_ivs_page *page;
	struct pci_dev *alias;
	bool bus_made;
	u64 bus_ram_base;
	struct work_struct link_work;
	bool link_up;
	bool removed;
};

static struct pci_ivs_host pci_ivs_host;
static struct workqueue_struct *pci_ivs_host_wq;
/* Serializes probe and remove of the two devices */
static DEFINE_MUTEX(pci_ivs_host_lock);

static bool pci_ivs_host_alive(struct pci_ivs_host *h, u32 peer)
{
	return peer && le32_to_cpu(READ_ONCE(h->page->live)) &
		       BIT((peer - 1) % 32);
}

static void pci_ivs_host_ring(struct pci_ivs_host *h, unsigned int vec)
{
	u32 peer = le32_to_cpu(READ_ONCE(h->page->ep_peer));

	if (peer)
		writel(((peer - 1) << 16) | vec, h->regs + PCI_IVS_REG_DOORBELL);
}

/* The function @fn while the host may reach it; under ebus.lock */
static struct pci_epc_emul_func *
pci_ivs_host_func(struct pci_epc_emul_bus *ebus, unsigned int fn)
{
	struct pci_ivs_host *h = container_of(ebus, struct pci_ivs_host, ebus);

	lockdep_assert_held(&ebus->lock);
	if (!h->link_up || !READ_ONCE(h->page->func[fn].present))
		return NULL;

	return &h->page->func[fn];
}

/* A host driver is about to set function @fn up: tell the endpoint */
static void pci_ivs_host_bus_master(struct pci_epc_emul_bus *ebus,
				    unsigned int fn)
{
	struct pci_ivs_host *h = container_of(ebus, struct pci_ivs_host, ebus);
	__le32 *bme = &h->page->host_bme[fn];

	lockdep_assert_held(&ebus->lock);
	WRITE_ONCE(*bme, cpu_to_le32(le32_to_cpu(*bme) + 1));
	/* writel() orders the count before the doorbell that makes it read */
	pci_ivs_host_ring(h, PCI_IVS_VEC_LINK);
}

static const struct pci_epc_emul_bus_ops pci_ivs_host_bus_ops = {
	.func = pci_ivs_host_func,
	.bus_master = pci_ivs_host_bus_master,
};

/* Run the handlers of the interrupts the endpoint raised */
static irqreturn_t pci_ivs_host_irq(int irq, void *data)
{
	struct pci_ivs_host *h = data;
	unsigned int bit, virq;

	if (!READ_ONCE(h->bus_made))
		return IRQ_NONE;

	for_each_set_bit(bit, h->page->pending, PCI_IVS_PEND_BITS) {
		if (!test_and_clear_bit(bit, h->page->pending))
			continue;
		if (bit >= PCI_IVS_PEND_INTX)
			virq = pci_epc_emul_bus_intx_irq(&h->ebus,
							 bit - PCI_IVS_PEND_INTX);
		else
			virq = pci_epc_emul_bus_msi_irq(&h->ebus,
							PCI_EPC_EMUL_MSI_ADDR,
							bit);
		/* The host may have freed the vector since it was raised */
		if (virq)
			generic_handle_irq_safe(virq);
	}

	return IRQ_HANDLED;
}

static irqreturn_t pci_ivs_host_link_irq(int irq, void *data)
{
	struct pci_ivs_host *h = data;

	queue_work(pci_ivs_host_wq, &h->link_work);

	return IRQ_HANDLED;
}

static void pci_ivs_host_set_link(struct pci_ivs_host *h, bool up)
{
	unsigned long flags;

	spin_lock_irqsave(&h->ebus.lock, flags);
	h->link_up = up;
	spin_unlock_irqrestore(&h->ebus.lock, flags);
}

/* Make the bus for an endpoint whose RAM file starts at @ram_base */
static int pci_ivs_host_make_bus(struct pci_ivs_host *h, u64 ram_base)
{
	int ret;

	if (h->bus_made && h->bus_ram_base == ram_base)
		return 0;
	if (h->bus_made) {
		WRITE_ONCE(h->bus_made, false);
		synchronize_irq(pci_irq_vector(h->db, PCI_IVS_VEC_IRQ));
		pci_epc_emul_bus_destroy(&h->ebus);
	}

	memset(&h->ebus, 0, sizeof(h->ebus));
	ret = pci_epc_emul_bus_create(&h->ebus, &h->db->dev,
				      &pci_ivs_host_bus_ops, 0,
				      pci_resource_start(h->alias,
							 PCI_IVS_BAR_MEM),
				      pci_resource_len(h->alias,
						       PCI_IVS_BAR_MEM),
				      ram_base);
	if (ret) {
		pci_err(h->db, "cannot create the link's bus (%d)\n", ret);
		return ret;
	}

	h->bus_ram_base = ram_base;
	WRITE_ONCE(h->bus_made, true);
	pci_info(h->db, "endpoint's bus: domain %04x, its RAM from %#llx\n",
		 h->ebus.sysdata.domain, ram_base);

	return 0;
}

static void pci_ivs_host_link_down(struct pci_ivs_host *h, bool surprise)
{
	/*
	 * A machine that is gone answers nothing: its device reads as all
	 * ones while its drivers let go of it.
	 */
	if (surprise)
		pci_ivs_host_set_link(h, false);
	pci_epc_emul_bus_remove(&h->ebus);
	pci_ivs_host_set_link(h, false);
	pci_info(h->db, "link down%s\n", surprise ? ": endpoint gone" : "");
}

/*
 * The link state the endpoint asks for with sequence number @seq: up for
 * this host boot, not one it saw before; @alive says whether its machine
 * is connected
 */
static bool pci_ivs_host_want(struct pci_ivs_host *h, u32 *seq, bool *alive)
{
	struct pci_ivs_page *page = h->page;

	*seq = le32_to_cpu(READ_ONCE(page->ep_seq));
	/* The state that goes with the sequence number, read after it */
	rmb();
	*alive = pci_ivs_host_alive(h, le32_to_cpu(READ_ONCE(page->ep_peer)));

	return *alive && le32_to_cpu(READ_ONCE(page->ep_link)) &&
	       READ_ONCE(page->ep_boot) == READ_ONCE(page->host_boot) &&
	       !READ_ONCE(h->removed);
}

/* Follow the endpoint's state: its link, its functions, its machine */
static void pci_ivs_host_link_work(struct work_struct *work)
{
	struct pci_ivs_host *h = container_of(work, struct pci_ivs_host,
					      link_work);
	struct pci_ivs_page *page = h->page;
	bool alive, want;
	unsigned int fn;
	u32 seq;

	want = pci_ivs_host_want(h, &seq, &alive);
	/*
	 * A link coming up is used PCI_IVS_HOST_LINK_DELAY_MS later, as a
	 * root port sends no configuration request before (PCIe r6.0, sec
	 * 6.6.1; Linux's pcie_wait_for_link()).  The endpoint's functions get
	 * ready meanwhile: a poll thread asleep when the link came up may take
	 * a while to run again.  What the endpoint published since counts,
	 * not what it asked for before.
	 */
	if (!h->link_up && want) {
		msleep(PCI_IVS_HOST_LINK_DELAY_MS);
		want = pci_ivs_host_want(h, &seq, &alive);
	}

	if (h->link_up && !want) {
		pci_ivs_host_link_down(h, !alive);
	} else if (h->link_up) {
		/* Functions the endpoint took away while the link stays up */
		for (fn = 0; fn < PCI_EPC_EMUL_MAX_FUNCS; fn++)
			if (!READ_ONCE(page->func[fn].present) &&
			    pci_epc_emul_bus_remove_func(&h->ebus, fn))
				pci_info(h->db, "function %u went away\n", fn);
	} else if (want &&
		   !pci_ivs_host_make_bus(h, le64_to_cpu(page->ep_ram_base))) {
		pci_ivs_host_set_link(h, true);
		pci_info(h->db, "link up\n");
		pci_epc_emul_bus_scan(&h->ebus);
	}

	WRITE_ONCE(page->host_ack, cpu_to_le32(seq));
}

/* ------------------------------------------------------------------------
 * Start and stop of the host half
 */

static int pci_ivs_host_start(struct pci_ivs_host *h)
{
	struct pci_ivs_page *page = h->page;
	unsigned int fn;
	int ret;

	ret = pci_request_irq(h->db, PCI_IVS_VEC_IRQ, pci_ivs_host_irq, NULL,
			      h, "pci-ivshmem-host");
	if (ret)
		return ret;
	ret = pci_request_irq(h->db, PCI_IVS_VEC_LINK, pci_ivs_host_link_irq,
			      NULL, h, "pci-ivshmem-host-link");
	if (ret)
		goto err_free_irq;

	/*
	 * This host just booted: the functions' registers go back to their
	 * reset values, and the endpoint sees a new host.
	 */
	if (le32_to_cpu(page->magic) == PCI_IVS_MAGIC)
		for (fn = 0; fn < PCI_EPC_EMUL_MAX_FUNCS; fn++)
			if (page->func[fn].present)
				pci_epc_emul_reset(&page->func[fn]);
	page->host_peer = cpu_to_le32(readl(h->regs +
					    PCI_IVS_REG_IVPOSITION) + 1);
	page->host_boot = cpu_to_le32(le32_to_cpu(page->host_boot) + 1);
	/* Peer and boot before host_up: the endpoint reads them after it */
	wmb();
	WRITE_ONCE(page->host_up, cpu_to_le32(1));
	pci_ivs_host_ring(h, PCI_IVS_VEC_LINK);

	pci_info(h->db, "host half up: peer %u, boot %u\n",
		 le32_to_cpu(page->host_peer) - 1,
		 le32_to_cpu(page->host_boot));
	queue_work(pci_ivs_host_wq, &h->link_work);

	return 0;

err_free_irq:
	pci_free_irq(h->db, PCI_IVS_VEC_IRQ, h);
	return ret;
}

static void pci_ivs_host_stop(struct pci_ivs_host *h)
{
	WRITE_ONCE(h->removed, true);
	WRITE_ONCE(h->page->host_up, 0);
	pci_ivs_host_ring(h, PCI_IVS_VEC_LINK);
	pci_free_irq(h->db, PCI_IVS_VEC_LINK, h);
	flush_workqueue(pci_ivs_host_wq);
	if (h->link_up)
		pci_ivs_host_link_down(h, false);
	pci_free_irq(h->db, PCI_IVS_VEC_IRQ, h);
	if (h->bus_made) {
		WRITE_ONCE(h->bus_made, false);
		pci_epc_emul_bus_destroy(&h->ebus);
	}
}

/* ------------------------------------------------------------------------
 * ivshmem devices
 */

static int pci_ivs_host_probe_db(struct pci_dev *pdev)
{
	struct pci_ivs_host *h = &pci_ivs_host;
	resource_size_t len = pci_resource_len(pdev, PCI_IVS_BAR_MEM);
	int ret;

	if (h->db) {
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

	h->regs = pcim_iomap(pdev, PCI_IVS_BAR_REGS, 0);
	if (!h->regs)
		return -ENOMEM;
	/* Shared RAM of the server, mapped as memory for atomic bitops */
	h->page = devm_memremap(&pdev->dev,
				pci_resource_start(pdev, PCI_IVS_BAR_MEM),
				sizeof(struct pci_ivs_page), MEMREMAP_WB);
	if (IS_ERR(h->page))
		return PTR_ERR(h->page);

	ret = pci_alloc_irq_vectors(pdev, PCI_IVS_VECTORS, PCI_IVS_VECTORS,
				    PCI_IRQ_MSIX);
	if (ret < 0) {
		pci_err(pdev, "cannot get %d MSI-X vectors (%d)\n",
			PCI_IVS_VECTORS, ret);
		return ret;
	}

	h->db = pdev;
	return 0;
}

static int pci_ivs_host_probe(struct pci_dev *pdev,
			      const struct pci_device_id *id)
{
	struct pci_ivs_host *h = &pci_ivs_host;
	int ret;

	mutex_lock(&pci_ivs_host_lock);
	if (pci_resource_len(pdev, PCI_IVS_BAR_MSIX)) {
		ret = pci_ivs_host_probe_db(pdev);
	} else if (h->alias) {
		pci_err(pdev, "a second alias device: only one link is supported\n");
		ret = -EBUSY;
	} else {
		/*
		 * The region is not requested: the endpoint's BARs are
		 * requested inside it by their own drivers.
		 */
		ret = pcim_enable_device(pdev);
		if (!ret)
			h->alias = pdev;
	}

	if (!ret && h->db && h->alias) {
		h->removed = false;
		ret = pci_ivs_host_start(h);
		if (ret && pdev == h->db) {
			pci_free_irq_vectors(pdev);
			h->db = NULL;
		} else if (ret) {
			h->alias = NULL;
		}
	}
	mutex_unlock(&pci_ivs_host_lock);

	return ret;
}

static void pci_ivs_host_remove(struct pci_dev *pdev)
{
	struct pci_ivs_host *h = &pci_ivs_host;

	mutex_lock(&pci_ivs_host_lock);
	if (h->db && h->alias)
		pci_ivs_host_stop(h);
	if (pdev == h->db) {
		pci_free_irq_vectors(pdev);
		h->db = NULL;
	} else {
		h->alias = NULL;
	}
	mutex_unlock(&pci_ivs_host_lock);
}

/* A reboot: tell the endpoint the host goes away, as a reset would */
static void pci_ivs_host_shutdown(struct pci_dev *pdev)
{
	struct pci_ivs_host *h = &pci_ivs_host;

	if (pdev == h->db && h->alias) {
		WRITE_ONCE(h->page->host_up, 0);
		pci_ivs_host_ring(h, PCI_IVS_VEC_LINK);
	}
}

static const struct pci_device_id pci_ivs_host_ids[] = {
	{ PCI_DEVICE(PCI_IVS_VENDOR, PCI_IVS_DEVICE) },
	{ }
};

static struct pci_driver pci_ivs_host_driver = {
	.name = "pci-ivshmem-host",
	.id_table = pci_ivs_host_ids,
	.probe = pci_ivs_host_probe,
	.remove = pci_ivs_host_remove,
	.shutdown = pci_ivs_host_shutdown,
};

static int __init pci_ivs_host_init(void)
{
	int ret;

	INIT_WORK(&pci_ivs_host.link_work, pci_ivs_host_link_work);
	pci_ivs_host_wq = alloc_ordered_workqueue("pci-ivshmem-host", 0);
	if (!pci_ivs_host_wq)
		return -ENOMEM;

	ret = pci_register_driver(&pci_ivs_host_driver);
	if (ret)
		destroy_workqueue(pci_ivs_host_wq);

	return ret;
}
module_init(pci_ivs_host_init);

static void __exit pci_ivs_host_exit(void)
{
	pci_unregister_driver(&pci_ivs_host_driver);
	destroy_workqueue(pci_ivs_host_wq);
}
module_exit(pci_ivs_host_exit);

MODULE_DESCRIPTION("Host half of a PCIe link between QEMU machines over ivshmem (two-machine rig)");
MODULE_LICENSE("GPL");
