// SPDX-License-Identifier: GPL-2.0
/*
 * Mediated virtio device behind a PCIe endpoint function (baseline).
 *
 * The design of the original RFC, rebuilt on the core library so that it
 * can be measured against the dedicated drivers: the function presents a
 * virtio device to the host through pci-epf-virtio, and registers a second,
 * local virtio device of the same type on the endpoint, which a stock
 * driver (virtio_console, later virtio_net) binds.  The core's poll thread
 * copies data between the host's rings and the local ones:
 *
 *   host queue 2k+1 (host driver to device) -> local queue 2k (to the driver)
 *   local queue 2k+1 (local driver to device) -> host queue 2k (to the host)
 *
 * Each byte is copied once, straight between a host buffer (through the
 * core's byte mover) and a local buffer.  The code knows nothing of ttys or
 * netdevs: a small table of device types says how many queues there are,
 * how big the configuration is, which features may be offered, and whether
 * the data is a stream (console: a source chain may fill several
 * destination chains and the other way round) or packets (net: one source
 * chain, one destination chain).  A packet type may have a header that
 * differs between the sides (net: the legacy host's virtio_net_hdr vs the
 * local VERSION_1 one); its hook converts it, the rest passes unchanged.
 * A packet goes whole within one poll, or is dropped and counted (configfs
 * "dropped"): one that does not fit the destination chain, or whose copy
 * failed halfway.
 *
 * For net, the local interface and the host's are on one link: the local
 * driver reads the host's configuration with another MAC address, derived
 * from the host's, and a link that is up while the host driver is.  No
 * segmentation offload and no mergeable buffers, so both drivers post one
 * buffer for each frame of the 1500-byte MTU (a bigger frame, if the MTU
 * feature is turned off and the MTU raised, is dropped).  The checksum
 * fields of the header carry over, so partial checksums pass both ways
 * (CSUM and GUEST_CSUM, which stock drivers both accept).
 *
 * The local device:
 *  - lives from bind to unbind, across host driver reloads and link
 *    changes; data only flows while both the host driver and the local
 *    driver have set DRIVER_OK;
 *  - shares the device configuration the host sees (the core's copy),
 *    but for what the type changes in the local view (net: MAC, status);
 *  - offers the same device features as the host, plus VERSION_1 (so its
 *    rings and configuration are little-endian, as the host's are on the
 *    wire), and never ACCESS_PLATFORM: its driver then puts physical
 *    addresses in the rings, which the device side translates before use;
 *  - is driven on the device side with vringh (_kern accessors: these are
 *    endpoint rings, written by an endpoint driver);
 *  - gets its "interrupts" as an IPI to a chosen CPU (irq_cpu), in hard
 *    interrupt context as a real device interrupt would be, never from the
 *    poll thread itself: virtio_console's interrupt handler takes the hvc
 *    lock, which a writer to that hvc holds while it spins until the
 *    device has used its buffer.
 *
 * Chains the mediator holds when one side goes away:
 *  - host reset: host chains are forgotten (their queues are gone).  A
 *    local receive chain that was partly filled is completed, so the data
 *    that reached it is delivered; an empty one is kept for the next host.
 *    A local transmit chain partly copied is kept as it is and the rest of
 *    it goes to the next host driver.  Nothing is put back into a local
 *    ring (vringh_abandon_kern() is gone in newer kernels, and keeping
 *    the chain loses nothing).
 *  - local reset: local chains are dropped (the local driver takes its
 *    buffers back itself); a host transmit chain partly copied is kept and
 *    the rest goes to the next local driver.
 * Only the bytes that were in a host receive buffer not yet completed when
 * the host reset are lost, as they would be with any device.
 *
 * Like any virtio console device, this one makes the writers of both
 * consoles wait, spinning with interrupts off, until it has copied their
 * data: a local writer spins while no host driver is there, a host writer
 * while no local driver is there.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/etherdevice.h>
#include <linux/hex.h>
#include <linux/if_ether.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/vringh.h>
#include <linux/wait_bit.h>

/* Most virtqueues of any device type in the table */
#define EPF_VMED_MAX_VQS		2

/* Segments of a local chain held inline before vringh allocates more */
#define EPF_VMED_LOCAL_INLINE		4

/* Alignment of the local rings' used ring */
#define EPF_VMED_VRING_ALIGN		SMP_CACHE_BYTES

/* Transport features offered to the local driver, besides the device's */
#define EPF_VMED_LOCAL_FEATURES		BIT_ULL(VIRTIO_F_VERSION_1)

/*
 * Transport features of the host's rings only, which the core implements
 * there (fewer host interrupts); the local rings keep their flags, a local
 * kick being a function call
 */
#define EPF_VMED_HOST_ONLY		BIT(VIRTIO_RING_F_EVENT_IDX)

/* Largest per-packet header of any device type, on either side */
#define EPF_VMED_HDR_MAX		16

/* virtio-net: the configuration up to the MTU, all that is offered */
#define EPF_VMED_NET_CONFIG_SIZE	offsetofend(struct virtio_net_config, mtu)
#define EPF_VMED_NET_MTU		ETH_DATA_LEN

struct epf_vmed;

/**
 * struct epf_vmed_hdr_ops - the header in front of each packet
 * @len: its size on the host side (@host) or on the local side, at most
 *	%EPF_VMED_HDR_MAX; called from the poll thread, with the host's
 *	features negotiated
 * @convert: rewrite header @src of one side as header @dst of the other
 *	(@to_local: from the host's format to the local one); both buffers
 *	hold %EPF_VMED_HDR_MAX bytes, zeroed beyond the source header
 *
 * The rest of each packet passes unchanged.
 */
struct epf_vmed_hdr_ops {
	unsigned int (*len)(struct epf_vmed *vmed, bool host);
	void (*convert)(struct epf_vmed *vmed, void *dst, const void *src,
			bool to_local);
};

/**
 * struct epf_vmed_type - a device type the mediator can present
 * @name: name in the configfs attribute "device"
 * @info: the device as the core presents it to the host; its @nvqs is
 *	even (receive/transmit pairs) and its @features are those that may be
 *	offered to both drivers: only those whose data format does not
 *	depend on negotiation, or that @hdr converts
 * @packet: one source chain goes to one destination chain (else a stream)
 * @hdr: header conversion of a packet type, NULL if packets pass unchanged
 * @set_config: write the host's configuration from the tunables (caller
 *	holds cfs.lock); NULL if it stays zeroed
 * @local_config: adjust @len bytes at @offset of the configuration as the
 *	local driver reads it; NULL if it reads the host's
 */
struct epf_vmed_type {
	const char *name;
	struct epf_virtio_info info;
	bool packet;
	const struct epf_vmed_hdr_ops *hdr;
	void (*set_config)(struct epf_vmed *vmed);
	void (*local_config)(struct epf_vmed *vmed, unsigned int offset,
			     u8 *buf, unsigned int len);
};

/**
 * struct epf_vmed_hq - the chain held on one host queue
 * @buf: the chain
 * @busy: @buf holds a chain
 * @written: bytes written into it so far (host receive queues)
 */
struct epf_vmed_hq {
	struct epf_virtio_buf buf;
	bool busy;
	u32 written;
};

/**
 * struct epf_vmed_lvq - one virtqueue of the local device
 * @vq: the driver's side, NULL while the local driver has no queues
 * @vrh: the device's side, on the same ring
 * @riov: driver-readable segments of the chain held (physical addresses)
 * @wiov: driver-writable segments of the chain held
 * @head: head descriptor of the chain held
 * @busy: a chain is held
 * @written: bytes written into it so far (local receive queues)
 * @completed: used entries were added since the last notify check
 * @rvec: inline storage for @riov
 * @wvec: inline storage for @wiov
 */
