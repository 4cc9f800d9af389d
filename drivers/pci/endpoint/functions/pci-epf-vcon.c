// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio console behind a PCIe endpoint function, fed straight into a tty.
 *
 * The host sees a legacy virtio console (one port, no MULTIPORT) and its
 * stock virtio_console driver gives it /dev/hvc0.  On the endpoint, each
 * function instance is a tty, /dev/hvcEP<n>, and a kernel console of the
 * same name.  There is no second virtio device in between: the host's
 * transmit buffers are copied into the tty flip buffer, and what is written
 * to the tty is copied into the host's receive buffers, by the core's poll
 * thread through the core's byte mover.
 *
 * Queue 0 is the host's receiveq (endpoint to host), queue 1 its transmitq
 * (host to endpoint).
 *
 * Policies:
 *  - Writes to the tty go to a transmit buffer first (the tty write method
 *    may not sleep; mapping host memory does).  While the host driver is
 *    not there, or posts no receive buffers, the data stays there and
 *    writers block once it is full, like a serial line held by flow
 *    control; O_NONBLOCK writers get -EAGAIN.  Nothing is dropped, and the
 *    host gets what was written (a login prompt, say) when it comes.
 *  - The kernel console (an nbcon console: it may print from any context,
 *    NMI included) never blocks and takes no lock: it has a buffer of its
 *    own, filled by the one printing context that owns the console, and
 *    emptied by the poll thread before the tty's.  What does not fit is
 *    dropped.  It prints when enabled by "console=hvcEP<n>" on the kernel
 *    command line or by the function's "console" attribute.
 *  - Host data is completed only once all of it is in the flip buffer.
 *    While nobody has the tty open it is discarded: the host's console
 *    driver spins with interrupts off until its buffer is used, so it
 *    must not wait for a reader that may never come.
 *  - The tty lives as long as the function instance: unbind, link down or
 *    a host driver reload only stop the traffic, an agetty keeps running.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/console.h>
#include <linux/cpumask.h>
#include <linux/idr.h>
#include <linux/irq_work.h>
#include <linux/kfifo.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/serial.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/tty_flip.h>
#include <linux/tty_port.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/workqueue.h>

/* Most function instances (and so /dev/hvcEP<n> ttys) at once */
#define EPF_VCON_MAX_PORTS		16

/* Device features this driver implements (and offers by default) */
#define EPF_VCON_FEATURES		(BIT(VIRTIO_CONSOLE_F_SIZE) |	\
					 BIT(VIRTIO_RING_F_EVENT_IDX))

/* Transmit buffer between the tty and the host's receive buffers */
#define EPF_VCON_OUT_SIZE		SZ_16K

/* Bounce buffer between the host's transmit buffers and the tty */
#define EPF_VCON_IN_SIZE		PAGE_SIZE

/* Kernel console buffer, on its way to the host's receive buffers */
#define EPF_VCON_CON_SIZE		SZ_32K

/*
 * The ports push their flip buffers from a per-CPU workqueue of their own:
 * host data then goes up the tty layer on the CPU of the poll thread that
 * received it, and never waits for a CPU that may be busy elsewhere (a
 * the host's side of a system that is both host and endpoint, say).
 */
#define EPF_VCON_TTY_FLAGS	(TTY_DRIVER_REAL_RAW | TTY_DRIVER_DYNAMIC_DEV | \
				 TTY_DRIVER_NO_WORKQUEUE)
static struct workqueue_struct *epf_vcon_flip_wq;

/* Virtqueues, named from the host's side */
#define EPF_VCON_Q_RX			0
#define EPF_VCON_Q_TX			1
#define EPF_VCON_NR_QUEUES		2

