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

#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/etherdevice.h>
#include <linux/hex.h>
#include <linux/io.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-epc.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/vringh.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <kunit/visibility.h>

#include "pci-epf-virtio-kunit.h"

/* Older kernels (6.12) lack the typed allocation helpers */
#ifndef kzalloc_obj
#define kzalloc_obj(obj) kzalloc(sizeof(obj), GFP_KERNEL)
#define kmalloc_obj(obj) kmalloc(sizeof(obj), GFP_KERNEL)
#endif

/*
 * BAR0 layout: the legacy register file (20 bytes of header, 4 more with
 * MSI-X, then the device configuration), the MSI-X table, the PBA.
 */
#define EPF_VIRTIO_REGS_SIZE		0x100
#define EPF_VIRTIO_MSIX_TABLE		EPF_VIRTIO_REGS_SIZE

/* Unbound system workqueue, under its current name where it has one */
#ifdef EPF_VIRTIO_DFL_WQ
#define EPF_VIRTIO_UNMAP_WQ		system_dfl_wq
#else
#define EPF_VIRTIO_UNMAP_WQ		system_unbound_wq
#endif

/* ISR bit for used buffers (the config bit is VIRTIO_PCI_ISR_CONFIG) */
#define EPF_VIRTIO_ISR_QUEUE		0x1

/* Value kept in QUEUE_NOTIFY: any host write (a queue index) replaces it */
#define EPF_VIRTIO_NOTIFY_IDLE		0xffff

/*
 * Polling policy.  The host's setup_vq() reads QUEUE_PFN back for the next
 * queue microseconds after writing it for the previous one, so while the
 * host may be setting the device up the thread spins without sleeping, for
 * at most EPF_VIRTIO_SETUP_SPIN_MS after the last sign of host activity.
 * With traffic it re-polls at once while work is found and keeps spinning
 * EPF_VIRTIO_BUSY_SPIN_US more (a host console writer spins until its
 * buffer is used); then it sleeps EPF_VIRTIO_HOT_POLL_US between polls for
 * EPF_VIRTIO_HOT_MS, and EPF_VIRTIO_IDLE_POLL_US after that.  After link up,
 * bus master enable or a host reset, the hot rate is kept for
 * EPF_VIRTIO_ARMED_MS so that a host driver probing then is caught early.
 */
#define EPF_VIRTIO_SETUP_SPIN_MS	2000
#define EPF_VIRTIO_BUSY_SPIN_US		50
#define EPF_VIRTIO_HOT_POLL_US		50
#define EPF_VIRTIO_HOT_MS		100
#define EPF_VIRTIO_IDLE_POLL_US		5000
#define EPF_VIRTIO_ARMED_MS		10000

/*
 * A set-up spin that stopped this long tells, should the host's set-up fail,
 * that the thread may have missed a QUEUE_PFN
 */
#define EPF_VIRTIO_SETUP_GAP_US		200

/*
 * After taking a queue's address, wait at most this long for the host to
 * write the queue's MSI-X vector or to go on to the next queue.  The host
 * does so right after it requested the queue's interrupt, which can take a
 * millisecond; QUEUE_VECTOR is one word for all queues, and read any later
 * it may already hold the next queue's vector.
 */
#define EPF_VIRTIO_VECTOR_WAIT_US	5000

/*
 * While no host driver runs and the configuration may not be where the next
 * one reads it, recheck the host's MSI-X state this often, or this often
 * while the thread spins for a set-up (and at once on a status change).
 * Not on every spinning poll: a set-up's vectors keep the check busy, and
 * the spin must stay short enough to catch every QUEUE_PFN.
 */
#define EPF_VIRTIO_MSIX_CHECK_MS	10
#define EPF_VIRTIO_MSIX_SPIN_CHECK_US	1000

/* INTx: keep the ISR config bit set this long after a config interrupt */
#define EPF_VIRTIO_ISR_HOLD_MS		100

/* Limits on what a host may put in a ring */
#define EPF_VIRTIO_MAX_DESC_LEN		SZ_64M
#define EPF_VIRTIO_MAX_CHAIN_LEN	SZ_64M

/* Give up on a host buffer that stays unreachable for this long */
#define EPF_VIRTIO_XFER_TIMEOUT_MS	1000

/*
 * The MMIO byte mover keeps its last outbound mapping and maps at least
 * this much (aligned) at a time, so that buffers close to each other (or
 * the same buffer again) need no new mapping.
 */
#define EPF_VIRTIO_DATA_WINDOW		SZ_1M

/*
 * Transport feature bits the core implements: every device-specific bit,
 * and ANY_LAYOUT (a promise of the device driver).  Indirect descriptors,
 * event indexes and NOTIFY_ON_EMPTY are not implemented, so not offered.
 */
#define EPF_VIRTIO_FEATURES_OK		(GENMASK(VIRTIO_F_NOTIFY_ON_EMPTY - 1, 0) | \
					 BIT(VIRTIO_F_ANY_LAYOUT))

/* Events signalled to the poll thread (bits of epf_virtio::events) */
enum {
	EPF_VIRTIO_EV_LINK,	/* link up (see link_want) */
	EPF_VIRTIO_EV_BME,	/* the host enabled bus mastering */
	EPF_VIRTIO_EV_WAKE,	/* the device driver has work */
	EPF_VIRTIO_EV_CONFIG,	/* device configuration changed */
};

struct epf_virtio;

/**
 * struct epf_virtio_xfer_ops - how bytes move to and from host memory
 * @name: for messages
 * @xfer: copy @len bytes between @buf and host PCI address @pci_addr
 *	(to the host if @to_host); 0 or a negative error code
 * @reserve: take, at activation, what @xfer will need (host memory at
 *	@pci_addr is reachable), so that a device that cannot have it fails
 *	then; 0 or a negative error code (-ENOMEM: no outbound window free)
 * @release: drop whatever @xfer keeps between calls (the device stops)
 *
 * MMIO through outbound windows for now; a DMA engine can be plugged in
 * here without touching the callers.
 */
struct epf_virtio_xfer_ops {
	const char *name;
	int (*xfer)(struct epf_virtio *evd, u64 pci_addr, void *buf,
		    size_t len, bool to_host);
	int (*reserve)(struct epf_virtio *evd, u64 pci_addr);
	void (*release)(struct epf_virtio *evd);
};

/**
 * struct epf_virtio_stale_map - an outbound mapping waiting to be undone
 * @map: the mapping
 * @node: in epf_virtio::stale_maps
 */
struct epf_virtio_stale_map {
	struct pci_epc_map map;
	struct list_head node;
};

/**
 * struct epf_virtio_poller - a poll thread and the devices it serves
 * @node: in epf_virtio_pollers
 * @cpu: CPU the thread runs on, or -1 for any
 * @thread: the thread
 * @wq: the thread sleeps here
 * @kick: a device was signalled since the thread last looked
 * @lock: protects @devices; held while the thread polls them, so a device
 *	taken off the list is no longer being polled
 * @devices: the devices polled
 *
 * One thread per CPU serves every device that asked for that CPU (one
 * more for the devices that asked for none), so devices setting up at the
 * same time do not fight for a CPU with spinning threads.  Pollers live
 * until the module is unloaded.
 */
struct epf_virtio_poller {
	struct list_head node;
	int cpu;
	struct task_struct *thread;
	wait_queue_head_t wq;
	bool kick;
	/* The device list; held while the devices are polled */
	struct mutex lock;
	struct list_head devices;
};

/* All pollers; the mutex protects the list */
static LIST_HEAD(epf_virtio_pollers);
static DEFINE_MUTEX(epf_virtio_pollers_lock);

/**
 * struct epf_virtio_queue - one virtqueue
 * @evd: owning device
 * @index: queue index
 * @pfn: QUEUE_PFN the host gave for this queue, 0 if not set up
 * @vector: MSI-X vector the host gave for this queue
 * @live: the host ring is mapped and the queue in use
 * @map: outbound mapping of the whole host ring
 * @h_desc: host descriptor table, through @map
 * @h_avail: host avail ring, through @map
 * @h_used: host used ring, through @map
 * @shadow: endpoint memory holding the shadow ring
 * @shadow_size: size of @shadow
 * @sring: the shadow ring, as vringh sees it
 * @vrh: vringh state, on @sring
 * @pending: descriptors of chains mirrored into the shadow but not yet
 *	taken by vringh; no later chain may rewrite them
 * @avail_idx: host avail index mirrored into the shadow so far
 * @used_idx: used index published to the host so far
 * @completed: used entries were published since the last notify check
 *
 * Owned by the poll thread; the other fields are set at bind time.
 */
struct epf_virtio_queue {
	struct epf_virtio *evd;
	unsigned int index;
	u32 pfn;
	u16 vector;
	bool live;
	struct pci_epc_map map;
	void __iomem *h_desc;
	void __iomem *h_avail;
	void __iomem *h_used;
	void *shadow;
	size_t shadow_size;
	struct vring sring;
	struct vringh vrh;
	unsigned long *pending;
	u16 avail_idx;
	u16 used_idx;
	bool completed;
};