struct epf_vmed_lvq {
	struct virtqueue *vq;
	struct vringh vrh;
	struct vringh_kiov riov;
	struct vringh_kiov wiov;
	u16 head;
	bool busy;
	u32 written;
	bool completed;
	struct kvec rvec[EPF_VMED_LOCAL_INLINE];
	struct kvec wvec[EPF_VMED_LOCAL_INLINE];
};

/**
 * struct epf_vmed_local - the local virtio device, from bind to unbind
 * @vdev: the device; its refcount owns this structure
 * @vmed: the function instance
 * @offer: device features offered to the local driver
 * @status: device status the local driver set
 * @broken: the local driver broke a ring: no more copying until it resets
 * @lvqs: the queues
 * @irq_lock: protects the @lvqs' vq pointers against the interrupt handler
 * @irq_pending: queues to interrupt (bit numbers)
 * @irq_inflight: interrupts queued and not yet handled
 * @irq_csd: delivers the interrupts on the chosen CPU
 * @irq_cpu: CPU the interrupts go to, -1 for any but the poll thread's
 *
 * @status, @broken and the @lvqs' chains are protected by epf_vmed::lock.
 */
struct epf_vmed_local {
	struct virtio_device vdev;
	struct epf_vmed *vmed;
	u32 offer;
	u8 status;
	bool broken;
	struct epf_vmed_lvq lvqs[EPF_VMED_MAX_VQS];

	/* Queue pointers vs the interrupt handler */
	spinlock_t irq_lock;
	atomic_long_t irq_pending;
	atomic_t irq_inflight;
	call_single_data_t irq_csd;
	int irq_cpu;
};

/**
 * struct epf_vmed - one mediated function instance
 * @epf: the endpoint function
 * @evd: the virtio device the host sees
 * @type: the device type
 * @cfs: configfs tunables; its lock also serializes @irq_cpu, @mac and
 *	@local's publication against bind
 * @irq_cpu: CPU for the local device's interrupts, -1 for any but the poll
 *	thread's
 * @mac: the host's MAC address (net)
 * @dropped: packets lost because they did not fit (or the copy failed)
 * @lock: protects @local and the local device's state against the poll
 *	thread
 * @local: the local device while bound
 * @host_up: the host driver has set DRIVER_OK and not reset since (written
 *	under @lock, read locklessly by the local config reads)
 * @hqs: chains held on the host queues (poll thread and reset callback)
 */
struct epf_vmed {
	struct pci_epf *epf;
	struct epf_virtio *evd;
	const struct epf_vmed_type *type;

	struct epf_virtio_cfs cfs;
	/* Under cfs.lock */
	int irq_cpu;
	u8 mac[ETH_ALEN];
	atomic_long_t dropped;

	/* Local device state: its config ops vs the poll thread */
	struct mutex lock;
	struct epf_vmed_local *local;
	bool host_up;
	struct epf_vmed_hq hqs[EPF_VMED_MAX_VQS];
};

static inline struct epf_vmed_local *to_epf_vmed_local(struct virtio_device *vdev)
{
	return container_of(vdev, struct epf_vmed_local, vdev);
}

/* ------------------------------------------------------------------------
 * Local interrupts
 */

/* Hard interrupt context, on the interrupt CPU */
static void epf_vmed_irq(void *data)
{
	struct epf_vmed_local *local = data;
	unsigned long pending = atomic_long_xchg(&local->irq_pending, 0);
	unsigned int i;

	spin_lock(&local->irq_lock);
	for_each_set_bit(i, &pending, EPF_VMED_MAX_VQS)
		if (local->lvqs[i].vq)
			vring_interrupt(0, local->lvqs[i].vq);
	spin_unlock(&local->irq_lock);

	if (atomic_dec_and_test(&local->irq_inflight))
		wake_up_var(&local->irq_inflight);
}

/*
 * Interrupt the local driver for the queues in @mask.  Never on the CPU
 * this runs on: a call to the current CPU would run the handler inline, in
 * the poll thread, with interrupts off and the poll thread's locks held,
 * and virtio_console's handler may then spin on an hvc lock held by a
 * writer that waits for this very thread.  So irq_cpu -1, an offline CPU
 * or the poll thread's own CPU all mean: any other online CPU.
 */
static void epf_vmed_raise(struct epf_vmed_local *local, unsigned long mask)
{
	int cpu = local->irq_cpu;
	int self;

	atomic_long_or(mask, &local->irq_pending);
	/*
	 * The bits must be visible before the csd is found busy: a handler
	 * that has not started yet then takes them (its xchg pairs with
	 * this barrier).
	 */
	smp_mb__after_atomic();

	/* Not moved between the choice and the call */
	self = get_cpu();
	if (cpu < 0 || cpu == self || !cpu_online(cpu))
		cpu = cpumask_any_but(cpu_online_mask, self);
	/* One CPU left online: inline is all there is (bind needs two) */
	if (cpu >= nr_cpu_ids)
		cpu = self;

	/* -EBUSY: queued and not started yet, it will see @mask */
	atomic_inc(&local->irq_inflight);
	if (smp_call_function_single_async(cpu, &local->irq_csd))
		atomic_dec(&local->irq_inflight);
	put_cpu();
}

/* Wait until no interrupt handler runs or is queued */
static void epf_vmed_irq_sync(struct epf_vmed_local *local)
{
	wait_var_event(&local->irq_inflight,
		       !atomic_read(&local->irq_inflight));
}

/* ------------------------------------------------------------------------
 * Data paths (poll thread)
 */