/**
 * struct epf_vcon - one console function instance
 * @port: tty port of /dev/hvcEP<@index>; its refcount owns this structure
 * @epf: the endpoint function
 * @evd: the virtio device; NULL once the function is going away
 * @index: instance number: tty and console index
 * @console: kernel console hvcEP<@index>
 * @console_on: @console is registered
 * @con_lock: the kernel console's device lock (nbcon device_lock)
 * @con_out: kernel console buffer: one producer, the context that owns the
 *	nbcon console; one consumer, the poll thread
 * @kick_work: wakes the poll thread on behalf of the kernel console
 * @cfs: configfs tunables
 * @out_lock: protects @out, @out_gen and @evd
 * @out: transmit buffer (tty and kernel console to host)
 * @out_gen: bumped when @out is flushed
 * @throttled: the tty asked us to stop delivering host data
 * @in_buf: host transmit chain being delivered
 * @in_busy: @in_buf holds a chain
 * @in_data: bounce buffer for host data not yet in the flip buffer
 * @in_len: bytes in @in_data
 * @in_off: bytes of @in_data already delivered
 * @out_buf: host receive chain being filled
 * @out_busy: @out_buf holds a chain
 * @out_done: bytes written into @out_buf so far
 *
 * The fields from @in_buf on belong to the poll thread (process, activate
 * and reset callbacks).
 */
struct epf_vcon {
	struct tty_port port;
	struct pci_epf *epf;
	struct epf_virtio *evd;
	int index;
	struct console console;
	bool console_on;
	/* Serializes the printk thread's console writes (nbcon device_lock) */
	spinlock_t con_lock;
	DECLARE_KFIFO_PTR(con_out, u8);
	struct irq_work kick_work;

	struct epf_virtio_cfs cfs;

	/* Producers (tty write, kernel console), flush, and the consumer */
	spinlock_t out_lock;
	DECLARE_KFIFO_PTR(out, u8);
	unsigned int out_gen;
	bool throttled;

	struct epf_virtio_buf in_buf;
	bool in_busy;
	u8 *in_data;
	size_t in_len;
	size_t in_off;
	struct epf_virtio_buf out_buf;
	bool out_busy;
	u32 out_done;
};

static struct tty_driver *epf_vcon_tty_driver;

/* Instances by tty index, for tty install */
static DEFINE_MUTEX(epf_vcon_lock);
static struct epf_vcon *epf_vcon_ports[EPF_VCON_MAX_PORTS];
static DEFINE_IDA(epf_vcon_ida);

/* Ask the poll thread to run, if the function still has one */
static void epf_vcon_kick(struct epf_vcon *vcon)
{
	unsigned long flags;

	spin_lock_irqsave(&vcon->out_lock, flags);
	if (vcon->evd)
		epf_virtio_wake(vcon->evd);
	spin_unlock_irqrestore(&vcon->out_lock, flags);
}

static void epf_vcon_kick_work(struct irq_work *work)
{
	epf_vcon_kick(container_of(work, struct epf_vcon, kick_work));
}

/* ------------------------------------------------------------------------
 * Data paths (poll thread)
 */

/* Host transmitq to the tty */
static bool epf_vcon_host_to_tty(struct epf_vcon *vcon)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vcon->evd,
							   EPF_VCON_Q_TX);
	bool open = tty_port_initialized(&vcon->port);
	bool progress = false, pushed = false;
	size_t n;
	ssize_t got;
	int ret;

	for (;;) {
		if (vcon->in_off < vcon->in_len) {
			if (!open) {
				/* Nobody to deliver to */
				vcon->in_off = vcon->in_len;
				progress = true;
				continue;
			}
			if (READ_ONCE(vcon->throttled))
				break;
			n = tty_insert_flip_string(&vcon->port,
						   vcon->in_data + vcon->in_off,
						   vcon->in_len - vcon->in_off);
			if (!n)
				break;	/* Flip buffer full: retry later */
			vcon->in_off += n;
			pushed = true;
			progress = true;
			continue;
		}

		if (!vcon->in_busy) {
			ret = epf_virtio_getdesc(vq, &vcon->in_buf);
			if (ret <= 0)
				break;
			vcon->in_busy = true;
			progress = true;
		}

		if (epf_virtio_buf_readable(&vcon->in_buf)) {
			got = epf_virtio_pull(vcon->evd, &vcon->in_buf,
					      vcon->in_data, EPF_VCON_IN_SIZE);
			if (got <= 0)
				break;	/* Host memory out of reach: later */
			vcon->in_len = got;
			vcon->in_off = 0;
			progress = true;
			continue;
		}

		/* All of the chain is in the tty: give it back */
		vcon->in_busy = false;
		if (epf_virtio_complete(vq, &vcon->in_buf, 0))
			break;
		progress = true;
	}

	if (pushed)
		tty_flip_buffer_push(&vcon->port);

	return progress;
}