/*
 * What the host did while setting the device up, as the poll thread saw
 * it: printed when the host gives up on the device, since the legacy
 * set-up races the poll thread (see epf_virtio_poll_regs()).
 */
#define EPF_VIRTIO_TRACE_LEN		24

struct epf_virtio_trace {
	u32 us;
	u8 status;
	u16 sel;
	u32 pfn;
	u16 vec20;
	u16 vec22;
};

/**
 * struct epf_virtio - a virtio device behind an endpoint function
 * @epf: the endpoint function
 * @info: device description
 * @priv: device driver data
 * @header: PCI configuration header
 * @epc_features: features of the controller, from bind
 * @bar: BAR0 memory (register file, MSI-X table)
 * @msix_nr: MSI-X table size in BAR0 (0: no MSI-X)
 * @queue_size: size of every queue
 * @poll_cpu: CPU for the poll thread, or -1
 * @dev_features: features offered to the host
 * @vqs: the queues
 * @xfer: byte mover
 * @stale_lock: protects @stale_maps and @stale_n
 * @stale_maps: mappings to undo, off the poll thread
 * @stale_n: mappings handed to @unmap_work and not yet undone
 * @unmap_work: undoes @stale_maps
 * @epc_ready: header and BAR written to the controller (epc_init done)
 * @poller: poll thread serving the device, from epc_init to epc_deinit or
 *	unbind
 * @poll_node: in the poller's device list
 * @events: EPF_VIRTIO_EV_* bits for the poll thread
 * @link_want: link state from the last EPC event
 * @cfg_lock: protects @cfg and @cfg_dirty / @cfg_notify
 * @cfg: device configuration as the device driver wants it
 * @cfg_dirty: @cfg changed since it was last written to the BAR
 * @cfg_notify: tell the host about that change
 * @cfg_bar: device configuration as last written to or taken from the BAR
 * @status: device status as last seen
 * @active: DRIVER_OK handled and the device driver activated
 * @broken: the device needs a reset from the host
 * @want_reset: a helper found the host broke the protocol
 * @drv_features: features the host driver accepted
 * @irq_type: how to interrupt the host (PCI_IRQ_*)
 * @msix_on: number of MSI-X vectors the host enabled (0: none)
 * @cfg_vector: MSI-X vector for configuration changes
 * @layout_msix: device configuration at the MSI-X offset (24, not 20)
 * @sel_seen: QUEUE_SEL as last sampled while QUEUE_PFN was 0
 * @setup_mask: queues given a QUEUE_PFN in this setup round
 * @vec_queue: queue whose MSI-X vector write is awaited, or -1
 * @spin_until: spin without sleeping until then while the host sets up
 * @trace: register values seen since the last host reset, for diagnosis
 * @trace_n: entries used in @trace
 * @trace_t0: time of the last host reset
 * @setup_polled: time of the last poll spent spinning for a host set-up (0:
 *	the last poll was not)
 * @setup_gap_us: longest wait between such a poll and the next one since
 *	the last host reset
 * @polled_at: time of the last pass over the registers, whatever its pace
 * @busy_until: spin without sleeping until then after work
 * @hot_until: poll at the hot rate until then
 * @msix_check_at: next MSI-X state check while no host driver runs
 * @setup_refused: the host's current set-up is refused (QUEUE_NUM reads 0)
 * @isr_clear_at: when to clear the ISR config bit (0: nothing to clear)
 * @xfer_failing: the last transfer failed
 * @xfer_fail_since: jiffies of the first failure in a row
 * @win_wait_since: jiffies of the first activation that found no outbound
 *	window free, 0 if the last one did
 * @win_short: the last activation found no outbound window free
 * @dmap: the MMIO byte mover's current data mapping
 * @dmap_valid: @dmap is mapped
 *
 * Fields from @status on belong to the poll thread, or to whoever holds
 * the poller's lock (bind/unbind and the EPC event callbacks).
 */
struct epf_virtio {
	struct pci_epf *epf;
	const struct epf_virtio_info *info;
	void *priv;
	struct pci_epf_header header;

	const struct pci_epc_features *epc_features;
	void *bar;
	unsigned int msix_nr;
	unsigned int queue_size;
	int poll_cpu;
	u32 dev_features;
	struct epf_virtio_queue *vqs;
	const struct epf_virtio_xfer_ops *xfer;
	/* Poll thread adds, unmap work takes */
	spinlock_t stale_lock;
	struct list_head stale_maps;
	unsigned int stale_n;
	struct work_struct unmap_work;
	bool epc_ready;

	struct epf_virtio_poller *poller;
	struct list_head poll_node;
	unsigned long events;
	bool link_want;

	/* Device configuration: the device driver writes, the thread reads */
	spinlock_t cfg_lock;
	u8 *cfg;
	bool cfg_dirty;
	bool cfg_notify;
	u8 *cfg_bar;

	u8 status;
	bool active;
	bool broken;
	bool want_reset;
	u32 drv_features;
	unsigned int irq_type;
	int msix_on;
	u16 cfg_vector;
	bool layout_msix;
	u16 sel_seen;
	unsigned long *setup_mask;
	int vec_queue;
	ktime_t spin_until;
	struct epf_virtio_trace trace[EPF_VIRTIO_TRACE_LEN];
	unsigned int trace_n;
	ktime_t trace_t0;
	ktime_t setup_polled;
	u32 setup_gap_us;
	ktime_t polled_at;
	ktime_t busy_until;
	ktime_t hot_until;
	ktime_t msix_check_at;
	bool setup_refused;
	ktime_t isr_clear_at;
	bool xfer_failing;
	unsigned long xfer_fail_since;
	unsigned long win_wait_since;
	bool win_short;
	struct pci_epc_map dmap;
	bool dmap_valid;
};

static inline struct device *epf_virtio_to_dev(struct epf_virtio *evd)
{
	return &evd->epf->dev;
}

/* Register file accessors (BAR0 is endpoint memory the host writes into) */
static inline u8 epf_virtio_rd8(struct epf_virtio *evd, unsigned int off)
{
	return READ_ONCE(*(u8 *)(evd->bar + off));
}

static inline u16 epf_virtio_rd16(struct epf_virtio *evd, unsigned int off)
{
	return le16_to_cpu(READ_ONCE(*(__le16 *)(evd->bar + off)));
}

static inline u32 epf_virtio_rd32(struct epf_virtio *evd, unsigned int off)
{
	return le32_to_cpu(READ_ONCE(*(__le32 *)(evd->bar + off)));
}

static inline void epf_virtio_wr8(struct epf_virtio *evd, unsigned int off,
				  u8 val)
{
	WRITE_ONCE(*(u8 *)(evd->bar + off), val);
}

static inline void epf_virtio_wr16(struct epf_virtio *evd, unsigned int off,
				   u16 val)
{
	WRITE_ONCE(*(__le16 *)(evd->bar + off), cpu_to_le16(val));
}

static inline void epf_virtio_wr32(struct epf_virtio *evd, unsigned int off,
				   u32 val)
{
	WRITE_ONCE(*(__le32 *)(evd->bar + off), cpu_to_le32(val));
}

static inline unsigned int epf_virtio_cfg_base(struct epf_virtio *evd)
{
	return VIRTIO_PCI_CONFIG_OFF(evd->layout_msix);
}

/* The host is between reset and DRIVER_OK: it may be setting queues up */
static inline bool epf_virtio_in_setup(struct epf_virtio *evd)
{
	return !evd->broken &&
	       !(evd->status & (VIRTIO_CONFIG_S_DRIVER_OK |
				VIRTIO_CONFIG_S_FAILED));
}

static void epf_virtio_signal(struct epf_virtio *evd, int ev)
{
	struct epf_virtio_poller *p = READ_ONCE(evd->poller);

	set_bit(ev, &evd->events);
	if (p) {
		WRITE_ONCE(p->kick, true);
		wake_up(&p->wq);
	}
}

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
static void epf_virtio_unmap_work(struct work_struct *work)
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
static bool epf_virtio_unmaps_pending(struct epf_virtio *evd)
{
	unsigned long flags;
	bool pending;

	spin_lock_irqsave(&evd->stale_lock, flags);
	pending = evd->stale_n;
	spin_unlock_irqrestore(&evd->stale_lock, flags);

	return pending;
}