/* Caller holds the function's lock */
static bool epf_vmed_local_running(struct epf_vmed_local *local)
{
	if (!local)
		return false;
	lockdep_assert_held(&local->vmed->lock);

	return (local->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(local->status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       !local->broken;
}

/* The local driver broke the protocol: stop until it resets the device */
static void epf_vmed_local_fail(struct epf_vmed_local *local,
				unsigned int index, const char *what, int err)
{
	dev_err_ratelimited(epf_virtio_dev(local->vmed->evd),
			    "Local queue %u: %s (err=%d)\n", index, what, err);
	local->broken = true;
	WRITE_ONCE(local->status,
		   local->status | VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Take the next chain the local driver made available; 1, 0 or error */
static int epf_vmed_local_getdesc(struct epf_vmed_local *local,
				  unsigned int index)
{
	struct epf_vmed_lvq *lvq = &local->lvqs[index];
	int ret;

	ret = vringh_getdesc_kern(&lvq->vrh, &lvq->riov, &lvq->wiov,
				  &lvq->head, GFP_KERNEL);
	if (ret < 0) {
		epf_vmed_local_fail(local, index, "bad buffer chain", ret);
		return ret;
	}
	if (ret) {
		lvq->busy = true;
		lvq->written = 0;
	}

	return ret;
}

static int epf_vmed_local_complete(struct epf_vmed_local *local,
				   unsigned int index)
{
	struct epf_vmed_lvq *lvq = &local->lvqs[index];
	int ret;

	lvq->busy = false;
	ret = vringh_complete_kern(&lvq->vrh, lvq->head, lvq->written);
	if (ret) {
		epf_vmed_local_fail(local, index, "cannot complete", ret);
		return ret;
	}
	lvq->completed = true;

	return 0;
}

/*
 * Kernel address of the current local segment.  The local driver does not
 * use the DMA API, so it gave a physical address of memory in the linear
 * map; check that before touching it.
 */
static void *epf_vmed_local_ptr(const struct kvec *seg)
{
	phys_addr_t pa = (phys_addr_t)(uintptr_t)seg->iov_base;
	phys_addr_t last = pa + seg->iov_len - 1;

	if (!seg->iov_len || last < pa ||
	    !pfn_valid(PHYS_PFN(pa)) || !pfn_valid(PHYS_PFN(last)))
		return NULL;

	return phys_to_virt(pa);
}

/*
 * Copy between a host chain and the local chain @iov, as much as both
 * allow, in the direction of @to_local.  Returns the bytes copied, or a
 * negative error if none could be: -EFAULT for a bad local address, else
 * the host memory is out of reach for now.
 */
static ssize_t epf_vmed_copy(struct epf_vmed *vmed, struct epf_virtio_buf *hbuf,
			     struct vringh_kiov *iov, bool to_local)
{
	ssize_t done = 0, n;

	while (iov->i < iov->used) {
		struct kvec *seg = &iov->iov[iov->i];
		void *p;

		if (!seg->iov_len) {
			/* Empty descriptor: step over it */
			iov->i++;
			iov->consumed = 0;
			continue;
		}

		p = epf_vmed_local_ptr(seg);
		if (!p)
			return -EFAULT;

		if (to_local)
			n = epf_virtio_pull(vmed->evd, hbuf, p, seg->iov_len);
		else
			n = epf_virtio_push(vmed->evd, hbuf, p, seg->iov_len);
		/*
		 * A stream keeps what moved; half a packet is no packet,
		 * and a host that reset the device takes none
		 */
		if (n < 0)
			return done && !(n == -ESHUTDOWN && vmed->type->packet) ?
			       done : n;
		if (!n)
			break;	/* The host chain is used up */

		vringh_kiov_advance(iov, n);
		done += n;
	}

	return done;
}

/*
 * A stream, host queue 2k+1 (host driver to device) into local queue 2k
 * (device to local driver).  A host chain is completed once all of it is
 * in local buffers.
 */
static bool epf_vmed_to_local(struct epf_vmed *vmed,
			      struct epf_vmed_local *local, unsigned int k)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vmed->evd, 2 * k + 1);
	struct epf_vmed_hq *src = &vmed->hqs[2 * k + 1];
	struct epf_vmed_lvq *dst = &local->lvqs[2 * k];
	bool progress = false;
	ssize_t n;

	for (;;) {
		if (!src->busy) {
			if (epf_virtio_getdesc(vq, &src->buf) <= 0)
				break;
			src->busy = true;
			progress = true;
		}

		if (!epf_virtio_buf_readable(&src->buf)) {
			/* All of it copied */
			src->busy = false;
			if (epf_virtio_complete(vq, &src->buf, 0))
				break;
			progress = true;
			continue;
		}

		if (!dst->busy && epf_vmed_local_getdesc(local, 2 * k) <= 0)
			break;

		if (!vringh_kiov_length(&dst->wiov)) {
			/* Full (or no room from the start) */
			if (epf_vmed_local_complete(local, 2 * k))
				break;
			progress = true;
			continue;
		}

		n = epf_vmed_copy(vmed, &src->buf, &dst->wiov, true);
		if (n == -EFAULT)
			epf_vmed_local_fail(local, 2 * k, "bad buffer address", n);
		if (n <= 0)
			break;
		dst->written += n;
		progress = true;
	}

	/* Do not keep the local driver waiting for more */
	if (dst->busy && dst->written && !local->broken)
		epf_vmed_local_complete(local, 2 * k);

	return progress;
}

/*
 * A stream, local queue 2k+1 (local driver to device) into host queue 2k
 * (device to host driver).  A local chain is completed once all of it is
 * in host buffers.
 */
static bool epf_vmed_to_host(struct epf_vmed *vmed,
			     struct epf_vmed_local *local, unsigned int k)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vmed->evd, 2 * k);
	struct epf_vmed_lvq *src = &local->lvqs[2 * k + 1];
	struct epf_vmed_hq *dst = &vmed->hqs[2 * k];
	bool progress = false;
	ssize_t n;

	for (;;) {
		if (!src->busy) {
			if (epf_vmed_local_getdesc(local, 2 * k + 1) <= 0)
				break;
			progress = true;
		}

		if (!vringh_kiov_length(&src->riov)) {
			/* All of it copied */
			if (epf_vmed_local_complete(local, 2 * k + 1))
				break;
			progress = true;
			continue;
		}

		if (!dst->busy) {
			if (epf_virtio_getdesc(vq, &dst->buf) <= 0)
				break;
			dst->busy = true;
			dst->written = 0;
		}

		if (!epf_virtio_buf_writable(&dst->buf)) {
			/* Full (or no room from the start) */
			dst->busy = false;
			if (epf_virtio_complete(vq, &dst->buf, dst->written))
				break;
			progress = true;
			continue;
		}

		n = epf_vmed_copy(vmed, &dst->buf, &src->riov, false);
		if (n == -EFAULT)
			epf_vmed_local_fail(local, 2 * k + 1,
					    "bad buffer address", n);
		if (n <= 0)
			break;
		dst->written += n;
		progress = true;
	}

	/* Do not keep the host waiting for more */
	if (dst->busy && dst->written) {
		dst->busy = false;
		epf_virtio_complete(vq, &dst->buf, dst->written);
	}

	return progress;
}

/*
 * Copy between kernel memory and a local chain: @len bytes into its
 * writable part (@write) or out of its readable part.  Returns the bytes
 * copied, fewer if the chain ends first, or -EFAULT for a bad address.
 */
static ssize_t epf_vmed_local_xfer(struct vringh_kiov *iov, void *data,
				   size_t len, bool write)
{
	size_t done = 0;

	while (len && iov->i < iov->used) {
		struct kvec *seg = &iov->iov[iov->i];
		size_t part = min(seg->iov_len, len);
		void *p;

		if (!part) {
			iov->i++;
			iov->consumed = 0;
			continue;
		}

		p = epf_vmed_local_ptr(seg);
		if (!p)
			return -EFAULT;
		if (write)
			memcpy(p, data + done, part);
		else
			memcpy(data + done, p, part);

		vringh_kiov_advance(iov, part);
		done += part;
		len -= part;
	}

	return done;
}

/* Header lengths of a packet type, 0 when it has none */
static void epf_vmed_hdr_lens(struct epf_vmed *vmed, size_t *host,
			      size_t *local)
{
	const struct epf_vmed_hdr_ops *hdr = vmed->type->hdr;

	*host = hdr ? hdr->len(vmed, true) : 0;
	*local = hdr ? hdr->len(vmed, false) : 0;
}

/*
 * One packet from host chain @src into local chain @dst, header converted.
 * Returns 0 when it is all there; -EAGAIN if the host memory is out of
 * reach and nothing was consumed (try again); -EFAULT for a bad local
 * address; another error if the packet is lost (it does not fit, the
 * host memory went out of reach halfway, or the host reset the device:
 * -ESHUTDOWN).
 */
static int epf_vmed_packet_to_local(struct epf_vmed *vmed,
				    struct epf_vmed_hq *src,
				    struct epf_vmed_lvq *dst)
{
	u8 hbuf[EPF_VMED_HDR_MAX] = {}, lbuf[EPF_VMED_HDR_MAX] = {};
	size_t len = epf_virtio_buf_readable(&src->buf);
	size_t shdr, dhdr;
	ssize_t n;

