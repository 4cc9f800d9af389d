// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: the host's rings.  Each
 * is mapped, mirrored into a checked shadow that vringh runs on, and its
 * used entries published back; and the chain API of the device drivers.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "internal.h"

/* ------------------------------------------------------------------------
 * Host rings
 */

void epf_virtio_unmap_queue(struct epf_virtio_queue *vq)
{
	if (!vq->live)
		return;

	epf_virtio_unmap(vq->evd, &vq->map);
	vq->live = false;
	vq->h_desc = NULL;
	vq->h_avail = NULL;
	vq->h_used = NULL;
}

int epf_virtio_map_queue(struct epf_virtio_queue *vq)
{
	struct epf_virtio *evd = vq->evd;
	struct pci_epf *epf = evd->epf;
	unsigned int num = evd->queue_size;
	u64 addr = (u64)vq->pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
	size_t size = vring_size(num, VIRTIO_PCI_VRING_ALIGN);
	size_t used_off;
	int ret;

	ret = pci_epc_mem_map(epf->epc, epf->func_no, epf->vfunc_no, addr,
			      size, &vq->map);
	/* Out of windows: the caller says so, if it lasts */
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Failed to map ring of queue %u at %#llx (err=%d)\n",
				    vq->index, addr, ret);
		return ret;
	}

	/* vringh needs the ring whole: no room to juggle windows per access */
	if (vq->map.pci_size < size) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Ring of queue %u at %#llx: one window maps %zu of its %zu bytes\n",
				    vq->index, addr, vq->map.pci_size, size);
		epf_virtio_unmap(evd, &vq->map);
		return -ENOSPC;
	}

	/* Legacy layout: descriptors, avail ring, used ring on a 4 KiB page */
	used_off = ALIGN(num * sizeof(struct vring_desc) +
			 offsetof(struct vring_avail, ring) +
			 (num + 1) * sizeof(__virtio16), VIRTIO_PCI_VRING_ALIGN);
	vq->h_desc = vq->map.virt_addr;
	vq->h_avail = vq->map.virt_addr + num * sizeof(struct vring_desc);
	vq->h_used = vq->map.virt_addr + used_off;

	memset(vq->shadow, 0, vq->shadow_size);
	bitmap_zero(vq->pending, num);
	vring_init(&vq->sring, num, vq->shadow, SMP_CACHE_BYTES);
	ret = vringh_init_kern(&vq->vrh, evd->drv_features, num, true,
			       vq->sring.desc, vq->sring.avail,
			       vq->sring.used);
	if (ret) {
		epf_virtio_unmap(evd, &vq->map);
		return ret;
	}

	vq->avail_idx = 0;
	vq->used_idx = 0;
	vq->grp_n = 0;
	vq->grp_broken = false;
	vq->completed = false;
	vq->irq_owed = false;
	vq->live = true;

	return 0;
}

static inline void __iomem *epf_virtio_h_desc(struct epf_virtio_queue *vq,
					      unsigned int i)
{
	return vq->h_desc + i * sizeof(struct vring_desc);
}

/* Accesses to the host's ring, each counted (struct epf_virtio_cost) */
static u16 epf_virtio_ring_rd16(struct epf_virtio_queue *vq,
				const void __iomem *p)
{
	vq->cost.ring_rd++;
	vq->cost.ring_rd_bytes += sizeof(u16);
	return readw(p);
}

/* A descriptor as a (little-endian) host writes it */
struct epf_virtio_le_desc {
	__le64 addr;
	__le32 len;
	__le16 flags;
	__le16 next;
};

/*
 * A whole descriptor in one copy: two 8-byte reads on arm64, where field
 * by field takes five round trips across the link
 */
static void epf_virtio_ring_rd_desc(struct epf_virtio_queue *vq,
				    struct epf_virtio_le_desc *to,
				    const void __iomem *from)
{
	vq->cost.ring_rd += epf_virtio_io_accesses(from, sizeof(*to));
	vq->cost.ring_rd_bytes += sizeof(*to);
	memcpy_fromio(to, from, sizeof(*to));
}

static void epf_virtio_ring_wr16(struct epf_virtio_queue *vq, u16 v,
				 void __iomem *p)
{
	vq->cost.ring_wr++;
	vq->cost.ring_wr_bytes += sizeof(u16);
	writew(v, p);
}