/*
 * The next bytes for the host: the kernel console's, then the tty's.  Sets
 * *@con for the console's, else *@gen to the tty buffer's generation.
 * @data stays valid until epf_vcon_out_skip(): producers only add behind
 * it, and a tty flush in the meantime is caught by the generation.
 */
static unsigned int epf_vcon_out_peek(struct epf_vcon *vcon, u8 **data,
				      bool *con, unsigned int *gen)
{
	unsigned long flags;
	unsigned int len;

	len = kfifo_out_linear_ptr(&vcon->con_out, data, EPF_VCON_CON_SIZE);
	if (len) {
		/* The bytes after the index that says they are there */
		smp_rmb();
		*con = true;
		return len;
	}

	*con = false;
	spin_lock_irqsave(&vcon->out_lock, flags);
	len = kfifo_out_linear_ptr(&vcon->out, data, EPF_VCON_OUT_SIZE);
	*gen = vcon->out_gen;
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	return len;
}

/* @n bytes that epf_vcon_out_peek() gave reached the host */
static void epf_vcon_out_skip(struct epf_vcon *vcon, bool con,
			      unsigned int gen, unsigned int n)
{
	unsigned long flags;

	if (con) {
		/* Done reading the bytes before the console may reuse them */
		smp_mb();
		kfifo_skip_count(&vcon->con_out, n);
		return;
	}

	spin_lock_irqsave(&vcon->out_lock, flags);
	if (gen == vcon->out_gen)
		kfifo_skip_count(&vcon->out, n);
	spin_unlock_irqrestore(&vcon->out_lock, flags);
}

/* Kernel console and tty transmit buffers to the host receiveq */
static bool epf_vcon_tty_to_host(struct epf_vcon *vcon)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vcon->evd,
							   EPF_VCON_Q_RX);
	bool progress = false;

	for (;;) {
		unsigned int len, gen = 0;
		bool con;
		ssize_t n;
		u8 *data;
		int ret;

		len = epf_vcon_out_peek(vcon, &data, &con, &gen);
		if (!len)
			break;

		if (!vcon->out_busy) {
			ret = epf_virtio_getdesc(vq, &vcon->out_buf);
			if (ret <= 0)
				break;
			vcon->out_busy = true;
			vcon->out_done = 0;
		}

		if (!epf_virtio_buf_writable(&vcon->out_buf)) {
			/* Full (or empty from the start): give it back */
			vcon->out_busy = false;
			if (epf_virtio_complete(vq, &vcon->out_buf,
						vcon->out_done))
				break;
			progress = true;
			continue;
		}

		n = epf_virtio_push(vcon->evd, &vcon->out_buf, data, len);
		if (n <= 0)
			break;	/* Host memory out of reach: later */
		epf_vcon_out_skip(vcon, con, gen, n);

		vcon->out_done += n;
		progress = true;
	}

	/* Nothing more to send now: do not keep the host waiting for it */
	if (vcon->out_busy && vcon->out_done) {
		vcon->out_busy = false;
		epf_virtio_complete(vq, &vcon->out_buf, vcon->out_done);
	}

	if (progress)
		tty_port_tty_wakeup(&vcon->port);

	return progress;
}

static bool epf_vcon_process(struct epf_virtio *evd)
{
	struct epf_vcon *vcon = epf_virtio_priv(evd);
	bool progress;

	progress = epf_vcon_host_to_tty(vcon);
	progress |= epf_vcon_tty_to_host(vcon);

	return progress;
}

static int epf_vcon_activate(struct epf_virtio *evd)
{
	struct epf_vcon *vcon = epf_virtio_priv(evd);

	vcon->in_busy = false;
	vcon->out_busy = false;
	vcon->out_done = 0;

	dev_dbg(&vcon->epf->dev, "hvcEP%d connected\n", vcon->index);

	return 0;
}

