// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: core library.
 *
 * The endpoint presents a legacy (transitional) virtio-pci device to the PCIe
 * host: the legacy register file sits at the start of a memory BAR0, followed
 * by the MSI-X table.  The host's stock virtio_pci driver allocates the
 * virtqueues in its own memory and tells the device where they are through
 * QUEUE_PFN.  The endpoint cannot trap host accesses to its BAR memory, so a
 * poll thread watches the register file, consumes each QUEUE_PFN as soon as
 * it appears, maps the host rings through the controller's outbound windows
 * once the host sets DRIVER_OK, and then serves the device driver built on
 * this library.
 *
 * The rings are host memory and the host is not trusted: vringh runs on a
 * shadow copy of the driver-owned parts (descriptor table and avail ring)
 * kept in endpoint memory.  Every descriptor chain is copied into the shadow
 * and checked (indexes in range, no loop, no indirect table, sane lengths)
 * before vringh sees it; the used ring is written back to the host with I/O
 * accessors.  Buffer addresses stay host PCI addresses: they are only ever
 * reached through a mapping made by the byte mover below.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "internal.h"

/* ------------------------------------------------------------------------
 * debugfs: pci_epf_virtio/<function>/cost, what each queue cost the link
 */

static struct dentry *epf_virtio_debugfs_root;

/*
 * One line per queue (see struct epf_virtio_cost), names before values,
 * then the device's
 */
static int epf_virtio_cost_show(struct seq_file *m, void *unused)
{
	struct epf_virtio *evd = m->private;
	unsigned int i;

	for (i = 0; i < evd->info->nvqs; i++) {
		/* A racy read: the poll thread counts on meanwhile */
		const struct epf_virtio_cost c = data_race(evd->vqs[i].cost);

		seq_printf(m, "queue %u ring_rd %llu ring_rd_bytes %llu ring_wr %llu ring_wr_bytes %llu data_rd %llu data_rd_bytes %llu data_wr %llu data_wr_bytes %llu dma %llu dma_bytes %llu chains %llu irqs %llu idle_rd %llu dma_async %llu held %llu flight_max %llu dropped %llu ring_dma %llu ring_dma_bytes %llu kicks %llu map_short %llu\n",
			   i, c.ring_rd, c.ring_rd_bytes, c.ring_wr,
			   c.ring_wr_bytes, c.data_rd, c.data_rd_bytes,
			   c.data_wr, c.data_wr_bytes, c.dma, c.dma_bytes,
			   c.chains, c.irqs, c.idle_rd, c.dma_async, c.held,
			   c.flight_max, c.dropped, c.ring_dma,
			   c.ring_dma_bytes, c.kicks, c.map_short);
	}
	/* Host resets that stopped the device's writes (epf_virtio_fence()) */
	seq_printf(m, "fences %llu\n", data_race(evd->fences));

	return 0;
}
DEFINE_SHOW_ATTRIBUTE(epf_virtio_cost);

/* No debugfs is no error: the device works without it */
static void epf_virtio_debugfs_add(struct epf_virtio *evd)
{
	evd->debugfs = debugfs_create_dir(dev_name(epf_virtio_to_dev(evd)),
					  epf_virtio_debugfs_root);
	debugfs_create_file("cost", 0444, evd->debugfs, evd,
			    &epf_virtio_cost_fops);
}

/* Waits for readers: the queues may be freed afterwards */
static void epf_virtio_debugfs_remove(struct epf_virtio *evd)
{
	debugfs_remove(evd->debugfs);
	evd->debugfs = NULL;
}

/* ------------------------------------------------------------------------
 * Endpoint controller events
 */

static int epf_virtio_init_irq(struct epf_virtio *evd)
{
	const struct pci_epc_features *features = evd->epc_features;
	struct pci_epf *epf = evd->epf;
	int ret;

	if (evd->msix_nr) {
		ret = pci_epc_set_msix(epf->epc, epf->func_no, epf->vfunc_no,
				       evd->msix_nr, BAR_0,
				       EPF_VIRTIO_MSIX_TABLE);
		if (ret) {
			dev_err(&epf->dev, "Failed to set up MSI-X (err=%d)\n",
				ret);
			return ret;
		}
	}

	if (features->msi_capable && epf->msi_interrupts) {
		ret = pci_epc_set_msi(epf->epc, epf->func_no, epf->vfunc_no,
				      epf->msi_interrupts);
		if (ret) {
			dev_err(&epf->dev, "Failed to set up MSI (err=%d)\n",
				ret);
			return ret;
		}
	}

	return 0;
}

