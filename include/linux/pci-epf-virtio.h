/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtio devices behind a PCIe endpoint function: core library interface.
 *
 * The core (module pci-epf-virtio) presents a legacy virtio-pci device to
 * the PCIe host from BAR0 of an endpoint function and drives the virtqueues
 * that the host allocates in its own memory.  Device drivers (console, net,
 * ...) sit on top of it: they describe the device with a
 * struct epf_virtio_info, are called back from the core's poll thread, and
 * move data with the helpers below.  They never see BAR layouts or EPC calls.
 *
 * Every callback of struct epf_virtio_ops runs in process context (may
 * sleep), one at a time for a device: in the core's poll thread, or for
 * @reset also in the caller of epf_virtio_unbind() or of the controller's
 * deinit and link down events, with the poll thread kept out.  A device
 * driver needs no locking between them.  The helpers that take a struct
 * epf_virtio_queue or a struct epf_virtio_buf may only be called from
 * those callbacks.
 */

#ifndef __LINUX_PCI_EPF_VIRTIO_H
#define __LINUX_PCI_EPF_VIRTIO_H

#include <linux/configfs.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/vringh.h>

struct device;
struct pci_epf;
struct epf_virtio;
struct epf_virtio_queue;
struct epf_virtio_flight;

/**
 * typedef epf_virtio_done_t - a chain given to epf_virtio_complete_async()
 *	(or the chains given to epf_virtio_complete_group()) are back with the
 *	host, or dropped
 * @evd: the device
 * @ctx: what the device driver gave with the chain
 * @err: 0 once every copy into or out of the chains ended and their used
 *	entries went out; a negative error code if they were dropped instead
 *	(the device is being reset: -ECANCELED, -ESHUTDOWN or -ENODEV; a copy
 *	failed: -EIO; a group of no chain: -ENOENT)
 *
 * The buffers given to epf_virtio_pull_async() and epf_virtio_push_async()
 * for the chains are the device driver's again.  Called from the poll
 * thread, or from wherever the device is reset (see struct epf_virtio_ops),
 * before the reset callback.  It must not complete chains: it may run while
 * a group is being completed.
 */
typedef void (*epf_virtio_done_t)(struct epf_virtio *evd, void *ctx, int err);

/* Largest queue size a device may ask for (legacy QUEUE_NUM is 16 bits) */
#define EPF_VIRTIO_QUEUE_SIZE_MAX	32768

/* Queue sizes the queue_size tunable offers, and its default */
#define EPF_VIRTIO_QUEUE_SIZE_MIN	16
#define EPF_VIRTIO_QUEUE_SIZE_CFS_MAX	1024
#define EPF_VIRTIO_QUEUE_SIZE_DEFAULT	256

/* Largest device configuration space, so that it fits in the register BAR */
#define EPF_VIRTIO_CONFIG_SIZE_MAX	128

/*
 * Byte order of what a legacy host driver writes in its own order: the
 * rings, the device configuration and virtio-net headers.  Only
 * little-endian hosts are supported (x86, arm64 and RISC-V ones all are).
 * The core reads the host rings as little-endian whatever the endpoint's
 * own order, and device drivers use this, never the endpoint's order
 * (virtio_legacy_is_little_endian()), for the rest.
 */
#define EPF_VIRTIO_HOST_LE		true

/* Most chains epf_virtio_complete_group() gives back as one */
#define EPF_VIRTIO_GROUP_MAX		64

/* Segments of a buffer chain held inline before vringh allocates more */
#define EPF_VIRTIO_BUF_INLINE		4

/**
 * struct epf_virtio_buf - one buffer chain taken from a host virtqueue
 * @riov: device-readable segments (data from the host)
 * @wiov: device-writable segments (room for data to the host)
 * @head: head descriptor index of the chain
 * @vq: the queue the chain came from (what it costs is counted there),
 *	NULL once completed
 * @flight: the chain's entry among the queue's chains with DMA transfers
 *	in flight, or NULL
 * @rvec: inline storage for @riov
 * @wvec: inline storage for @wiov
 *
 * The iov_base of each segment is a PCI address on the host side, not a
 * pointer: it must never be dereferenced.  Move data with epf_virtio_pull()
 * and epf_virtio_push(), which consume the segments as they go.
 */