	epf_vmed_hdr_lens(vmed, &shdr, &dhdr);
	if (len < shdr || len - shdr + dhdr > vringh_kiov_length(&dst->wiov))
		return -EMSGSIZE;

	if (dhdr) {
		n = epf_virtio_pull(vmed->evd, &src->buf, hbuf, shdr);
		if (n < 0)
			return n == -ESHUTDOWN ? n : -EAGAIN;
		if (n != shdr)
			return -EIO;
		vmed->type->hdr->convert(vmed, lbuf, hbuf, true);
		n = epf_vmed_local_xfer(&dst->wiov, lbuf, dhdr, true);
		if (n < 0)
			return n;
		dst->written = n;
	}

	n = epf_vmed_copy(vmed, &src->buf, &dst->wiov, true);
	if (n == -EFAULT || n == -ESHUTDOWN)
		return n;
	if (n < 0 && !dhdr)
		return -EAGAIN;
	if (n > 0)
		dst->written += n;

	return epf_virtio_buf_readable(&src->buf) ? -EIO : 0;
}

/*
 * One packet from local chain @src into host chain @dst, header converted;
 * returns as epf_vmed_packet_to_local().
 */
static int epf_vmed_packet_to_host(struct epf_vmed *vmed,
				   struct epf_vmed_lvq *src,
				   struct epf_vmed_hq *dst)
{
	u8 hbuf[EPF_VMED_HDR_MAX] = {}, lbuf[EPF_VMED_HDR_MAX] = {};
	size_t len = vringh_kiov_length(&src->riov);
	size_t shdr, dhdr;
	ssize_t n;

	epf_vmed_hdr_lens(vmed, &dhdr, &shdr);
	if (len < shdr || len - shdr + dhdr > epf_virtio_buf_writable(&dst->buf))
		return -EMSGSIZE;

	if (dhdr) {
		n = epf_vmed_local_xfer(&src->riov, lbuf, shdr, false);
		if (n < 0)
			return n;
		vmed->type->hdr->convert(vmed, hbuf, lbuf, false);
		n = epf_virtio_push(vmed->evd, &dst->buf, hbuf, dhdr);
		if (n == -ESHUTDOWN)
			return n;
		if (n != dhdr)
			return -EIO;
		dst->written = n;
	}

	n = epf_vmed_copy(vmed, &dst->buf, &src->riov, false);
	if (n == -EFAULT || n == -ESHUTDOWN)
		return n;
	if (n < 0 && !dhdr)
		return -EAGAIN;
	if (n > 0)
		dst->written += n;

	return vringh_kiov_length(&src->riov) ? -EIO : 0;
}

/*
 * A packet is lost: count it, and say why unless the host reset the
 * device under it (-ESHUTDOWN), which loses what was on its way anyway
 */
static void epf_vmed_drop(struct epf_vmed *vmed, unsigned int index,
			  size_t len, int err)
{
	atomic_long_inc(&vmed->dropped);
	if (err == -ESHUTDOWN)
		return;
	dev_warn_ratelimited(epf_virtio_dev(vmed->evd),
			     "Queue %u: packet of %zu bytes dropped (err=%d)\n",
			     index, len, err);
}

/*
 * Packets, host queue 2k+1 into local queue 2k: each host chain goes whole
 * into one local chain, or is dropped.  A packet is never left halfway
 * from one call to the next, so resets find none.
 */
static bool epf_vmed_packets_to_local(struct epf_vmed *vmed,
				      struct epf_vmed_local *local,
				      unsigned int k)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vmed->evd, 2 * k + 1);
	struct epf_vmed_hq *src = &vmed->hqs[2 * k + 1];
	struct epf_vmed_lvq *dst = &local->lvqs[2 * k];
	bool progress = false;
	size_t len;
	int ret;

	for (;;) {
		if (!src->busy) {
			if (epf_virtio_getdesc(vq, &src->buf) <= 0)
				break;
			src->busy = true;
			progress = true;
		}
		if (!dst->busy && epf_vmed_local_getdesc(local, 2 * k) <= 0)
			break;

		len = epf_virtio_buf_readable(&src->buf);
		ret = epf_vmed_packet_to_local(vmed, src, dst);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			epf_vmed_drop(vmed, 2 * k + 1, len, ret);
			dst->written = 0;
		}
		/* A chain too small stays for the next packet */
		if (ret == -EFAULT)
			epf_vmed_local_fail(local, 2 * k, "bad buffer address",
					    ret);
		else if (ret != -EMSGSIZE &&
			 epf_vmed_local_complete(local, 2 * k))
			break;

		src->busy = false;
		if (epf_virtio_complete(vq, &src->buf, 0) || local->broken)
			break;
		progress = true;
	}

	return progress;
}

/*
 * Packets, local queue 2k+1 into host queue 2k: each local chain goes
 * whole into one host chain, or is dropped.
 */
static bool epf_vmed_packets_to_host(struct epf_vmed *vmed,
				     struct epf_vmed_local *local,
				     unsigned int k)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vmed->evd, 2 * k);
	struct epf_vmed_lvq *src = &local->lvqs[2 * k + 1];
	struct epf_vmed_hq *dst = &vmed->hqs[2 * k];
	bool progress = false;
	size_t len;
	int ret;

	for (;;) {
		if (!src->busy) {
			if (epf_vmed_local_getdesc(local, 2 * k + 1) <= 0)
				break;
			progress = true;
		}
		if (!dst->busy) {
			if (epf_virtio_getdesc(vq, &dst->buf) <= 0)
				break;
			dst->busy = true;
			dst->written = 0;
		}

		len = vringh_kiov_length(&src->riov);
		ret = epf_vmed_packet_to_host(vmed, src, dst);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			/* An empty buffer: the host driver drops it */
			epf_vmed_drop(vmed, 2 * k, len, ret);
			dst->written = 0;
		}

		/* A chain too small stays for the next packet */
		if (ret != -EMSGSIZE) {
			dst->busy = false;
			if (epf_virtio_complete(vq, &dst->buf, dst->written))
				break;
		}
		if (ret == -EFAULT) {
			epf_vmed_local_fail(local, 2 * k + 1,
					    "bad buffer address", ret);
			break;
		}
		if (epf_vmed_local_complete(local, 2 * k + 1))
			break;
		progress = true;
	}

	return progress;
}

/* Interrupt the local driver where it asked for it.  Caller holds lock. */
static void epf_vmed_local_notify(struct epf_vmed_local *local)
{
	unsigned long mask = 0;
	unsigned int i;

	lockdep_assert_held(&local->vmed->lock);

	for (i = 0; i < local->vmed->type->info.nvqs; i++) {
		struct epf_vmed_lvq *lvq = &local->lvqs[i];

		if (!lvq->completed)
			continue;
		lvq->completed = false;
		if (vringh_need_notify_kern(&lvq->vrh) > 0)
			mask |= BIT(i);
	}

	if (mask)
		epf_vmed_raise(local, mask);
}