static void epf_virtio_unmap(struct epf_virtio *evd, struct pci_epc_map *map)
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

	queue_work(EPF_VIRTIO_UNMAP_WQ, &evd->unmap_work);
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
				void *buf, size_t len, bool to_host)
{
	void __iomem *va;
	size_t part;

	while (len) {
		va = epf_virtio_data_map(evd, pci_addr, len, &part);
		if (IS_ERR((__force void *)va))
			return PTR_ERR((__force void *)va);

		/* A window may cover less than asked for: copy what it has */
		part = min(part, len);
		if (to_host)
			memcpy_toio(va, buf, part);
		else
			memcpy_fromio(buf, va, part);

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

static const struct epf_virtio_xfer_ops epf_virtio_mmio_ops = {
	.name = "MMIO",
	.xfer = epf_virtio_mmio_xfer,
	.reserve = epf_virtio_mmio_reserve,
	.release = epf_virtio_mmio_release,
};

static int epf_virtio_xfer(struct epf_virtio *evd, u64 pci_addr, void *buf,
			   size_t len, bool to_host)
{
	int ret;

	ret = evd->xfer->xfer(evd, pci_addr, buf, len, to_host);
	if (!ret) {
		evd->xfer_failing = false;
		return 0;
	}

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

/* ------------------------------------------------------------------------
 * Interrupts to the host
 */

static void epf_virtio_raise(struct epf_virtio *evd, u16 vector, u8 isr)
{
	struct pci_epf *epf = evd->epf;
	unsigned int type = evd->irq_type;
	u16 num = 0;
	int ret;

	if (type == PCI_IRQ_MSIX) {
		if (vector == VIRTIO_MSI_NO_VECTOR)
			return;
		if (vector >= evd->msix_on) {
			dev_err_ratelimited(epf_virtio_to_dev(evd),
					    "Host gave MSI-X vector %u, only %d enabled\n",
					    vector, evd->msix_on);
			return;
		}
		/* EPC interrupt numbers start at 1 */
		num = vector + 1;
	} else {
		/* The host reads ISR to find out why: set the reason first */
		epf_virtio_wr8(evd, VIRTIO_PCI_ISR,
			       epf_virtio_rd8(evd, VIRTIO_PCI_ISR) | isr);
		if (type == PCI_IRQ_MSI)
			num = 1;
	}

	ret = pci_epc_raise_irq(epf->epc, epf->func_no, epf->vfunc_no, type,
				num);
	if (ret)
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Failed to raise interrupt (type %u, num %u, err=%d)\n",
				    type, num, ret);
}

static void epf_virtio_raise_config(struct epf_virtio *evd)
{
	epf_virtio_raise(evd, evd->cfg_vector, VIRTIO_PCI_ISR_CONFIG);
	if (evd->irq_type != PCI_IRQ_MSIX)
		evd->isr_clear_at = ktime_add_ms(ktime_get(),
						 EPF_VIRTIO_ISR_HOLD_MS);
}

/* ------------------------------------------------------------------------
 * Device configuration
 */

/**
 * epf_virtio_cfg_put_device() - write the device's configuration changes
 * @bar_cfg: the configuration in BAR memory, which the host reads and writes
 * @cfg: the device's configuration
 * @cfg_bar: the configuration as last written to or taken from @bar_cfg
 * @size: size of the configuration
 * @all: write every byte (the host is not using the configuration)
 *
 * Writes to @bar_cfg the bytes of @cfg that differ from @cfg_bar, or all of
 * them if @all.  A byte the device did not change is never written, so that
 * a host write to it that epf_virtio_cfg_take_host() has not seen yet is
 * not lost.  The caller serializes calls on one configuration.
 */
VISIBLE_IF_KUNIT void epf_virtio_cfg_put_device(u8 *bar_cfg, const u8 *cfg,
						u8 *cfg_bar, unsigned int size,
						bool all)
{
	unsigned int i;

	for (i = 0; i < size; i++) {
		if (!all && cfg[i] == cfg_bar[i])
			continue;
		cfg_bar[i] = cfg[i];
		WRITE_ONCE(bar_cfg[i], cfg[i]);
	}
}
EXPORT_SYMBOL_IF_KUNIT(epf_virtio_cfg_put_device);

/**
 * epf_virtio_cfg_take_host() - take the host's configuration writes
 * @bar_cfg: the configuration in BAR memory, which the host reads and writes
 * @cfg: the device's configuration
 * @cfg_bar: the configuration as last written to or taken from @bar_cfg
 * @size: size of the configuration
 * @first: set to the offset of the first byte the host changed
 * @last: set to the offset of the last byte the host changed
 *
 * Copies into @cfg (and @cfg_bar) only the bytes of @bar_cfg that differ
 * from @cfg_bar: a byte the device changed in between, not yet in the BAR,
 * keeps the device's value.  A byte that both changed keeps the device's
 * value too, which epf_virtio_cfg_put_device() then writes over the host's:
 * the device's configuration is the one the host must read.  The caller
 * serializes calls on one configuration.
 *
 * Return: true if the host changed a byte that the device had not (@first
 * and @last then span those bytes).
 */
VISIBLE_IF_KUNIT bool epf_virtio_cfg_take_host(const u8 *bar_cfg, u8 *cfg,
					       u8 *cfg_bar, unsigned int size,
					       unsigned int *first,
					       unsigned int *last)
{
	bool changed = false;
	unsigned int i;

	for (i = 0; i < size; i++) {
		u8 val = READ_ONCE(bar_cfg[i]);
		bool device_changed = cfg[i] != cfg_bar[i];

		if (val == cfg_bar[i])
			continue;
		cfg_bar[i] = val;
		if (device_changed)
			continue;
		cfg[i] = val;
		if (!changed)
			*first = i;
		*last = i;
		changed = true;
	}

	return changed;
}
EXPORT_SYMBOL_IF_KUNIT(epf_virtio_cfg_take_host);

/*
 * Write the device configuration to the BAR at the current layout: all of
 * it if @all (the host is not using it: power-on state, or a layout move),
 * else only the bytes the device driver changed since the last write.
 */
static void epf_virtio_cfg_write_bar(struct epf_virtio *evd, bool all)
{
	u8 *bar_cfg = evd->bar + epf_virtio_cfg_base(evd);
	unsigned int size = evd->info->config_size;
	unsigned long flags;

	if (!size)
		return;

	spin_lock_irqsave(&evd->cfg_lock, flags);
	epf_virtio_cfg_put_device(bar_cfg, evd->cfg, evd->cfg_bar, size, all);
	evd->cfg_dirty = false;
	spin_unlock_irqrestore(&evd->cfg_lock, flags);
}

/*
 * Move the device configuration to where the host expects it: offset 24
 * when the host enabled MSI-X, 20 otherwise.  Only called when the host is
 * not setting the device up, as offsets 20-23 then hold its MSI-X vectors.
 * Returns true if the configuration moved.
 */
static bool epf_virtio_set_layout(struct epf_virtio *evd, bool msix)
{
	if (evd->layout_msix == msix || !evd->info->config_size)
		return false;

	evd->layout_msix = msix;
	epf_virtio_cfg_write_bar(evd, true);

	return true;
}

/*
 * Let the device driver know about host writes to the configuration.  Only
 * the bytes the host wrote are taken: a device-side change to a byte in
 * between, not yet in the BAR, stays.
 */
static void epf_virtio_cfg_check_writes(struct epf_virtio *evd)
{
	const u8 *bar_cfg = evd->bar + epf_virtio_cfg_base(evd);
	unsigned int size = evd->info->config_size;
	unsigned int first = 0, last = 0;
	unsigned long flags;
	bool changed;

	spin_lock_irqsave(&evd->cfg_lock, flags);
	changed = epf_virtio_cfg_take_host(bar_cfg, evd->cfg, evd->cfg_bar,
					   size, &first, &last);
	spin_unlock_irqrestore(&evd->cfg_lock, flags);
	if (!changed)
		return;

	evd->info->ops->config_written(evd, first, last - first + 1);
}

/* ------------------------------------------------------------------------
 * Host rings
 */

static void epf_virtio_unmap_queue(struct epf_virtio_queue *vq)
{
	if (!vq->live)
		return;

	epf_virtio_unmap(vq->evd, &vq->map);
	vq->live = false;
	vq->h_desc = NULL;
	vq->h_avail = NULL;
	vq->h_used = NULL;
}

static int epf_virtio_map_queue(struct epf_virtio_queue *vq)
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
	vq->completed = false;
	vq->live = true;

	return 0;
}

static inline void __iomem *epf_virtio_h_desc(struct epf_virtio_queue *vq,
					      unsigned int i)
{
	return vq->h_desc + i * sizeof(struct vring_desc);
}

/* Mirror the host's avail flags, which vringh reads to decide on interrupts */
static void epf_virtio_mirror_avail_flags(struct epf_virtio_queue *vq)
{
	u16 flags = readw(vq->h_avail + offsetof(struct vring_avail, flags));

	WRITE_ONCE(vq->sring.avail->flags, cpu_to_vringh16(&vq->vrh, flags));
}

/*
 * Copy the chain starting at @head from the host descriptor table into the
 * shadow, checking every descriptor on the way.
 */
static int epf_virtio_mirror_chain(struct epf_virtio_queue *vq, u16 head)
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
		u64 addr, end;
		u16 flags, next;
		u32 len;

		addr = readl(d + offsetof(struct vring_desc, addr)) |
		       (u64)readl(d + offsetof(struct vring_desc, addr) + 4) << 32;
		len = readl(d + offsetof(struct vring_desc, len));
		flags = readw(d + offsetof(struct vring_desc, flags));
		next = readw(d + offsetof(struct vring_desc, next));

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
 * Mirror what the host made available since the last call into the shadow.
 * Returns 1 if there was something new, 0 if not, or a negative error code
 * if the host broke the ring.
 */
static int epf_virtio_mirror_avail(struct epf_virtio_queue *vq)
{
	struct vringh *vrh = &vq->vrh;
	unsigned int num = vq->sring.num;
	u16 host_idx, ahead;
	int ret;

	host_idx = readw(vq->h_avail + offsetof(struct vring_avail, idx));
	if (host_idx == vq->avail_idx)
		return 0;

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

	while (vq->avail_idx != host_idx) {
		unsigned int slot = vq->avail_idx & (num - 1);
		u16 head;

		head = readw(vq->h_avail + offsetof(struct vring_avail, ring) +
			     slot * sizeof(__virtio16));
		ret = epf_virtio_mirror_chain(vq, head);
		if (ret) {
			epf_virtio_endian_hint(vq, host_idx);
			return ret;
		}

		vq->sring.avail->ring[slot] = cpu_to_vringh16(vrh, head);
		vq->avail_idx++;
	}

	epf_virtio_mirror_avail_flags(vq);
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

	while (vq->used_idx != idx) {
		unsigned int slot = vq->used_idx & (num - 1);
		void __iomem *e = vq->h_used + offsetof(struct vring_used, ring) +
				  slot * sizeof(struct vring_used_elem);

		writel(vringh32_to_cpu(vrh, su->ring[slot].id),
		       e + offsetof(struct vring_used_elem, id));
		writel(vringh32_to_cpu(vrh, su->ring[slot].len),
		       e + offsetof(struct vring_used_elem, len));
		vq->used_idx++;
	}

	/* The host must see the entries before the index that exposes them */
	wmb();
	writew(idx, vq->h_used + offsetof(struct vring_used, idx));
}

/* Interrupt the host for the queues that completed buffers, if it wants */
static void epf_virtio_notify_queues(struct epf_virtio *evd)
{
	unsigned int i;

	for (i = 0; i < evd->info->nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];
		int ret;

		if (!vq->live || !vq->completed)
			continue;
		vq->completed = false;

		/* Used index out before reading the host's wishes */
		mb();
		epf_virtio_mirror_avail_flags(vq);
		ret = vringh_need_notify_kern(&vq->vrh);
		if (ret > 0)
			epf_virtio_raise(evd, vq->vector, EPF_VIRTIO_ISR_QUEUE);
	}
}

