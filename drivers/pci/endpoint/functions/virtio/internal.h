/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtio devices behind a PCIe endpoint function: what the parts of the
 * core share (core.c, legacy.c, ring.c, xfer.c, poll.c, configfs.c).
 */
#ifndef _PCI_EPF_VIRTIO_INTERNAL_H
#define _PCI_EPF_VIRTIO_INTERNAL_H

#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/cpumask.h>
#include <linux/dmaengine.h>
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

/*
 * BAR0 layout: the legacy register file (20 bytes of header, 4 more with
 * MSI-X, then the device configuration), the MSI-X table, the PBA.
 */
#define EPF_VIRTIO_REGS_SIZE		0x100
#define EPF_VIRTIO_MSIX_TABLE		EPF_VIRTIO_REGS_SIZE

/* ISR bit for used buffers (the config bit is VIRTIO_PCI_ISR_CONFIG) */
#define EPF_VIRTIO_ISR_QUEUE		0x1

/* Value kept in QUEUE_NOTIFY: any host write (a queue index) replaces it */
#define EPF_VIRTIO_NOTIFY_IDLE		0xffff

/*
 * Polling policy.  The host's setup_vq() reads QUEUE_PFN back for the next
 * queue microseconds after writing it for the previous one, so while the
 * host may be setting the device up the thread spins without sleeping, for
 * at most EPF_VIRTIO_SETUP_SPIN_MS after the last sign of host activity,
 * and from bus master enable, or EPF_VIRTIO_LINK_QUIET_MS after link up,
 * until the host's first status write, for at most EPF_VIRTIO_ARMED_MS.
 * Not from link up itself: no host driver can come before then (PCIe r6.0
 * sec 6.6.1 has the host wait 100 ms before its first configuration
 * request), and a spin would only hold up, on a CPU the thread shares,
 * the work that the link up brought there, until the host's set-up.
 * With traffic it re-polls at once while work is found and keeps spinning
 * EPF_VIRTIO_BUSY_SPIN_US more (a host console writer spins until its
 * buffer is used); then it sleeps EPF_VIRTIO_HOT_POLL_US between polls for
 * EPF_VIRTIO_HOT_MS, and EPF_VIRTIO_IDLE_POLL_US after that.  After bind,
 * link up, bus master enable or a host reset, the hot rate is kept for
 * EPF_VIRTIO_ARMED_MS so that a host driver probing then is caught early.
 */
#define EPF_VIRTIO_SETUP_SPIN_MS	2000
#define EPF_VIRTIO_BUSY_SPIN_US		50
#define EPF_VIRTIO_HOT_POLL_US		50
#define EPF_VIRTIO_HOT_MS		100
#define EPF_VIRTIO_IDLE_POLL_US		5000
#define EPF_VIRTIO_ARMED_MS		10000
#define EPF_VIRTIO_LINK_QUIET_MS	100

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
 * With a DMA channel for ring state, a poll that finds at least this many
 * new chains, or one per EPF_VIRTIO_RING_DMA_PER entries of the queue if
 * more, reads the descriptor table and avail ring in one transfer rather
 * than entry by entry.  On a board a CPU read costs about 1 us, a chain 3
 * or more of them, and a transfer of a 256-entry queue's 4.5 KiB about
 * 7 us, of a 1024-entry one's 18 KiB about 14 us.
 */
#define EPF_VIRTIO_RING_DMA_MIN		4
#define EPF_VIRTIO_RING_DMA_PER		128

/* A DMA transfer not done in this long is a DMA error */
#define EPF_VIRTIO_DMA_TIMEOUT_MS	1000

/*
 * The MMIO byte mover keeps its last outbound mapping and maps at least
 * this much (aligned) at a time, so that buffers close to each other (or
 * the same buffer again) need no new mapping.
 */
#define EPF_VIRTIO_DATA_WINDOW		SZ_1M

/*
 * Transport feature bits the core implements: every device-specific bit,
 * ANY_LAYOUT (a promise of the device driver) and event indices.  Indirect
 * descriptors and NOTIFY_ON_EMPTY are not implemented, so not offered.
 */