static bool epf_vmed_process(struct epf_virtio *evd)
{
	struct epf_vmed *vmed = epf_virtio_priv(evd);
	bool packet = vmed->type->packet;
	struct epf_vmed_local *local;
	bool progress = false;
	unsigned int k;

	mutex_lock(&vmed->lock);
	local = vmed->local;
	if (epf_vmed_local_running(local)) {
		for (k = 0; k < vmed->type->info.nvqs / 2; k++) {
			if (!local->broken)
				progress |= packet ?
					epf_vmed_packets_to_local(vmed, local, k) :
					epf_vmed_to_local(vmed, local, k);
			if (!local->broken)
				progress |= packet ?
					epf_vmed_packets_to_host(vmed, local, k) :
					epf_vmed_to_host(vmed, local, k);
		}
		epf_vmed_local_notify(local);
	}
	mutex_unlock(&vmed->lock);

	return progress;
}

/*
 * The host driver came or went: a type whose local configuration shows it
 * (net: the link status) tells the local driver.  Caller holds lock.
 */
static void epf_vmed_host_state(struct epf_vmed *vmed, bool up)
{
	lockdep_assert_held(&vmed->lock);

	WRITE_ONCE(vmed->host_up, up);
	if (vmed->type->local_config && epf_vmed_local_running(vmed->local))
		virtio_config_changed(&vmed->local->vdev);
}

static int epf_vmed_activate(struct epf_virtio *evd)
{
	struct epf_vmed *vmed = epf_virtio_priv(evd);

	mutex_lock(&vmed->lock);
	epf_vmed_host_state(vmed, true);
	mutex_unlock(&vmed->lock);

	dev_dbg(&vmed->epf->dev, "Host connected\n");

	return 0;
}

static void epf_vmed_reset(struct epf_virtio *evd)
{
	struct epf_vmed *vmed = epf_virtio_priv(evd);
	struct epf_vmed_local *local;
	unsigned int i;

	mutex_lock(&vmed->lock);
	epf_vmed_host_state(vmed, false);

	/* The host chains went with the host's queues */
	for (i = 0; i < vmed->type->info.nvqs; i++) {
		struct epf_vmed_hq *hq = &vmed->hqs[i];

		if (hq->busy) {
			epf_virtio_buf_release(&hq->buf);
			hq->busy = false;
		}
		hq->written = 0;
	}

	/*
	 * Host data already in a local receive chain is delivered (but a
	 * packet cut short is given back empty, for the driver to drop); an
	 * empty chain and a local transmit chain stay held for the next host.
	 */
	local = vmed->local;
	if (epf_vmed_local_running(local)) {
		for (i = 0; i < vmed->type->info.nvqs; i += 2) {
			struct epf_vmed_lvq *lvq = &local->lvqs[i];

			if (!lvq->busy || !lvq->written)
				continue;
			if (vmed->type->packet)
				lvq->written = 0;
			epf_vmed_local_complete(local, i);
		}
		epf_vmed_local_notify(local);
	}

	mutex_unlock(&vmed->lock);

	dev_dbg(&vmed->epf->dev, "Host disconnected\n");
}

static void epf_vmed_config_written(struct epf_virtio *evd,
				    unsigned int offset, unsigned int len)
{
	struct epf_vmed *vmed = epf_virtio_priv(evd);

	mutex_lock(&vmed->lock);
	if (epf_vmed_local_running(vmed->local))
		virtio_config_changed(&vmed->local->vdev);
	mutex_unlock(&vmed->lock);
}

static const struct epf_virtio_ops epf_vmed_virtio_ops = {
	.activate = epf_vmed_activate,
	.reset = epf_vmed_reset,
	.process = epf_vmed_process,
	.config_written = epf_vmed_config_written,
};

/* ------------------------------------------------------------------------
 * virtio-net
 *
 * The host is legacy: its header is struct virtio_net_hdr, in its native
 * byte order, or struct virtio_net_hdr_mrg_rxbuf with MRG_RXBUF.  The local
 * driver has VERSION_1: its header is always the latter, little-endian.
 * The fields carry over as they are; num_buffers is 1, one buffer a frame.
 */

/* A 16-bit header field from one side's byte order to the other's */
static __virtio16 epf_vmed_net_hdr16(__virtio16 val, bool to_local)
{
	bool le = EPF_VIRTIO_HOST_LE;

	if (to_local)
		return __cpu_to_virtio16(true, __virtio16_to_cpu(le, val));

	return __cpu_to_virtio16(le, __virtio16_to_cpu(true, val));
}

static unsigned int epf_vmed_net_hdr_len(struct epf_vmed *vmed, bool host)
{
	if (host && !epf_virtio_has_feature(vmed->evd, VIRTIO_NET_F_MRG_RXBUF))
		return sizeof(struct virtio_net_hdr);

	return sizeof(struct virtio_net_hdr_mrg_rxbuf);
}

static void epf_vmed_net_hdr_convert(struct epf_vmed *vmed, void *dst,
				     const void *src, bool to_local)
{
	const struct virtio_net_hdr_mrg_rxbuf *s = src;
	struct virtio_net_hdr_mrg_rxbuf *d = dst;
	bool le = to_local || EPF_VIRTIO_HOST_LE;

	d->hdr.flags = s->hdr.flags;
	d->hdr.gso_type = s->hdr.gso_type;
	d->hdr.hdr_len = epf_vmed_net_hdr16(s->hdr.hdr_len, to_local);
	d->hdr.gso_size = epf_vmed_net_hdr16(s->hdr.gso_size, to_local);
	d->hdr.csum_start = epf_vmed_net_hdr16(s->hdr.csum_start, to_local);
	d->hdr.csum_offset = epf_vmed_net_hdr16(s->hdr.csum_offset, to_local);
	d->num_buffers = __cpu_to_virtio16(le, 1);
}

static const struct epf_vmed_hdr_ops epf_vmed_net_hdr_ops = {
	.len = epf_vmed_net_hdr_len,
	.convert = epf_vmed_net_hdr_convert,
};