/* ------------------------------------------------------------------------
 * Device state
 */

/* Stop using the queues: the device driver forgets its chains first */
static void epf_virtio_deactivate(struct epf_virtio *evd)
{
	unsigned int i;

	if (evd->active) {
		evd->info->ops->reset(evd);
		evd->active = false;
	}

	for (i = 0; i < evd->info->nvqs; i++)
		epf_virtio_unmap_queue(&evd->vqs[i]);
	evd->xfer->release(evd);

	evd->want_reset = false;
	evd->xfer_failing = false;
	evd->win_wait_since = 0;
	evd->win_short = false;
}

/* The host broke the protocol: stop and ask it for a reset */
static void epf_virtio_fail(struct epf_virtio *evd)
{
	u8 status;

	epf_virtio_deactivate(evd);
	evd->broken = true;

	/*
	 * Flag the status only if the host has not just written it: a reset
	 * overwritten with the old bits would go unseen, and the next poll
	 * handles whatever the host wrote.
	 */
	status = epf_virtio_rd8(evd, VIRTIO_PCI_STATUS);
	if (status && status == evd->status) {
		status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		epf_virtio_wr8(evd, VIRTIO_PCI_STATUS, status);
		evd->status = status;
	}

	dev_err_ratelimited(epf_virtio_to_dev(evd),
			    "Device stopped: it needs a reset from the host\n");
	epf_virtio_raise_config(evd);
}

static void epf_virtio_forget_queues(struct epf_virtio *evd)
{
	unsigned int i;

	for (i = 0; i < evd->info->nvqs; i++) {
		evd->vqs[i].pfn = 0;
		evd->vqs[i].vector = VIRTIO_MSI_NO_VECTOR;
	}
	bitmap_zero(evd->setup_mask, evd->info->nvqs);
	evd->vec_queue = -1;
	/* The next set-up starts at queue 0, whatever a teardown selected */
	evd->sel_seen = 0;
}

/*
 * Put the MSI-X table and PBA in their reset state (PCIe r6.0, 7.7.2.5):
 * every entry masked and nothing pending.  A host that never programs an
 * entry then leaves it masked, and the controller latches its interrupts
 * instead of sending them to address 0.
 */
static void epf_virtio_msix_reset(struct epf_virtio *evd)
{
	unsigned int i;

	if (!evd->msix_nr)
		return;

	memset(evd->bar + EPF_VIRTIO_MSIX_TABLE, 0,
	       evd->msix_nr * PCI_MSIX_ENTRY_SIZE +
	       ALIGN(DIV_ROUND_UP(evd->msix_nr, 8), 8));
	for (i = 0; i < evd->msix_nr; i++)
		epf_virtio_wr32(evd, EPF_VIRTIO_MSIX_TABLE +
				i * PCI_MSIX_ENTRY_SIZE +
				PCI_MSIX_ENTRY_VECTOR_CTRL,
				PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/*
 * Put the register file in its power-on state: no host driver, MSI-X off,
 * every MSI-X entry masked.  Only when the host cannot be using it (before
 * link up, after link down).
 */
static void epf_virtio_arm(struct epf_virtio *evd)
{
	memset(evd->bar, 0, EPF_VIRTIO_REGS_SIZE);
	epf_virtio_msix_reset(evd);
	epf_virtio_wr32(evd, VIRTIO_PCI_HOST_FEATURES, evd->dev_features);
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NUM, evd->queue_size);
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NOTIFY, EPF_VIRTIO_NOTIFY_IDLE);

	evd->layout_msix = false;
	epf_virtio_cfg_write_bar(evd, true);
	evd->setup_refused = false;

	evd->status = 0;
	evd->broken = false;
	evd->drv_features = 0;
	evd->msix_on = 0;
	evd->isr_clear_at = 0;
	evd->trace_n = 0;
	evd->trace_t0 = ktime_get();
	evd->setup_gap_us = 0;
	epf_virtio_forget_queues(evd);
}

/* Start watching closely: a host driver may be about to set the device up */
static void epf_virtio_watch(struct epf_virtio *evd, ktime_t now)
{
	evd->spin_until = ktime_add_ms(now, EPF_VIRTIO_SETUP_SPIN_MS);
	if (ktime_before(evd->hot_until, ktime_add_ms(now, EPF_VIRTIO_ARMED_MS)))
		evd->hot_until = ktime_add_ms(now, EPF_VIRTIO_ARMED_MS);
}

/* The host wrote status 0: drop everything it had set up */
static void epf_virtio_host_reset(struct epf_virtio *evd, ktime_t now)
{
	dev_dbg(epf_virtio_to_dev(evd), "Host reset the device\n");
	evd->trace_n = 0;
	evd->trace_t0 = now;
	evd->setup_gap_us = 0;

	epf_virtio_deactivate(evd);
	evd->broken = false;
	evd->drv_features = 0;
	evd->isr_clear_at = 0;
	epf_virtio_forget_queues(evd);

	/*
	 * The host may still be writing QUEUE_SEL, vectors and a zero
	 * QUEUE_PFN while it tears its queues down: leave those alone.
	 */
	epf_virtio_wr8(evd, VIRTIO_PCI_ISR, 0);
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NOTIFY, EPF_VIRTIO_NOTIFY_IDLE);
	if (evd->setup_refused) {
		epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NUM, evd->queue_size);
		evd->setup_refused = false;
	}

	epf_virtio_watch(evd, now);
}

/* The vector the host wrote for the awaited queue: @vec, from QUEUE_VECTOR */
static void epf_virtio_take_vector(struct epf_virtio *evd, u16 vec)
{
	if (evd->vec_queue < 0)
		return;

	evd->vqs[evd->vec_queue].vector = vec;
	evd->vec_queue = -1;
}

/* Note register values that differ from the last ones noted */
static void epf_virtio_trace(struct epf_virtio *evd, ktime_t now, u16 sel,
			     u32 pfn)
{
	struct epf_virtio_trace t = {
		/* Link events reset @trace_t0 with a later clock read */
		.us = max_t(s64, ktime_us_delta(now, evd->trace_t0), 0),
		.status = evd->status,
		.sel = sel,
		.pfn = pfn,
		.vec20 = epf_virtio_rd16(evd, VIRTIO_MSI_CONFIG_VECTOR),
		.vec22 = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR),
	};
	struct epf_virtio_trace *last;

	if (evd->trace_n) {
		last = &evd->trace[evd->trace_n - 1];
		if (last->status == t.status && last->sel == t.sel && !t.pfn &&
		    last->vec20 == t.vec20 && last->vec22 == t.vec22)
			return;
	}
	if (evd->trace_n < EPF_VIRTIO_TRACE_LEN)
		evd->trace[evd->trace_n++] = t;
}

static void epf_virtio_trace_print(struct epf_virtio *evd)
{
	struct device *dev = epf_virtio_to_dev(evd);
	struct epf_virtio_trace *t;
	unsigned int i;

	for (i = 0; i < evd->trace_n; i++) {
		t = &evd->trace[i];
		dev_info(dev, "set-up seen: +%u us status %#x sel %u pfn %#x at20 %#x at22 %#x\n",
			 t->us, t->status, t->sel, t->pfn, t->vec20, t->vec22);
	}
}