static void epf_virtio_ring_wr32(struct epf_virtio_queue *vq, u32 v,
				 void __iomem *p)
{
	vq->cost.ring_wr++;
	vq->cost.ring_wr_bytes += sizeof(u32);
	writel(v, p);
}

/*
 * Mirror what vringh reads to decide on interrupts: with event indices
 * (VIRTIO_RING_F_EVENT_IDX) the host's used_event, the used index it wants
 * an interrupt after, else its avail flags (VRING_AVAIL_F_NO_INTERRUPT)
 */
static void epf_virtio_mirror_avail_flags(struct epf_virtio_queue *vq)
{
	struct vringh *vrh = &vq->vrh;
	unsigned int num = vq->sring.num;
	u16 v;

	if (vrh->event_indices) {
		v = epf_virtio_ring_rd16(vq, vq->h_avail +
					 offsetof(struct vring_avail, ring) +
					 num * sizeof(__virtio16));
		WRITE_ONCE(vring_used_event(&vq->sring),
			   cpu_to_vringh16(vrh, v));
		return;
	}

	v = epf_virtio_ring_rd16(vq, vq->h_avail +
				 offsetof(struct vring_avail, flags));
	WRITE_ONCE(vq->sring.avail->flags, cpu_to_vringh16(vrh, v));
}

/*
 * Copy the chain starting at @head from the host descriptor table (or its
 * copy at @staged) into the shadow, checking every descriptor on the way.
 */
static int epf_virtio_mirror_chain(struct epf_virtio_queue *vq, u16 head,
				   const struct epf_virtio_le_desc *staged)
{
	struct device *dev = epf_virtio_to_dev(vq->evd);
	unsigned int num = vq->sring.num;
	unsigned int count = 0;
	u64 total = 0;
	u16 i = head;

	if (head >= num) {
		dev_err_ratelimited(dev, "Queue %u: head %u out of a ring of %u\n",
				    vq->index, head, num);
		return -EPROTO;
	}

	for (;;) {
		void __iomem *d = epf_virtio_h_desc(vq, i);
		struct vring_desc *s = &vq->sring.desc[i];
		struct epf_virtio_le_desc hd;
		u64 addr, end;
		u16 flags, next;
		u32 len;

		if (staged)
			hd = staged[i];
		else
			epf_virtio_ring_rd_desc(vq, &hd, d);
		addr = le64_to_cpu(hd.addr);
		len = le32_to_cpu(hd.len);
		flags = le16_to_cpu(hd.flags);
		next = le16_to_cpu(hd.next);

		if (++count > num) {
			dev_err_ratelimited(dev, "Queue %u: descriptor loop from head %u\n",
					    vq->index, head);
			return -ELOOP;
		}
		/*
		 * A descriptor of a chain vringh has not taken yet, or one
		 * met before in this chain: rewriting its shadow would
		 * change a chain already checked.
		 */
		if (__test_and_set_bit(i, vq->pending)) {
			dev_err_ratelimited(dev, "Queue %u: descriptor %u of chain %u is already in a pending chain\n",
					    vq->index, i, head);
			return -ELOOP;
		}
		if (flags & ~(VRING_DESC_F_NEXT | VRING_DESC_F_WRITE)) {
			dev_err_ratelimited(dev, "Queue %u: descriptor %u has flags %#x\n",
					    vq->index, i, flags);
			return -EPROTO;
		}
		total += len;
		if (len > EPF_VIRTIO_MAX_DESC_LEN ||
		    total > EPF_VIRTIO_MAX_CHAIN_LEN) {
			dev_err_ratelimited(dev, "Queue %u: descriptor %u too long (%u, chain %llu)\n",
					    vq->index, i, len, total);
			return -EMSGSIZE;
		}
		end = addr + len - !!len;
		if (end < addr || (u64)(uintptr_t)end != end) {
			dev_err_ratelimited(dev, "Queue %u: descriptor %u at %#llx+%u out of range\n",
					    vq->index, i, addr, len);
			return -EFAULT;
		}

		s->addr = cpu_to_vringh64(&vq->vrh, addr);
		s->len = cpu_to_vringh32(&vq->vrh, len);
		s->flags = cpu_to_vringh16(&vq->vrh, flags);
		s->next = cpu_to_vringh16(&vq->vrh, next);

		if (!(flags & VRING_DESC_F_NEXT))
			return 0;

		if (next >= num) {
			dev_err_ratelimited(dev, "Queue %u: descriptor %u chains to %u\n",
					    vq->index, i, next);
			return -EPROTO;
		}
		i = next;
	}
}