static int epf_virtio_epc_init(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);
	int ret;

	if (epf->vfunc_no > 0) {
		dev_err(&epf->dev, "Virtual functions are not supported\n");
		return -EINVAL;
	}

	if (!evd->bar) {
		dev_err(&epf->dev, "Controller ready before the function is bound\n");
		return -EINVAL;
	}

	/* Already set up, the controller only says so again */
	if (evd->epc_ready)
		return 0;

	ret = pci_epc_write_header(epf->epc, epf->func_no, epf->vfunc_no,
				   &evd->header);
	if (ret) {
		dev_err(&epf->dev, "Failed to write configuration header (err=%d)\n",
			ret);
		return ret;
	}

	ret = pci_epc_set_bar(epf->epc, epf->func_no, epf->vfunc_no,
			      &epf->bar[BAR_0]);
	if (ret) {
		dev_err(&epf->dev, "Failed to set BAR 0 (err=%d)\n", ret);
		return ret;
	}

	ret = epf_virtio_init_irq(evd);
	if (ret)
		goto err_clear_bar;

	epf_virtio_arm(evd);

	ret = epf_virtio_start_polling(evd);
	if (ret) {
		dev_err(&epf->dev, "Failed to start the poll thread (err=%d)\n",
			ret);
		goto err_clear_bar;
	}
	evd->epc_ready = true;

	return 0;

err_clear_bar:
	pci_epc_clear_bar(epf->epc, epf->func_no, epf->vfunc_no,
			  &epf->bar[BAR_0]);
	return ret;
}

static void epf_virtio_epc_deinit(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);

	if (!evd->epc_ready)
		return;

	epf_virtio_stop_polling(evd);
	pci_epc_clear_bar(epf->epc, epf->func_no, epf->vfunc_no,
			  &epf->bar[BAR_0]);
	evd->epc_ready = false;
}

/*
 * Link up: tell the poll thread, which polls at the hot rate from now on
 * and spins for the host's driver from EPF_VIRTIO_LINK_QUIET_MS on, when a
 * host may first touch the device, counted from now.  Never wait here: the
 * controller may hold its locks, and a link up may even lead to host
 * drivers probing this device synchronously.  The register file is already
 * in its power-on state: the link down before it saw to that.
 */
static int epf_virtio_link_up(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);

	WRITE_ONCE(evd->link_up_at, ktime_get());
	WRITE_ONCE(evd->link_want, true);
	epf_virtio_signal(evd, EPF_VIRTIO_EV_LINK);

	return 0;
}

/*
 * Link down: the host is gone.  Put the device back in its power-on state
 * before returning, so that nothing of it is left for the next link up and
 * the next host's driver.  The poller's lock keeps the poll thread out
 * meanwhile; it holds it for one pass over its devices at a time, which
 * never waits for the host, but may wait for the controller's DMA engine
 * (a transfer at a time, given up after EPF_VIRTIO_DMA_TIMEOUT_MS, then
 * terminated).
 */
static int epf_virtio_link_down(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);
	struct epf_virtio_poller *p = evd->poller;

	WRITE_ONCE(evd->link_want, false);
	if (!p)
		return 0;

	mutex_lock(&p->lock);
	epf_virtio_deactivate(evd);
	epf_virtio_arm(evd);
	mutex_unlock(&p->lock);
	dev_dbg(epf_virtio_to_dev(evd), "Link down\n");

	return 0;
}

/* The host enabled bus mastering: its driver is about to set us up */
static int epf_virtio_bus_master_enable(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);

	epf_virtio_signal(evd, EPF_VIRTIO_EV_BME);

	return 0;
}

static const struct pci_epc_event_ops epf_virtio_event_ops = {
	.epc_init = epf_virtio_epc_init,
	.epc_deinit = epf_virtio_epc_deinit,
	.link_up = epf_virtio_link_up,
	.link_down = epf_virtio_link_down,
	.bus_master_enable = epf_virtio_bus_master_enable,
};

/* ------------------------------------------------------------------------
 * Set-up and tear-down
 */