#define EPF_VIRTIO_FEATURES_OK		(GENMASK(VIRTIO_F_NOTIFY_ON_EMPTY - 1, 0) | \
					 BIT(VIRTIO_F_ANY_LAYOUT) |	\
					 BIT(VIRTIO_RING_F_EVENT_IDX))

/* Transitional virtio-pci device IDs (virtio 1.x, 4.1.2.1) */
#define EPF_VIRTIO_PCI_ID_FIRST		0x1000
#define EPF_VIRTIO_PCI_ID_LAST		0x103f

/* The most MSI-X vectors a function has (PCI_MSIX_FLAGS_QSIZE + 1) */
#define EPF_VIRTIO_MSIX_MAX		(PCI_MSIX_FLAGS_QSIZE + 1U)

/* Room for the queue vectors in the "MSI-X vectors:" line; cut if longer */
#define EPF_VIRTIO_VECS_LINE		64

/* Events signalled to the poll thread (bits of epf_virtio::events) */
enum {
	EPF_VIRTIO_EV_LINK,	/* link up (see link_want) */
	EPF_VIRTIO_EV_BME,	/* the host enabled bus mastering */
	EPF_VIRTIO_EV_WAKE,	/* the device driver has work */
	EPF_VIRTIO_EV_CONFIG,	/* device configuration changed */
};

struct epf_virtio;
struct epf_virtio_cost;

/**
 * struct epf_virtio_xfer_ops - how bytes move to and from host memory
 * @name: for messages
 * @xfer: copy @len bytes between @buf and host PCI address @pci_addr
 *	(to the host if @to_host), counting what it did in @cost; 0 or a
 *	negative error code
 * @reserve: take, at activation, what @xfer will need (host memory at
 *	@pci_addr is reachable), so that a device that cannot have it fails
 *	then; 0 or a negative error code (-ENOMEM: no outbound window free)
 * @release: drop whatever @xfer keeps between calls (the device stops)
 *
 * MMIO through outbound windows (epf_virtio_mmio_ops), or the
 * controller's DMA channels above a threshold (epf_virtio_dma_ops).
 */