static void epf_vcon_reset(struct epf_virtio *evd)
{
	struct epf_vcon *vcon = epf_virtio_priv(evd);

	/*
	 * The chains are gone with the host's queues.  Host data already in
	 * the bounce buffer is still delivered; data for the host stays in
	 * the transmit buffer for the next host driver.
	 */
	if (vcon->in_busy) {
		epf_virtio_buf_release(&vcon->in_buf);
		vcon->in_busy = false;
	}
	if (vcon->out_busy) {
		epf_virtio_buf_release(&vcon->out_buf);
		vcon->out_busy = false;
	}
	vcon->out_done = 0;

	dev_dbg(&vcon->epf->dev, "hvcEP%d disconnected\n", vcon->index);
}

static const struct epf_virtio_ops epf_vcon_virtio_ops = {
	.activate = epf_vcon_activate,
	.reset = epf_vcon_reset,
	.process = epf_vcon_process,
};

static const struct epf_virtio_info epf_vcon_info = {
	.virtio_id = VIRTIO_ID_CONSOLE,
	.pci_device_id = VIRTIO_TRANS_ID_CONSOLE,
	.pci_class = PCI_CLASS_COMMUNICATION_OTHER << 8,
	.nvqs = EPF_VCON_NR_QUEUES,
	.config_size = sizeof(struct virtio_console_config),
	.features = EPF_VCON_FEATURES,
	.ops = &epf_vcon_virtio_ops,
};

/* Console size in the device configuration (VIRTIO_CONSOLE_F_SIZE) */
static void epf_vcon_set_size(struct epf_vcon *vcon, u16 cols, u16 rows,
			      bool notify)
{
	struct {
		__le16 cols;
		__le16 rows;
	} size = {
		.cols = cpu_to_le16(cols),
		.rows = cpu_to_le16(rows),
	};
	unsigned long flags;

	BUILD_BUG_ON(offsetof(struct virtio_console_config, rows) !=
		     offsetof(struct virtio_console_config, cols) + 2);

	spin_lock_irqsave(&vcon->out_lock, flags);
	if (vcon->evd)
		epf_virtio_config_set(vcon->evd,
				      offsetof(struct virtio_console_config,
					       cols),
				      &size, sizeof(size), notify);
	spin_unlock_irqrestore(&vcon->out_lock, flags);
}

/* ------------------------------------------------------------------------
 * tty
 */

static void epf_vcon_port_destruct(struct tty_port *port)
{
	struct epf_vcon *vcon = container_of(port, struct epf_vcon, port);

	if (vcon->index >= 0)
		ida_free(&epf_vcon_ida, vcon->index);
	kfifo_free(&vcon->out);
	kfifo_free(&vcon->con_out);
	kfree(vcon->in_data);
	kfree(vcon);
}

/*
 * Throttling belongs to one tty: a tty closed or hung up while throttled
 * never gets its unthrottle, and the next one starts unthrottled.  So the
 * port starts and ends every open unthrottled, and lets the poll thread
 * go on (delivering, or discarding while nobody has the tty open).
 */
static int epf_vcon_port_activate(struct tty_port *port,
				  struct tty_struct *tty)
{
	struct epf_vcon *vcon = container_of(port, struct epf_vcon, port);

	WRITE_ONCE(vcon->throttled, false);
	epf_vcon_kick(vcon);

	return 0;
}

static void epf_vcon_port_shutdown(struct tty_port *port)
{
	struct epf_vcon *vcon = container_of(port, struct epf_vcon, port);

	WRITE_ONCE(vcon->throttled, false);
	epf_vcon_kick(vcon);
}

static const struct tty_port_operations epf_vcon_port_ops = {
	.activate = epf_vcon_port_activate,
	.shutdown = epf_vcon_port_shutdown,
	.destruct = epf_vcon_port_destruct,
};

static int epf_vcon_install(struct tty_driver *driver, struct tty_struct *tty)
{
	struct epf_vcon *vcon;
	int ret;

	mutex_lock(&epf_vcon_lock);
	vcon = epf_vcon_ports[tty->index];
	if (vcon)
		tty_port_get(&vcon->port);
	mutex_unlock(&epf_vcon_lock);
	if (!vcon)
		return -ENODEV;

	ret = tty_port_install(&vcon->port, driver, tty);
	if (ret) {
		tty_port_put(&vcon->port);
		return ret;
	}
	tty->driver_data = vcon;

	return 0;
}

