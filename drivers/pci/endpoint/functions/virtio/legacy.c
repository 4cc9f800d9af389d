// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: the legacy virtio-pci
 * register file in BAR0.  Interrupts to the host, the device
 * configuration, and the device state the host drives through the
 * registers (reset, queue set-up, DRIVER_OK), read by the poll thread.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/visibility.h>
#include <linux/kernel_stat.h>

#include "../pci-epf-virtio-kunit.h"

#include "internal.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* ------------------------------------------------------------------------
 * Interrupts to the host
 */

/* Interrupt the host for @isr on MSI-X @vector; true if one went out */
bool epf_virtio_raise(struct epf_virtio *evd, u16 vector, u8 isr)
{
	struct pci_epf *epf = evd->epf;
	unsigned int type = evd->irq_type;
	u16 num = 0;
	int ret;

	if (type == PCI_IRQ_MSIX) {
		if (vector == VIRTIO_MSI_NO_VECTOR)
			return false;
		if (vector >= evd->msix_on) {
			dev_err_ratelimited(epf_virtio_to_dev(evd),
					    "Host gave MSI-X vector %u, only %d enabled\n",
					    vector, evd->msix_on);
			return false;
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
	return !ret;
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
 * Device state
 */

/*
 * Stop using the queues: copies in flight end, then the device driver
 * forgets its chains
 */
void epf_virtio_deactivate(struct epf_virtio *evd)
{
	unsigned int i;

	if (evd->active) {
		epf_virtio_flights_drop(evd);
		evd->info->ops->reset(evd);
		evd->active = false;
	}

	for (i = 0; i < evd->info->nvqs; i++)
		epf_virtio_unmap_queue(&evd->vqs[i]);
	evd->xfer->release(evd);

	evd->want_reset = false;
	evd->fenced = false;
	evd->xfer_failing = false;
	evd->win_wait_since = 0;
	evd->win_short = false;
}

/**
 * epf_virtio_fence() - whether the host reset the device since its last poll
 * @evd: the device
 *
 * A legacy driver resets the device by writing status 0, reads the status
 * back only to flush that write, and frees its rings and buffers right
 * after: it never waits for the device.  The poll thread sees the reset at
 * its next poll of the registers, which may be a whole pass of copies
 * away.  Whatever it writes into host memory meanwhile lands in memory the
 * host may already have given to something else.  So it looks at the
 * status (endpoint memory, cheap to read) before each write into host
 * memory: once bits it saw are gone, which happens only in a reset, it
 * writes nothing more and ends the DMA transfers in flight.  The next poll
 * then takes the reset.  What is left is the copy under way when the host
 * wrote the status, as with any device that takes time to see a reset.
 *
 * Context: the poll thread (sleeps the first time it finds a reset).
 * Return: true if the host reset the device: write nothing to it.
 */
bool epf_virtio_fence(struct epf_virtio *evd)
{
	if (evd->fenced)
		return true;
	if (!(evd->status & ~epf_virtio_rd8(evd, VIRTIO_PCI_STATUS)))
		return false;

	evd->fenced = true;
	evd->fences++;
	dev_dbg(epf_virtio_to_dev(evd),
		"Host reset the device while it was served: writes stop\n");
	epf_virtio_dma_stop(evd);
	return true;
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
void epf_virtio_arm(struct epf_virtio *evd)
{
	memset(evd->bar, 0, EPF_VIRTIO_REGS_SIZE);
	epf_virtio_msix_reset(evd);
	epf_virtio_wr32(evd, VIRTIO_PCI_HOST_FEATURES, evd->dev_features);
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NUM, evd->queue_size);
	epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NOTIFY, EPF_VIRTIO_NOTIFY_IDLE);

	evd->layout_msix = false;
	evd->layout_round = false;
	epf_virtio_cfg_write_bar(evd, true);
	evd->setup_refused = false;

	evd->status = 0;
	evd->broken = false;
	evd->drv_features = 0;
	evd->msix_on = 0;
	evd->isr_clear_at = 0;
	/* No host to spin for until the next link up or bind says so */
	evd->spin_until = 0;
	evd->armed_from = 0;
	memset(&evd->setup_seen, 0, sizeof(evd->setup_seen));
	evd->setup_gap_us = 0;
	memset(&evd->setup_gap, 0, sizeof(evd->setup_gap));
	epf_virtio_forget_queues(evd);
}

/* Poll at the hot rate for EPF_VIRTIO_ARMED_MS at least */
void epf_virtio_keep_hot(struct epf_virtio *evd, ktime_t now)
{
	if (ktime_before(evd->hot_until, ktime_add_ms(now, EPF_VIRTIO_ARMED_MS)))
		evd->hot_until = ktime_add_ms(now, EPF_VIRTIO_ARMED_MS);
}

/* Start watching closely: a host driver may be about to set the device up */
void epf_virtio_watch(struct epf_virtio *evd, ktime_t now)
{
	evd->spin_until = ktime_add_ms(now, EPF_VIRTIO_SETUP_SPIN_MS);
	epf_virtio_keep_hot(evd, now);
}

/*
 * Bus master enable, or link up plus EPF_VIRTIO_LINK_QUIET_MS: a host
 * driver may start its set-up at any time from now on, and the first
 * status it writes is the first sign of it the thread can see.  Spin until
 * that write, for at most EPF_VIRTIO_ARMED_MS; the write hands over to
 * epf_virtio_watch()'s rule.
 */
void epf_virtio_await_driver(struct epf_virtio *evd, ktime_t now)
{
	epf_virtio_watch(evd, now);
	evd->spin_until = ktime_add_ms(now, EPF_VIRTIO_ARMED_MS);
}

/* The host wrote status 0: drop everything it had set up */
static void epf_virtio_host_reset(struct epf_virtio *evd, ktime_t now)
{
	dev_dbg(epf_virtio_to_dev(evd), "Host reset the device\n");
	memset(&evd->setup_seen, 0, sizeof(evd->setup_seen));
	evd->setup_gap_us = 0;
	memset(&evd->setup_gap, 0, sizeof(evd->setup_gap));

	epf_virtio_deactivate(evd);
	evd->broken = false;
	evd->drv_features = 0;
	evd->isr_clear_at = 0;
	/* An MSI-X layout now is for the next driver to find moved back */
	evd->layout_round = false;
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

/* Trace the set-up registers if any changed since the last poll */
static void epf_virtio_trace_setup(struct epf_virtio *evd, u16 sel, u32 pfn)
{
	struct epf_virtio_setup_regs now = {
		.status = evd->status,
		.sel = sel,
	};

	if (!trace_epf_virtio_setup_enabled())
		return;

	now.vec20 = epf_virtio_rd16(evd, VIRTIO_MSI_CONFIG_VECTOR);
	now.vec22 = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
	if (!pfn && now.status == evd->setup_seen.status &&
	    now.sel == evd->setup_seen.sel &&
	    now.vec20 == evd->setup_seen.vec20 &&
	    now.vec22 == evd->setup_seen.vec22)
		return;

	evd->setup_seen = now;
	trace_epf_virtio_setup(epf_virtio_to_dev(evd), now.status, sel, pfn,
			       now.vec20, now.vec22);
}

/**
 * epf_virtio_gap_sample() - sample the poll thread's counters
 * @g: where to put them
 *
 * Called from the poll thread, for epf_virtio_gap_note().
 */
void epf_virtio_gap_sample(struct epf_virtio_gap *g)
{
	g->cpu = raw_smp_processor_id();
	g->ran_ns = current->se.sum_exec_runtime;
	g->preempted = current->nivcsw;
	g->slept = current->nvcsw;
	g->irqs = kstat_cpu_irqs_sum(g->cpu);
}

/*
 * The poll thread looked at the registers at @since, when its counters were
 * @mark, and again now: keep the longest such lapse of the set-up, and what
 * the thread did meanwhile.  Run time is the scheduler's, up to a tick
 * stale, and counts time a hypervisor gave the vCPU's host CPU to others:
 * a lapse the thread "ran" through without a switch was spent in the pass
 * itself, or away from the machine.
 */
static void epf_virtio_gap_note(struct epf_virtio *evd, ktime_t since,
				const struct epf_virtio_gap *mark, u32 pass_us,
				ktime_t now)
{
	s64 us = ktime_us_delta(now, since);
	struct epf_virtio_gap g;

	if (us <= evd->setup_gap_us)
		return;

	epf_virtio_gap_sample(&g);
	evd->setup_gap_us = min_t(s64, us, U32_MAX);
	evd->setup_gap.cpu = g.cpu == mark->cpu ? g.cpu : -1;
	evd->setup_gap.ran_ns = g.ran_ns - mark->ran_ns;
	evd->setup_gap.preempted = g.preempted - mark->preempted;
	evd->setup_gap.slept = g.slept - mark->slept;
	evd->setup_gap.irqs = g.cpu == mark->cpu ? g.irqs - mark->irqs : 0;
	evd->setup_gap.pass_us = pass_us;
}

/* Say where the time of the set-up's longest lapse went */
static void epf_virtio_gap_print(struct epf_virtio *evd)
{
	const struct epf_virtio_gap *g = &evd->setup_gap;
	char where[40];

	if (evd->setup_gap_us < EPF_VIRTIO_SETUP_GAP_US)
		return;

	if (g->pass_us == EPF_VIRTIO_GAP_IN_PASS)
		snprintf(where, sizeof(where), "within one pass");
	else
		snprintf(where, sizeof(where), "the pass before it took %u us",
			 g->pass_us);
	dev_warn(epf_virtio_to_dev(evd),
		 "Longest poll lapse of the set-up: %u us (%s); the poll thread ran %llu us of it, was preempted %lu times and slept %lu times, its CPU (%d) took %u interrupts\n",
		 evd->setup_gap_us, where, div_u64(g->ran_ns, NSEC_PER_USEC),
		 g->preempted, g->slept, g->cpu, g->irqs);
}

/*
 * The host's driver gave up on the device (status @status, FAILED set;
 * @old before).  Say whether the poll thread could have missed its set-up:
 * @unseen, the whole set-up came and went between two polls.
 */
static void epf_virtio_host_failed(struct epf_virtio *evd, u8 old, u8 status,
				   bool unseen, ktime_t now)
{
	struct device *dev = epf_virtio_to_dev(evd);

	dev_warn(dev, "Host driver failed the device (status %#x); reload it to retry\n",
		 status);
	/*
	 * A reload comes next, and a driver-less unbind writes no reset that
	 * would get the poll thread ready for its set-up
	 */
	epf_virtio_watch(evd, now);
	if (unseen)
		dev_warn(dev, "The poll thread did not poll while the host set the device up: status %#x, then %#x, %lld us apart (that pass took %u us, %s)\n",
			 old, status,
			 evd->polled_at ? ktime_us_delta(now, evd->polled_at) :
			 -1LL,
			 evd->pass_us,
			 evd->setup_polled ? "then spun" : "then slept");
	else if (evd->setup_gap_us >= EPF_VIRTIO_SETUP_GAP_US)
		dev_warn(dev, "The poll thread was off its CPU for %u us while the host set the device up, and may have missed a queue address (keep poll_cpu for it alone)\n",
			 evd->setup_gap_us);
	epf_virtio_gap_print(evd);
}

static void epf_virtio_status_changed(struct epf_virtio *evd, u8 status,
				      ktime_t now)
{
	u16 vec_now = epf_virtio_rd16(evd, VIRTIO_MSI_QUEUE_VECTOR);
	u8 old = evd->status;
	/* A reset and a whole set-up came and went between two polls */
	bool unseen = (old & ~status) || !(old & VIRTIO_CONFIG_S_DRIVER);

	trace_epf_virtio_status(epf_virtio_to_dev(evd), old, status);
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
		/* An MSI-X layout now is an earlier driver's */
		evd->layout_round = false;
	}

	/* The last queue's vector: nothing comes after it */
	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		epf_virtio_take_vector(evd, vec_now);
	else if (!(status & VIRTIO_CONFIG_S_FAILED))
		epf_virtio_watch(evd, now);

	if ((status & VIRTIO_CONFIG_S_FAILED) &&
	    !(old & VIRTIO_CONFIG_S_FAILED))
		epf_virtio_host_failed(evd, old, status, unseen, now);

	/* Stopped earlier, and the host goes on as if not: say so again */
	if (evd->broken && status && !(status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		epf_virtio_wr8(evd, VIRTIO_PCI_STATUS, status);
		evd->status = status;
	}
}

/**
 * epf_virtio_guess_vector() - the MSI-X vector of a queue whose write went
 *	unseen
 * @q: the queue
 * @vec: what QUEUE_VECTOR holds now, with the next queue's address already
 *	given: @q's vector, or already the next queue's
 * @pre: what QUEUE_VECTOR held when @q's address was taken: the vector of
 *	the queue before, or whatever was there (device configuration bytes,
 *	after an MSI-X layout change)
 *
 * Linux's virtio_pci, the legacy host driver this is used with, gives
 * queue q vector q + 1 when each queue has a vector of its own (vector 0
 * is the configuration's), and vector 1 to every queue when they share one.
 * Either way @vec tells @q's: 1 is 1, q + 1 is @q's own, q + 2 the next
 * queue's.  Anything else is another host driver's scheme: @pre, as before.
 *
 * Return: the vector to use for @q.
 */
VISIBLE_IF_KUNIT u16 epf_virtio_guess_vector(u16 q, u16 vec, u16 pre)
{
	if (vec == 1)
		return 1;
	if (vec == q + 1 || vec == q + 2)
		return q + 1;
	return pre;
}
EXPORT_SYMBOL_IF_KUNIT(epf_virtio_guess_vector);

/*
 * Wait for queue @q's MSI-X vector (see epf_virtio_queue_pfn()), @vec what
 * QUEUE_VECTOR read when its QUEUE_PFN was taken.  Not on the CPU at normal
 * priority without a break: the host's interrupt request may wait for a
 * worker on this CPU.  Past EPF_VIRTIO_VECTOR_WAIT_US the vector is left to
 * epf_virtio_take_vector(), when the host moves on.
 */
static void epf_virtio_await_vector(struct epf_virtio *evd, u16 q, u16 vec)
{
	struct device *dev = epf_virtio_to_dev(evd);
	struct epf_virtio_queue *vq = &evd->vqs[q];
	u8 status = evd->status;
	struct epf_virtio_gap mark;
	ktime_t until, last, now;
	u16 pre = vec;

	last = ktime_get();
	epf_virtio_gap_sample(&mark);
	until = ktime_add_us(last, EPF_VIRTIO_VECTOR_WAIT_US);
	do {
		now = ktime_get();
		/* A lapse here counts as one between polls (see epf_virtio_poll) */
		epf_virtio_gap_note(evd, last, &mark, EPF_VIRTIO_GAP_IN_PASS,
				    now);
		last = now;
		epf_virtio_gap_sample(&mark);

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
			vq->vector = pre;
			if (vec != pre) {
				vq->vector = epf_virtio_guess_vector(q, vec,
								     pre);
				dev_warn_ratelimited(dev, "Queue %u's MSI-X vector went unseen: %u taken, as Linux's virtio_pci gives it (QUEUE_VECTOR read %u, then %u); reload the host driver if its interrupts go astray\n",
						     q, vq->vector, pre, vec);
				epf_virtio_gap_print(evd);
			}
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
	u16 q = sel;

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

	epf_virtio_await_vector(evd, q, vec);
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
	u16 sel, vec, kick;
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
		epf_virtio_trace_setup(evd, sel, pfn);

	/* The host moved off the queue whose vector was awaited */
	if (evd->vec_queue >= 0 && (sel != evd->vec_queue || pfn))
		epf_virtio_take_vector(evd, vec);

	if (pfn) {
		epf_virtio_queue_pfn(evd, pfn, sel, vec);
		evd->spin_until = ktime_add_ms(now, EPF_VIRTIO_SETUP_SPIN_MS);
		activity = true;
		/*
		 * By its first queue the host has turned MSI-X on or not for
		 * this attempt (virtio_pci falls back to fewer vectors, then
		 * INTx, starting again from queue 0), and some drivers
		 * (virtio_vsock) read the configuration before DRIVER_OK: it
		 * goes where they read it now.  A move to offset 24 leaves
		 * the vectors at 20-23 alone.
		 */
		if (!sel && epf_virtio_in_setup(evd)) {
			epf_virtio_set_layout(evd,
					      pci_epc_get_msix(evd->epf->epc,
							       evd->epf->func_no,
							       evd->epf->vfunc_no) > 0);
			evd->layout_round = evd->layout_msix;
		}
	} else {
		/* QUEUE_SEL going back: the host starts over */
		if (sel < evd->sel_seen)
			bitmap_zero(evd->setup_mask, evd->info->nvqs);
		evd->sel_seen = sel;
	}

	/*
	 * A kick: every queue is scanned on every poll anyway.  Counted for
	 * the queue it names (the last one, if several came between polls).
	 */
	kick = epf_virtio_rd16(evd, VIRTIO_PCI_QUEUE_NOTIFY);
	if (kick != EPF_VIRTIO_NOTIFY_IDLE) {
		epf_virtio_wr16(evd, VIRTIO_PCI_QUEUE_NOTIFY,
				EPF_VIRTIO_NOTIFY_IDLE);
		if (kick < evd->info->nvqs)
			evd->vqs[kick].cost.kicks++;
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
			epf_virtio_gap_print(evd);
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
		char vecs[EPF_VIRTIO_VECS_LINE] = "";
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
 * Left alone while the driver whose own first queue moved it to 24 sets
 * the device up: MSI-X off again before DRIVER_OK is virtio_pci freeing
 * its vectors to try another interrupt scheme after a failed queue set-up
 * (it read the configuration before, at 20), and the first queue of its
 * next attempt puts the configuration where that attempt reads it.  A
 * move now could also land over the configuration vector that attempt
 * writes at 20.
 */
static void epf_virtio_check_placement(struct epf_virtio *evd, ktime_t now)
{
	unsigned int n = min_t(unsigned int, evd->info->config_size, 4);
	struct pci_epf *epf = evd->epf;
	bool moved = evd->layout_msix;
	u8 status = evd->status;

	if (evd->active || !n)
		return;
	if (evd->layout_round && epf_virtio_in_setup(evd))
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

	evd->layout_round = false;
	if (moved && (status & (VIRTIO_CONFIG_S_DRIVER |
				VIRTIO_CONFIG_S_DRIVER_OK |
				VIRTIO_CONFIG_S_FAILED)) == VIRTIO_CONFIG_S_DRIVER)
		epf_virtio_refuse_setup(evd);
}

/* One pass over everything; true if anything happened */
bool epf_virtio_poll(struct epf_virtio *evd, ktime_t now)
{
	const struct epf_virtio_ops *ops = evd->info->ops;
	bool work;
	unsigned int i;
	int ret;

	/* The host's set-up gives the thread microseconds: note any lapse */
	if (evd->setup_polled)
		epf_virtio_gap_note(evd, evd->setup_polled, &evd->setup_mark,
				    evd->pass_us, now);

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

		/* Chains whose copies ended go back before new ones come */
		if (epf_virtio_retire(evd))
			work = true;
		if (!evd->want_reset && ops->process(evd))
			work = true;
		if (!evd->want_reset && epf_virtio_retire(evd))
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
