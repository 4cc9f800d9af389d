// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: outbound mappings and the
 * byte mover (host memory through the controller's outbound windows), and
 * the device drivers' pull and push.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "internal.h"

/* ------------------------------------------------------------------------
 * Outbound mappings and the byte mover
 */

/*
 * Undoing a mapping frees kernel virtual space, which sooner or later
 * means a TLB flush on every CPU.  With a loopback controller some of
 * those CPUs may be host CPUs waiting with interrupts off for this very
 * device, so the poll thread hands mappings over to a work item instead of
 * waiting for that itself.  It costs nothing on real hardware.
 */
void epf_virtio_unmap_work(struct work_struct *work)
{
	struct epf_virtio *evd = container_of(work, struct epf_virtio,
					      unmap_work);
	struct pci_epf *epf = evd->epf;
	struct epf_virtio_stale_map *stale;
	unsigned long flags;

	for (;;) {
		spin_lock_irqsave(&evd->stale_lock, flags);
		stale = list_first_entry_or_null(&evd->stale_maps,
						 struct epf_virtio_stale_map,
						 node);
		if (stale)
			list_del(&stale->node);
		spin_unlock_irqrestore(&evd->stale_lock, flags);
		if (!stale)
			return;

		pci_epc_mem_unmap(epf->epc, epf->func_no, epf->vfunc_no,
				  &stale->map);
		kfree(stale);

		spin_lock_irqsave(&evd->stale_lock, flags);
		evd->stale_n--;
		spin_unlock_irqrestore(&evd->stale_lock, flags);
	}
}

/* Windows of this function still on their way back to the controller */
bool epf_virtio_unmaps_pending(struct epf_virtio *evd)
{
	unsigned long flags;
	bool pending;

	spin_lock_irqsave(&evd->stale_lock, flags);
	pending = evd->stale_n;
	spin_unlock_irqrestore(&evd->stale_lock, flags);

	return pending;
}

void epf_virtio_unmap(struct epf_virtio *evd, struct pci_epc_map *map)
{
	struct pci_epf *epf = evd->epf;
	struct epf_virtio_stale_map *stale;
	unsigned long flags;

	stale = kmalloc_obj(*stale);
	if (!stale) {
		pci_epc_mem_unmap(epf->epc, epf->func_no, epf->vfunc_no, map);
		return;
	}

	stale->map = *map;
	spin_lock_irqsave(&evd->stale_lock, flags);
	list_add_tail(&stale->node, &evd->stale_maps);
	evd->stale_n++;
	spin_unlock_irqrestore(&evd->stale_lock, flags);

	queue_work(system_dfl_wq, &evd->unmap_work);
}

/* Map host memory at @pci_addr for data; returns how much is reachable */
static void __iomem *epf_virtio_data_map(struct epf_virtio *evd,
					 u64 pci_addr, size_t len,
					 size_t *avail)
{
	struct pci_epf *epf = evd->epf;
	struct pci_epc_map *m = &evd->dmap;
	struct pci_epc_map map;
	u64 start, end;
	int ret;

	/* The whole mapped range counts, not only what was asked for */
	if (!evd->dmap_valid || pci_addr < m->map_pci_addr ||
	    pci_addr - m->map_pci_addr >= m->map_size) {
		start = ALIGN_DOWN(pci_addr, EPF_VIRTIO_DATA_WINDOW);
		end = ALIGN(pci_addr + len, EPF_VIRTIO_DATA_WINDOW);
		if (end <= pci_addr)
			end = pci_addr + len;

		ret = pci_epc_mem_map(epf->epc, epf->func_no, epf->vfunc_no,
				      start, end - start, &map);
		if (ret) {
			/* Windows may be short: try just what is needed */
			start = pci_addr;
			ret = pci_epc_mem_map(epf->epc, epf->func_no,
					      epf->vfunc_no, start, len, &map);
		}
		if (ret) {
			/* Give our window back: the caller retries later */
			if (evd->dmap_valid) {
				epf_virtio_unmap(evd, m);
				evd->dmap_valid = false;
			}
			return IOMEM_ERR_PTR(ret);
		}

		if (evd->dmap_valid)
			epf_virtio_unmap(evd, m);
		*m = map;
		evd->dmap_valid = true;

		if (pci_addr < m->map_pci_addr ||
		    pci_addr - m->map_pci_addr >= m->map_size)
			return IOMEM_ERR_PTR(-EIO);
	}

	*avail = m->map_size - (pci_addr - m->map_pci_addr);

	return m->virt_base + (pci_addr - m->map_pci_addr);
}

static int epf_virtio_mmio_xfer(struct epf_virtio *evd, u64 pci_addr,
				void *buf, size_t len, bool to_host,
				struct epf_virtio_cost *cost)
{
	void __iomem *va;
	size_t part;

	while (len) {
		va = epf_virtio_data_map(evd, pci_addr, len, &part);
		if (IS_ERR((__force void *)va))
			return PTR_ERR((__force void *)va);

		/* A window may cover less than asked for: copy what it has */
		part = min(part, len);
		if (to_host) {
			memcpy_toio(va, buf, part);
			cost->data_wr += epf_virtio_io_accesses(va, part);
			cost->data_wr_bytes += part;
		} else {
			memcpy_fromio(buf, va, part);
			cost->data_rd += epf_virtio_io_accesses(va, part);
			cost->data_rd_bytes += part;
		}

		pci_addr += part;
		buf += part;
		len -= part;
	}

	return 0;
}

/* The data window is taken at activation, over the first ring */
static int epf_virtio_mmio_reserve(struct epf_virtio *evd, u64 pci_addr)
{
	void __iomem *va;
	size_t avail;

	va = epf_virtio_data_map(evd, pci_addr, 1, &avail);

	return IS_ERR((__force void *)va) ? PTR_ERR((__force void *)va) : 0;
}

static void epf_virtio_mmio_release(struct epf_virtio *evd)
{
	if (!evd->dmap_valid)
		return;

	epf_virtio_unmap(evd, &evd->dmap);
	evd->dmap_valid = false;
}

const struct epf_virtio_xfer_ops epf_virtio_mmio_ops = {
	.name = "MMIO",
	.xfer = epf_virtio_mmio_xfer,
	.reserve = epf_virtio_mmio_reserve,
	.release = epf_virtio_mmio_release,
};

/* ------------------------------------------------------------------------
 * DMA byte mover: the controller's own channels, for buffer data at least
 * dma_threshold bytes long; MMIO for the rest.  epf_virtio_pull() and
 * epf_virtio_push() wait for their transfer (the poll thread sleeps while
 * the engine copies); the _async variants leave it in flight, and the
 * chain's used entry waits for it (ring.c).
 */

struct epf_virtio_dma_filter {
	struct device *dev;
	u32 dir;
};

/* A private slave channel of the controller, in one direction */
static bool epf_virtio_dma_filter(struct dma_chan *chan, void *arg)
{
	struct epf_virtio_dma_filter *f = arg;
	struct dma_slave_caps caps = {};

	return chan->device->dev == f->dev &&
	       !dma_get_slave_caps(chan, &caps) && (caps.directions & f->dir);
}

static struct dma_chan *epf_virtio_dma_chan(struct epf_virtio *evd, u32 dir)
{
	struct epf_virtio_dma_filter f = {
		.dev = evd->epf->epc->dev.parent,
		.dir = dir,
	};
	dma_cap_mask_t mask;

	dma_cap_zero(mask);
	dma_cap_set(DMA_SLAVE, mask);
	return dma_request_channel(mask, epf_virtio_dma_filter, &f);
}

/*
 * A third channel from the host, for ring state, if the controller has one
 * free, and where it copies to; without it rings are read by the CPU.  Not
 * taken unless asked for (dma_rings): other functions on the controller
 * may need the channel for their data.
 */
static void epf_virtio_dma_ring_get(struct epf_virtio *evd)
{
	size_t size = evd->queue_size * sizeof(struct vring_desc) +
		      offsetof(struct vring_avail, ring) +
		      evd->queue_size * sizeof(__virtio16);

	evd->dma_ring = epf_virtio_dma_chan(evd, BIT(DMA_DEV_TO_MEM));
	if (!evd->dma_ring) {
		dev_info(&evd->epf->dev, "No third DMA channel free: rings read by CPU\n");
		return;
	}

	evd->ring_stage = dma_alloc_coherent(dmaengine_get_dma_device(evd->dma_ring),
					     size, &evd->ring_stage_dma,
					     GFP_KERNEL);
	if (!evd->ring_stage) {
		dma_release_channel(evd->dma_ring);
		evd->dma_ring = NULL;
		return;
	}
	evd->ring_stage_size = size;
}

static void epf_virtio_dma_ring_put(struct epf_virtio *evd)
{
	if (!evd->dma_ring)
		return;

	dma_free_coherent(dmaengine_get_dma_device(evd->dma_ring),
			  evd->ring_stage_size, evd->ring_stage,
			  evd->ring_stage_dma);
	dma_release_channel(evd->dma_ring);
	evd->dma_ring = NULL;
	evd->ring_stage = NULL;
}

/**
 * epf_virtio_dma_get() - take the controller's DMA channels
 * @evd: the device, bound (its queue size set)
 *
 * One channel from the host and one to it, as eDMA users take them, and
 * with dma_rings a third one from the host for ring state if there is one
 * free.
 *
 * Context: process context, from bind.
 * Return: true if the first two were found (else none is held).
 */
bool epf_virtio_dma_get(struct epf_virtio *evd)
{
	evd->dma_rx = epf_virtio_dma_chan(evd, BIT(DMA_DEV_TO_MEM));
	if (!evd->dma_rx)
		return false;

	evd->dma_tx = epf_virtio_dma_chan(evd, BIT(DMA_MEM_TO_DEV));
	if (!evd->dma_tx) {
		dma_release_channel(evd->dma_rx);
		evd->dma_rx = NULL;
		return false;
	}

	init_completion(&evd->dma_done);
	if (evd->dma_rings)
		epf_virtio_dma_ring_get(evd);
	return true;
}

/**
 * epf_virtio_dma_put() - give the channels of epf_virtio_dma_get() back
 * @evd: the device, no longer polled
 *
 * Context: process context, from unbind.
 */
void epf_virtio_dma_put(struct epf_virtio *evd)
{
	epf_virtio_dma_ring_put(evd);
	if (evd->dma_tx)
		dma_release_channel(evd->dma_tx);
	if (evd->dma_rx)
		dma_release_channel(evd->dma_rx);
	evd->dma_tx = NULL;
	evd->dma_rx = NULL;
}

static void epf_virtio_dma_callback(void *arg)
{
	complete(arg);
}

/*
 * One DMA transfer of @len bytes at @addr (mapped), waited for.  Returns
 * -EAGAIN if it could not be started (nothing moved), -ESHUTDOWN if the
 * host reset the device meanwhile, another negative error code if it
 * failed or did not end in time (in both cases terminated: nothing of it
 * moves any more), or 0.
 */
static int epf_virtio_dma_run(struct epf_virtio *evd, struct dma_chan *chan,
			      u64 pci_addr, dma_addr_t addr, size_t len,
			      bool to_host)
{
	enum dma_transfer_direction dir = to_host ? DMA_MEM_TO_DEV :
						    DMA_DEV_TO_MEM;
	struct dma_async_tx_descriptor *desc;
	struct dma_slave_config cfg = {
		.direction = dir,
	};
	unsigned long until;
	dma_cookie_t cookie;
	int ret = 0;

	if (to_host)
		cfg.dst_addr = pci_addr;
	else
		cfg.src_addr = pci_addr;
	if (dmaengine_slave_config(chan, &cfg))
		return -EAGAIN;

	desc = dmaengine_prep_slave_single(chan, addr, len, dir,
					   DMA_CTRL_ACK | DMA_PREP_INTERRUPT);
	if (!desc)
		return -EAGAIN;

	reinit_completion(&evd->dma_done);
	desc->callback = epf_virtio_dma_callback;
	desc->callback_param = &evd->dma_done;
	cookie = dmaengine_submit(desc);
	if (dma_submit_error(cookie))
		return -EAGAIN;
	dma_async_issue_pending(chan);

	/*
	 * A tick at a time: if the host resets the device meanwhile, the
	 * transfer ends before it reaches memory the host freed (the fence
	 * terminated it)
	 */
	until = jiffies + msecs_to_jiffies(EPF_VIRTIO_DMA_TIMEOUT_MS);
	while (!wait_for_completion_timeout(&evd->dma_done, 1)) {
		if (epf_virtio_fence(evd)) {
			/* Ended there already; said again for this channel */
			dmaengine_terminate_sync(chan);
			return -ESHUTDOWN;
		}
		if (time_after(jiffies, until)) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (!ret && dmaengine_tx_status(chan, cookie, NULL) != DMA_COMPLETE)
		ret = -EIO;

	/* Nothing more of it may reach host memory after this */
	if (ret)
		dmaengine_terminate_sync(chan);
	return ret;
}

static int epf_virtio_dma_xfer(struct epf_virtio *evd, u64 pci_addr,
			       void *buf, size_t len, bool to_host,
			       struct epf_virtio_cost *cost)
{
	struct dma_chan *chan = to_host ? evd->dma_tx : evd->dma_rx;
	struct device *dma_dev = dmaengine_get_dma_device(chan);
	enum dma_data_direction dir = to_host ? DMA_TO_DEVICE :
						DMA_FROM_DEVICE;
	dma_addr_t addr;
	int ret;

	/* Short ones, and buffers outside the linear map, by MMIO */
	if (len < evd->dma_threshold || !virt_addr_valid(buf) ||
	    !virt_addr_valid(buf + len - 1))
		return epf_virtio_mmio_xfer(evd, pci_addr, buf, len, to_host,
					    cost);

	addr = dma_map_single(dma_dev, buf, len, dir);
	if (dma_mapping_error(dma_dev, addr))
		return epf_virtio_mmio_xfer(evd, pci_addr, buf, len, to_host,
					    cost);

	ret = epf_virtio_dma_run(evd, chan, pci_addr, addr, len, to_host);
	dma_unmap_single(dma_dev, addr, len, dir);
	if (!ret) {
		cost->dma++;
		cost->dma_bytes += len;
		return 0;
	}
	/* The engine could not take it (out of descriptors): nothing moved */
	if (ret == -EAGAIN)
		return epf_virtio_mmio_xfer(evd, pci_addr, buf, len, to_host,
					    cost);
	/* The host reset the device: the chain goes with the reset */
	if (ret == -ESHUTDOWN)
		return ret;

	/* The buffer may be half written: the device stops */
	dev_err_ratelimited(epf_virtio_to_dev(evd),
			    "DMA transfer of %zu bytes %s host address %#llx failed (err=%d): resetting the device\n",
			    len, to_host ? "to" : "from", pci_addr, ret);
	evd->want_reset = true;
	return -EIO;
}

/* A transfer of a chain in flight ended: count it down, wake the thread */
static void epf_virtio_dma_landed(void *arg,
				  const struct dmaengine_result *res)
{
	struct epf_virtio_flight *fl = arg;
	struct epf_virtio *evd = fl->vq->evd;

	if (res && res->result != DMA_TRANS_NOERROR)
		WRITE_ONCE(fl->err, -EIO);
	/*
	 * The error before the count the poll thread looks at; once the count
	 * is down the entry may be reused, so @fl is not touched again.
	 */
	smp_mb__before_atomic();
	atomic_dec(&fl->copies);
	epf_virtio_signal(evd, EPF_VIRTIO_EV_WAKE);
}

/*
 * Start a DMA transfer of @len bytes between @data and host address
 * @pci_addr for the chain in @buf, and leave it in flight: the chain's
 * used entry waits for it.  Short ones too if @any_len.  Returns 0 once it
 * is submitted, or -EAGAIN if it cannot go that way (MMIO, short, a buffer
 * outside the linear map, no room or descriptor for it): the caller then
 * moves the bytes itself.
 */
static int epf_virtio_dma_submit(struct epf_virtio *evd,
				 struct epf_virtio_buf *buf, u64 pci_addr,
				 void *data, size_t len, bool to_host,
				 bool any_len)
{
	enum dma_transfer_direction dir = to_host ? DMA_MEM_TO_DEV :
						    DMA_DEV_TO_MEM;
	enum dma_data_direction ddir = to_host ? DMA_TO_DEVICE :
						 DMA_FROM_DEVICE;
	struct dma_chan *chan = to_host ? evd->dma_tx : evd->dma_rx;
	struct dma_slave_config cfg = {
		.direction = dir,
	};
	struct dma_async_tx_descriptor *desc;
	struct epf_virtio_queue *vq = buf->vq;
	struct epf_virtio_flight_map *m;
	struct epf_virtio_flight *fl;
	struct device *dma_dev;
	dma_addr_t addr;
	u32 idx;

	if (evd->xfer != &epf_virtio_dma_ops ||
	    (!any_len && !epf_virtio_dma_wants(evd, len)) ||
	    len > U32_MAX || !virt_addr_valid(data) ||
	    !virt_addr_valid(data + len - 1))
		return -EAGAIN;

	/* Every entry is some chain's: this copy will be waited for */
	idx = vq->map_free;
	if (idx == EPF_VIRTIO_MAP_NONE) {
		vq->cost.map_short++;
		return -EAGAIN;
	}

	fl = buf->flight;
	if (!fl) {
		fl = epf_virtio_flight_new(vq, buf);
		if (!fl)
			return -EAGAIN;
		buf->flight = fl;
	}

	dma_dev = dmaengine_get_dma_device(chan);
	addr = dma_map_single(dma_dev, data, len, ddir);
	if (dma_mapping_error(dma_dev, addr))
		return -EAGAIN;

	if (to_host)
		cfg.dst_addr = pci_addr;
	else
		cfg.src_addr = pci_addr;
	if (dmaengine_slave_config(chan, &cfg))
		goto err_unmap;
	desc = dmaengine_prep_slave_single(chan, addr, len, dir,
					   DMA_CTRL_ACK | DMA_PREP_INTERRUPT);
	if (!desc)
		goto err_unmap;
	desc->callback_result = epf_virtio_dma_landed;
	desc->callback_param = fl;

	atomic_inc(&fl->copies);
	if (dma_submit_error(dmaengine_submit(desc))) {
		atomic_dec(&fl->copies);
		goto err_unmap;
	}

	/* The entry goes from the queue's free ones to the chain's */
	m = &vq->maps[idx];
	vq->map_free = m->next;
	m->addr = addr;
	m->len = len;
	m->to_host = to_host;
	m->next = fl->maps;
	fl->maps = idx;
	dma_async_issue_pending(chan);

	return 0;

err_unmap:
	dma_unmap_single(dma_dev, addr, len, ddir);
	return -EAGAIN;
}

/**
 * epf_virtio_flight_unmap() - undo the buffer mappings of a chain's transfers
 * @evd: the device
 * @fl: the chain's entry, none of its transfers in flight any more
 *
 * The mapping entries go back to the queue's free ones.
 *
 * Context: the poll thread, or wherever the device is reset.
 */
void epf_virtio_flight_unmap(struct epf_virtio *evd,
			     struct epf_virtio_flight *fl)
{
	struct epf_virtio_queue *vq = fl->vq;

	while (fl->maps != EPF_VIRTIO_MAP_NONE) {
		u32 idx = fl->maps;
		struct epf_virtio_flight_map *m = &vq->maps[idx];
		struct dma_chan *chan = m->to_host ? evd->dma_tx : evd->dma_rx;

		dma_unmap_single(dmaengine_get_dma_device(chan), m->addr,
				 m->len, m->to_host ? DMA_TO_DEVICE :
						      DMA_FROM_DEVICE);
		/* Back to the queue's free entries */
		fl->maps = m->next;
		m->next = vq->map_free;
		vq->map_free = idx;
	}
}

/**
 * epf_virtio_dma_stop() - end every transfer of the device's channels
 * @evd: the device, being reset or fenced (epf_virtio_fence()) by the
 *	poll thread, or no longer polled
 *
 * What has not started never does, what runs ends, and no callback of
 * them runs any more once this returns: nothing of them reaches host
 * memory afterwards.
 *
 * Context: process context (sleeps).
 */
void epf_virtio_dma_stop(struct epf_virtio *evd)
{
	if (evd->dma_ring)
		dmaengine_terminate_sync(evd->dma_ring);
	if (evd->dma_rx)
		dmaengine_terminate_sync(evd->dma_rx);
	if (evd->dma_tx)
		dmaengine_terminate_sync(evd->dma_tx);
}

/**
 * epf_virtio_dma_read_ring() - read the start of a host ring by DMA
 * @vq: the queue, live
 * @len: bytes from the ring's start (its descriptor table first), at most
 *	epf_virtio::ring_stage_size
 *
 * Into epf_virtio::ring_stage, waited for.
 *
 * Context: the poll thread.
 * Return: 0, -EAGAIN if the channel could not take it (the caller reads
 * by CPU), -ESHUTDOWN if the host reset the device meanwhile (see
 * epf_virtio_fence()), or another negative error code if it failed (the
 * device must stop: the channel was terminated).
 */
int epf_virtio_dma_read_ring(struct epf_virtio_queue *vq, size_t len)
{
	struct epf_virtio *evd = vq->evd;
	u64 pci_addr = (u64)vq->pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
	int ret;

	if (!evd->dma_ring || len > evd->ring_stage_size)
		return -EAGAIN;

	ret = epf_virtio_dma_run(evd, evd->dma_ring, pci_addr,
				 evd->ring_stage_dma, len, false);
	if (ret == -EAGAIN || ret == -ESHUTDOWN)
		return ret;
	if (ret) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Queue %u: DMA read of the ring at %#llx failed (err=%d): resetting the device\n",
				    vq->index, pci_addr, ret);
		evd->want_reset = true;
		return ret;
	}

	vq->cost.ring_dma++;
	vq->cost.ring_dma_bytes += len;
	return 0;
}

