// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: the poll threads (one per
 * CPU asked for), their pace, and how the rest of the core and the device
 * drivers wake them.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include "internal.h"

/* All pollers; the mutex protects the list */
static LIST_HEAD(epf_virtio_pollers);
static DEFINE_MUTEX(epf_virtio_pollers_lock);

void epf_virtio_signal(struct epf_virtio *evd, int ev)
{
	struct epf_virtio_poller *p = READ_ONCE(evd->poller);

	set_bit(ev, &evd->events);
	if (p) {
		WRITE_ONCE(p->kick, true);
		wake_up(&p->wq);
	}
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
		/* No message: the host may be probing soon */
		if (READ_ONCE(evd->link_want)) {
			ktime_t up = READ_ONCE(evd->link_up_at);

			epf_virtio_keep_hot(evd, now);
			evd->armed_from = ktime_add_ms(up,
						       EPF_VIRTIO_LINK_QUIET_MS);
		}
		work = true;
	}

	if (test_and_clear_bit(EPF_VIRTIO_EV_BME, &evd->events)) {
		evd->armed_from = 0;
		epf_virtio_await_driver(evd, now);
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

	/* A host may come from now on, unless its driver already did */
	if (evd->armed_from && !ktime_before(now, evd->armed_from)) {
		evd->armed_from = 0;
		if (!evd->status && READ_ONCE(evd->link_want))
			epf_virtio_await_driver(evd, now);
	}

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
	if (evd->setup_polled)
		epf_virtio_gap_sample(&evd->setup_mark);

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
 * device (down) and start the wait for a host driver (up: hot polling,
 * then a spin from EPF_VIRTIO_LINK_QUIET_MS on).
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
			evd->pass_us = min_t(s64, ktime_us_delta(ktime_get(), now),
					     U32_MAX);
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

int epf_virtio_start_polling(struct epf_virtio *evd)
{
	struct epf_virtio_poller *p;

	p = epf_virtio_get_poller(evd->poll_cpu);
	if (IS_ERR(p))
		return PTR_ERR(p);

	mutex_lock(&p->lock);
	/*
	 * A controller that reports link up has the thread wait for the
	 * host's set-up from then on (epf_virtio_link_up()); until then the
	 * device has no host, and a spin now would only take the CPU that
	 * bringing the link up needs.  Without that report a host may be
	 * probing already.
	 */
	if (evd->epc_features->linkup_notifier)
		epf_virtio_keep_hot(evd, ktime_get());
	else
		epf_virtio_await_driver(evd, ktime_get());
	list_add_tail(&evd->poll_node, &p->devices);
	WRITE_ONCE(evd->poller, p);
	mutex_unlock(&p->lock);

	epf_virtio_signal(evd, EPF_VIRTIO_EV_WAKE);

	return 0;
}

/* Once this returns the device is not polled and holds no mapping */
void epf_virtio_stop_polling(struct epf_virtio *evd)
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

void epf_virtio_stop_pollers(void)
{
	struct epf_virtio_poller *p, *tmp;

	mutex_lock(&epf_virtio_pollers_lock);
	list_for_each_entry_safe(p, tmp, &epf_virtio_pollers, node) {
		WARN_ON(!list_empty(&p->devices));
		kthread_stop(p->thread);
		list_del(&p->node);
		kfree(p);
	}
	mutex_unlock(&epf_virtio_pollers_lock);
}

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