static void epf_vcon_cleanup(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;

	tty->driver_data = NULL;
	tty_port_put(&vcon->port);
}

static int epf_vcon_open(struct tty_struct *tty, struct file *filp)
{
	struct epf_vcon *vcon = tty->driver_data;

	return tty_port_open(&vcon->port, tty, filp);
}

static void epf_vcon_close(struct tty_struct *tty, struct file *filp)
{
	struct epf_vcon *vcon = tty->driver_data;

	tty_port_close(&vcon->port, tty, filp);
}

static void epf_vcon_hangup(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;

	tty_port_hangup(&vcon->port);
}

static ssize_t epf_vcon_write(struct tty_struct *tty, const u8 *buf,
			      size_t count)
{
	struct epf_vcon *vcon = tty->driver_data;
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&vcon->out_lock, flags);
	n = kfifo_in(&vcon->out, buf, count);
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	if (n)
		epf_vcon_kick(vcon);

	return n;
}

static unsigned int epf_vcon_write_room(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;
	unsigned long flags;
	unsigned int room;

	spin_lock_irqsave(&vcon->out_lock, flags);
	room = kfifo_avail(&vcon->out);
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	return room;
}

static unsigned int epf_vcon_chars_in_buffer(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&vcon->out_lock, flags);
	len = kfifo_len(&vcon->out);
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	return len;
}

static void epf_vcon_flush_buffer(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;
	unsigned long flags;

	spin_lock_irqsave(&vcon->out_lock, flags);
	kfifo_reset_out(&vcon->out);
	vcon->out_gen++;
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	tty_wakeup(tty);
}

static void epf_vcon_throttle(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;

	WRITE_ONCE(vcon->throttled, true);
}

static void epf_vcon_unthrottle(struct tty_struct *tty)
{
	struct epf_vcon *vcon = tty->driver_data;

	WRITE_ONCE(vcon->throttled, false);
	epf_vcon_kick(vcon);
}

static int epf_vcon_resize(struct tty_struct *tty, struct winsize *ws)
{
	struct epf_vcon *vcon = tty->driver_data;
	int ret;

	ret = tty_do_resize(tty, ws);
	if (ret)
		return ret;

	epf_vcon_set_size(vcon, ws->ws_col, ws->ws_row, true);

	return 0;
}

static const struct tty_operations epf_vcon_tty_ops = {
	.install = epf_vcon_install,
	.cleanup = epf_vcon_cleanup,
	.open = epf_vcon_open,
	.close = epf_vcon_close,
	.hangup = epf_vcon_hangup,
	.write = epf_vcon_write,
	.write_room = epf_vcon_write_room,
	.chars_in_buffer = epf_vcon_chars_in_buffer,
	.flush_buffer = epf_vcon_flush_buffer,
	.throttle = epf_vcon_throttle,
	.unthrottle = epf_vcon_unthrottle,
	.resize = epf_vcon_resize,
};

/* ------------------------------------------------------------------------
 * Kernel console
 */

/*
 * Both nbcon write callbacks, write_atomic (any context, NMI included) and
 * write_thread (the printk thread, under epf_vcon_console_lock()).  Owning
 * the console makes the caller the only producer of @con_out: no lock.
 * Never blocks: what does not fit is dropped.
 */
static void epf_vcon_console_write(struct console *co,
				   struct nbcon_write_context *wctxt)
{
	struct epf_vcon *vcon = container_of(co, struct epf_vcon, console);
	const char *s = wctxt->outbuf;
	unsigned int i;

	/* Another context taking the console over must not share the buffer */
	if (!nbcon_enter_unsafe(wctxt))
		return;

	for (i = 0; i < wctxt->len; i++) {
		if (s[i] == '\n') {
			if (kfifo_avail(&vcon->con_out) < 2)
				break;
			kfifo_put(&vcon->con_out, '\r');
		}
		if (!kfifo_put(&vcon->con_out, s[i]))
			break;
	}

	nbcon_exit_unsafe(wctxt);

	/* Waking a task here could deadlock under printk: defer it */
	irq_work_queue(&vcon->kick_work);
}