/*
 * vringh took the chain at @head: its shadow descriptors, which no other
 * chain could rewrite while they were pending, may be mirrored over again.
 */
static void epf_virtio_chain_taken(struct epf_virtio_queue *vq, u16 head)
{
	unsigned int num = vq->sring.num;
	unsigned int count;
	u16 i = head;

	for (count = 0; count < num && i < num; count++) {
		const struct vring_desc *s = &vq->sring.desc[i];

		__clear_bit(i, vq->pending);
		if (!(vringh16_to_cpu(&vq->vrh, s->flags) & VRING_DESC_F_NEXT))
			break;
		i = vringh16_to_cpu(&vq->vrh, s->next);
	}
}

/*
 * The host broke the ring at its very first entries, and its avail index
 * has a low byte of 0: most likely a big-endian host, whose legacy driver
 * writes the rings in its own order.  Say so, as only little-endian hosts
 * are supported.
 */
static void epf_virtio_endian_hint(struct epf_virtio_queue *vq, u16 host_idx)
{
	if (vq->vrh.last_avail_idx || (host_idx & 0xff) || !host_idx)
		return;

	dev_err_ratelimited(epf_virtio_to_dev(vq->evd),
			    "Queue %u: avail index %#x, or %u in big-endian order: a big-endian host? Only little-endian hosts are supported\n",
			    vq->index, host_idx, swab16(host_idx));
}

/*
 * With @ahead new chains to mirror, read the host's descriptor table and
 * avail ring in one DMA transfer if that is cheaper than by CPU.  Returns
 * the copy, NULL to read by CPU, or an error pointer if the transfer failed.
 */
static void *epf_virtio_ring_stage(struct epf_virtio_queue *vq, u16 ahead)
{
	unsigned int num = vq->sring.num;
	int ret;

	if (!vq->evd->ring_stage ||
	    ahead < max(EPF_VIRTIO_RING_DMA_MIN, num / EPF_VIRTIO_RING_DMA_PER))
		return NULL;

	ret = epf_virtio_dma_read_ring(vq, num * sizeof(struct vring_desc) +
				       offsetof(struct vring_avail, ring) +
				       num * sizeof(__virtio16));
	if (ret == -EAGAIN)
		return NULL;

	return ret ? ERR_PTR(ret) : vq->evd->ring_stage;
}

/*
 * Mirror what the host made available since the last call into the shadow.
 * Returns 1 if there was something new, 0 if not, or a negative error code
 * if the host broke the ring.
 */
int epf_virtio_mirror_avail(struct epf_virtio_queue *vq)
{
	struct vringh *vrh = &vq->vrh;
	unsigned int num = vq->sring.num;
	const __le16 *s_ring = NULL;
	u16 host_idx, ahead;
	void *stage;
	int ret;

	/* A ring the host reset the device to free: nothing of it is read */
	if (epf_virtio_fence(vq->evd))
		return 0;

	/* A read that finds nothing new is the cost of polling, kept apart */
	host_idx = readw(vq->h_avail + offsetof(struct vring_avail, idx));
	if (host_idx == vq->avail_idx) {
		vq->cost.idle_rd++;
		return 0;
	}
	vq->cost.ring_rd++;
	vq->cost.ring_rd_bytes += sizeof(host_idx);

	/*
	 * At most a ring's worth beyond what vringh has taken, not beyond
	 * what was mirrored: shadow slots between the two are still to be
	 * read, and must not be written again.
	 */
	ahead = host_idx - vq->vrh.last_avail_idx;
	if (ahead > num) {
		dev_err_ratelimited(epf_virtio_to_dev(vq->evd),
				    "Queue %u: avail index %u is %u beyond the %u taken\n",
				    vq->index, host_idx, ahead,
				    vq->vrh.last_avail_idx);
		epf_virtio_endian_hint(vq, host_idx);
		return -EPROTO;
	}

	/* Read the entries only after the index that exposed them */
	rmb();

	stage = epf_virtio_ring_stage(vq, host_idx - vq->avail_idx);
	if (IS_ERR(stage))
		return PTR_ERR(stage) == -ESHUTDOWN ? 0 : PTR_ERR(stage);
	if (stage)
		s_ring = stage + num * sizeof(struct vring_desc) +
			 offsetof(struct vring_avail, ring);

	while (vq->avail_idx != host_idx) {
		unsigned int slot = vq->avail_idx & (num - 1);
		u16 head;

		if (stage)
			head = le16_to_cpu(s_ring[slot]);
		else
			head = epf_virtio_ring_rd16(vq, vq->h_avail +
						    offsetof(struct vring_avail, ring) +
						    slot * sizeof(__virtio16));
		ret = epf_virtio_mirror_chain(vq, head, stage);
		if (ret) {
			epf_virtio_endian_hint(vq, host_idx);
			return ret;
		}

		vq->sring.avail->ring[slot] = cpu_to_vringh16(vrh, head);
		vq->avail_idx++;
	}

	/* Shadow entries before the shadow index, as vringh expects */
	smp_wmb();
	WRITE_ONCE(vq->sring.avail->idx, cpu_to_vringh16(vrh, host_idx));

	return 1;
}

