// SPDX-License-Identifier: GPL-2.0
/*
 * The console function on an hvc_console backend, for the console
 * benchmark only (bench/guest/console.sh): a reference to measure
 * pci-epf-vcon's own tty against, never part of the product.
 *
 * The host sees what pci-epf-vcon presents: a legacy virtio console, one
 * port, queue 0 the host's receiveq and queue 1 its transmitq, built on the
 * core library the same way (the configfs tunables of struct
 * epf_virtio_cfs, poll_cpu among them).  On the endpoint the port is an
 * hvc (hvc_alloc()), the way virtio_console hooks its console ports up:
 *
 *  - put_chars() runs under hvc's spinlock with interrupts off (hvc_write()
 *    and khvcd): it copies into a transmit kfifo and wakes the poll thread,
 *    which moves the kfifo into the host's receive buffers.  When it is
 *    full, put_chars() takes nothing and hvc keeps the rest in its outbuf.
 *  - The poll thread copies the host's transmit buffers into a receive
 *    kfifo, then calls hvc_poll(), as virtio_console does from its
 *    interrupt handler: it delivers up to HVC_ATOMIC_READ_MAX bytes at
 *    once and leaves the rest to khvcd (hvc_kick()).  get_chars() takes
 *    from the kfifo.  The poll thread also calls hvc_poll() when it made
 *    room in the transmit kfifo, which pushes hvc's outbuf and wakes the
 *    writers.
 *  - The hvc is "interrupt driven" (notifier_add sets irq_requested, as in
 *    virtio_console): khvcd runs when kicked, not on a timer.
 *  - Host data is completed once it is in the receive kfifo.  While nobody
 *    has the tty open it is discarded, as pci-epf-vcon does.
 *
 * The hvc index, and so the tty /dev/hvc<n>, is the first console slot
 * that no hvc backend holds, which in a one-kernel rig the host's
 * virtio_console shares: the function's "tty" attribute names it.
 *
 * The receive kfifo holds more than the benchmark ever has in flight
 * (vep-xfer keeps its writer at most 128 KiB ahead of the reader, 64 KiB
 * a write).  In the one-kernel rig the host's writer spins with interrupts
 * off on CPU 0 until its buffer is completed, and khvcd, which empties the
 * kfifo, runs on CPU 0 too: a full kfifo would stop both for good.  A real
 * host has no such tie.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kfifo.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/tty_port.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

/* drivers/tty/hvc (tests/ref/Makefile has it on the include path) */
#include "hvc_console.h"

/* Device features, as pci-epf-vcon offers them */
#define VEP_VHVC_FEATURES	BIT(VIRTIO_CONSOLE_F_SIZE)

/* hvc's own buffer for tty writes, as virtio_console sizes it */
#define VEP_VHVC_OUTBUF_SIZE	PAGE_SIZE

/* Transmit kfifo (hvc to host), as pci-epf-vcon's transmit buffer */
#define VEP_VHVC_OUT_SIZE	SZ_16K

/* Receive kfifo (host to hvc): see above */
#define VEP_VHVC_IN_SIZE	SZ_256K

/* Bounce buffer between the host's transmit buffers and the kfifo */
#define VEP_VHVC_BOUNCE_SIZE	PAGE_SIZE

/* hvc has this many ttys (HVC_ALLOC_TTY_ADAPTERS in hvc_console.c) */
#define VEP_VHVC_HVC_TTYS	8

#define VEP_VHVC_Q_RX		0
#define VEP_VHVC_Q_TX		1
#define VEP_VHVC_NR_QUEUES	2

/**
 * struct vep_vhvc - one function instance
 * @node: in vep_vhvc_list
 * @epf: the endpoint function
 * @evd: the virtio device; NULL once the function is going away
 * @hp: the hvc
 * @vtermno: the hvc's vterm number, how hvc names us to the callbacks
 * @cfs: configfs tunables
 * @out: transmit kfifo (hvc to host)
 * @in: receive kfifo (host to hvc)
 * @in_full: the poll thread found no room in @in
 * @in_buf: host transmit chain being delivered
 * @in_busy: @in_buf holds a chain
 * @in_data: bounce buffer for host data not yet in @in
 * @in_len: bytes in @in_data
 * @in_off: bytes of @in_data already in @in
 * @out_buf: host receive chain being filled
 * @out_busy: @out_buf holds a chain
 * @out_done: bytes written into @out_buf so far
 *
 * @evd, @out, @in and @in_full are under vep_vhvc_lock; the fields from
 * @in_buf on belong to the poll thread.
 */