const struct epf_virtio_xfer_ops epf_virtio_dma_ops = {
	.name = "DMA",
	.xfer = epf_virtio_dma_xfer,
	.reserve = epf_virtio_mmio_reserve,
	.release = epf_virtio_mmio_release,
};

static int epf_virtio_xfer(struct epf_virtio *evd, u64 pci_addr, void *buf,
			   size_t len, bool to_host, struct epf_virtio_cost *cost)
{
	int ret;

	ret = evd->xfer->xfer(evd, pci_addr, buf, len, to_host, cost);
	if (!ret) {
		evd->xfer_failing = false;
		return 0;
	}
	/* The host reset the device: not a buffer out of reach */
	if (ret == -ESHUTDOWN)
		return ret;

	/*
	 * Out of windows is temporary, an address no window can reach is not,
	 * and both look the same: retry for a while, then give up.
	 */
	if (!evd->xfer_failing) {
		evd->xfer_failing = true;
		evd->xfer_fail_since = jiffies;
	} else if (time_after(jiffies, evd->xfer_fail_since +
			      msecs_to_jiffies(EPF_VIRTIO_XFER_TIMEOUT_MS))) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Host buffer %#llx+%zu unreachable for %u ms (err=%d%s)\n",
				    pci_addr, len, EPF_VIRTIO_XFER_TIMEOUT_MS,
				    ret, ret == -ENOMEM ?
				    ": no outbound window free" : "");
		evd->want_reset = true;
	}

	return ret;
}