/* Copy the used entries vringh added to the shadow out to the host ring */
static void epf_virtio_publish_used(struct epf_virtio_queue *vq)
{
	struct vringh *vrh = &vq->vrh;
	struct vring_used *su = vq->sring.used;
	unsigned int num = vq->sring.num;
	u16 idx = vringh16_to_cpu(vrh, READ_ONCE(su->idx));

	/* The ring may be freed memory by now */
	if (epf_virtio_fence(vq->evd))
		return;

	while (vq->used_idx != idx) {
		unsigned int slot = vq->used_idx & (num - 1);
		void __iomem *e = vq->h_used + offsetof(struct vring_used, ring) +
				  slot * sizeof(struct vring_used_elem);

		epf_virtio_ring_wr32(vq, vringh32_to_cpu(vrh, su->ring[slot].id),
				     e + offsetof(struct vring_used_elem, id));
		epf_virtio_ring_wr32(vq, vringh32_to_cpu(vrh, su->ring[slot].len),
				     e + offsetof(struct vring_used_elem, len));
		vq->used_idx++;
	}

	/* The host must see the entries before the index that exposes them */
	wmb();
	epf_virtio_ring_wr16(vq, idx,
			     vq->h_used + offsetof(struct vring_used, idx));
}

/* Interrupt the host for the queues that completed buffers, if it wants */
void epf_virtio_notify_queues(struct epf_virtio *evd)
{
	unsigned int i;

	/* Nothing for a host that reset the device, nor from its rings */
	if (evd->fenced)
		return;

	for (i = 0; i < evd->info->nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];
		int ret;

		if (!vq->live || (!vq->completed && !vq->irq_owed))
			continue;

		if (vq->completed) {
			vq->completed = false;
			/* Used index out before reading the host's wishes */
			mb();
			epf_virtio_mirror_avail_flags(vq);
			ret = vringh_need_notify_kern(&vq->vrh);
			if (ret > 0)
				vq->irq_owed = true;
		}

		if (!vq->irq_owed)
			continue;
		if (epf_virtio_raise(evd, vq->vector, EPF_VIRTIO_ISR_QUEUE)) {
			vq->irq_owed = false;
			vq->cost.irqs++;
		} else if (!vq->vrh.event_indices ||
			   (evd->irq_type == PCI_IRQ_MSIX &&
			    (vq->vector == VIRTIO_MSI_NO_VECTOR ||
			     vq->vector >= evd->msix_on))) {
			/*
			 * Asked for again with the next completion; but with
			 * event indices vringh has moved on and would not ask
			 * again: one that failed is owed until it goes (a
			 * queue the host gave no vector, or one the device
			 * does not have, gets none)
			 */
			vq->irq_owed = false;
		}
	}
}

/**
 * epf_virtio_get_queue() - a virtqueue of the device
 * @evd: the device
 * @index: queue index, below the info's nvqs
 *
 * Return: the queue, or NULL if @index is out of range.
 */
struct epf_virtio_queue *epf_virtio_get_queue(struct epf_virtio *evd,
					      unsigned int index)
{
	if (!evd->vqs || index >= evd->info->nvqs)
		return NULL;

	return &evd->vqs[index];
}
EXPORT_SYMBOL_GPL(epf_virtio_get_queue);