struct vep_vhvc {
	struct list_head node;
	struct pci_epf *epf;
	struct epf_virtio *evd;
	struct hvc_struct *hp;
	u32 vtermno;
	struct epf_virtio_cfs cfs;

	DECLARE_KFIFO_PTR(out, u8);
	DECLARE_KFIFO_PTR(in, u8);
	bool in_full;

	struct epf_virtio_buf in_buf;
	bool in_busy;
	u8 *in_data;
	size_t in_len;
	size_t in_off;
	struct epf_virtio_buf out_buf;
	bool out_busy;
	u32 out_done;
};

/*
 * The instances, for the hvc callbacks, which only get a vterm number:
 * khvcd may call them for an hvc until its last tty reference is gone,
 * after the function was removed.  Also guards each instance's kfifos.
 */
static DEFINE_SPINLOCK(vep_vhvc_lock);
static LIST_HEAD(vep_vhvc_list);
static u32 vep_vhvc_next_vtermno;

/* Caller holds vep_vhvc_lock */
static struct vep_vhvc *vep_vhvc_find(u32 vtermno)
{
	struct vep_vhvc *vh;

	lockdep_assert_held(&vep_vhvc_lock);

	list_for_each_entry(vh, &vep_vhvc_list, node)
		if (vh->vtermno == vtermno)
			return vh;

	return NULL;
}

/* ------------------------------------------------------------------------
 * hvc callbacks: any context, interrupts off
 */

static ssize_t vep_vhvc_put_chars(u32 vtermno, const u8 *buf, size_t count)
{
	struct vep_vhvc *vh;
	unsigned long flags;
	ssize_t n = -EPIPE;

	spin_lock_irqsave(&vep_vhvc_lock, flags);
	vh = vep_vhvc_find(vtermno);
	if (vh) {
		n = kfifo_in(&vh->out, buf, count);
		if (n && vh->evd)
			epf_virtio_wake(vh->evd);
	}
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);

	return n;
}

static ssize_t vep_vhvc_get_chars(u32 vtermno, u8 *buf, size_t count)
{
	struct vep_vhvc *vh;
	unsigned long flags;
	ssize_t n = -EPIPE;

	spin_lock_irqsave(&vep_vhvc_lock, flags);
	vh = vep_vhvc_find(vtermno);
	if (vh) {
		n = kfifo_out(&vh->in, buf, count);
		/* Room for a bounce buffer's worth: the poll thread goes on */
		if (vh->in_full &&
		    kfifo_avail(&vh->in) >= VEP_VHVC_BOUNCE_SIZE) {
			vh->in_full = false;
			if (vh->evd)
				epf_virtio_wake(vh->evd);
		}
	}
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);

	return n;
}

/* khvcd is kicked when there is work, as for virtio_console */
static int vep_vhvc_notifier_add(struct hvc_struct *hp, int data)
{
	hp->irq_requested = 1;

	return 0;
}

static void vep_vhvc_notifier_del(struct hvc_struct *hp, int data)
{
	hp->irq_requested = 0;
}

static const struct hv_ops vep_vhvc_hv_ops = {
	.get_chars = vep_vhvc_get_chars,
	.put_chars = vep_vhvc_put_chars,
	.notifier_add = vep_vhvc_notifier_add,
	.notifier_del = vep_vhvc_notifier_del,
	.notifier_hangup = vep_vhvc_notifier_del,
};

/* ------------------------------------------------------------------------
 * Data paths (poll thread)
 */