static void epf_virtio_status_changed(struct epf_virtio *evd, u8 status,
				      ktime_t now)
{
	u16 vec_now = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
	u8 old = evd->status;
	/* A reset and a whole set-up came and went between two polls */
	bool unseen = (old & ~status) || !(old & VIRTIO_CONFIG_S_DRIVER);

	evd->status = status;
	/* A driver may come or go: check the configuration's place now */
	evd->msix_check_at = now;

	if (!status) {
		epf_virtio_host_reset(evd, now);
		return;
	}

	/*
	 * The status only grows between resets: bits gone mean that a reset
	 * came and went between two polls (a host reloading its driver after
	 * a failed probe writes 0 and ACKNOWLEDGE microseconds apart).  That
	 * covers DRIVER_OK withdrawn too: the queues are dropped.
	 */
	if (old & ~status)
		epf_virtio_host_reset(evd, now);

	/*
	 * A driver starting: its queues come next, from queue 0.  Seen before
	 * any QUEUE_PFN of its set-up, as the status is read first.
	 */
	if ((status & VIRTIO_CONFIG_S_DRIVER) && !(old & VIRTIO_CONFIG_S_DRIVER)) {
		bitmap_zero(evd->setup_mask, evd->info->nvqs);
		evd->sel_seen = 0;
	}

	/* The last queue's vector: nothing comes after it */
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		epf_virtio_take_vector(evd, vec_now);
	else if (!(status & VIRTIO_CONFIG_S_FAILED))
		epf_virtio_watch(evd, now);

	if ((status & VIRTIO_CONFIG_S_FAILED) &&
	    !(old & VIRTIO_CONFIG_S_FAILED)) {
		dev_warn(epf_virtio_to_dev(evd),
			 "Host driver failed the device (status %#x); reload it to retry\n",
			 status);
		/*
		 * A reload comes next, and a driver-less unbind writes no
		 * reset that would get the poll thread ready for its set-up
		 */
		epf_virtio_watch(evd, now);
		if (unseen)
			dev_warn(epf_virtio_to_dev(evd),
				 "The poll thread did not poll while the host set the device up: status %#x, then %#x, %lld us apart\n",
				 old, status,
				 evd->polled_at ?
				 ktime_us_delta(now, evd->polled_at) : -1LL);
		else if (evd->setup_gap_us >= EPF_VIRTIO_SETUP_GAP_US)
			dev_warn(epf_virtio_to_dev(evd),
				 "The poll thread was off its CPU for %u us while the host set the device up, and may have missed a queue address (keep poll_cpu for it alone)\n",
				 evd->setup_gap_us);
		epf_virtio_trace_print(evd);
	}

	/* Stopped earlier, and the host goes on as if not: say so again */
	if (evd->broken && status && !(status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		epf_virtio_wr8(evd, VIRTIO_PCI_STATUS, status);
		evd->status = status;
	}
}

/*
 * The host wrote QUEUE_PFN: record it for the queue it was meant for.
 *
 * The host writes QUEUE_SEL=q then QUEUE_PFN, and for the next queue writes
 * QUEUE_SEL=q+1 before it reads QUEUE_PFN back, so by the time QUEUE_PFN
 * is seen, QUEUE_SEL may already name the next queue.  If QUEUE_SEL moved
 * since the last sample and the queue before it has not been set up in this
 * round, the PFN is that queue's.
 */
static void epf_virtio_queue_pfn(struct epf_virtio *evd, u32 pfn, u16 sel,
				 u16 vec)
{
	struct device *dev = epf_virtio_to_dev(evd);
	unsigned int nvqs = evd->info->nvqs;
	struct epf_virtio_queue *vq;
	u8 status = evd->status;
	u16 q = sel, pre;
	ktime_t until, last, now;

	/* Consumed, so that the host's next check passes, but not used */
	if (evd->setup_refused)
		return;

	if (sel != evd->sel_seen) {
		u16 prev = sel - 1;

		if (prev >= evd->sel_seen && prev < nvqs &&
		    !test_bit(prev, evd->setup_mask))
			q = prev;
	}

	/* DRIVER_OK may already be set: the last queue still counts */
	if (evd->active) {
		dev_warn_ratelimited(dev, "Host set queue %u address while running: ignored\n",
				     q);
		return;
	}
	if (q >= nvqs) {
		dev_warn_ratelimited(dev, "Host set up queue %u, the device has %u\n",
				     q, nvqs);
		return;
	}

	/*
	 * A second address for a queue in one round, the queue before it
	 * without one: the first was that queue's, seen only once the host
	 * had selected the next (the thread missed the QUEUE_SEL it was
	 * written under).  The host sets its queues up in order, from 0.
	 */
	if (q && test_bit(q, evd->setup_mask) &&
	    !test_bit(q - 1, evd->setup_mask)) {
		evd->vqs[q - 1].pfn = evd->vqs[q].pfn;
		evd->vqs[q - 1].vector = evd->vqs[q].vector;
		set_bit(q - 1, evd->setup_mask);
	}

	vq = &evd->vqs[q];
	vq->pfn = pfn;
	vq->vector = VIRTIO_MSI_NO_VECTOR;
	set_bit(q, evd->setup_mask);

	/*
	 * With MSI-X the host writes the queue's vector next, under the same
	 * QUEUE_SEL; if it already moved on, the vector is already there.
	 * Else wait a little for the write (a new value, or the host moving
	 * on): the next queue's vector may follow within a few hundred
	 * microseconds.  A vector equal to the last one (shared, or no MSI-X)
	 * shows no change and is taken when the host moves on.
	 */
	if (q != sel) {
		/* Read before QUEUE_PFN was cleared: not the next queue's */
		vq->vector = vec;
		return;
	}

	/*
	 * Not on the CPU at normal priority without a break: the host's
	 * interrupt request may wait for a worker on this CPU.
	 */
	pre = vec;
	last = ktime_get();
	until = ktime_add_us(last, EPF_VIRTIO_VECTOR_WAIT_US);
	do {
		now = ktime_get();
		/* A lapse here counts as one between polls (see epf_virtio_poll) */
		evd->setup_gap_us = max_t(u32, evd->setup_gap_us,
					  ktime_us_delta(now, last));
		last = now;

		vec = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
		/*
		 * The rest after the vector.  A QUEUE_PFN still 0 (only this
		 * thread clears it) means the host had not given the next
		 * queue its address, let alone its vector, when @vec was read.
		 */
		rmb();
		if (epf_virtio_rd32(evd, VIRTIO_PCI_QUEUE_PFN)) {
			/*
			 * The host set the next queue up before this thread
			 * saw it move on.  A vector unchanged since QUEUE_PFN
			 * was taken is this queue's: the host wrote it before
			 * the thread looked (right after QUEUE_PFN), or wrote
			 * the value already there.  A changed one may be this
			 * queue's or already the next one's.
			 */
			if (vec != pre)
				dev_warn_ratelimited(dev, "Queue %u's MSI-X vector went unseen; reload the host driver if its interrupts go astray\n",
						     q);
			vq->vector = pre;
			return;
		}
		if (vec != pre ||
		    epf_virtio_rd16(evd, VIRTIO_PCI_QUEUE_SEL) != q ||
		    epf_virtio_rd8(evd, VIRTIO_PCI_STATUS) != status) {
			vq->vector = vec;
			return;
		}
		cond_resched();
		cpu_relax();
	} while (ktime_before(now, until));

	evd->vec_queue = q;
}

/*
 * Watch the registers the host writes; true if it did something.  Nothing
 * here may print while the host sets up: a console can take milliseconds.
 */
static bool epf_virtio_poll_regs(struct epf_virtio *evd, ktime_t now)
{
	bool activity = false;
	unsigned long flags;
	u8 status;
	u16 sel, vec;
	u32 pfn;

	status = epf_virtio_rd8(evd, VIRTIO_PCI_STATUS);
	if (status != evd->status) {
		epf_virtio_status_changed(evd, status, now);
		activity = true;
	}

	/*
	 * Consume QUEUE_PFN at once: the host reads it back as zero for the
	 * next queue a few microseconds from now.  No interruption between
	 * reading it, reading QUEUE_SEL and clearing it.
	 */
	local_irq_save(flags);
	pfn = epf_virtio_rd32(evd, VIRTIO_PCI_QUEUE_PFN);
	if (pfn) {
		/*
		 * QUEUE_SEL was written before QUEUE_PFN: read it after.  So
		 * is QUEUE_VECTOR, and until QUEUE_PFN reads 0 again the host
		 * cannot write the next queue's there.
		 */
		rmb();
		sel = epf_virtio_rd16(evd, VIRTIO_PCI_QUEUE_SEL);
		vec = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
		epf_virtio_wr32(evd, VIRTIO_PCI_QUEUE_PFN, 0);
	} else {
		sel = epf_virtio_rd16(evd, VIRTIO_PCI_QUEUE_SEL);
		vec = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
	}
	local_irq_restore(flags);

	if (epf_virtio_in_setup(evd))
		epf_virtio_trace(evd, now, sel, pfn);

	/* The host moved off the queue whose vector was awaited */
	if (evd->vec_queue >= 0 && (sel != evd->vec_queue || pfn))
		epf_virtio_take_vector(evd, vec);

	if (pfn) {
		epf_virtio_queue_pfn(evd, pfn, sel, vec);
		evd->spin_until = ktime_add_ms(now, EPF_VIRTIO_SETUP_SPIN_MS);
		activity = true;
	} else {
		/* QUEUE_SEL going back: the host starts over */
		if (sel < evd->sel_seen)
			bitmap_zero(evd->setup_mask, evd->info->nvqs);
		evd->sel_seen = sel;
	}

	/* A kick: every queue is scanned on every poll anyway */
	if (epf_virtio_rd16(evd, VIRTIO_PCI_QUEUE_NOTIFY) !=
	    EPF_VIRTIO_NOTIFY_IDLE) {
		epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NOTIFY,
				EPF_VIRTIO_NOTIFY_IDLE);
		activity = true;
	}

	return activity;
}