/* Caller holds cfs.lock */
static void epf_vmed_net_set_config(struct epf_vmed *vmed)
{
	bool le = EPF_VIRTIO_HOST_LE;
	struct virtio_net_config cfg = {
		.status = __cpu_to_virtio16(le, VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = __cpu_to_virtio16(le, 1),
		.mtu = __cpu_to_virtio16(le, EPF_VMED_NET_MTU),
	};

	lockdep_assert_held(&vmed->cfs.lock);
	ether_addr_copy(cfg.mac, vmed->mac);
	epf_virtio_config_set(vmed->evd, 0, &cfg, EPF_VMED_NET_CONFIG_SIZE,
			      false);
}

/*
 * Both interfaces are on one link: the local one gets the host's MAC
 * address made locally administered, with another last byte.  Its link is
 * up while the host driver is there (else its frames would wait in the
 * ring until its transmit watchdog fires).
 */
static void epf_vmed_net_local_config(struct epf_vmed *vmed,
				      unsigned int offset, u8 *buf,
				      unsigned int len)
{
	unsigned int start = offsetof(struct virtio_net_config, mac);
	struct virtio_net_config cfg;
	u8 *p = (u8 *)&cfg;
	unsigned int i;

	epf_virtio_config_get(vmed->evd, start, cfg.mac, ETH_ALEN);
	cfg.mac[0] |= 0x02;
	cfg.mac[ETH_ALEN - 1] ^= 0x01;
	cfg.status = __cpu_to_virtio16(true, READ_ONCE(vmed->host_up) ?
				       VIRTIO_NET_S_LINK_UP : 0);

	for (i = 0; i < len; i++) {
		unsigned int at = offset + i;

		if ((at >= start && at < start + ETH_ALEN) ||
		    (at >= offsetof(struct virtio_net_config, status) &&
		     at < offsetofend(struct virtio_net_config, status)))
			buf[i] = p[at];
	}
}

static const struct epf_vmed_type epf_vmed_types[] = {
	{
		.name = "console",
		.info = {
			.virtio_id = VIRTIO_ID_CONSOLE,
			.pci_device_id = VIRTIO_TRANS_ID_CONSOLE,
			.pci_class = PCI_CLASS_COMMUNICATION_OTHER << 8,
			.nvqs = 2,
			.config_size = sizeof(struct virtio_console_config),
			.features = BIT(VIRTIO_CONSOLE_F_SIZE) |
				    EPF_VMED_HOST_ONLY,
			.ops = &epf_vmed_virtio_ops,
		},
		.packet = false,
	},
	{
		.name = "net",
		.info = {
			.virtio_id = VIRTIO_ID_NET,
			.pci_device_id = VIRTIO_TRANS_ID_NET,
			.pci_class = PCI_CLASS_NETWORK_ETHERNET << 8,
			.nvqs = 2,
			.config_size = EPF_VMED_NET_CONFIG_SIZE,
			.features = BIT(VIRTIO_NET_F_CSUM) |
				    BIT(VIRTIO_NET_F_GUEST_CSUM) |
				    BIT(VIRTIO_NET_F_MTU) |
				    BIT(VIRTIO_NET_F_MAC) |
				    BIT(VIRTIO_NET_F_STATUS) |
				    EPF_VMED_HOST_ONLY,
			.ops = &epf_vmed_virtio_ops,
		},
		.packet = true,
		.hdr = &epf_vmed_net_hdr_ops,
		.set_config = epf_vmed_net_set_config,
		.local_config = epf_vmed_net_local_config,
	},
};

/* ------------------------------------------------------------------------
 * The local virtio device
 */

static void epf_vmed_get(struct virtio_device *vdev, unsigned int offset,
			 void *buf, unsigned int len)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	struct epf_vmed *vmed = local->vmed;

	if (offset > vmed->type->info.config_size ||
	    len > vmed->type->info.config_size - offset) {
		memset(buf, 0, len);
		return;
	}

	epf_virtio_config_get(vmed->evd, offset, buf, len);
	if (vmed->type->local_config)
		vmed->type->local_config(vmed, offset, buf, len);
}

static void epf_vmed_set(struct virtio_device *vdev, unsigned int offset,
			 const void *buf, unsigned int len)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	struct epf_vmed *vmed = local->vmed;

	if (offset > vmed->type->info.config_size ||
	    len > vmed->type->info.config_size - offset)
		return;

	epf_virtio_config_set(vmed->evd, offset, buf, len, false);
}

static u8 epf_vmed_get_status(struct virtio_device *vdev)
{
	/* Written under lock, read from any context */
	return READ_ONCE(to_epf_vmed_local(vdev)->status);
}

static void epf_vmed_set_status(struct virtio_device *vdev, u8 status)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	struct epf_vmed *vmed = local->vmed;

	mutex_lock(&vmed->lock);
	WRITE_ONCE(local->status,
		   status | (local->status & VIRTIO_CONFIG_S_NEEDS_RESET));
	mutex_unlock(&vmed->lock);

	/* Data may be waiting for the driver */
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		epf_virtio_wake(vmed->evd);
}

/* Forget the local chains: the local driver takes its buffers back */
static void epf_vmed_local_forget(struct epf_vmed_local *local)
{
	unsigned int i;

	for (i = 0; i < EPF_VMED_MAX_VQS; i++) {
		local->lvqs[i].busy = false;
		local->lvqs[i].written = 0;
		local->lvqs[i].completed = false;
	}
}

static void epf_vmed_vdev_reset(struct virtio_device *vdev)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	struct epf_vmed *vmed = local->vmed;

	mutex_lock(&vmed->lock);
	WRITE_ONCE(local->status, 0);
	local->broken = false;
	epf_vmed_local_forget(local);
	atomic_long_set(&local->irq_pending, 0);
	mutex_unlock(&vmed->lock);

	/* No interrupt after the reset */
	epf_vmed_irq_sync(local);
}

static void epf_vmed_synchronize_cbs(struct virtio_device *vdev)
{
	epf_vmed_irq_sync(to_epf_vmed_local(vdev));
}

/* The local driver kicks a queue: in any context, locks held */
static bool epf_vmed_notify(struct virtqueue *vq)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vq->vdev);

	epf_virtio_wake(local->vmed->evd);

	return true;
}

static void epf_vmed_del_vqs(struct virtio_device *vdev)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	struct epf_vmed *vmed = local->vmed;
	struct virtqueue *vqs[EPF_VMED_MAX_VQS];
	unsigned long flags;
	unsigned int i;

	mutex_lock(&vmed->lock);
	epf_vmed_local_forget(local);
	spin_lock_irqsave(&local->irq_lock, flags);
	for (i = 0; i < EPF_VMED_MAX_VQS; i++) {
		vqs[i] = local->lvqs[i].vq;
		local->lvqs[i].vq = NULL;
	}
	spin_unlock_irqrestore(&local->irq_lock, flags);
	mutex_unlock(&vmed->lock);

	epf_vmed_irq_sync(local);

	for (i = 0; i < EPF_VMED_MAX_VQS; i++) {
		if (vqs[i])
			vring_del_virtqueue(vqs[i]);
		vringh_kiov_cleanup(&local->lvqs[i].riov);
		vringh_kiov_cleanup(&local->lvqs[i].wiov);
	}
}

static int epf_vmed_setup_vq(struct epf_vmed_local *local, unsigned int index,
			     struct virtqueue_info *info, struct virtqueue **out)
{
	struct epf_vmed *vmed = local->vmed;
	struct epf_vmed_lvq *lvq = &local->lvqs[index];
	const struct vring *vring;
	struct virtqueue *vq;
	unsigned long flags;
	int ret;

	vq = vring_create_virtqueue(index, vmed->cfs.params.queue_size,
				    EPF_VMED_VRING_ALIGN, &local->vdev, true,
				    true, info->ctx, epf_vmed_notify,
				    info->callback, info->name);
	if (!vq)
		return -ENOMEM;

	vring = virtqueue_get_vring(vq);

	mutex_lock(&vmed->lock);
	ret = vringh_init_kern(&lvq->vrh, local->vdev.features,
			       virtqueue_get_vring_size(vq), true,
			       vring->desc, vring->avail, vring->used);
	if (!ret) {
		vringh_kiov_init(&lvq->riov, lvq->rvec, ARRAY_SIZE(lvq->rvec));
		vringh_kiov_init(&lvq->wiov, lvq->wvec, ARRAY_SIZE(lvq->wvec));
		lvq->busy = false;
		spin_lock_irqsave(&local->irq_lock, flags);
		lvq->vq = vq;
		spin_unlock_irqrestore(&local->irq_lock, flags);
	}
	mutex_unlock(&vmed->lock);

	if (ret) {
		vring_del_virtqueue(vq);
		return ret;
	}
	*out = vq;

	return 0;
}

static int epf_vmed_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			     struct virtqueue *vqs[],
			     struct virtqueue_info vqs_info[],
			     struct irq_affinity *desc)
{
	struct epf_vmed_local *local = to_epf_vmed_local(vdev);
	unsigned int i, index = 0;
	int ret;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!vqs_info[i].name)
			continue;

		if (index >= local->vmed->type->info.nvqs) {
			ret = -ENOENT;
			goto err_del_vqs;
		}

		ret = epf_vmed_setup_vq(local, index, &vqs_info[i], &vqs[i]);
		if (ret)
			goto err_del_vqs;
		index++;
	}

	return 0;