/* Host transmitq to the receive kfifo; sets *@added if hvc has new data */
static bool vep_vhvc_host_to_hvc(struct vep_vhvc *vh, bool *added)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vh->evd,
							   VEP_VHVC_Q_TX);
	bool open = tty_port_initialized(&vh->hp->port);
	bool progress = false;
	unsigned long flags;
	unsigned int n;
	ssize_t got;
	int ret;

	for (;;) {
		if (vh->in_off < vh->in_len) {
			if (!open) {
				/* Nobody to deliver to */
				vh->in_off = vh->in_len;
				progress = true;
				continue;
			}
			spin_lock_irqsave(&vep_vhvc_lock, flags);
			n = kfifo_in(&vh->in, vh->in_data + vh->in_off,
				     vh->in_len - vh->in_off);
			if (vh->in_off + n < vh->in_len)
				vh->in_full = true;
			spin_unlock_irqrestore(&vep_vhvc_lock, flags);
			if (n) {
				vh->in_off += n;
				*added = true;
				progress = true;
			}
			if (vh->in_off < vh->in_len)
				break;	/* Full: get_chars() wakes us */
			continue;
		}

		if (!vh->in_busy) {
			ret = epf_virtio_getdesc(vq, &vh->in_buf);
			if (ret <= 0)
				break;
			vh->in_busy = true;
			progress = true;
		}

		if (epf_virtio_buf_readable(&vh->in_buf)) {
			got = epf_virtio_pull(vh->evd, &vh->in_buf, vh->in_data,
					      VEP_VHVC_BOUNCE_SIZE);
			if (got <= 0)
				break;	/* Host memory out of reach: later */
			vh->in_len = got;
			vh->in_off = 0;
			progress = true;
			continue;
		}

		/* All of the chain is in the kfifo: give it back */
		vh->in_busy = false;
		if (epf_virtio_complete(vq, &vh->in_buf, 0))
			break;
		progress = true;
	}

	return progress;
}

/* The transmit kfifo to the host receiveq; sets *@room if it made room */
static bool vep_vhvc_hvc_to_host(struct vep_vhvc *vh, bool *room)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vh->evd,
							   VEP_VHVC_Q_RX);
	bool progress = false;
	unsigned long flags;

	for (;;) {
		unsigned int len;
		ssize_t n;
		u8 *data;
		int ret;

		/* Only the poll thread takes out: @data stays valid */
		spin_lock_irqsave(&vep_vhvc_lock, flags);
		len = kfifo_out_linear_ptr(&vh->out, &data, VEP_VHVC_OUT_SIZE);
		spin_unlock_irqrestore(&vep_vhvc_lock, flags);
		if (!len)
			break;

		if (!vh->out_busy) {
			ret = epf_virtio_getdesc(vq, &vh->out_buf);
			if (ret <= 0)
				break;
			vh->out_busy = true;
			vh->out_done = 0;
		}

		if (!epf_virtio_buf_writable(&vh->out_buf)) {
			/* Full (or empty from the start): give it back */
			vh->out_busy = false;
			if (epf_virtio_complete(vq, &vh->out_buf, vh->out_done))
				break;
			progress = true;
			continue;
		}

		n = epf_virtio_push(vh->evd, &vh->out_buf, data, len);
		if (n <= 0)
			break;	/* Host memory out of reach: later */

		spin_lock_irqsave(&vep_vhvc_lock, flags);
		kfifo_skip_count(&vh->out, n);
		spin_unlock_irqrestore(&vep_vhvc_lock, flags);

		vh->out_done += n;
		*room = true;
		progress = true;
	}

	/* Nothing more to send now: do not keep the host waiting for it */
	if (vh->out_busy && vh->out_done) {
		vh->out_busy = false;
		epf_virtio_complete(vq, &vh->out_buf, vh->out_done);
	}

	return progress;
}

static bool vep_vhvc_process(struct epf_virtio *evd)
{
	struct vep_vhvc *vh = epf_virtio_priv(evd);
	bool added = false, room = false;
	bool progress;

	progress = vep_vhvc_host_to_hvc(vh, &added);
	progress |= vep_vhvc_hvc_to_host(vh, &room);

	/*
	 * As virtio_console's receive interrupt: hvc takes what it can at
	 * once (pushing its outbuf and waking writers on the way) and leaves
	 * the rest to khvcd
	 */
	if ((added || room) && hvc_poll(vh->hp))
		hvc_kick();

	return progress;
}

static int vep_vhvc_activate(struct epf_virtio *evd)
{
	struct vep_vhvc *vh = epf_virtio_priv(evd);

	vh->in_busy = false;
	vh->out_busy = false;
	vh->out_done = 0;

	return 0;
}