/* The host set DRIVER_OK: map its rings and start the device driver */
/*
 * Map every ring the host gave, and reserve the data path, at activation:
 * a function the controller's outbound windows cannot serve fails here,
 * and one that fits keeps what it has against functions set up later.
 * Out of windows while some of this function's last session are still on
 * their way back (the unmap work may wait for a busy CPU), wait for those,
 * off the clock.  Out of windows that other functions hold, wait
 * EPF_VIRTIO_XFER_TIMEOUT_MS, polling, for some to come free; then say
 * what the function needs, and fail.  Either way, while the rings a failed
 * attempt mapped are on their way back, do not map more only to send them
 * the same way.  Returns 0, -EAGAIN to be called again, or another
 * negative error code.
 */
static int epf_virtio_take_windows(struct epf_virtio *evd)
{
	struct device *dev = epf_virtio_to_dev(evd);
	struct epf_virtio_queue *first = NULL;
	unsigned int i, nrings = 0;
	bool old_out = epf_virtio_unmaps_pending(evd);
	int ret = 0;

	if (evd->win_short && old_out)
		return -EAGAIN;

	for (i = 0; i < evd->info->nvqs; i++)
		nrings += !!evd->vqs[i].pfn;

	for (i = 0; i < evd->info->nvqs; i++) {
		struct epf_virtio_queue *vq = &evd->vqs[i];

		if (!vq->pfn)
			continue;
		/* The host sets its queues up in order: one was missed */
		if (i && !evd->vqs[i - 1].pfn) {
			dev_err(dev, "Host set up queue %u but not queue %u: reload its driver\n",
				i, i - 1);
			epf_virtio_trace_print(evd);
			ret = -EPROTO;
			goto err_unmap;
		}
		first = first ?: vq;
		dev_dbg(dev, "Queue %u at %#llx, vector %#x\n", i,
			(u64)vq->pfn << VIRTIO_PCI_QUEUE_ADDR_SHIFT, vq->vector);
		ret = epf_virtio_map_queue(vq);
		if (ret)
			goto err_unmap;
	}

	if (first && evd->xfer->reserve) {
		ret = evd->xfer->reserve(evd, (u64)first->pfn <<
					 VIRTIO_PCI_QUEUE_ADDR_SHIFT);
		if (ret)
			goto err_unmap;
	}
	evd->win_wait_since = 0;
	evd->win_short = false;

	return 0;

err_unmap:
	for (i = 0; i < evd->info->nvqs; i++)
		epf_virtio_unmap_queue(&evd->vqs[i]);
	evd->xfer->release(evd);
	if (ret != -ENOMEM)
		return ret;

	evd->win_short = true;
	if (old_out) {
		evd->win_wait_since = 0;
		return -EAGAIN;
	}
	if (!evd->win_wait_since) {
		evd->win_wait_since = jiffies ?: 1;
		return -EAGAIN;
	}
	if (time_before(jiffies, evd->win_wait_since +
			msecs_to_jiffies(EPF_VIRTIO_XFER_TIMEOUT_MS)))
		return -EAGAIN;

	dev_err(dev, "No outbound window free for %u ms: this function needs %u (one per ring, one for data) of the controller's %u, and its other functions hold them\n",
		EPF_VIRTIO_XFER_TIMEOUT_MS, nrings + 1,
		evd->epf->epc->num_windows);
	evd->win_wait_since = 0;

	return -ENOSPC;
}

static void epf_virtio_activate(struct epf_virtio *evd)
{
	struct device *dev = epf_virtio_to_dev(evd);
	struct pci_epf *epf = evd->epf;
	bool moved;
	unsigned int i;
	u32 guest;
	int ret;

	/* The interrupt kind the host chose, and so the configuration offset */
	evd->msix_on = pci_epc_get_msix(epf->epc, epf->func_no, epf->vfunc_no);
	if (evd->msix_on > 0) {
		evd->irq_type = PCI_IRQ_MSIX;
		evd->cfg_vector = epf_virtio_rd16(evd, VIRTIO_MSI_CONFIG_VECTOR);
	} else {
		evd->msix_on = 0;
		evd->cfg_vector = VIRTIO_MSI_NO_VECTOR;
		if (pci_epc_get_msi(epf->epc, epf->func_no, epf->vfunc_no) > 0)
			evd->irq_type = PCI_IRQ_MSI;
		else
			evd->irq_type = PCI_IRQ_INTX;
	}

	/*
	 * Refused too late, or read without MSI-X while the configuration was
	 * still at the MSI-X offset: the driver runs on values it misread
	 */
	if (evd->setup_refused || (evd->layout_msix && !evd->msix_on)) {
		dev_err(dev, "Host driver read the configuration at the wrong offset; reload it\n");
		goto fail;
	}
	ret = epf_virtio_take_windows(evd);
	if (ret == -EAGAIN)
		return;
	if (ret)
		goto fail;

	moved = epf_virtio_set_layout(evd, evd->msix_on > 0);

	/* Legacy has no FEATURES_OK: the features are final by DRIVER_OK */
	guest = epf_virtio_rd32(evd, VIRTIO_PCI_GUEST_FEATURES);
	if (guest & ~evd->dev_features)
		dev_warn_ratelimited(dev, "Host accepted features %#x never offered\n",
				     guest & ~evd->dev_features);
	evd->drv_features = guest & evd->dev_features;

	ret = evd->info->ops->activate(evd);
	if (ret) {
		dev_err(dev, "Failed to activate the device (err=%d)\n", ret);
		goto fail;
	}
	evd->active = true;

	dev_info(dev, "Host driver ready: features %#x, %s interrupts\n",
		 evd->drv_features,
		 evd->irq_type == PCI_IRQ_MSIX ? "MSI-X" :
		 evd->irq_type == PCI_IRQ_MSI ? "MSI" : "INTx");
	if (evd->irq_type == PCI_IRQ_MSIX) {
		char vecs[64] = "";
		int n = 0;

		for (i = 0; i < evd->info->nvqs && n < sizeof(vecs); i++)
			n += scnprintf(vecs + n, sizeof(vecs) - n, " %#x",
				       evd->vqs[i].vector);
		dev_info(dev, "MSI-X vectors: configuration %#x, queues%s\n",
			 evd->cfg_vector, vecs);
	}

	/* The host may have read the configuration where it was not */
	if (moved)
		epf_virtio_raise_config(evd);

	return;

fail:
	epf_virtio_fail(evd);
}

/*
 * The host driver setting the device up may have read its configuration at
 * the wrong offset: make its queue set-up fail (QUEUE_NUM reads 0), so that
 * it gives up rather than run on wrong values.  The next reset lifts this.
 */
static void epf_virtio_refuse_setup(struct epf_virtio *evd)
{
	if (evd->setup_refused)
		return;

	evd->setup_refused = true;
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NUM, 0);
	dev_warn(epf_virtio_to_dev(evd),
		 "Host driver started before the configuration was back at offset %u: its set-up is refused; reload it\n",
		 VIRTIO_PCI_CONFIG_OFF(false));
}

/*
 * With no host driver running, keep the configuration where the next one
 * reads it: at offset 20 once the host turned MSI-X off.  The last driver
 * may have left it at 24 (MSI-X), or, failing before DRIVER_OK, have left
 * MSI-X vectors over its first bytes.  A driver reads the configuration
 * right after it sets DRIVER, before it enables MSI-X: if one is already
 * there when the configuration has to move, it may have read garbage.
 */