err_del_vqs:
	epf_vmed_del_vqs(vdev);
	return ret;
}

static u64 epf_vmed_get_features(struct virtio_device *vdev)
{
	return to_epf_vmed_local(vdev)->offer | EPF_VMED_LOCAL_FEATURES;
}

static int epf_vmed_finalize_features(struct virtio_device *vdev)
{
	/* Drop what the rings here do not implement */
	vring_transport_features(vdev);

	return 0;
}

static const char *epf_vmed_bus_name(struct virtio_device *vdev)
{
	return dev_name(vdev->dev.parent);
}

static const struct virtio_config_ops epf_vmed_config_ops = {
	.get = epf_vmed_get,
	.set = epf_vmed_set,
	.get_status = epf_vmed_get_status,
	.set_status = epf_vmed_set_status,
	.reset = epf_vmed_vdev_reset,
	.find_vqs = epf_vmed_find_vqs,
	.del_vqs = epf_vmed_del_vqs,
	.synchronize_cbs = epf_vmed_synchronize_cbs,
	.get_features = epf_vmed_get_features,
	.finalize_features = epf_vmed_finalize_features,
	.bus_name = epf_vmed_bus_name,
};

static void epf_vmed_local_release(struct device *dev)
{
	struct virtio_device *vdev = dev_to_virtio(dev);

	kfree(to_epf_vmed_local(vdev));
}

/* Register the local device; the caller holds cfs.lock */
static int epf_vmed_local_add(struct epf_vmed *vmed)
{
	struct epf_vmed_local *local;
	int ret;

	lockdep_assert_held(&vmed->cfs.lock);

	local = kzalloc_obj(*local);
	if (!local)
		return -ENOMEM;

	local->vmed = vmed;
	local->offer = vmed->cfs.params.features & ~EPF_VMED_HOST_ONLY;
	local->irq_cpu = vmed->irq_cpu;
	spin_lock_init(&local->irq_lock);
	atomic_set(&local->irq_inflight, 0);
	INIT_CSD(&local->irq_csd, epf_vmed_irq, local);

	local->vdev.dev.parent = epf_virtio_dev(vmed->evd);
	local->vdev.dev.release = epf_vmed_local_release;
	local->vdev.config = &epf_vmed_config_ops;
	local->vdev.id.device = vmed->type->info.virtio_id;
	local->vdev.id.vendor = PCI_SUBVENDOR_ID_REDHAT_QUMRANET;

	mutex_lock(&vmed->lock);
	vmed->local = local;
	mutex_unlock(&vmed->lock);

	ret = register_virtio_device(&local->vdev);
	if (ret) {
		dev_err(&vmed->epf->dev,
			"Failed to register the local device (err=%d)\n", ret);
		mutex_lock(&vmed->lock);
		vmed->local = NULL;
		mutex_unlock(&vmed->lock);
		put_device(&local->vdev.dev);
		return ret;
	}

	dev_info(&vmed->epf->dev, "Local %s device %s\n", vmed->type->name,
		 dev_name(&local->vdev.dev));

	return 0;
}

/* Unregister the local device; the poll thread is stopped */
static void epf_vmed_local_remove(struct epf_vmed *vmed)
{
	struct epf_vmed_local *local = vmed->local;

	if (!local)
		return;

	/* A local writer spinning on a buffer nobody will use lets go */
	virtio_break_device(&local->vdev);
	unregister_virtio_device(&local->vdev);

	mutex_lock(&vmed->lock);
	vmed->local = NULL;
	mutex_unlock(&vmed->lock);
}

/* ------------------------------------------------------------------------
 * configfs tunables
 */

static inline struct epf_vmed *epf_vmed_from_item(struct config_item *item)
{
	return container_of(epf_virtio_cfs_from_item(item), struct epf_vmed,
			    cfs);
}

static void epf_vmed_set_type(struct epf_vmed *vmed,
			      const struct epf_vmed_type *type)
{
	vmed->type = type;
	epf_virtio_cfs_set_features(&vmed->cfs, type->info.features);
}

static ssize_t epf_vmed_device_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s\n", epf_vmed_from_item(item)->type->name);
}

/*
 * Another device type: the host-side device is made again.  The function's
 * driver data (the core's device) changes, and bind and unbind read it
 * before they can take cfs.lock: they run under the function's own lock
 * (pci_epf_bind() and pci_epf_unbind() hold epf->lock), which is taken
 * here first, so that neither can meet a device being freed.  Lock order:
 * epf->lock, then cfs.lock.
 */
static ssize_t epf_vmed_device_store(struct config_item *item,
				     const char *page, size_t len)
{
	struct epf_vmed *vmed = epf_vmed_from_item(item);
	const struct epf_vmed_type *type = NULL, *old;
	struct epf_virtio *evd;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(epf_vmed_types); i++)
		if (sysfs_streq(page, epf_vmed_types[i].name))
			type = &epf_vmed_types[i];
	if (!type)
		return -EINVAL;

	mutex_lock(&vmed->epf->lock);
	mutex_lock(&vmed->cfs.lock);
	if (epf_virtio_cfs_locked_out(&vmed->cfs)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (type == vmed->type)
		goto out_unlock;

	old = vmed->type;
	epf_virtio_destroy(vmed->evd);
	epf_vmed_set_type(vmed, type);
	evd = epf_virtio_create(vmed->epf, &vmed->type->info, vmed);
	if (IS_ERR(evd)) {
		ret = PTR_ERR(evd);
		/* Back to the old type, whose description was valid */
		epf_vmed_set_type(vmed, old);
		evd = epf_virtio_create(vmed->epf, &vmed->type->info, vmed);
	}
	vmed->evd = IS_ERR(evd) ? NULL : evd;
	if (vmed->evd && vmed->type->set_config)
		vmed->type->set_config(vmed);

out_unlock:
	mutex_unlock(&vmed->cfs.lock);
	mutex_unlock(&vmed->epf->lock);

	return ret ? ret : len;
}

CONFIGFS_ATTR(epf_vmed_, device);

static ssize_t epf_vmed_irq_cpu_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%d\n", epf_vmed_from_item(item)->irq_cpu);
}

static ssize_t epf_vmed_irq_cpu_store(struct config_item *item,
				      const char *page, size_t len)
{
	struct epf_vmed *vmed = epf_vmed_from_item(item);

	return epf_virtio_cfs_store_cpu(&vmed->cfs, &vmed->irq_cpu, page, len);
}

CONFIGFS_ATTR(epf_vmed_, irq_cpu);

static ssize_t epf_vmed_local_show(struct config_item *item, char *page)
{
	struct epf_vmed *vmed = epf_vmed_from_item(item);
	ssize_t ret;

	mutex_lock(&vmed->cfs.lock);
	ret = sysfs_emit(page, "%s\n",
			 vmed->local ? dev_name(&vmed->local->vdev.dev) : "");
	mutex_unlock(&vmed->cfs.lock);

	return ret;
}

CONFIGFS_ATTR_RO(epf_vmed_, local);

static ssize_t epf_vmed_mac_show(struct config_item *item, char *page)
{
	struct epf_vmed *vmed = epf_vmed_from_item(item);
	ssize_t ret;

	mutex_lock(&vmed->cfs.lock);
	ret = sysfs_emit(page, "%pM\n", vmed->mac);
	mutex_unlock(&vmed->cfs.lock);

	return ret;
}