struct epf_virtio_buf {
	struct vringh_kiov riov;
	struct vringh_kiov wiov;
	u16 head;
	struct epf_virtio_queue *vq;
	struct epf_virtio_flight *flight;
	struct kvec rvec[EPF_VIRTIO_BUF_INLINE];
	struct kvec wvec[EPF_VIRTIO_BUF_INLINE];
};

/**
 * struct epf_virtio_ops - callbacks of a virtio device driver
 * @activate: the host driver set DRIVER_OK: the negotiated features are
 *	available and the queues the host set up can be used.  A non-zero
 *	return marks the device as needing a reset.  Mandatory.
 * @reset: the host reset the device, the link went down, the function is
 *	unbound, or the core stopped the device because the host broke the
 *	protocol.  Forget every chain taken from the queues without completing
 *	it: the queues are gone when this returns.  Called only after a
 *	successful @activate.  Mandatory.
 * @process: do the device's work: take buffers from the queues, move data,
 *	complete them.  Called on every poll while the device is active.
 *	Return true if any progress was made (the core then polls again at
 *	once).  Mandatory.
 * @config_written: the host wrote @len bytes of the device configuration
 *	at @offset; epf_virtio_config_get() returns the new value.  Optional.
 */
struct epf_virtio_ops {
	int (*activate)(struct epf_virtio *evd);
	void (*reset)(struct epf_virtio *evd);
	bool (*process)(struct epf_virtio *evd);
	void (*config_written)(struct epf_virtio *evd, unsigned int offset,
			       unsigned int len);
};

/**
 * struct epf_virtio_info - static description of a virtio device
 * @virtio_id: virtio device type (VIRTIO_ID_*), also the PCI subsystem ID
 * @pci_device_id: transitional PCI device ID, 0x1000..0x103f
 *	(VIRTIO_TRANS_ID_*; any ID in the range for types without one)
 * @pci_class: 24-bit PCI class code (base class, subclass, programming
 *	interface)
 * @nvqs: number of virtqueues
 * @config_size: size of the device configuration space in bytes
 *	(at most %EPF_VIRTIO_CONFIG_SIZE_MAX)
 * @features: every device feature bit the driver implements; the core
 *	offers the subset given to epf_virtio_bind()
 * @ops: callbacks
 */
struct epf_virtio_info {
	u32 virtio_id;
	u16 pci_device_id;
	u32 pci_class;
	unsigned int nvqs;
	unsigned int config_size;
	u32 features;
	const struct epf_virtio_ops *ops;
};

struct epf_virtio *epf_virtio_create(struct pci_epf *epf,
				     const struct epf_virtio_info *info,
				     void *priv);
void epf_virtio_destroy(struct epf_virtio *evd);
struct epf_virtio *epf_virtio_from_epf(struct pci_epf *epf);
void *epf_virtio_priv(struct epf_virtio *evd);
struct device *epf_virtio_dev(struct epf_virtio *evd);

/**
 * struct epf_virtio_params - settings chosen when the function is bound
 * @queue_size: size of every virtqueue (power of 2, at most
 *	%EPF_VIRTIO_QUEUE_SIZE_MAX)
 * @features: device features to offer (a subset of the info's features)
 * @poll_cpu: CPU to run the poll thread on, or -1 for any
 * @dma_threshold: buffer data of at least this many bytes moves by DMA,
 *	on the controller's own channels if it has some (0: never)
 * @dma_rings: with DMA, also take a third channel from the host, if the
 *	controller has one free, and read ring state in bulk with it (0 or 1)
 */
struct epf_virtio_params {
	unsigned int queue_size;
	u32 features;
	int poll_cpu;
	u32 dma_threshold;
	u32 dma_rings;
};

int epf_virtio_bind(struct epf_virtio *evd,
		    const struct epf_virtio_params *params);
void epf_virtio_unbind(struct epf_virtio *evd);

/**
 * struct epf_virtio_cfs - the configfs tunables every device driver offers
 * @group: the driver's configfs group, with its own attributes and the
 *	common ones (epf_virtio_cfs_attr_*)
 * @epf: the endpoint function
 * @lock: serializes the tunables (these and the driver's own) against bind
 * @params: what epf_virtio_cfs_bind() gives epf_virtio_bind()
 * @feature_mask: the features the device implements
 * @bound: bound to a controller
 */