static void epf_virtio_check_placement(struct epf_virtio *evd, ktime_t now)
{
	unsigned int n = min_t(unsigned int, evd->info->config_size, 4);
	struct pci_epf *epf = evd->epf;
	bool moved = evd->layout_msix;
	u8 status = evd->status;

	if (evd->active || !n)
		return;
	if (!moved && !memcmp(evd->bar + VIRTIO_PCI_CONFIG_OFF(false),
			      evd->cfg_bar, n))
		return;
	if (ktime_before(now, evd->msix_check_at))
		return;

	if (ktime_before(now, evd->spin_until))
		evd->msix_check_at = ktime_add_us(now,
						  EPF_VIRTIO_MSIX_SPIN_CHECK_US);
	else
		evd->msix_check_at = ktime_add_ms(now,
						  EPF_VIRTIO_MSIX_CHECK_MS);
	if (pci_epc_get_msix(epf->epc, epf->func_no, epf->vfunc_no) > 0)
		return;

	evd->layout_msix = false;
	epf_virtio_cfg_write_bar(evd, true);

	if (moved && (status & (VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_DRIVER_OK |
				VIRTIO_CONFIG_S_FAILED)) == VIRTIO_CONFIG_S_DRIVER)
		epf_virtio_refuse_setup(evd);
}

/* One pass over everything; true if anything happened */
static bool epf_virtio_poll(struct epf_virtio *evd, ktime_t now)
{
	const struct epf_virtio_ops *ops = evd->info->ops;
	bool work;
	unsigned int i;
	int ret;

	/* The host's set-up gives the thread microseconds: note any lapse */
	if (evd->setup_polled)
		evd->setup_gap_us = max_t(u32, evd->setup_gap_us,
					  ktime_us_delta(now, evd->setup_polled));

	work = epf_virtio_poll_regs(evd, now);
	evd->polled_at = now;

	if ((evd->status & VIRTIO_CONFIG_S_DRIVER_OK) && !evd->active &&
	    !evd->broken) {
		epf_virtio_activate(evd);
		work = true;
	}

	if (evd->active) {
		for (i = 0; i < evd->info->nvqs; i++) {
			struct epf_virtio_queue *vq = &evd->vqs[i];

			if (!vq->live)
				continue;
			ret = epf_virtio_mirror_avail(vq);
			if (ret < 0) {
				epf_virtio_fail(evd);
				return true;
			}
			if (ret)
				work = true;
		}

		if (ops->process(evd))
			work = true;

		if (evd->want_reset) {
			epf_virtio_fail(evd);
			return true;
		}

		epf_virtio_notify_queues(evd);

		if (ops->config_written)
			epf_virtio_cfg_check_writes(evd);
	}

	/* Configuration updates wait while offsets 20-23 may be vectors */
	if (READ_ONCE(evd->cfg_dirty) && !epf_virtio_in_setup(evd)) {
		bool notify;
		unsigned long flags;

		spin_lock_irqsave(&evd->cfg_lock, flags);
		notify = evd->cfg_notify;
		evd->cfg_notify = false;
		spin_unlock_irqrestore(&evd->cfg_lock, flags);

		epf_virtio_cfg_write_bar(evd, false);
		if (notify && evd->active)
			epf_virtio_raise_config(evd);
	}

	epf_virtio_check_placement(evd, now);

	/* INTx: the host had time to read the config reason */
	if (evd->isr_clear_at && !ktime_before(now, evd->isr_clear_at)) {
		epf_virtio_wr8(evd, VIRTIO_PCI_ISR,
			       epf_virtio_rd8(evd, VIRTIO_PCI_ISR) &
			       ~VIRTIO_PCI_ISR_CONFIG);
		evd->isr_clear_at = 0;
	}

	return work;
}

/* ------------------------------------------------------------------------
 * Poll thread
 */

static bool epf_virtio_handle_events(struct epf_virtio *evd, ktime_t now)
{
	bool work = false;

	if (!READ_ONCE(evd->events))
		return false;

	if (test_and_clear_bit(EPF_VIRTIO_EV_LINK, &evd->events)) {
		/* No message: the host may be probing right now */
		if (READ_ONCE(evd->link_want))
			epf_virtio_watch(evd, now);
		work = true;
	}

	if (test_and_clear_bit(EPF_VIRTIO_EV_BME, &evd->events)) {
		epf_virtio_watch(evd, now);
		work = true;
	}

	if (test_and_clear_bit(EPF_VIRTIO_EV_WAKE, &evd->events))
		work = true;
	if (test_and_clear_bit(EPF_VIRTIO_EV_CONFIG, &evd->events))
		work = true;

	return work;
}

/* What the polling policy asks for, for one device */
enum {
	EPF_VIRTIO_PACE_IDLE,
	EPF_VIRTIO_PACE_HOT,
	EPF_VIRTIO_PACE_SPIN,
	EPF_VIRTIO_PACE_SETUP,
};

/*
 * Also notes whether this pass spun for a host set-up, for the lapse
 * measured at the start of the next one (epf_virtio_poll())
 */
static int epf_virtio_pace(struct epf_virtio *evd, bool work, ktime_t now)
{
	int pace;

	if (work) {
		evd->busy_until = ktime_add_us(now, EPF_VIRTIO_BUSY_SPIN_US);
		if (ktime_before(evd->hot_until,
				 ktime_add_ms(now, EPF_VIRTIO_HOT_MS)))
			evd->hot_until = ktime_add_ms(now, EPF_VIRTIO_HOT_MS);
	}

	/*
	 * A host driver that failed the device is reloaded next, and its
	 * reset and set-up may come and go between two sleeping polls
	 */
	if ((epf_virtio_in_setup(evd) ||
	     (evd->status & VIRTIO_CONFIG_S_FAILED)) &&
	    ktime_before(now, evd->spin_until))
		pace = EPF_VIRTIO_PACE_SETUP;
	else if (ktime_before(now, evd->busy_until))
		pace = EPF_VIRTIO_PACE_SPIN;
	else if (ktime_before(now, evd->hot_until))
		pace = EPF_VIRTIO_PACE_HOT;
	else
		pace = EPF_VIRTIO_PACE_IDLE;

	evd->setup_polled = pace == EPF_VIRTIO_PACE_SETUP ? now : 0;

	return pace;
}

static bool epf_virtio_poller_wake(struct epf_virtio_poller *p)
{
	return READ_ONCE(p->kick) || kthread_should_stop();
}

/*
 * A device is polled from controller initialization on, whatever the link
 * state: a function may be bound while the link is already up, and BAR
 * memory nobody writes costs nothing to read.  Link events only reset the
 * device (down) and start a close watch (up).
 */
static int epf_virtio_poller_thread(void *data)
{
	struct epf_virtio_poller *p = data;

	/*
	 * Set from the thread itself, after the kthread core applied its
	 * default affinity.  A preference, not a binding: the thread may
	 * still move if the CPU goes offline.
	 */
	if (p->cpu >= 0 && set_cpus_allowed_ptr(current, cpumask_of(p->cpu)))
		pr_warn("Cannot run the poll thread on CPU %d\n", p->cpu);

	while (!kthread_should_stop()) {
		int pace = EPF_VIRTIO_PACE_IDLE;
		struct epf_virtio *evd;
		bool any = false;
		u64 us;

		WRITE_ONCE(p->kick, false);

		mutex_lock(&p->lock);
		list_for_each_entry(evd, &p->devices, poll_node) {
			ktime_t now = ktime_get();
			bool work;

			work = epf_virtio_handle_events(evd, now);
			work |= epf_virtio_poll(evd, now);
			pace = max(pace, epf_virtio_pace(evd, work, now));
			any = true;
		}
		mutex_unlock(&p->lock);

		/*
		 * The spins stay at normal priority: a real-time spin of up
		 * to EPF_VIRTIO_SETUP_SPIN_MS starves this CPU's kworkers,
		 * and a host driver setting the device up may be waiting for
		 * one of them.
		 */
		if (pace >= EPF_VIRTIO_PACE_SPIN) {
			cond_resched();
			cpu_relax();
			continue;
		}

		if (!any) {
			wait_event_interruptible(p->wq, epf_virtio_poller_wake(p));
			continue;
		}

		us = pace == EPF_VIRTIO_PACE_HOT ? EPF_VIRTIO_HOT_POLL_US :
						   EPF_VIRTIO_IDLE_POLL_US;
		wait_event_interruptible_hrtimeout(p->wq,
						   epf_virtio_poller_wake(p),
						   ns_to_ktime(us * NSEC_PER_USEC));
	}

	return 0;
}

/* The poller for @cpu, started if there is none yet */
static struct epf_virtio_poller *epf_virtio_get_poller(int cpu)
{
	struct epf_virtio_poller *p;
	struct task_struct *thread;

	mutex_lock(&epf_virtio_pollers_lock);

	list_for_each_entry(p, &epf_virtio_pollers, node)
		if (p->cpu == cpu)
			goto out_unlock;

	p = kzalloc_obj(*p);
	if (!p) {
		p = ERR_PTR(-ENOMEM);
		goto out_unlock;
	}
	p->cpu = cpu;
	init_waitqueue_head(&p->wq);
	mutex_init(&p->lock);
	INIT_LIST_HEAD(&p->devices);

	if (cpu >= 0)
		thread = kthread_run(epf_virtio_poller_thread, p,
				     "epf-virtio/%d", cpu);
	else
		thread = kthread_run(epf_virtio_poller_thread, p, "epf-virtio");
	if (IS_ERR(thread)) {
		kfree(p);
		p = ERR_CAST(thread);
		goto out_unlock;
	}
	p->thread = thread;
	list_add_tail(&p->node, &epf_virtio_pollers);

out_unlock:
	mutex_unlock(&epf_virtio_pollers_lock);
	return p;
}