/*
 * A chain's copies from the host into endpoint memory are in flight, and
 * the CPU is about to write next to them: on an endpoint whose caches are
 * not coherent with its DMA, a cache line shared with a copy would undo
 * the copy's bytes when the copy is unmapped.  Wait for the copies.
 */
static int epf_virtio_flight_wait(struct epf_virtio *evd,
				  struct epf_virtio_flight *fl)
{
	unsigned long until = jiffies +
			      msecs_to_jiffies(EPF_VIRTIO_DMA_TIMEOUT_MS);

	while (atomic_read_acquire(&fl->copies)) {
		/* Its copies were ended, and the chain goes with the reset */
		if (epf_virtio_fence(evd))
			return -ESHUTDOWN;
		if (time_after(jiffies, until)) {
			dev_err_ratelimited(epf_virtio_to_dev(evd),
					    "DMA transfers not done in %u ms: resetting the device\n",
					    EPF_VIRTIO_DMA_TIMEOUT_MS);
			evd->want_reset = true;
			return -ETIMEDOUT;
		}
		usleep_range(10, 50);
	}

	return 0;
}

static ssize_t epf_virtio_copy(struct epf_virtio *evd,
			       struct epf_virtio_buf *buf, void *data,
			       size_t len, bool to_host, bool async)
{
	struct vringh_kiov *iov = to_host ? &buf->wiov : &buf->riov;
	size_t done = 0;
	bool in_flight;
	int ret;

	/* Only chains from epf_virtio_getdesc(), not yet completed */
	if (WARN_ON_ONCE(!buf->vq)) {
		evd->want_reset = true;
		return -EINVAL;
	}

	while (len && iov->i < iov->used) {
		struct kvec *seg = &iov->iov[iov->i];
		size_t part = min(seg->iov_len, len);

		/* Not into a buffer the host may have freed */
		if (epf_virtio_fence(evd))
			return done ? done : -ESHUTDOWN;

		if (!part) {
			/* Empty descriptor: step over it */
			iov->i++;
			iov->consumed = 0;
			continue;
		}

		/*
		 * Into endpoint memory, once one copy of the chain went by
		 * DMA the rest go that way too, whatever their length, or
		 * wait for it (epf_virtio_flight_wait())
		 */
		in_flight = !to_host && buf->flight &&
			    buf->flight->maps != EPF_VIRTIO_MAP_NONE;
		ret = -EAGAIN;
		if (async)
			ret = epf_virtio_dma_submit(evd, buf,
						    (u64)(uintptr_t)seg->iov_base,
						    data, part, to_host,
						    in_flight);
		if (ret && in_flight) {
			ret = epf_virtio_flight_wait(evd, buf->flight);
			if (ret)
				return done ? done : ret;
			/*
			 * Every copy of the chain landed: its mapping entries
			 * are free for the rest of it (the queue's were all
			 * in use)
			 */
			epf_virtio_flight_unmap(evd, buf->flight);
			ret = -EAGAIN;
			if (async)
				ret = epf_virtio_dma_submit(evd, buf,
							    (u64)(uintptr_t)seg->iov_base,
							    data, part, to_host,
							    false);
		}
		if (!ret) {
			buf->vq->cost.dma++;
			buf->vq->cost.dma_async++;
			buf->vq->cost.dma_bytes += part;
			evd->xfer_failing = false;
		} else {
			ret = epf_virtio_xfer(evd,
					      (u64)(uintptr_t)seg->iov_base,
					      data, part, to_host,
					      &buf->vq->cost);
		}
		if (ret)
			return done ? done : ret;

		vringh_kiov_advance(iov, part);
		data += part;
		len -= part;
		done += part;
	}

	return done;
}