static void epf_virtio_free_queues(struct epf_virtio *evd)
{
	unsigned int i;

	if (!evd->vqs)
		return;

	for (i = 0; i < evd->info->nvqs; i++) {
		kvfree(evd->vqs[i].shadow);
		bitmap_free(evd->vqs[i].pending);
		kvfree(evd->vqs[i].flights);
		kvfree(evd->vqs[i].fl_free);
		kvfree(evd->vqs[i].fl_order);
		kvfree(evd->vqs[i].maps);
	}
	kfree(evd->vqs);
	evd->vqs = NULL;
}

static int epf_virtio_alloc_queues(struct epf_virtio *evd)
{
	unsigned int nvqs = evd->info->nvqs;
	unsigned int i, j, nmaps;

	evd->vqs = kcalloc(nvqs, sizeof(*evd->vqs), GFP_KERNEL);
	if (!evd->vqs)
		return -ENOMEM;

	for (i = 0; i < nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];

		vq->evd = evd;
		vq->index = i;
		vq->vector = VIRTIO_MSI_NO_VECTOR;
		vq->shadow_size = vring_size(evd->queue_size, SMP_CACHE_BYTES);
		vq->shadow = kvzalloc(vq->shadow_size, GFP_KERNEL);
		vq->pending = bitmap_zalloc(evd->queue_size, GFP_KERNEL);
		vq->flights = kvcalloc(evd->queue_size, sizeof(*vq->flights),
				       GFP_KERNEL);
		vq->fl_free = kvcalloc(evd->queue_size, sizeof(u16),
				       GFP_KERNEL);
		vq->fl_order = kvcalloc(evd->queue_size, sizeof(u16),
					GFP_KERNEL);
		nmaps = evd->queue_size * EPF_VIRTIO_MAPS_PER_SLOT;
		vq->maps = kvcalloc(nmaps, sizeof(*vq->maps), GFP_KERNEL);
		if (!vq->shadow || !vq->pending || !vq->flights ||
		    !vq->fl_free || !vq->fl_order || !vq->maps) {
			epf_virtio_free_queues(evd);
			return -ENOMEM;
		}
		for (j = 0; j < evd->queue_size; j++) {
			vq->flights[j].vq = vq;
			vq->flights[j].maps = EPF_VIRTIO_MAP_NONE;
			vq->fl_free[j] = j;
		}
		vq->fl_nfree = evd->queue_size;
		for (j = 0; j < nmaps; j++)
			vq->maps[j].next = j + 1 < nmaps ? j + 1 :
					   EPF_VIRTIO_MAP_NONE;
		vq->map_free = 0;
	}

	return 0;
}

static int epf_virtio_alloc_bar(struct epf_virtio *evd)
{
	const struct pci_epc_features *features = evd->epc_features;
	struct pci_epf *epf = evd->epf;
	size_t size = EPF_VIRTIO_REGS_SIZE;

	evd->msix_nr = 0;
	if (features->msix_capable && epf->msix_interrupts) {
		evd->msix_nr = epf->msix_interrupts;
		size += evd->msix_nr * PCI_MSIX_ENTRY_SIZE;
		size += ALIGN(DIV_ROUND_UP(evd->msix_nr, 8), 8);
	}

	if (features->bar[BAR_0].type == BAR_FIXED &&
	    features->bar[BAR_0].fixed_size &&
	    size > features->bar[BAR_0].fixed_size) {
		dev_err(&epf->dev, "BAR 0 is %llu bytes, %zu needed\n",
			features->bar[BAR_0].fixed_size, size);
		return -ENOMEM;
	}

	evd->bar = pci_epf_alloc_space(epf, size, BAR_0, features,
				       PRIMARY_INTERFACE);
	if (!evd->bar) {
		dev_err(&epf->dev, "Failed to allocate BAR 0 (%zu bytes)\n",
			size);
		return -ENOMEM;
	}
	memset(evd->bar, 0, epf->bar[BAR_0].size);

	return 0;
}

static void epf_virtio_free_bar(struct epf_virtio *evd)
{
	if (!evd->bar)
		return;

	pci_epf_free_space(evd->epf, evd->bar, BAR_0, PRIMARY_INTERFACE);
	evd->bar = NULL;
}

