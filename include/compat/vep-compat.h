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

/*
 * vsock before the network namespace reached the virtio transport: its
 * packets carry none, and stream_allow() and seqpacket_allow() are not
 * told the socket.  The vsock function's callbacks are written for the
 * newer prototypes;
 * where it defines them, these turn each definition into a declaration,
 * a wrapper of the older prototype under the callback's name, and the
 * renamed definition (a parenthesized name is never expanded).
 */
#ifdef VEP_COMPAT_VSOCK_NO_NETNS_MODE
/* Before vsock's per-namespace mode: every socket may reach hosts */
#define vsock_net_mode_global(vsk)	((void)(vsk), true)
#endif
#ifdef VEP_COMPAT_VSOCK_NO_NET
#define virtio_transport_recv_pkt(t, skb, ...) \
	(virtio_transport_recv_pkt)(t, skb)
#define epf_vsock_send_pkt(skb_arg, net_arg) \
	epf_vsock_send_pkt_net(skb_arg, net_arg); \
	static int (epf_vsock_send_pkt)(struct sk_buff *skb) \
	{ \
		return epf_vsock_send_pkt_net(skb, NULL); \
	} \
	static int epf_vsock_send_pkt_net(skb_arg, net_arg)
#define epf_vsock_stream_allow(vsk_arg, cid_arg, port_arg) \
	epf_vsock_stream_allow_vsk(vsk_arg, cid_arg, port_arg); \
	static bool (epf_vsock_stream_allow)(u32 cid, u32 port) \
	{ \
		return epf_vsock_stream_allow_vsk(NULL, cid, port); \
	} \
	static bool epf_vsock_stream_allow_vsk(vsk_arg, cid_arg, port_arg)
#define epf_vsock_seqpacket_allow(vsk_arg, cid_arg) \
	epf_vsock_seqpacket_allow_vsk(vsk_arg, cid_arg); \
	static bool (epf_vsock_seqpacket_allow)(u32 cid) \
	{ \
		return epf_vsock_seqpacket_allow_vsk(NULL, cid); \
	} \
	static bool epf_vsock_seqpacket_allow_vsk(vsk_arg, cid_arg)
#endif

#endif /* _VEP_COMPAT_H */