/* The host's MAC address (net); the local interface's is derived from it */
static ssize_t epf_vmed_mac_store(struct config_item *item,
				  const char *page, size_t len)
{
	struct epf_vmed *vmed = epf_vmed_from_item(item);
	size_t n = strcspn(page, "\n");
	u8 mac[ETH_ALEN];
	int ret = 0;

	/* "xx:xx:xx:xx:xx:xx" of a unicast address, a newline allowed */
	if (n != MAC_ADDR_STR_LEN || len > n + 1 || !mac_pton(page, mac) ||
	    !is_valid_ether_addr(mac))
		return -EINVAL;

	mutex_lock(&vmed->cfs.lock);
	if (epf_virtio_cfs_locked_out(&vmed->cfs)) {
		ret = -EBUSY;
	} else {
		ether_addr_copy(vmed->mac, mac);
		if (vmed->evd && vmed->type->set_config)
			vmed->type->set_config(vmed);
	}
	mutex_unlock(&vmed->cfs.lock);

	return ret ? ret : len;
}

CONFIGFS_ATTR(epf_vmed_, mac);

static ssize_t epf_vmed_dropped_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%ld\n",
			  atomic_long_read(&epf_vmed_from_item(item)->dropped));
}

CONFIGFS_ATTR_RO(epf_vmed_, dropped);

static struct configfs_attribute *epf_vmed_attrs[] = {
	&epf_vmed_attr_device,
	&epf_virtio_cfs_attr_queue_size,
	&epf_virtio_cfs_attr_features,
	&epf_virtio_cfs_attr_poll_cpu,
	&epf_virtio_cfs_attr_dma_threshold,
	&epf_virtio_cfs_attr_dma_rings,
	&epf_vmed_attr_irq_cpu,
	&epf_vmed_attr_local,
	&epf_vmed_attr_mac,
	&epf_vmed_attr_dropped,
	NULL,
};

static const struct config_item_type epf_vmed_group_type = {
	.ct_attrs = epf_vmed_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *epf_vmed_add_cfs(struct pci_epf *epf,
					     struct config_group *group)
{
	struct epf_vmed *vmed = epf_virtio_priv(epf_virtio_from_epf(epf));

	config_group_init_type_name(&vmed->cfs.group, "vmed",
				    &epf_vmed_group_type);

	return &vmed->cfs.group;
}

/* ------------------------------------------------------------------------
 * Endpoint function driver
 */

/* Called with epf->lock held, which keeps the driver data from changing */
static int epf_vmed_bind(struct pci_epf *epf)
{
	struct epf_virtio *evd;
	struct epf_vmed *vmed;
	int ret;

	lockdep_assert_held(&epf->lock);
	evd = epf_virtio_from_epf(epf);
	if (!evd)
		return -ENODEV;
	vmed = epf_virtio_priv(evd);

	/* The local interrupts need a CPU other than the poll thread's */
	if (num_online_cpus() < 2) {
		dev_err(&epf->dev, "Needs two online CPUs: one polls, the other takes the local device's interrupts\n");
		return -EOPNOTSUPP;
	}

	mutex_lock(&vmed->cfs.lock);
	ret = epf_virtio_cfs_bind(&vmed->cfs, vmed->evd);
	if (ret)
		goto out_unlock;

	ret = epf_vmed_local_add(vmed);
	if (ret)
		goto err_unbind;

	mutex_unlock(&vmed->cfs.lock);

	return 0;

err_unbind:
	epf_virtio_unbind(vmed->evd);
	vmed->cfs.bound = false;
out_unlock:
	mutex_unlock(&vmed->cfs.lock);
	return ret;
}

/*
 * Called with epf->lock held, as bind.  Also after a failed bind: the
 * endpoint core calls unbind then too once the function was ever bound,
 * and the host-side device may be gone (a type change failed).
 */
static void epf_vmed_unbind(struct pci_epf *epf)
{
	struct epf_virtio *evd;
	struct epf_vmed *vmed;

	lockdep_assert_held(&epf->lock);
	evd = epf_virtio_from_epf(epf);
	if (!evd)
		return;
	vmed = epf_virtio_priv(evd);
	mutex_lock(&vmed->cfs.lock);
	/* The poll thread stops first: the local device is not used any more */
	epf_virtio_unbind(vmed->evd);
	epf_vmed_local_remove(vmed);
	vmed->cfs.bound = false;
	mutex_unlock(&vmed->cfs.lock);
}

static int epf_vmed_probe(struct pci_epf *epf,
			  const struct pci_epf_device_id *id)
{
	struct epf_virtio *evd;
	struct epf_vmed *vmed;
	unsigned int i;

	/* Freed with the driver's data, even if a type change failed */
	vmed = devm_kzalloc(&epf->dev, sizeof(*vmed), GFP_KERNEL);
	if (!vmed)
		return -ENOMEM;

	vmed->epf = epf;
	epf_virtio_cfs_init(&vmed->cfs, epf, 0);
	vmed->irq_cpu = -1;
	mutex_init(&vmed->lock);
	for (i = 0; i < EPF_VMED_MAX_VQS; i++)
		epf_virtio_buf_init(&vmed->hqs[i].buf);
	epf_vmed_set_type(vmed, &epf_vmed_types[0]);

	eth_random_addr(vmed->mac);
	atomic_long_set(&vmed->dropped, 0);

	evd = epf_virtio_create(epf, &vmed->type->info, vmed);
	if (IS_ERR(evd))
		return PTR_ERR(evd);
	vmed->evd = evd;
	if (vmed->type->set_config) {
		mutex_lock(&vmed->cfs.lock);
		vmed->type->set_config(vmed);
		mutex_unlock(&vmed->cfs.lock);
	}

	return 0;
}

static void epf_vmed_remove(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_virtio_from_epf(epf);
	struct epf_vmed *vmed;
	unsigned int i;

	if (!evd)
		return;
	vmed = epf_virtio_priv(evd);

	epf_virtio_destroy(evd);
	for (i = 0; i < EPF_VMED_MAX_VQS; i++)
		epf_virtio_buf_release(&vmed->hqs[i].buf);
}

static const struct pci_epf_device_id epf_vmed_ids[] = {
	{ .name = "pci_epf_vmed" },
	{},
};

static const struct pci_epf_ops epf_vmed_ops = {
	.bind = epf_vmed_bind,
	.unbind = epf_vmed_unbind,
	.add_cfs = epf_vmed_add_cfs,
};

static struct pci_epf_driver epf_vmed_driver = {
	.driver.name = "pci_epf_vmed",
	.probe = epf_vmed_probe,
	.remove = epf_vmed_remove,
	.id_table = epf_vmed_ids,
	.ops = &epf_vmed_ops,
	.owner = THIS_MODULE,
};

static int __init epf_vmed_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(epf_vmed_types); i++)
		if (WARN_ON(epf_vmed_types[i].info.nvqs > EPF_VMED_MAX_VQS ||
			    epf_vmed_types[i].info.nvqs % 2))
			return -EINVAL;

	ret = pci_epf_register_driver(&epf_vmed_driver);
	if (ret)
		pr_err("Failed to register the function driver (err=%d)\n",
		       ret);

	return ret;
}
module_init(epf_vmed_init);

static void __exit epf_vmed_exit(void)
{
	pci_epf_unregister_driver(&epf_vmed_driver);
}
module_exit(epf_vmed_exit);

MODULE_DESCRIPTION("Mediated virtio PCIe endpoint function (baseline)");
MODULE_LICENSE("GPL");