/**
 * epf_virtio_bind() - set a virtio device up on the bound controller
 * @evd: the device, from epf_virtio_create()
 * @params: queue size, features to offer, poll thread CPU, DMA threshold
 *
 * Call from the function driver's &pci_epf_ops.bind.  Allocates BAR0 and
 * the queues; the controller is programmed and polling starts when the
 * controller reports it is initialized (&pci_epc_event_ops.epc_init).
 *
 * Context: process context, with the function's lock held by the EPF core.
 * Return: 0 or a negative error code.
 */
int epf_virtio_bind(struct epf_virtio *evd,
		    const struct epf_virtio_params *params)
{
	unsigned int queue_size = params->queue_size;
	struct pci_epf *epf = evd->epf;
	const struct pci_epc_features *epc_features;
	int ret;

	lockdep_assert_held(&epf->lock);

	if (WARN_ON_ONCE(!epf->epc))
		return -EINVAL;

	if (!is_power_of_2(queue_size) ||
	    queue_size > EPF_VIRTIO_QUEUE_SIZE_MAX) {
		dev_err(&epf->dev, "Invalid queue size %u\n", queue_size);
		return -EINVAL;
	}

	if (params->poll_cpu >= (int)nr_cpu_ids) {
		dev_err(&epf->dev, "Invalid poll CPU %d\n", params->poll_cpu);
		return -EINVAL;
	}

	epc_features = pci_epc_get_features(epf->epc, epf->func_no,
					    epf->vfunc_no);
	if (!epc_features) {
		dev_err(&epf->dev, "Controller features not available\n");
		return -EOPNOTSUPP;
	}

	/* The host's legacy virtio-pci driver only looks at BAR 0 */
	if (pci_epc_get_first_free_bar(epc_features) != BAR_0) {
		dev_err(&epf->dev, "BAR 0 is not available\n");
		return -ENODEV;
	}

	evd->epc_features = epc_features;
	evd->queue_size = queue_size;
	evd->poll_cpu = params->poll_cpu < 0 ? -1 : params->poll_cpu;
	evd->dev_features = params->features & evd->info->features &
			    EPF_VIRTIO_FEATURES_OK;
	evd->xfer = &epf_virtio_mmio_ops;
	evd->dma_threshold = params->dma_threshold;
	evd->dma_rings = params->dma_rings;
	if (evd->dma_threshold) {
		if (epf_virtio_dma_get(evd))
			evd->xfer = &epf_virtio_dma_ops;
		else
			dev_info(&epf->dev, "The controller has no DMA channel free: transfers by MMIO\n");
	}

	ret = epf_virtio_alloc_queues(evd);
	if (ret)
		goto err_put_dma;

	ret = epf_virtio_alloc_bar(evd);
	if (ret)
		goto err_free_queues;

	epf_virtio_debugfs_add(evd);

	dev_dbg(&epf->dev, "Bound: %u queues of %u, features %#x, %s transfers\n",
		evd->info->nvqs, queue_size, evd->dev_features,
		evd->xfer->name);

	return 0;

err_free_queues:
	epf_virtio_free_queues(evd);
err_put_dma:
	epf_virtio_dma_put(evd);
	return ret;
}
EXPORT_SYMBOL_GPL(epf_virtio_bind);

/**
 * epf_virtio_unbind() - undo epf_virtio_bind()
 * @evd: the device
 *
 * Call from the function driver's &pci_epf_ops.unbind.  Stops polling (the
 * device driver's reset callback runs first if the device was active),
 * unmaps the host rings, clears BAR0 on the controller and frees it.
 *
 * Context: process context, with the function's lock held by the EPF core.
 */
void epf_virtio_unbind(struct epf_virtio *evd)
{
	struct pci_epf *epf = evd->epf;

	lockdep_assert_held(&epf->lock);

	epf_virtio_stop_polling(evd);
	WRITE_ONCE(evd->link_want, false);

	if (evd->epc_ready) {
		pci_epc_clear_bar(epf->epc, epf->func_no, epf->vfunc_no,
				  &epf->bar[BAR_0]);
		evd->epc_ready = false;
	}

	epf_virtio_debugfs_remove(evd);
	epf_virtio_free_bar(evd);
	epf_virtio_free_queues(evd);
	epf_virtio_dma_put(evd);
	evd->epc_features = NULL;
}
EXPORT_SYMBOL_GPL(epf_virtio_unbind);