struct epf_virtio_xfer_ops {
	const char *name;
	int (*xfer)(struct epf_virtio *evd, u64 pci_addr, void *buf,
		    size_t len, bool to_host, struct epf_virtio_cost *cost);
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

/**
 * struct epf_virtio_cost - what one queue cost the link, by kind
 * @ring_rd: CPU reads of the host's ring (avail index and entries,
 *	descriptors, avail flags or used_event): each a non-posted round
 *	trip across the link
 * @ring_rd_bytes: bytes they read
 * @idle_rd: reads of the host's avail index that found nothing new (2
 *	bytes each): what polling costs, apart from @ring_rd
 * @ring_wr: CPU writes of the host's used ring (posted)
 * @ring_wr_bytes: bytes they wrote
 * @data_rd: CPU reads of buffer data
 * @data_rd_bytes: bytes they read
 * @data_wr: CPU writes of buffer data
 * @data_wr_bytes: bytes they wrote
 * @dma: DMA transfers of buffer data, either way
 * @dma_bytes: bytes they moved
 * @dma_async: those of them left in flight while the poll thread went on
 * @held: chains whose used entry waited for copies in flight (theirs or
 *	an earlier chain's)
 * @flight_max: most chains waiting so at once
 * @dropped: chains dropped at a reset while they waited so
 * @map_short: DMA copies that found every mapping entry of the queue
 *	(epf_virtio_queue::maps) in use: made while the poll thread waited,
 *	or, for a copy from the host whose chain had copies in flight, left
 *	in flight once those were waited for and their entries freed
 * @ring_dma: DMA transfers of ring state (descriptor table and avail
 *	ring in one)
 * @ring_dma_bytes: bytes they read
 * @chains: buffer chains completed
 * @irqs: interrupts raised for the queue (an MSI or MSI-X message is one
 *	more posted write)
 * @kicks: polls that found the host had written the queue's index to
 *	QUEUE_NOTIFY since the last (each a posted write of the host's; with
 *	VIRTIO_RING_F_EVENT_IDX the host seldom writes, as the function
 *	leaves avail_event alone and polls anyway)
 *
 * Accesses are counted as an arm64 CPU makes them: one per readw(),
 * readl(), writew() or writel(), and for memcpy_fromio() or memcpy_toio()
 * one per byte up to 8-byte alignment of the mapped address, one per 8
 * bytes after that, one per byte left (epf_virtio_io_accesses()).  Written
 * by the poll thread only; debugfs reads them without a lock, so a line
 * may be one update behind (and a value torn, on a 32-bit CPU).  Counted
 * from bind on.
 */
struct epf_virtio_cost {
	u64 ring_rd;
	u64 ring_rd_bytes;
	u64 idle_rd;
	u64 ring_wr;
	u64 ring_wr_bytes;
	u64 data_rd;
	u64 data_rd_bytes;
	u64 data_wr;
	u64 data_wr_bytes;
	u64 dma;
	u64 dma_bytes;
	u64 dma_async;
	u64 held;
	u64 flight_max;
	u64 dropped;
	u64 map_short;
	u64 ring_dma;
	u64 ring_dma_bytes;
	u64 chains;
	u64 irqs;
	u64 kicks;
};

/*
 * The accesses of an arm64 memcpy_fromio() or memcpy_toio() of @len bytes
 * at mapped address @va (see struct epf_virtio_cost)
 */
static inline u64 epf_virtio_io_accesses(const void __iomem *va, size_t len)
{
	size_t head = min_t(size_t, len, -(uintptr_t)va & 7);

	len -= head;
	return head + len / 8 + len % 8;
}

/*
 * Entries for the buffer mappings of DMA copies in flight, per slot of a
 * queue, shared by the queue's chains: one chain may take many (a GSO
 * frame's), and further copies are waited for only once all are in use
 */
#define EPF_VIRTIO_MAPS_PER_SLOT		4

/* No entry of epf_virtio_queue::maps: the end of a list of them */
#define EPF_VIRTIO_MAP_NONE		U32_MAX

/**
 * struct epf_virtio_flight_map - a DMA transfer of a chain in flight
 * @addr: the endpoint buffer, mapped for the DMA channel
 * @len: its length
 * @next: the next entry of the same chain's, or of the queue's free ones
 * @to_host: the transfer writes host memory (else it reads it)
 */
struct epf_virtio_flight_map {
	dma_addr_t addr;
	u32 len;
	u32 next;
	bool to_host;
};

/**
 * struct epf_virtio_flight - a chain whose used entry waits for its copies
 * @vq: the queue
 * @buf: the holder of the chain while the device driver has it, else NULL
 * @in_use: taken from the queue's free entries
 * @copies: DMA transfers submitted and not yet ended (the channels'
 *	callbacks count them down)
 * @err: a transfer ended in error (set by a channel callback)
 * @completed: the device driver completed the chain: @head, @len, @done
 *	and @ctx are set
 * @dropped: the device driver dropped the chain instead: it is not given
 *	back
 * @more: the chain is one of a group, not its last: its used entry waits
 *	for the rest of the group (epf_virtio_complete_group())
 * @head: the chain's head descriptor index
 * @len: bytes written into the chain
 * @done: called once the chain is published or dropped, or NULL
 * @ctx: for @done
 * @since: jiffies when the chain was completed
 * @maps: first of the transfers' buffer mappings, a list in
 *	epf_virtio_queue::maps (EPF_VIRTIO_MAP_NONE if none); undone when the
 *	chain retires, or earlier once all its transfers landed and it needs
 *	the entries
 * Entries of epf_virtio_queue::flights: taken at a chain's first transfer
 * left in flight, or when a chain is completed behind such chains; put in
 * the queue's order when completed, in which order used entries go out.
 * Owned by the poll thread, but for @copies and @err.
 */
struct epf_virtio_flight {
	struct epf_virtio_queue *vq;
	struct epf_virtio_buf *buf;
	bool in_use;
	atomic_t copies;
	int err;
	bool completed;
	bool dropped;
	bool more;
	u16 head;
	u32 len;
	epf_virtio_done_t done;
	void *ctx;
	unsigned long since;
	u32 maps;
};

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
 * @irq_owed: the host wants an interrupt for the queue that has not gone
 *	out yet (raising it failed)
 * @flights: entries for chains with DMA transfers in flight, or completed
 *	behind such chains (queue size of them)
 * @fl_free: indexes of the entries of @flights not in use, a stack
 * @fl_nfree: entries in @fl_free
 * @fl_order: indexes of the completed entries of @flights, in the order
 *	they were completed, a ring of queue size
 * @fl_head: free-running index of the oldest entry of @fl_order
 * @fl_tail: free-running index after the newest
 * @maps: mapping entries of the chains' DMA copies in flight (queue size
 *	times EPF_VIRTIO_MAPS_PER_SLOT of them)
 * @map_free: first of the free entries of @maps, a list
 * @grp: used entries (head, length) of a group's chains that went back
 *	before its last one, held until then: the host sees a group at once
 * @grp_n: entries in @grp
 * @grp_broken: a chain of the group being completed was dropped: none of
 *	the group goes back
 * @cost: what the queue cost the link so far
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
	bool irq_owed;
	struct epf_virtio_flight *flights;
	u16 *fl_free;
	unsigned int fl_nfree;
	u16 *fl_order;
	unsigned int fl_head;
	unsigned int fl_tail;
	struct epf_virtio_flight_map *maps;
	u32 map_free;
	struct {
		u16 head;
		u32 len;
	} grp[EPF_VIRTIO_GROUP_MAX];
	unsigned int grp_n;
	bool grp_broken;
	struct epf_virtio_cost cost;
};