static void epf_virtio_flight_free(struct epf_virtio_queue *vq,
				   struct epf_virtio_flight *fl)
{
	fl->in_use = false;
	fl->buf = NULL;
	vq->fl_free[vq->fl_nfree++] = fl - vq->flights;
}

/*
 * @fl's chain is completed (or dropped): behind the chains completed before
 * it, it goes once its copies ended.  The order ring cannot overflow: it
 * holds entries in use, of which there are queue size at most.
 */
static void epf_virtio_flight_order(struct epf_virtio_queue *vq,
				    struct epf_virtio_flight *fl,
				    epf_virtio_done_t done, void *ctx)
{
	fl->done = done;
	fl->ctx = ctx;
	fl->completed = true;
	fl->since = jiffies;
	fl->buf = NULL;
	vq->fl_order[vq->fl_tail++ & (vq->evd->queue_size - 1)] =
		fl - vq->flights;
}

/**
 * epf_virtio_buf_init() - prepare a buffer chain holder
 * @buf: the holder; it must not move in memory afterwards
 */
void epf_virtio_buf_init(struct epf_virtio_buf *buf)
{
	vringh_kiov_init(&buf->riov, buf->rvec, ARRAY_SIZE(buf->rvec));
	vringh_kiov_init(&buf->wiov, buf->wvec, ARRAY_SIZE(buf->wvec));
	buf->head = 0;
	buf->vq = NULL;
	buf->flight = NULL;
}
EXPORT_SYMBOL_GPL(epf_virtio_buf_init);

/**
 * epf_virtio_buf_release() - free what a buffer chain holder allocated
 * @buf: the holder
 *
 * The chain it held, if any, is dropped without being completed.  The
 * holder can be used again afterwards.
 */
void epf_virtio_buf_release(struct epf_virtio_buf *buf)
{
	/* Its copies in flight end before its entry is freed */
	if (buf->flight && buf->flight->buf == buf) {
		buf->flight->dropped = true;
		epf_virtio_flight_order(buf->flight->vq, buf->flight, NULL,
					NULL);
	}
	vringh_kiov_cleanup(&buf->riov);
	vringh_kiov_cleanup(&buf->wiov);
	epf_virtio_buf_init(buf);
}
EXPORT_SYMBOL_GPL(epf_virtio_buf_release);

/**
 * epf_virtio_getdesc() - take the next buffer chain the host made available
 * @vq: the queue
 * @buf: holder for the chain (from epf_virtio_buf_init())
 *
 * The chain has been checked against the ring limits; its segments are
 * host PCI addresses (see struct epf_virtio_buf).  Give it back with
 * epf_virtio_complete(), or forget it in the reset callback.
 *
 * Context: the device driver's process callback.
 * Return: 1 with a chain in @buf, 0 if none is available, or a negative
 * error code if the host broke the ring (the device is then reset once the
 * process callback returns).
 */
int epf_virtio_getdesc(struct epf_virtio_queue *vq, struct epf_virtio_buf *buf)
{
	struct epf_virtio *evd = vq->evd;
	int ret;

	buf->vq = NULL;
	buf->flight = NULL;
	if (!vq->live || evd->want_reset || epf_virtio_fence(evd))
		return 0;

	ret = vringh_getdesc_kern(&vq->vrh, &buf->riov, &buf->wiov, &buf->head,
				  GFP_KERNEL);
	if (ret > 0) {
		epf_virtio_chain_taken(vq, buf->head);
		buf->vq = vq;
	}
	if (ret < 0) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Queue %u: bad buffer chain (err=%d)\n",
				    vq->index, ret);
		evd->want_reset = true;
	}

	return ret;
}
EXPORT_SYMBOL_GPL(epf_virtio_getdesc);

/**
 * epf_virtio_flight_new() - an entry for a chain with copies in flight
 * @vq: the queue
 * @buf: the chain's holder
 *
 * Return: the entry, or NULL if all of the queue's are in use.
 */
struct epf_virtio_flight *epf_virtio_flight_new(struct epf_virtio_queue *vq,
						struct epf_virtio_buf *buf)
{
	unsigned int size = vq->evd->queue_size;
	struct epf_virtio_flight *fl;

	if (!vq->fl_nfree)
		return NULL;