struct epf_virtio_cfs {
	struct config_group group;
	struct pci_epf *epf;
	/* Tunables vs bind: a tunable cannot change once linked or bound */
	struct mutex lock;
	struct epf_virtio_params params;
	u32 feature_mask;
	bool bound;
};

/* The common attributes, for every driver's &config_item_type.ct_attrs */
extern struct configfs_attribute epf_virtio_cfs_attr_queue_size;
extern struct configfs_attribute epf_virtio_cfs_attr_features;
extern struct configfs_attribute epf_virtio_cfs_attr_poll_cpu;
extern struct configfs_attribute epf_virtio_cfs_attr_dma_threshold;
extern struct configfs_attribute epf_virtio_cfs_attr_dma_rings;

void epf_virtio_cfs_init(struct epf_virtio_cfs *cfs, struct pci_epf *epf,
			 u32 features);
void epf_virtio_cfs_set_features(struct epf_virtio_cfs *cfs, u32 features);
struct epf_virtio_cfs *epf_virtio_cfs_from_item(struct config_item *item);
bool epf_virtio_cfs_locked_out(struct epf_virtio_cfs *cfs);
ssize_t epf_virtio_cfs_store_cpu(struct epf_virtio_cfs *cfs, int *cpu,
				 const char *page, size_t len);
int epf_virtio_cfs_bind(struct epf_virtio_cfs *cfs, struct epf_virtio *evd);
void epf_virtio_cfs_unbind(struct epf_virtio_cfs *cfs, struct epf_virtio *evd);

void epf_virtio_wake(struct epf_virtio *evd);
void epf_virtio_config_set(struct epf_virtio *evd, unsigned int offset,
			   const void *buf, unsigned int len, bool notify);
void epf_virtio_config_get(struct epf_virtio *evd, unsigned int offset,
			   void *buf, unsigned int len);

bool epf_virtio_has_feature(struct epf_virtio *evd, unsigned int bit);
struct epf_virtio_queue *epf_virtio_get_queue(struct epf_virtio *evd,
					      unsigned int index);

void epf_virtio_buf_init(struct epf_virtio_buf *buf);
void epf_virtio_buf_release(struct epf_virtio_buf *buf);
int epf_virtio_getdesc(struct epf_virtio_queue *vq, struct epf_virtio_buf *buf);
ssize_t epf_virtio_pull(struct epf_virtio *evd, struct epf_virtio_buf *buf,
			void *dst, size_t len);
ssize_t epf_virtio_push(struct epf_virtio *evd, struct epf_virtio_buf *buf,
			const void *src, size_t len);
int epf_virtio_complete(struct epf_virtio_queue *vq,
			struct epf_virtio_buf *buf, u32 len);
bool epf_virtio_dma_wants(struct epf_virtio *evd, size_t len);
ssize_t epf_virtio_pull_async(struct epf_virtio *evd,
			      struct epf_virtio_buf *buf, void *dst,
			      size_t len);
ssize_t epf_virtio_push_async(struct epf_virtio *evd,
			      struct epf_virtio_buf *buf, const void *src,
			      size_t len);
int epf_virtio_complete_async(struct epf_virtio_queue *vq,
			      struct epf_virtio_buf *buf, u32 len,
			      epf_virtio_done_t done, void *ctx);
int epf_virtio_complete_group(struct epf_virtio_queue *vq,
			      struct epf_virtio_buf *bufs, const u32 *lens,
			      unsigned int n, epf_virtio_done_t done,
			      void *ctx);

/**
 * epf_virtio_buf_readable() - bytes left to read in a buffer chain
 * @buf: chain from epf_virtio_getdesc()
 *
 * Return: number of device-readable bytes not yet consumed.
 */
static inline size_t epf_virtio_buf_readable(struct epf_virtio_buf *buf)
{
	return vringh_kiov_length(&buf->riov);
}

/**
 * epf_virtio_buf_writable() - room left in a buffer chain
 * @buf: chain from epf_virtio_getdesc()
 *
 * Return: number of device-writable bytes not yet filled.
 */
static inline size_t epf_virtio_buf_writable(struct epf_virtio_buf *buf)
{
	return vringh_kiov_length(&buf->wiov);
}

#endif /* __LINUX_PCI_EPF_VIRTIO_H */