/*
 * The set-up registers as the last poll saw them, so that the set-up
 * tracepoint (trace.h) fires only on a change
 */
struct epf_virtio_setup_regs {
	u8 status;
	u16 sel;
	u16 vec20;
	u16 vec22;
};

/*
 * What the poll thread did with its time: its run time, involuntary and
 * voluntary switches, and the interrupts its CPU took.  A sample at a
 * poll, or the difference between two; for a lapse between two passes,
 * @pass_us is how long the first of them took (EPF_VIRTIO_GAP_IN_PASS: a
 * lapse within one pass).
 */
struct epf_virtio_gap {
	u64 ran_ns;
	unsigned long preempted;
	unsigned long slept;
	unsigned int irqs;
	int cpu;
	u32 pass_us;
};

#define EPF_VIRTIO_GAP_IN_PASS		U32_MAX

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
 * @link_up_at: when the last link up event came
 * @cfg_lock: protects @cfg and @cfg_dirty / @cfg_notify
 * @cfg: device configuration as the device driver wants it
 * @cfg_dirty: @cfg changed since it was last written to the BAR
 * @cfg_notify: tell the host about that change
 * @cfg_bar: device configuration as last written to or taken from the BAR
 * @status: device status as last seen
 * @active: DRIVER_OK handled and the device driver activated
 * @broken: the device needs a reset from the host
 * @want_reset: a helper found the host broke the protocol
 * @fenced: the host reset the device after the last poll of its status;
 *	nothing goes into host memory until the poll thread took the reset
 * @fences: how many times @fenced was set
 * @drv_features: features the host driver accepted
 * @irq_type: how to interrupt the host (PCI_IRQ_*)
 * @msix_on: number of MSI-X vectors the host enabled (0: none)
 * @cfg_vector: MSI-X vector for configuration changes
 * @layout_msix: device configuration at the MSI-X offset (24, not 20)
 * @layout_round: @layout_msix was taken at the first queue of the host
 *	driver's current set-up, after that driver read the configuration
 * @sel_seen: QUEUE_SEL as last sampled while QUEUE_PFN was 0
 * @setup_mask: queues given a QUEUE_PFN in this setup round
 * @vec_queue: queue whose MSI-X vector write is awaited, or -1
 * @spin_until: spin without sleeping until then while the host sets up
 * @armed_from: spin for the host's driver from then on (@link_up_at plus
 *	EPF_VIRTIO_LINK_QUIET_MS; 0: no link up waits for it)
 * @setup_seen: set-up registers at the last poll, for the set-up tracepoint
 * @setup_polled: time of the last poll spent spinning for a host set-up (0:
 *	the last poll was not)
 * @setup_gap_us: longest wait between such a poll and the next one since
 *	the last host reset
 * @setup_mark: the poll thread's counters at @setup_polled
 * @setup_gap: where the time of the @setup_gap_us lapse went
 * @polled_at: time of the last pass over the registers, whatever its pace
 * @pass_us: how long the last pass (events, registers, queues) took
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
 * @dma_threshold: buffer data of at least this many bytes moves by DMA
 * @dma_rings: take a channel for ring state (@dma_ring) if there is one
 * @dma_rx: the controller's DMA channel from the host, or NULL
 * @dma_tx: its DMA channel to the host, or NULL
 * @dma_ring: a third channel from the host, for ring state, or NULL
 * @ring_stage: where @dma_ring copies a ring's descriptors and avail ring
 *	(coherent memory of its device), or NULL
 * @ring_stage_dma: @ring_stage's DMA address
 * @ring_stage_size: its size: a descriptor table and an avail ring
 * @dma_done: the DMA transfer in flight completed
 * @debugfs: the device's debugfs directory (what its queues cost the link)
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
	ktime_t link_up_at;

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
	bool fenced;
	u64 fences;
	u32 drv_features;
	unsigned int irq_type;
	int msix_on;
	u16 cfg_vector;
	bool layout_msix;
	bool layout_round;
	u16 sel_seen;
	unsigned long *setup_mask;
	int vec_queue;
	ktime_t spin_until;
	ktime_t armed_from;
	struct epf_virtio_setup_regs setup_seen;
	ktime_t setup_polled;
	u32 setup_gap_us;
	struct epf_virtio_gap setup_mark;
	struct epf_virtio_gap setup_gap;
	ktime_t polled_at;
	u32 pass_us;
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
	u32 dma_threshold;
	bool dma_rings;
	struct dma_chan *dma_rx;
	struct dma_chan *dma_tx;
	struct dma_chan *dma_ring;
	void *ring_stage;
	dma_addr_t ring_stage_dma;
	size_t ring_stage_size;
	struct completion dma_done;
	struct dentry *debugfs;
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