static void epf_vcon_console_lock(struct console *co, unsigned long *flags)
	__acquires(&vcon->con_lock)
{
	struct epf_vcon *vcon = container_of(co, struct epf_vcon, console);

	spin_lock_irqsave(&vcon->con_lock, *flags);
}

static void epf_vcon_console_unlock(struct console *co, unsigned long flags)
	__releases(&vcon->con_lock)
{
	struct epf_vcon *vcon = container_of(co, struct epf_vcon, console);

	spin_unlock_irqrestore(&vcon->con_lock, flags);
}

static struct tty_driver *epf_vcon_console_device(struct console *co,
						  int *index)
{
	*index = co->index;

	return epf_vcon_tty_driver;
}

/*
 * (Re-)register the kernel console hvcEP<n>: it prints if the command line
 * names it ("console=hvcEP<n>"), or with @enable whatever the command line
 * says.  Caller holds cfs.lock.
 */
static void epf_vcon_console_register(struct epf_vcon *vcon, bool enable)
{
	struct console *co = &vcon->console;

	lockdep_assert_held(&vcon->cfs.lock);

	if (vcon->console_on)
		unregister_console(co);

	memset(co, 0, sizeof(*co));
	strscpy(co->name, epf_vcon_tty_driver->name, sizeof(co->name));
	co->write_atomic = epf_vcon_console_write;
	co->write_thread = epf_vcon_console_write;
	co->device_lock = epf_vcon_console_lock;
	co->device_unlock = epf_vcon_console_unlock;
	co->device = epf_vcon_console_device;
	co->flags = CON_NBCON | CON_PRINTBUFFER | (enable ? CON_ENABLED : 0);
	co->index = vcon->index;
	register_console(co);
	vcon->console_on = true;
}

/* ------------------------------------------------------------------------
 * configfs tunables
 */

static inline struct epf_vcon *epf_vcon_from_item(struct config_item *item)
{
	return container_of(epf_virtio_cfs_from_item(item), struct epf_vcon,
			    cfs);
}

static ssize_t epf_vcon_tty_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s%d\n", epf_vcon_tty_driver->name,
			  epf_vcon_from_item(item)->index);
}

CONFIGFS_ATTR_RO(epf_vcon_, tty);

static ssize_t epf_vcon_console_show(struct config_item *item, char *page)
{
	struct epf_vcon *vcon = epf_vcon_from_item(item);
	bool on = false;
	int cookie;

	/* Printing, whether the command line or this attribute said so */
	mutex_lock(&vcon->cfs.lock);
	if (vcon->console_on) {
		cookie = console_srcu_read_lock();
		on = console_srcu_read_flags(&vcon->console) & CON_ENABLED;
		console_srcu_read_unlock(cookie);
	}
	mutex_unlock(&vcon->cfs.lock);

	return sysfs_emit(page, "%d\n", on);
}

/* 1: print kernel messages on this console; 0: as the command line says */
static ssize_t epf_vcon_console_store(struct config_item *item,
				      const char *page, size_t len)
{
	struct epf_vcon *vcon = epf_vcon_from_item(item);
	bool on;
	int ret;

	ret = kstrtobool(page, &on);
	if (ret)
		return ret;

	mutex_lock(&vcon->cfs.lock);
	epf_vcon_console_register(vcon, on);
	mutex_unlock(&vcon->cfs.lock);

	return len;
}

CONFIGFS_ATTR(epf_vcon_, console);

static struct configfs_attribute *epf_vcon_attrs[] = {
	&epf_virtio_cfs_attr_queue_size,
	&epf_virtio_cfs_attr_features,
	&epf_virtio_cfs_attr_poll_cpu,
	&epf_virtio_cfs_attr_dma_threshold,
	&epf_virtio_cfs_attr_dma_rings,
	&epf_vcon_attr_tty,
	&epf_vcon_attr_console,
	NULL,
};

