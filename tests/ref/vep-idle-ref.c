// SPDX-License-Identifier: GPL-2.0
/*
 * A reference for the idle cost of an endpoint poll thread.
 *
 * Starts one kthread, "vep-idle-ref/@cpu", bound to @cpu, that does what an
 * idle poll thread does minus the polling: it sleeps @period_us at a time
 * on a wait queue with an hrtimer timeout, and wakes up for nothing.  What
 * it costs on a machine is the price of the wake-ups alone there (under
 * emulation, most of an idle poll thread's cost), so a test can hold the
 * poll thread to a multiple of it rather than to an absolute figure.
 */

#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/wait.h>

static int cpu = 1;
module_param(cpu, int, 0444);
MODULE_PARM_DESC(cpu, "CPU the thread runs on");

static unsigned int period_us = 5000;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "Sleep between wake-ups, in microseconds");

static struct task_struct *vep_idle_ref_thread;
static DECLARE_WAIT_QUEUE_HEAD(vep_idle_ref_wq);

static int vep_idle_ref_fn(void *data)
{
	while (!kthread_should_stop())
		wait_event_interruptible_hrtimeout(vep_idle_ref_wq,
						   kthread_should_stop(),
						   ns_to_ktime(period_us *
							       NSEC_PER_USEC));

	return 0;
}

static int __init vep_idle_ref_init(void)
{
	struct task_struct *t;

	if (cpu < 0 || cpu >= nr_cpu_ids || !cpu_online(cpu) || !period_us)
		return -EINVAL;

	t = kthread_create(vep_idle_ref_fn, NULL, "vep-idle-ref/%d", cpu);
	if (IS_ERR(t))
		return PTR_ERR(t);
	kthread_bind(t, cpu);
	vep_idle_ref_thread = t;
	wake_up_process(t);

	return 0;
}

static void __exit vep_idle_ref_exit(void)
{
	kthread_stop(vep_idle_ref_thread);
}

module_init(vep_idle_ref_init);
module_exit(vep_idle_ref_exit);

MODULE_DESCRIPTION("Reference thread for the idle cost of a poll thread");
MODULE_LICENSE("GPL");