static bool epf_virtio_info_valid(const struct epf_virtio_info *info)
{
	const struct epf_virtio_ops *ops = info->ops;

	return ops && ops->activate && ops->reset && ops->process &&
	       info->nvqs && info->nvqs <= U16_MAX &&
	       info->config_size <= EPF_VIRTIO_CONFIG_SIZE_MAX &&
	       info->pci_device_id >= EPF_VIRTIO_PCI_ID_FIRST &&
	       info->pci_device_id <= EPF_VIRTIO_PCI_ID_LAST;
}

/**
 * epf_virtio_create() - create the virtio device of an endpoint function
 * @epf: the endpoint function
 * @info: device description; must outlive the device
 * @priv: device driver data, returned by epf_virtio_priv()
 *
 * Call from the function driver's probe.  Sets the function's PCI header
 * (virtio vendor, transitional device ID, subsystem = virtio type), its EPC
 * event callbacks and its driver data (use epf_virtio_from_epf()), and
 * defaults the MSI-X vector count to one per queue plus one for
 * configuration changes if the user did not set one.
 *
 * Return: the device or an ERR_PTR().
 */
struct epf_virtio *epf_virtio_create(struct pci_epf *epf,
				     const struct epf_virtio_info *info,
				     void *priv)
{
	struct pci_epf_header *hdr;
	struct epf_virtio *evd;

	if (!epf_virtio_info_valid(info)) {
		dev_err(&epf->dev, "Invalid virtio device description\n");
		return ERR_PTR(-EINVAL);
	}

	evd = kzalloc_obj(*evd);
	if (!evd)
		return ERR_PTR(-ENOMEM);

	evd->epf = epf;
	evd->info = info;
	evd->priv = priv;
	INIT_LIST_HEAD(&evd->poll_node);
	spin_lock_init(&evd->cfg_lock);
	spin_lock_init(&evd->stale_lock);
	INIT_LIST_HEAD(&evd->stale_maps);
	INIT_WORK(&evd->unmap_work, epf_virtio_unmap_work);
	evd->vec_queue = -1;

	evd->cfg = kzalloc(2 * EPF_VIRTIO_CONFIG_SIZE_MAX, GFP_KERNEL);
	if (!evd->cfg)
		goto err_free_evd;
	evd->cfg_bar = evd->cfg + EPF_VIRTIO_CONFIG_SIZE_MAX;

	evd->setup_mask = bitmap_zalloc(info->nvqs, GFP_KERNEL);
	if (!evd->setup_mask)
		goto err_free_cfg;

	hdr = &evd->header;
	hdr->vendorid = PCI_VENDOR_ID_REDHAT_QUMRANET;
	hdr->deviceid = info->pci_device_id;
	hdr->revid = VIRTIO_PCI_ABI_VERSION;
	hdr->baseclass_code = info->pci_class >> 16;
	hdr->subclass_code = (info->pci_class >> 8) & 0xff;
	hdr->progif_code = info->pci_class & 0xff;
	hdr->subsys_vendor_id = PCI_SUBVENDOR_ID_REDHAT_QUMRANET;
	hdr->subsys_id = info->virtio_id;
	hdr->interrupt_pin = PCI_INTERRUPT_INTA;

	if (!epf->msix_interrupts)
		epf->msix_interrupts = min(info->nvqs + 1,
					   EPF_VIRTIO_MSIX_MAX);

	epf->header = hdr;
	epf->event_ops = &epf_virtio_event_ops;
	epf_set_drvdata(epf, evd);

	return evd;

err_free_cfg:
	kfree(evd->cfg);
err_free_evd:
	kfree(evd);
	return ERR_PTR(-ENOMEM);
}
EXPORT_SYMBOL_GPL(epf_virtio_create);

/**
 * epf_virtio_destroy() - free a device from epf_virtio_create()
 * @evd: the device, unbound
 *
 * Call from the function driver's remove.
 */