static void vep_vhvc_reset(struct epf_virtio *evd)
{
	struct vep_vhvc *vh = epf_virtio_priv(evd);

	/* As pci-epf-vcon: the chains are gone, the buffered data stays */
	if (vh->in_busy) {
		epf_virtio_buf_release(&vh->in_buf);
		vh->in_busy = false;
	}
	if (vh->out_busy) {
		epf_virtio_buf_release(&vh->out_buf);
		vh->out_busy = false;
	}
	vh->out_done = 0;
}

static const struct epf_virtio_ops vep_vhvc_virtio_ops = {
	.activate = vep_vhvc_activate,
	.reset = vep_vhvc_reset,
	.process = vep_vhvc_process,
};

static const struct epf_virtio_info vep_vhvc_info = {
	.virtio_id = VIRTIO_ID_CONSOLE,
	.pci_device_id = VIRTIO_TRANS_ID_CONSOLE,
	.pci_class = PCI_CLASS_COMMUNICATION_OTHER << 8,
	.nvqs = VEP_VHVC_NR_QUEUES,
	.config_size = sizeof(struct virtio_console_config),
	.features = VEP_VHVC_FEATURES,
	.ops = &vep_vhvc_virtio_ops,
};

/* ------------------------------------------------------------------------
 * configfs
 */

static inline struct vep_vhvc *vep_vhvc_from_item(struct config_item *item)
{
	return container_of(epf_virtio_cfs_from_item(item), struct vep_vhvc,
			    cfs);
}

/* The hvc's tty, hvc<index> */
static ssize_t vep_vhvc_tty_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "hvc%d\n", vep_vhvc_from_item(item)->hp->index);
}

CONFIGFS_ATTR_RO(vep_vhvc_, tty);

static struct configfs_attribute *vep_vhvc_attrs[] = {
	&epf_virtio_cfs_attr_queue_size,
	&epf_virtio_cfs_attr_features,
	&epf_virtio_cfs_attr_poll_cpu,
	&vep_vhvc_attr_tty,
	NULL,
};