	fl = &vq->flights[vq->fl_free[--vq->fl_nfree]];
	vq->cost.flight_max = max_t(u64, vq->cost.flight_max,
				    size - vq->fl_nfree);
	fl->buf = buf;
	fl->in_use = true;
	atomic_set(&fl->copies, 0);
	fl->err = 0;
	fl->completed = false;
	fl->dropped = false;
	fl->more = false;
	fl->done = NULL;
	fl->ctx = NULL;
	fl->maps = EPF_VIRTIO_MAP_NONE;

	return fl;
}

/*
 * A chain goes back: its used entry waits in @grp if more of its group are
 * to come, else it goes into the shadow after those of its group, and out
 * to the host with them.  Returns 0 or a negative error code.
 */
static int epf_virtio_used_add(struct epf_virtio_queue *vq, u16 head,
			       u32 len, bool more)
{
	unsigned int i, n = vq->grp_n;
	int ret = 0;

	if (vq->grp_broken)
		return -ECANCELED;
	if (more) {
		/* Cannot be: epf_virtio_complete_group() checks its size */
		if (WARN_ON_ONCE(n == EPF_VIRTIO_GROUP_MAX))
			return -E2BIG;
		vq->grp[n].head = head;
		vq->grp[n].len = len;
		vq->grp_n++;
		return 0;
	}

	vq->grp_n = 0;
	for (i = 0; i < n && !ret; i++)
		ret = vringh_complete_kern(&vq->vrh, vq->grp[i].head,
					   vq->grp[i].len);
	if (!ret)
		ret = vringh_complete_kern(&vq->vrh, head, len);
	if (ret) {
		/* The shadow is endpoint memory: a broken vringh state */
		vq->evd->want_reset = true;
		return ret;
	}

	/* The whole group at once, and the notify check after it */
	epf_virtio_publish_used(vq);
	vq->completed = true;
	vq->cost.chains += n + 1;

	return 0;
}

/*
 * A chain does not go back.  Neither does the rest of its group, if it is
 * one of a group (@more: not its last): the host would read a frame with a
 * piece missing.  The last chain of a group ends it either way.  Chains of
 * a group are dropped only when the device resets (the host reset it, the
 * queue is gone, a transfer failed), which gives the host its buffers back.
 */
static void epf_virtio_used_drop(struct epf_virtio_queue *vq, bool more)
{
	if (more) {
		vq->grp_broken = true;
		return;
	}
	vq->grp_n = 0;
	vq->grp_broken = false;
}

/* The oldest chains whose copies all ended go back, in order */
static bool epf_virtio_retire_queue(struct epf_virtio_queue *vq)
{
	struct epf_virtio *evd = vq->evd;
	unsigned int size = evd->queue_size;
	struct epf_virtio_flight *fl;
	epf_virtio_done_t done;
	bool progress = false;
	void *ctx;
	int err;

	/* Not after a reset the host made: those go with the reset */
	while (vq->fl_head != vq->fl_tail && !evd->want_reset &&
	       !evd->fenced) {
		fl = &vq->flights[vq->fl_order[vq->fl_head & (size - 1)]];
		/* The transfers' error and data before the entry */
		if (atomic_read_acquire(&fl->copies)) {
			if (time_after(jiffies, fl->since +
				       msecs_to_jiffies(EPF_VIRTIO_DMA_TIMEOUT_MS))) {
				dev_err_ratelimited(epf_virtio_to_dev(evd),
						    "Queue %u: DMA transfers not done in %u ms: resetting the device\n",
						    vq->index,
						    EPF_VIRTIO_DMA_TIMEOUT_MS);
				evd->want_reset = true;
			}
			break;
		}

		epf_virtio_flight_unmap(evd, fl);
		vq->fl_head++;
		progress = true;

		err = READ_ONCE(fl->err);
		if (err) {
			/* The buffer may be half written: the device stops */
			dev_err_ratelimited(epf_virtio_to_dev(evd),
					    "Queue %u: a DMA transfer failed: resetting the device\n",
					    vq->index);
			evd->want_reset = true;
		} else if (fl->dropped) {
			err = -ECANCELED;
		} else {
			err = epf_virtio_used_add(vq, fl->head, fl->len,
						  fl->more);
			if (!err)
				vq->cost.held++;
		}
		if (err)
			epf_virtio_used_drop(vq, fl->more);

		done = fl->done;
		ctx = fl->ctx;
		epf_virtio_flight_free(vq, fl);
		if (done)
			done(evd, ctx, err);
	}

	return progress;
}