/**
 * epf_virtio_pull() - copy data from the host out of a buffer chain
 * @evd: the device
 * @buf: chain from epf_virtio_getdesc()
 * @dst: endpoint buffer
 * @len: most bytes to copy
 *
 * Consumes the device-readable segments of @buf.
 *
 * Context: the device driver's process callback.
 * Return: number of bytes copied (0 when the readable part is used up), or a
 * negative error code if nothing could be copied (a host buffer that cannot
 * be reached now: try again later; it stays failed for long, the device is
 * reset).  -ESHUTDOWN: the host reset the device, the chain goes with the
 * reset (epf_virtio_fence()).
 */
ssize_t epf_virtio_pull(struct epf_virtio *evd, struct epf_virtio_buf *buf,
			void *dst, size_t len)
{
	return epf_virtio_copy(evd, buf, dst, len, false, false);
}
EXPORT_SYMBOL_GPL(epf_virtio_pull);

/**
 * epf_virtio_push() - copy data to the host into a buffer chain
 * @evd: the device
 * @buf: chain from epf_virtio_getdesc()
 * @src: endpoint data
 * @len: most bytes to copy
 *
 * Fills the device-writable segments of @buf.
 *
 * Context: the device driver's process callback.
 * Return: number of bytes copied (0 when the writable part is full), or a
 * negative error code as for epf_virtio_pull().
 */