static const struct config_item_type vep_vhvc_group_type = {
	.ct_attrs = vep_vhvc_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *vep_vhvc_add_cfs(struct pci_epf *epf,
					     struct config_group *group)
{
	struct vep_vhvc *vh = epf_virtio_priv(epf_virtio_from_epf(epf));

	config_group_init_type_name(&vh->cfs.group, "vhvc",
				    &vep_vhvc_group_type);

	return &vh->cfs.group;
}

/* ------------------------------------------------------------------------
 * Endpoint function driver
 */

static int vep_vhvc_bind(struct pci_epf *epf)
{
	struct vep_vhvc *vh = epf_virtio_priv(epf_virtio_from_epf(epf));
	int ret;

	mutex_lock(&vh->cfs.lock);
	ret = epf_virtio_cfs_bind(&vh->cfs, vh->evd);
	mutex_unlock(&vh->cfs.lock);

	return ret;
}

static void vep_vhvc_unbind(struct pci_epf *epf)
{
	struct vep_vhvc *vh = epf_virtio_priv(epf_virtio_from_epf(epf));

	epf_virtio_cfs_unbind(&vh->cfs, vh->evd);
}

static void vep_vhvc_free(struct vep_vhvc *vh)
{
	kfifo_free(&vh->out);
	kfifo_free(&vh->in);
	kfree(vh->in_data);
	kfree(vh);
}

/* Console size 0x0 in the device configuration, as pci-epf-vcon starts */
static void vep_vhvc_set_size(struct vep_vhvc *vh)
{
	struct {
		__le16 cols;
		__le16 rows;
	} size = {};

	epf_virtio_config_set(vh->evd,
			      offsetof(struct virtio_console_config, cols),
			      &size, sizeof(size), false);
}

static int vep_vhvc_probe(struct pci_epf *epf,
			  const struct pci_epf_device_id *id)
{
	struct hvc_struct *hp;
	struct epf_virtio *evd;
	struct vep_vhvc *vh;
	unsigned long flags;
	int ret;

	vh = kzalloc_obj(*vh);
	if (!vh)
		return -ENOMEM;

	vh->epf = epf;
	INIT_LIST_HEAD(&vh->node);
	epf_virtio_cfs_init(&vh->cfs, epf, VEP_VHVC_FEATURES);
	epf_virtio_buf_init(&vh->in_buf);
	epf_virtio_buf_init(&vh->out_buf);

	ret = kfifo_alloc(&vh->out, VEP_VHVC_OUT_SIZE, GFP_KERNEL);
	if (ret)
		goto err_free;
	ret = kfifo_alloc(&vh->in, VEP_VHVC_IN_SIZE, GFP_KERNEL);
	if (ret)
		goto err_free;
	vh->in_data = kmalloc(VEP_VHVC_BOUNCE_SIZE, GFP_KERNEL);
	if (!vh->in_data) {
		ret = -ENOMEM;
		goto err_free;
	}

	evd = epf_virtio_create(epf, &vep_vhvc_info, vh);
	if (IS_ERR(evd)) {
		ret = PTR_ERR(evd);
		goto err_free;
	}
	vh->evd = evd;
	vep_vhvc_set_size(vh);

	/* Known to the callbacks before hvc may call them */
	spin_lock_irqsave(&vep_vhvc_lock, flags);
	vh->vtermno = vep_vhvc_next_vtermno++;
	list_add_tail(&vh->node, &vep_vhvc_list);
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);

	hp = hvc_alloc(vh->vtermno, 0, &vep_vhvc_hv_ops, VEP_VHVC_OUTBUF_SIZE);
	if (IS_ERR(hp)) {
		ret = PTR_ERR(hp);
		dev_err(&epf->dev, "hvc_alloc() failed (err=%d)\n", ret);
		goto err_unlist;
	}
	if (hp->index >= VEP_VHVC_HVC_TTYS) {
		dev_err(&epf->dev, "hvc index %d has no tty\n", hp->index);
		hvc_remove(hp);
		ret = -ENOSPC;
		goto err_unlist;
	}
	vh->hp = hp;

	dev_info(&epf->dev, "hvc%d\n", hp->index);

	return 0;

err_unlist:
	spin_lock_irqsave(&vep_vhvc_lock, flags);
	list_del(&vh->node);
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);
	epf_virtio_destroy(evd);
err_free:
	vep_vhvc_free(vh);
	return ret;
}

static void vep_vhvc_remove(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_virtio_from_epf(epf);
	struct vep_vhvc *vh = epf_virtio_priv(evd);
	unsigned long flags;

	/* The callbacks must not wake a thread that is going away */
	spin_lock_irqsave(&vep_vhvc_lock, flags);
	vh->evd = NULL;
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);

	/* No more poll thread, then no more hvc; its tty is hung up */
	epf_virtio_destroy(evd);
	hvc_remove(vh->hp);

	/* khvcd may still call back for an open tty: it finds nothing */
	spin_lock_irqsave(&vep_vhvc_lock, flags);
	list_del(&vh->node);
	spin_unlock_irqrestore(&vep_vhvc_lock, flags);

	vep_vhvc_free(vh);
}

static const struct pci_epf_device_id vep_vhvc_ids[] = {
	{ .name = "pci_epf_vhvc" },
	{},
};

static const struct pci_epf_ops vep_vhvc_ops = {
	.bind = vep_vhvc_bind,
	.unbind = vep_vhvc_unbind,
	.add_cfs = vep_vhvc_add_cfs,
};

static struct pci_epf_driver vep_vhvc_driver = {
	.driver.name = "pci_epf_vhvc",
	.probe = vep_vhvc_probe,
	.remove = vep_vhvc_remove,
	.id_table = vep_vhvc_ids,
	.ops = &vep_vhvc_ops,
	.owner = THIS_MODULE,
};

static int __init vep_vhvc_init(void)
{
	return pci_epf_register_driver(&vep_vhvc_driver);
}
module_init(vep_vhvc_init);

static void __exit vep_vhvc_exit(void)
{
	pci_epf_unregister_driver(&vep_vhvc_driver);
}
module_exit(vep_vhvc_exit);

MODULE_DESCRIPTION("Virtio console PCIe endpoint function on hvc (benchmark reference)");
MODULE_LICENSE("GPL");