/**
 * epf_virtio_retire() - give back the chains whose DMA transfers ended
 * @evd: the device, active
 *
 * In each queue, the chains completed so far go back in the order they
 * were completed, each once its copies, and those of the chains before
 * it, all ended.  A failed or overdue copy sets want_reset instead.
 *
 * Context: the poll thread.
 * Return: true if any chain went back.
 */
bool epf_virtio_retire(struct epf_virtio *evd)
{
	bool progress = false;
	unsigned int i;

	for (i = 0; i < evd->info->nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];

		if (vq->live && vq->fl_head != vq->fl_tail)
			progress |= epf_virtio_retire_queue(vq);
	}

	return progress;
}

/**
 * epf_virtio_flights_drop() - drop every chain with copies in flight
 * @evd: the device, being reset and no longer polled meanwhile
 *
 * Ends the transfers first: none of them reaches host memory once this
 * returns.  The chains are not given back (the host reset the device, or
 * will have to).  The done callbacks of those completed run with
 * -ECANCELED; the others the device driver forgets in its reset callback.
 *
 * Context: process context (sleeps), before the device driver's reset.
 */
void epf_virtio_flights_drop(struct epf_virtio *evd)
{
	unsigned int size = evd->queue_size;
	unsigned int i, j;

	epf_virtio_dma_stop(evd);

	for (i = 0; i < evd->info->nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];

		while (vq->fl_head != vq->fl_tail) {
			struct epf_virtio_flight *fl;

			fl = &vq->flights[vq->fl_order[vq->fl_head++ &
						       (size - 1)]];
			epf_virtio_flight_unmap(evd, fl);
			if (!fl->dropped)
				vq->cost.dropped++;
			if (fl->done)
				fl->done(evd, fl->ctx, -ECANCELED);
			epf_virtio_flight_free(vq, fl);
		}
		vq->fl_head = 0;
		vq->fl_tail = 0;
		vq->cost.dropped += vq->grp_n;
		vq->grp_n = 0;
		vq->grp_broken = false;

		/* Chains the device driver still holds */
		for (j = 0; j < size; j++) {
			struct epf_virtio_flight *fl = &vq->flights[j];

			if (!fl->in_use)
				continue;
			/* No holder keeps a pointer to a freed entry */
			if (fl->buf)
				fl->buf->flight = NULL;
			epf_virtio_flight_unmap(evd, fl);
			vq->cost.dropped++;
			epf_virtio_flight_free(vq, fl);
		}
	}
}

/*
 * Give one chain back once its copies end: @more if it is one of a group
 * but its last, whose used entry then waits for the rest of the group
 */
static int epf_virtio_complete_one(struct epf_virtio_queue *vq,
				   struct epf_virtio_buf *buf, u32 len,
				   epf_virtio_done_t done, void *ctx, bool more)
{
	struct epf_virtio *evd = vq->evd;
	struct epf_virtio_flight *fl = buf->flight;
	int ret;

	if (!vq->live) {
		ret = -ENODEV;
		goto err;
	}
	/* The host reset the device: the chain is not given back */
	if (epf_virtio_fence(evd)) {
		ret = -ESHUTDOWN;
		goto err;
	}

	/* Behind chains still in flight, to keep the order */
	if (!fl && vq->fl_head != vq->fl_tail) {
		fl = epf_virtio_flight_new(vq, buf);
		if (!fl) {
			dev_err_ratelimited(epf_virtio_to_dev(evd),
					    "Queue %u: more chains taken than the queue holds\n",
					    vq->index);
			evd->want_reset = true;
			ret = -EPROTO;
			goto err;
		}
	}

	if (fl) {
		fl->head = buf->head;
		fl->len = len;
		fl->more = more;
		epf_virtio_flight_order(vq, fl, done, ctx);
		buf->flight = NULL;
		buf->vq = NULL;
		epf_virtio_retire_queue(vq);
		return 0;
	}

	ret = epf_virtio_used_add(vq, buf->head, len, more);
	if (ret)
		goto err;
	buf->vq = NULL;

	if (done)
		done(evd, ctx, 0);
	return 0;

err:
	if (fl) {
		/* @done once its copies ended, whatever happens next */
		fl->dropped = true;
		fl->more = more;
		epf_virtio_flight_order(vq, fl, done, ctx);
		buf->flight = NULL;
	} else {
		epf_virtio_used_drop(vq, more);
		if (done)
			done(evd, ctx, ret);
	}
	return ret;
}