ssize_t epf_virtio_push(struct epf_virtio *evd, struct epf_virtio_buf *buf,
			const void *src, size_t len)
{
	return epf_virtio_copy(evd, buf, (void *)src, len, true, false);
}
EXPORT_SYMBOL_GPL(epf_virtio_push);

/**
 * epf_virtio_dma_wants() - whether a copy would go by DMA
 * @evd: the device, bound
 * @len: length of the copy, in one piece of endpoint memory
 *
 * For a device driver choosing between a buffer that can stay as it is
 * while a copy is in flight and one that cannot (a bounce buffer).
 *
 * Return: true if the device moves buffer data by DMA and @len reaches its
 * threshold.
 */
bool epf_virtio_dma_wants(struct epf_virtio *evd, size_t len)
{
	return evd->xfer == &epf_virtio_dma_ops && len >= evd->dma_threshold;
}
EXPORT_SYMBOL_GPL(epf_virtio_dma_wants);

/**
 * epf_virtio_pull_async() - start copying data from the host out of a chain
 * @evd: the device
 * @buf: chain from epf_virtio_getdesc()
 * @dst: endpoint buffer, in the linear map for DMA to reach it
 * @len: most bytes to copy
 *
 * As epf_virtio_pull(), but the copy may still be in flight on return:
 * @dst holds the data, and may be touched again, only once the chain's
 * done callback (epf_virtio_complete_async()) ran without an error.
 * Copies that cannot go by DMA are done before this returns.
 *
 * Context: the device driver's process callback.
 * Return: as for epf_virtio_pull().
 */
ssize_t epf_virtio_pull_async(struct epf_virtio *evd,
			      struct epf_virtio_buf *buf, void *dst, size_t len)
{
	return epf_virtio_copy(evd, buf, dst, len, false, true);
}
EXPORT_SYMBOL_GPL(epf_virtio_pull_async);

/**
 * epf_virtio_push_async() - start copying data to the host into a chain
 * @evd: the device
 * @buf: chain from epf_virtio_getdesc()
 * @src: endpoint data, in the linear map for DMA to reach it
 * @len: most bytes to copy
 *
 * As epf_virtio_push(), but the copy may still be in flight on return:
 * @src must stay as it is until the chain's done callback
 * (epf_virtio_complete_async()) ran.
 *
 * Context: the device driver's process callback.
 * Return: as for epf_virtio_push().
 */
ssize_t epf_virtio_push_async(struct epf_virtio *evd,
			      struct epf_virtio_buf *buf, const void *src,
			      size_t len)
{
	return epf_virtio_copy(evd, buf, (void *)src, len, true, true);
}
EXPORT_SYMBOL_GPL(epf_virtio_push_async);