void epf_virtio_destroy(struct epf_virtio *evd)
{
	struct pci_epf *epf = evd->epf;

	if (WARN_ON_ONCE(evd->poller || evd->bar))
		epf_virtio_unbind(evd);
	flush_work(&evd->unmap_work);

	epf->event_ops = NULL;
	epf->header = NULL;
	epf_set_drvdata(epf, NULL);

	bitmap_free(evd->setup_mask);
	kfree(evd->cfg);
	kfree(evd);
}
EXPORT_SYMBOL_GPL(epf_virtio_destroy);

/**
 * epf_virtio_from_epf() - the virtio device of an endpoint function
 * @epf: endpoint function given to epf_virtio_create()
 *
 * Return: the device.
 */
struct epf_virtio *epf_virtio_from_epf(struct pci_epf *epf)
{
	return epf_get_drvdata(epf);
}
EXPORT_SYMBOL_GPL(epf_virtio_from_epf);

/**
 * epf_virtio_priv() - device driver data
 * @evd: the device
 *
 * Return: the @priv given to epf_virtio_create().
 */
void *epf_virtio_priv(struct epf_virtio *evd)
{
	return evd->priv;
}
EXPORT_SYMBOL_GPL(epf_virtio_priv);

/**
 * epf_virtio_dev() - device to use for messages
 * @evd: the device
 *
 * Return: the endpoint function's struct device.
 */
struct device *epf_virtio_dev(struct epf_virtio *evd)
{
	return epf_virtio_to_dev(evd);
}
EXPORT_SYMBOL_GPL(epf_virtio_dev);

/**
 * epf_virtio_config_set() - update the device configuration
 * @evd: the device
 * @offset: offset in the configuration space
 * @buf: new bytes, in the layout the host expects
 * @len: number of bytes
 * @notify: raise a configuration change interrupt if the device is active
 *
 * The poll thread writes the change to BAR0 as soon as the host is not in
 * the middle of setting the device up.  May be called before bind to set
 * initial values.
 *
 * Context: any context that may wake up a task.
 */
void epf_virtio_config_set(struct epf_virtio *evd, unsigned int offset,
			   const void *buf, unsigned int len, bool notify)
{
	unsigned long flags;

	if (WARN_ON_ONCE(offset > evd->info->config_size ||
			 len > evd->info->config_size - offset))
		return;

	spin_lock_irqsave(&evd->cfg_lock, flags);
	memcpy(evd->cfg + offset, buf, len);
	evd->cfg_dirty = true;
	evd->cfg_notify |= notify;
	spin_unlock_irqrestore(&evd->cfg_lock, flags);

	epf_virtio_signal(evd, EPF_VIRTIO_EV_CONFIG);
}
EXPORT_SYMBOL_GPL(epf_virtio_config_set);

/**
 * epf_virtio_config_get() - read the device configuration
 * @evd: the device
 * @offset: offset in the configuration space
 * @buf: where to copy the bytes
 * @len: number of bytes
 *
 * Returns the latest value, whether set by the device driver or written by
 * the host.
 *
 * Context: any context.
 */
void epf_virtio_config_get(struct epf_virtio *evd, unsigned int offset,
			   void *buf, unsigned int len)
{
	unsigned long flags;

	if (WARN_ON_ONCE(offset > evd->info->config_size ||
			 len > evd->info->config_size - offset))
		return;

	spin_lock_irqsave(&evd->cfg_lock, flags);
	memcpy(buf, evd->cfg + offset, len);
	spin_unlock_irqrestore(&evd->cfg_lock, flags);
}
EXPORT_SYMBOL_GPL(epf_virtio_config_get);

/**
 * epf_virtio_has_feature() - whether the host accepted a feature
 * @evd: the device
 * @bit: feature bit number
 *
 * Valid from the activate callback until the reset callback.
 *
 * Return: true if the feature was negotiated.
 */
bool epf_virtio_has_feature(struct epf_virtio *evd, unsigned int bit)
{
	return bit < 32 && (evd->drv_features & BIT(bit));
}
EXPORT_SYMBOL_GPL(epf_virtio_has_feature);

static int __init epf_virtio_init(void)
{
	epf_virtio_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	return 0;
}
module_init(epf_virtio_init);

static void __exit epf_virtio_exit(void)
{
	epf_virtio_stop_pollers();
	debugfs_remove(epf_virtio_debugfs_root);
}
module_exit(epf_virtio_exit);

MODULE_DESCRIPTION("Virtio devices behind a PCIe endpoint function");
MODULE_LICENSE("GPL");