static const struct config_item_type epf_vcon_group_type = {
	.ct_attrs = epf_vcon_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *epf_vcon_add_cfs(struct pci_epf *epf,
					     struct config_group *group)
{
	struct epf_vcon *vcon = epf_virtio_priv(epf_virtio_from_epf(epf));

	config_group_init_type_name(&vcon->cfs.group, "vcon",
				    &epf_vcon_group_type);

	return &vcon->cfs.group;
}

/* ------------------------------------------------------------------------
 * Endpoint function driver
 */

static int epf_vcon_bind(struct pci_epf *epf)
{
	struct epf_vcon *vcon = epf_virtio_priv(epf_virtio_from_epf(epf));
	int ret;

	mutex_lock(&vcon->cfs.lock);
	ret = epf_virtio_cfs_bind(&vcon->cfs, vcon->evd);
	mutex_unlock(&vcon->cfs.lock);

	return ret;
}

static void epf_vcon_unbind(struct pci_epf *epf)
{
	struct epf_vcon *vcon = epf_virtio_priv(epf_virtio_from_epf(epf));

	epf_virtio_cfs_unbind(&vcon->cfs, vcon->evd);
}

/* The buffers; freed with the port (epf_vcon_port_destruct()) */
static int epf_vcon_alloc_bufs(struct epf_vcon *vcon)
{
	int ret;

	ret = kfifo_alloc(&vcon->out, EPF_VCON_OUT_SIZE, GFP_KERNEL);
	if (ret)
		return ret;

	ret = kfifo_alloc(&vcon->con_out, EPF_VCON_CON_SIZE, GFP_KERNEL);
	if (ret)
		return ret;

	vcon->in_data = kmalloc(EPF_VCON_IN_SIZE, GFP_KERNEL);

	return vcon->in_data ? 0 : -ENOMEM;
}

static int epf_vcon_probe(struct pci_epf *epf,
			  const struct pci_epf_device_id *id)
{
	struct epf_virtio *evd;
	struct epf_vcon *vcon;
	struct device *tty_dev;
	int ret;

	vcon = kzalloc_obj(*vcon);
	if (!vcon)
		return -ENOMEM;

	/* From here on the port's refcount frees everything */
	tty_port_init(&vcon->port);
	tty_port_link_wq(&vcon->port, epf_vcon_flip_wq);
	vcon->port.ops = &epf_vcon_port_ops;
	vcon->port.closing_wait = ASYNC_CLOSING_WAIT_NONE;
	vcon->epf = epf;
	vcon->index = -1;
	epf_virtio_cfs_init(&vcon->cfs, epf, EPF_VCON_FEATURES);
	spin_lock_init(&vcon->out_lock);
	spin_lock_init(&vcon->con_lock);
	init_irq_work(&vcon->kick_work, epf_vcon_kick_work);
	epf_virtio_buf_init(&vcon->in_buf);
	epf_virtio_buf_init(&vcon->out_buf);

	ret = epf_vcon_alloc_bufs(vcon);
	if (ret)
		goto err_put_port;

	ret = ida_alloc_max(&epf_vcon_ida, EPF_VCON_MAX_PORTS - 1, GFP_KERNEL);
	if (ret < 0) {
		dev_err(&epf->dev, "No free hvcEP index (err=%d)\n", ret);
		goto err_put_port;
	}
	vcon->index = ret;

	evd = epf_virtio_create(epf, &epf_vcon_info, vcon);
	if (IS_ERR(evd)) {
		ret = PTR_ERR(evd);
		goto err_put_port;
	}
	vcon->evd = evd;
	epf_vcon_set_size(vcon, 0, 0, false);

	mutex_lock(&epf_vcon_lock);
	epf_vcon_ports[vcon->index] = vcon;
	mutex_unlock(&epf_vcon_lock);

	tty_dev = tty_port_register_device(&vcon->port, epf_vcon_tty_driver,
					   vcon->index, &epf->dev);
	if (IS_ERR(tty_dev)) {
		ret = PTR_ERR(tty_dev);
		dev_err(&epf->dev, "Failed to register hvcEP%d (err=%d)\n",
			vcon->index, ret);
		goto err_forget_port;
	}

	mutex_lock(&vcon->cfs.lock);
	epf_vcon_console_register(vcon, false);
	mutex_unlock(&vcon->cfs.lock);

	dev_info(&epf->dev, "hvcEP%d\n", vcon->index);

	return 0;

err_forget_port:
	mutex_lock(&epf_vcon_lock);
	epf_vcon_ports[vcon->index] = NULL;
	mutex_unlock(&epf_vcon_lock);
	vcon->evd = NULL;
	epf_virtio_destroy(evd);
err_put_port:
	tty_port_put(&vcon->port);
	return ret;
}

static void epf_vcon_remove(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_virtio_from_epf(epf);
	struct epf_vcon *vcon = epf_virtio_priv(evd);
	unsigned long flags;

	if (vcon->console_on)
		unregister_console(&vcon->console);
	irq_work_sync(&vcon->kick_work);

	mutex_lock(&epf_vcon_lock);
	epf_vcon_ports[vcon->index] = NULL;
	mutex_unlock(&epf_vcon_lock);

	tty_port_tty_vhangup(&vcon->port);
	tty_unregister_device(epf_vcon_tty_driver, vcon->index);

	/* An open tty may outlive the function: it must not reach it */
	spin_lock_irqsave(&vcon->out_lock, flags);
	vcon->evd = NULL;
	spin_unlock_irqrestore(&vcon->out_lock, flags);

	epf_virtio_destroy(evd);
	tty_port_put(&vcon->port);
}

static const struct pci_epf_device_id epf_vcon_ids[] = {
	{ .name = "pci_epf_vcon" },
	{},
};

static const struct pci_epf_ops epf_vcon_ops = {
	.bind = epf_vcon_bind,
	.unbind = epf_vcon_unbind,
	.add_cfs = epf_vcon_add_cfs,
};

static struct pci_epf_driver epf_vcon_driver = {
	.driver.name = "pci_epf_vcon",
	.probe = epf_vcon_probe,
	.remove = epf_vcon_remove,
	.id_table = epf_vcon_ids,
	.ops = &epf_vcon_ops,
	.owner = THIS_MODULE,
};

static int __init epf_vcon_init(void)
{
	struct tty_driver *drv;
	int ret;

	epf_vcon_flip_wq = alloc_workqueue("pci_epf_vcon_flip", WQ_PERCPU, 0);
	if (!epf_vcon_flip_wq)
		return -ENOMEM;

	drv = tty_alloc_driver(EPF_VCON_MAX_PORTS, EPF_VCON_TTY_FLAGS);
	if (IS_ERR(drv)) {
		ret = PTR_ERR(drv);
		goto err_destroy_wq;
	}

	drv->driver_name = "pci_epf_vcon";
	drv->name = "hvcEP";
	drv->major = 0;
	drv->minor_start = 0;
	drv->type = TTY_DRIVER_TYPE_SERIAL;
	drv->subtype = SERIAL_TYPE_NORMAL;
	drv->init_termios = tty_std_termios;
	drv->init_termios.c_cflag = B115200 | CS8 | CREAD | HUPCL | CLOCAL;
	drv->init_termios.c_ispeed = 115200;
	drv->init_termios.c_ospeed = 115200;
	tty_set_operations(drv, &epf_vcon_tty_ops);

	ret = tty_register_driver(drv);
	if (ret) {
		pr_err("Failed to register the tty driver (err=%d)\n", ret);
		goto err_put_driver;
	}
	epf_vcon_tty_driver = drv;

	ret = pci_epf_register_driver(&epf_vcon_driver);
	if (ret) {
		pr_err("Failed to register the function driver (err=%d)\n",
		       ret);
		goto err_unregister_tty;
	}

	return 0;

err_unregister_tty:
	epf_vcon_tty_driver = NULL;
	tty_unregister_driver(drv);
err_put_driver:
	tty_driver_kref_put(drv);
err_destroy_wq:
	destroy_workqueue(epf_vcon_flip_wq);
	return ret;
}
module_init(epf_vcon_init);

static void __exit epf_vcon_exit(void)
{
	pci_epf_unregister_driver(&epf_vcon_driver);
	tty_unregister_driver(epf_vcon_tty_driver);
	tty_driver_kref_put(epf_vcon_tty_driver);
	destroy_workqueue(epf_vcon_flip_wq);
}
module_exit(epf_vcon_exit);

MODULE_DESCRIPTION("Virtio console PCIe endpoint function with a native tty");
MODULE_LICENSE("GPL");