static int epf_virtio_start_polling(struct epf_virtio *evd)
{
	struct epf_virtio_poller *p;

	p = epf_virtio_get_poller(evd->poll_cpu);
	if (IS_ERR(p))
		return PTR_ERR(p);

	mutex_lock(&p->lock);
	epf_virtio_watch(evd, ktime_get());
	list_add_tail(&evd->poll_node, &p->devices);
	WRITE_ONCE(evd->poller, p);
	mutex_unlock(&p->lock);

	epf_virtio_signal(evd, EPF_VIRTIO_EV_WAKE);

	return 0;
}

/* Once this returns the device is not polled and holds no mapping */
static void epf_virtio_stop_polling(struct epf_virtio *evd)
{
	struct epf_virtio_poller *p = evd->poller;

	if (!p)
		return;

	mutex_lock(&p->lock);
	list_del(&evd->poll_node);
	epf_virtio_deactivate(evd);
	mutex_unlock(&p->lock);

	WRITE_ONCE(evd->poller, NULL);

	/* Every mapping undone before the controller or BAR goes away */
	flush_work(&evd->unmap_work);
}

static void epf_virtio_stop_pollers(void)
{
	struct epf_virtio_poller *p, *tmp;

	list_for_each_entry_safe(p, tmp, &epf_virtio_pollers, node) {
		WARN_ON(!list_empty(&p->devices));
		kthread_stop(p->thread);
		list_del(&p->node);
		kfree(p);
	}
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
 * Link up: tell the poll thread, which watches closely for the host's
 * driver from now on.  Never wait here: the controller may hold its locks,
 * and a link up may even lead to host drivers probing this device
 * synchronously.  The register file is already in its power-on state: the
 * link down before it saw to that.
 */
static int epf_virtio_link_up(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_get_drvdata(epf);

	WRITE_ONCE(evd->link_want, true);
	epf_virtio_signal(evd, EPF_VIRTIO_EV_LINK);

	return 0;
}

/*
 * Link down: the host is gone.  Put the device back in its power-on state
 * before returning, so that nothing of it is left for the next link up and
 * the next host's driver.  The poller's lock keeps the poll thread out
 * meanwhile; it holds it for one pass over its devices at a time, which
 * never waits for the host.
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
	}
	kfree(evd->vqs);
	evd->vqs = NULL;
}

static int epf_virtio_alloc_queues(struct epf_virtio *evd)
{
	unsigned int nvqs = evd->info->nvqs;
	unsigned int i;

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
		if (!vq->shadow || !vq->pending) {
			epf_virtio_free_queues(evd);
			return -ENOMEM;
		}
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
 * @params: queue size, features to offer, poll thread CPU
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

	ret = epf_virtio_alloc_queues(evd);
	if (ret)
		return ret;

	ret = epf_virtio_alloc_bar(evd);
	if (ret)
		goto err_free_queues;

	dev_dbg(&epf->dev, "Bound: %u queues of %u, features %#x, %s transfers\n",
		evd->info->nvqs, queue_size, evd->dev_features,
		evd->xfer->name);

	return 0;

err_free_queues:
	epf_virtio_free_queues(evd);
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

	epf_virtio_stop_polling(evd);
	WRITE_ONCE(evd->link_want, false);

	if (evd->epc_ready) {
		pci_epc_clear_bar(epf->epc, epf->func_no, epf->vfunc_no,
				  &epf->bar[BAR_0]);
		evd->epc_ready = false;
	}

	epf_virtio_free_bar(evd);
	epf_virtio_free_queues(evd);
	evd->epc_features = NULL;
}
EXPORT_SYMBOL_GPL(epf_virtio_unbind);

static bool epf_virtio_info_valid(const struct epf_virtio_info *info)
{
	const struct epf_virtio_ops *ops = info->ops;

	return ops && ops->activate && ops->reset && ops->process &&
	       info->nvqs && info->nvqs <= U16_MAX &&
	       info->config_size <= EPF_VIRTIO_CONFIG_SIZE_MAX &&
	       info->pci_device_id >= 0x1000 && info->pci_device_id <= 0x103f;
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
		epf->msix_interrupts = min(info->nvqs + 1, 2048U);

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

/* ------------------------------------------------------------------------
 * Helpers for device drivers
 */

/**
 * epf_virtio_wake() - ask the poll thread to run soon
 * @evd: the device
 *
 * For device drivers that have new work outside the poll thread (data to
 * send, room to receive).  The thread polls at once and stays at the hot
 * polling rate for a while.
 *
 * Context: any context that may wake up a task (not NMI, not with
 * scheduler locks held; use an irq_work from there).
 */
void epf_virtio_wake(struct epf_virtio *evd)
{
	epf_virtio_signal(evd, EPF_VIRTIO_EV_WAKE);
}
EXPORT_SYMBOL_GPL(epf_virtio_wake);

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

/**
 * epf_virtio_parse_mac() - parse a MAC address written to a configfs file
 * @page: what was written
 * @len: its length
 * @mac: the address, on success
 *
 * For the net functions' "mac" attributes: exactly "xx:xx:xx:xx:xx:xx",
 * a trailing newline allowed, and a valid unicast address.
 *
 * Return: 0, or -EINVAL for anything else.
 */
int epf_virtio_parse_mac(const char *page, size_t len, u8 *mac)
{
	char buf[3 * ETH_ALEN + 1];

	if (len > 3 * ETH_ALEN)
		return -EINVAL;
	strscpy(buf, page, sizeof(buf));
	strim(buf);
	if (strlen(buf) != 3 * ETH_ALEN - 1 || !mac_pton(buf, mac) ||
	    !is_valid_ether_addr(mac))
		return -EINVAL;

	return 0;
}
EXPORT_SYMBOL_GPL(epf_virtio_parse_mac);

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

/**
 * epf_virtio_buf_init() - prepare a buffer chain holder
 * @buf: the holder; it must not move in memory afterwards
 */
void epf_virtio_buf_init(struct epf_virtio_buf *buf)
{
	vringh_kiov_init(&buf->riov, buf->rvec, ARRAY_SIZE(buf->rvec));
	vringh_kiov_init(&buf->wiov, buf->wvec, ARRAY_SIZE(buf->wvec));
	buf->head = 0;
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

	if (!vq->live || evd->want_reset)
		return 0;

	ret = vringh_getdesc_kern(&vq->vrh, &buf->riov, &buf->wiov, &buf->head,
				  GFP_KERNEL);
	if (ret > 0)
		epf_virtio_chain_taken(vq, buf->head);
	if (ret < 0) {
		dev_err_ratelimited(epf_virtio_to_dev(evd),
				    "Queue %u: bad buffer chain (err=%d)\n",
				    vq->index, ret);
		evd->want_reset = true;
	}

	return ret;
}
EXPORT_SYMBOL_GPL(epf_virtio_getdesc);

static ssize_t epf_virtio_copy(struct epf_virtio *evd, struct vringh_kiov *iov,
			       void *data, size_t len, bool to_host)
{
	size_t done = 0;
	int ret;

	while (len && iov->i < iov->used) {
		struct kvec *seg = &iov->iov[iov->i];
		size_t part = min(seg->iov_len, len);

		if (!part) {
			/* Empty descriptor: step over it */
			iov->i++;
			iov->consumed = 0;
			continue;
		}

		ret = epf_virtio_xfer(evd, (u64)(uintptr_t)seg->iov_base, data,
				      part, to_host);
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
 * reset).
 */
ssize_t epf_virtio_pull(struct epf_virtio *evd, struct epf_virtio_buf *buf,
			void *dst, size_t len)
{
	return epf_virtio_copy(evd, &buf->riov, dst, len, false);
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
	return epf_virtio_copy(evd, &buf->wiov, (void *)src, len, true);
}
EXPORT_SYMBOL_GPL(epf_virtio_push);

/**
 * epf_virtio_complete() - give a buffer chain back to the host
 * @vq: the queue it came from
 * @buf: the chain; its holder can be reused afterwards
 * @len: number of bytes written into the chain
 *
 * Publishes the chain in the host's used ring at once.  Whether the host
 * wants an interrupt is checked after the process callback returns, once
 * for all the chains it completed.
 *
 * Context: the device driver's process callback.
 * Return: 0 or a negative error code.
 */
int epf_virtio_complete(struct epf_virtio_queue *vq,
			struct epf_virtio_buf *buf, u32 len)
{
	int ret;

	if (!vq->live)
		return -ENODEV;

	ret = vringh_complete_kern(&vq->vrh, buf->head, len);
	if (ret)
		return ret;

	epf_virtio_publish_used(vq);
	vq->completed = true;

	return 0;
}
EXPORT_SYMBOL_GPL(epf_virtio_complete);

static void __exit epf_virtio_exit(void)
{
	mutex_lock(&epf_virtio_pollers_lock);
	epf_virtio_stop_pollers();
	mutex_unlock(&epf_virtio_pollers_lock);
}
module_exit(epf_virtio_exit);

MODULE_DESCRIPTION("Virtio devices behind a PCIe endpoint function");
MODULE_LICENSE("GPL");