/* xfer.c */
extern const struct epf_virtio_xfer_ops epf_virtio_mmio_ops;
extern const struct epf_virtio_xfer_ops epf_virtio_dma_ops;
bool epf_virtio_dma_get(struct epf_virtio *evd);
void epf_virtio_dma_put(struct epf_virtio *evd);
void epf_virtio_unmap_work(struct work_struct *work);
bool epf_virtio_unmaps_pending(struct epf_virtio *evd);
void epf_virtio_unmap(struct epf_virtio *evd, struct pci_epc_map *map);
void epf_virtio_flight_unmap(struct epf_virtio *evd,
			     struct epf_virtio_flight *fl);
void epf_virtio_dma_stop(struct epf_virtio *evd);
int epf_virtio_dma_read_ring(struct epf_virtio_queue *vq, size_t len);

/* legacy.c */
bool epf_virtio_raise(struct epf_virtio *evd, u16 vector, u8 isr);
void epf_virtio_deactivate(struct epf_virtio *evd);
bool epf_virtio_fence(struct epf_virtio *evd);
void epf_virtio_arm(struct epf_virtio *evd);
void epf_virtio_gap_sample(struct epf_virtio_gap *g);
void epf_virtio_keep_hot(struct epf_virtio *evd, ktime_t now);
void epf_virtio_watch(struct epf_virtio *evd, ktime_t now);
void epf_virtio_await_driver(struct epf_virtio *evd, ktime_t now);
bool epf_virtio_poll(struct epf_virtio *evd, ktime_t now);

/* ring.c */
void epf_virtio_unmap_queue(struct epf_virtio_queue *vq);
int epf_virtio_map_queue(struct epf_virtio_queue *vq);
int epf_virtio_mirror_avail(struct epf_virtio_queue *vq);
void epf_virtio_notify_queues(struct epf_virtio *evd);
struct epf_virtio_flight *epf_virtio_flight_new(struct epf_virtio_queue *vq,
						struct epf_virtio_buf *buf);
bool epf_virtio_retire(struct epf_virtio *evd);
void epf_virtio_flights_drop(struct epf_virtio *evd);

/* poll.c */
void epf_virtio_signal(struct epf_virtio *evd, int ev);
int epf_virtio_start_polling(struct epf_virtio *evd);
void epf_virtio_stop_polling(struct epf_virtio *evd);
void epf_virtio_stop_pollers(void);

#endif /* _PCI_EPF_VIRTIO_INTERNAL_H */
