/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-tree builds only.  The project's sources are written against the
 * newest kernel they support; the top-level Kbuild puts this header before
 * each of them, where it stands in for what an older kernel (6.12) lacks.
 * The VEP_COMPAT_* flags come from that Kbuild's look at the kernel's
 * headers.  Built in the kernel tree, nothing includes it.
 */
#ifndef _VEP_COMPAT_H
#define _VEP_COMPAT_H

/*
 * The typed allocation helpers, as the sources use them: GFP_KERNEL only
 * (a call with flags fails to build here, and make check-builds says so)
 */
#ifdef VEP_COMPAT_NO_ALLOC_OBJ
#define kzalloc_obj(obj)	kzalloc(sizeof(obj), GFP_KERNEL)
#define kmalloc_obj(obj)	kmalloc(sizeof(obj), GFP_KERNEL)
#endif

/* The unbound system workqueue, under its older name */
#ifdef VEP_COMPAT_NO_DFL_WQ
#define system_dfl_wq		system_unbound_wq
#endif

/* Per-CPU workqueues were the default before they could be asked for */
#ifdef VEP_COMPAT_NO_WQ_PERCPU
#define WQ_PERCPU		0
#endif

/*
 * A tty port's own flip buffer workqueue.  Without it, a driver's
 * workqueue for its ports goes unused: flip buffers are pushed from the
 * tty layer's default one, as before.
 */
#ifdef VEP_COMPAT_NO_PORT_WQ
#define tty_port_link_wq(port, wq)	do { (void)(port); (void)(wq); } while (0)
#endif
#ifdef VEP_COMPAT_NO_TTY_NO_WQ
#define TTY_DRIVER_NO_WORKQUEUE	0
#endif

/*
 * Symbol namespaces named by a bare word, not a string.  The macro is
 * replaced once <linux/module.h> has defined it, which brings in
 * <linux/printk.h> ahead of the source: the source's pr_fmt() is given
 * first, so that its own definition (every one in the project is this
 * one) repeats it rather than replacing printk.h's default.
 */
#ifdef VEP_COMPAT_NS_WORD
#define pr_fmt(fmt)		KBUILD_MODNAME ": " fmt
#include <linux/module.h>
#undef MODULE_IMPORT_NS
#define MODULE_IMPORT_NS(ns)	MODULE_INFO(import_ns, ns)
#endif

#endif /* _VEP_COMPAT_H */