/**
 * epf_virtio_complete_async() - give a buffer chain back once its copies end
 * @vq: the queue it came from
 * @buf: the chain; its holder can be reused afterwards
 * @len: number of bytes written into the chain
 * @done: called once the chain went back or was dropped, or NULL
 * @ctx: for @done
 *
 * The chain's used entry goes out once the copies epf_virtio_pull_async()
 * and epf_virtio_push_async() left in flight for it have ended, and after
 * those of the chains completed before it on the queue: the host sees them
 * in the order they were completed.  @done is called exactly once, maybe
 * before this returns, and never before the chain's copies ended.
 *
 * Context: the device driver's process callback.
 * Return: 0 or a negative error code (the chain is dropped: @done gets an
 * error code too).
 */
int epf_virtio_complete_async(struct epf_virtio_queue *vq,
			      struct epf_virtio_buf *buf, u32 len,
			      epf_virtio_done_t done, void *ctx)
{
	return epf_virtio_complete_one(vq, buf, len, done, ctx, false);
}
EXPORT_SYMBOL_GPL(epf_virtio_complete_async);

/**
 * epf_virtio_complete_group() - give back chains that hold one item together
 * @vq: the queue they came from
 * @bufs: the chains, in the order the item fills them
 * @lens: number of bytes written into each chain
 * @n: number of chains, at most EPF_VIRTIO_GROUP_MAX
 * @done: called once the last chain went back, or the group was dropped,
 *	or NULL
 * @ctx: for @done
 *
 * As epf_virtio_complete_async() for each chain in turn, but the host sees
 * the used entries of all of them at once: none of them before the copies
 * of every one ended.  This is for a frame in mergeable receive buffers,
 * which a host driver reads whole as soon as it finds its first buffer
 * used (Linux's virtio_net drops a frame whose buffers are not all there
 * yet, as a length error).  If one chain is dropped, none of the group goes
 * back.  The holders can be reused afterwards.
 *
 * Context: the device driver's process callback.
 * Return: 0 or the first negative error code (@done then gets one too,
 * -ECANCELED if an earlier chain failed); -ENOENT if @n is 0, -E2BIG if it
 * is too large (the chains are then dropped, and the device reset).
 */
int epf_virtio_complete_group(struct epf_virtio_queue *vq,
			      struct epf_virtio_buf *bufs, const u32 *lens,
			      unsigned int n, epf_virtio_done_t done,
			      void *ctx)
{
	unsigned int i;
	int ret = 0;

	if (!n) {
		if (done)
			done(vq->evd, ctx, -ENOENT);
		return -ENOENT;
	}
	if (WARN_ON_ONCE(n > EPF_VIRTIO_GROUP_MAX)) {
		/*
		 * Dropped as a broken group, @done once their copies ended;
		 * the host gets its buffers back with the reset
		 */
		vq->grp_broken = true;
		vq->evd->want_reset = true;
		ret = -E2BIG;
	}

	/* Each one, even after an error: those with copies are dropped */
	for (i = 0; i < n; i++) {
		bool last = i + 1 == n;
		int err;

		err = epf_virtio_complete_one(vq, &bufs[i], lens[i],
					      last ? done : NULL,
					      last ? ctx : NULL, !last);
		if (!ret)
			ret = err;
	}

	return ret;
}
EXPORT_SYMBOL_GPL(epf_virtio_complete_group);

/**
 * epf_virtio_complete() - give a buffer chain back to the host
 * @vq: the queue it came from
 * @buf: the chain; its holder can be reused afterwards
 * @len: number of bytes written into the chain
 *
 * Publishes the chain in the host's used ring at once, or once the copies
 * in flight of the chains before it ended (epf_virtio_complete_async()).
 * Whether the host wants an interrupt is checked after the process
 * callback returns, once for all the chains it completed.
 *
 * Context: the device driver's process callback.
 * Return: 0 or a negative error code.
 */
int epf_virtio_complete(struct epf_virtio_queue *vq,
			struct epf_virtio_buf *buf, u32 len)
{
	return epf_virtio_complete_async(vq, buf, len, NULL, NULL);
}
EXPORT_SYMBOL_GPL(epf_virtio_complete);
