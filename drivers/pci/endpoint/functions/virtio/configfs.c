// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio devices behind a PCIe endpoint function: the configfs tunables
 * every device driver offers (queue_size, features, poll_cpu and
 * dma_threshold) and the rule they share: none can change once the
 * function is linked to a controller.
 *
 * A device driver embeds a struct epf_virtio_cfs in its instance, makes
 * its configfs group from the embedded one, lists the common attributes
 * (epf_virtio_cfs_attr_*) among its own and binds through
 * epf_virtio_cfs_bind().
 */

#include <linux/configfs.h>

#include "internal.h"

/**
 * epf_virtio_cfs_init() - give the common tunables their defaults
 * @cfs: the tunables, in the device driver's instance
 * @epf: the endpoint function
 * @features: every device feature the driver implements: offered by
 *	default, and the most the features attribute accepts
 *
 * Context: process context, from the function driver's probe.
 */
void epf_virtio_cfs_init(struct epf_virtio_cfs *cfs, struct pci_epf *epf,
			 u32 features)
{
	cfs->epf = epf;
	mutex_init(&cfs->lock);
	cfs->params.queue_size = EPF_VIRTIO_QUEUE_SIZE_DEFAULT;
	cfs->params.poll_cpu = -1;
	cfs->params.dma_threshold = 0;
	cfs->params.dma_rings = 0;
	cfs->bound = false;
	epf_virtio_cfs_set_features(cfs, features);
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_init);

/**
 * epf_virtio_cfs_set_features() - change the features a device implements
 * @cfs: the tunables
 * @features: the new set, all offered from now on
 *
 * For a driver whose device type can change (the mediated function).
 *
 * Context: process context, with @cfs->lock held or before the configfs
 * group is made.
 */
void epf_virtio_cfs_set_features(struct epf_virtio_cfs *cfs, u32 features)
{
	cfs->feature_mask = features;
	cfs->params.features = features;
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_set_features);

/**
 * epf_virtio_cfs_from_item() - the tunables of a configfs item
 * @item: an item of a group made from &epf_virtio_cfs.group
 *
 * Return: the tunables that embed @item's group.
 */
struct epf_virtio_cfs *epf_virtio_cfs_from_item(struct config_item *item)
{
	return container_of(to_config_group(item), struct epf_virtio_cfs,
			    group);
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_from_item);

/**
 * epf_virtio_cfs_locked_out() - whether the tunables are frozen
 * @cfs: the tunables
 *
 * They are from the moment the function is linked to a controller (bind
 * may follow at any time, under the endpoint core's locks and not this
 * one) until it is unbound and unlinked.
 *
 * Context: @cfs->lock held.
 * Return: true if no tunable may change now.
 */
bool epf_virtio_cfs_locked_out(struct epf_virtio_cfs *cfs)
{
	lockdep_assert_held(&cfs->lock);

	return cfs->bound || READ_ONCE(cfs->epf->epc);
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_locked_out);

/**
 * epf_virtio_cfs_bind() - epf_virtio_bind() with the tunables' values
 * @cfs: the tunables
 * @evd: the device
 *
 * Context: process context, @cfs->lock held, from the function driver's
 * &pci_epf_ops.bind.
 * Return: 0 or a negative error code from epf_virtio_bind().
 */
int epf_virtio_cfs_bind(struct epf_virtio_cfs *cfs, struct epf_virtio *evd)
{
	int ret;

	lockdep_assert_held(&cfs->lock);

	ret = epf_virtio_bind(evd, &cfs->params);
	if (!ret)
		cfs->bound = true;

	return ret;
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_bind);

/**
 * epf_virtio_cfs_unbind() - epf_virtio_unbind(), and the tunables thawed
 * @cfs: the tunables
 * @evd: the device
 *
 * Context: process context, from the function driver's
 * &pci_epf_ops.unbind; takes @cfs->lock.
 */
void epf_virtio_cfs_unbind(struct epf_virtio_cfs *cfs, struct epf_virtio *evd)
{
	epf_virtio_unbind(evd);

	mutex_lock(&cfs->lock);
	cfs->bound = false;
	mutex_unlock(&cfs->lock);
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_unbind);

static ssize_t epf_virtio_cfs_queue_size_show(struct config_item *item,
					      char *page)
{
	return sysfs_emit(page, "%u\n",
			  epf_virtio_cfs_from_item(item)->params.queue_size);
}

static ssize_t epf_virtio_cfs_queue_size_store(struct config_item *item,
					       const char *page, size_t len)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);
	unsigned int val;
	int ret;

	ret = kstrtouint(page, 0, &val);
	if (ret)
		return ret;

	mutex_lock(&cfs->lock);
	if (epf_virtio_cfs_locked_out(cfs))
		ret = -EBUSY;
	else if (!is_power_of_2(val) || val < EPF_VIRTIO_QUEUE_SIZE_MIN ||
		 val > EPF_VIRTIO_QUEUE_SIZE_CFS_MAX)
		ret = -EINVAL;
	else
		cfs->params.queue_size = val;
	mutex_unlock(&cfs->lock);

	return ret ? ret : len;
}

static ssize_t epf_virtio_cfs_features_show(struct config_item *item,
					    char *page)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);
	ssize_t ret;

	mutex_lock(&cfs->lock);
	ret = sysfs_emit(page, "0x%08x\n", cfs->params.features);
	mutex_unlock(&cfs->lock);

	return ret;
}

/*
 * Set the u32 tunable @field from a configfs write: -EINVAL if it has a bit
 * outside @allowed, -EBUSY once frozen
 */
static ssize_t epf_virtio_cfs_store_u32(struct epf_virtio_cfs *cfs,
					u32 *field, u32 allowed,
					const char *page, size_t len)
{
	u32 val;
	int ret;

	ret = kstrtou32(page, 0, &val);
	if (ret)
		return ret;

	mutex_lock(&cfs->lock);
	if (epf_virtio_cfs_locked_out(cfs))
		ret = -EBUSY;
	else if (val & ~allowed)
		ret = -EINVAL;
	else
		*field = val;
	mutex_unlock(&cfs->lock);

	return ret ? ret : len;
}

static ssize_t epf_virtio_cfs_features_store(struct config_item *item,
					     const char *page, size_t len)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_store_u32(cfs, &cfs->params.features,
					cfs->feature_mask, page, len);
}

static ssize_t epf_virtio_cfs_poll_cpu_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%d\n",
			  epf_virtio_cfs_from_item(item)->params.poll_cpu);
}

/**
 * epf_virtio_cfs_store_cpu() - set a CPU tunable from a configfs write
 * @cfs: the tunables
 * @cpu: the tunable: the poll thread's CPU, or one of the driver's own
 * @page: what was written: a CPU number, or -1 for any
 * @len: its length
 *
 * Context: process context; takes @cfs->lock.
 * Return: @len, or -EINVAL for a bad CPU number, -EBUSY when frozen.
 */
ssize_t epf_virtio_cfs_store_cpu(struct epf_virtio_cfs *cfs, int *cpu,
				 const char *page, size_t len)
{
	int val;
	int ret;

	ret = kstrtoint(page, 0, &val);
	if (ret)
		return ret;

	mutex_lock(&cfs->lock);
	if (epf_virtio_cfs_locked_out(cfs))
		ret = -EBUSY;
	else if (val < -1 || val >= (int)nr_cpu_ids)
		ret = -EINVAL;
	else
		*cpu = val;
	mutex_unlock(&cfs->lock);

	return ret ? ret : len;
}
EXPORT_SYMBOL_GPL(epf_virtio_cfs_store_cpu);

static ssize_t epf_virtio_cfs_poll_cpu_store(struct config_item *item,
					     const char *page, size_t len)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_store_cpu(cfs, &cfs->params.poll_cpu, page, len);
}

/* Show the u32 tunable @field, read under @cfs->lock */
static ssize_t epf_virtio_cfs_show_u32(struct epf_virtio_cfs *cfs,
				       const u32 *field, char *page)
{
	ssize_t ret;

	mutex_lock(&cfs->lock);
	ret = sysfs_emit(page, "%u\n", *field);
	mutex_unlock(&cfs->lock);

	return ret;
}

static ssize_t epf_virtio_cfs_dma_threshold_show(struct config_item *item,
						 char *page)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_show_u32(cfs, &cfs->params.dma_threshold, page);
}

static ssize_t epf_virtio_cfs_dma_threshold_store(struct config_item *item,
						  const char *page, size_t len)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_store_u32(cfs, &cfs->params.dma_threshold,
					U32_MAX, page, len);
}

static ssize_t epf_virtio_cfs_dma_rings_show(struct config_item *item,
					     char *page)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_show_u32(cfs, &cfs->params.dma_rings, page);
}

static ssize_t epf_virtio_cfs_dma_rings_store(struct config_item *item,
					      const char *page, size_t len)
{
	struct epf_virtio_cfs *cfs = epf_virtio_cfs_from_item(item);

	return epf_virtio_cfs_store_u32(cfs, &cfs->params.dma_rings, 1, page,
					len);
}

/* Listed by every device driver's group */
struct configfs_attribute epf_virtio_cfs_attr_queue_size = {
	.ca_name	= "queue_size",
	.ca_owner	= THIS_MODULE,
	.ca_mode	= 0644,
	.show		= epf_virtio_cfs_queue_size_show,
	.store		= epf_virtio_cfs_queue_size_store,
};
EXPORT_SYMBOL_GPL(epf_virtio_cfs_attr_queue_size);

struct configfs_attribute epf_virtio_cfs_attr_features = {
	.ca_name	= "features",
	.ca_owner	= THIS_MODULE,
	.ca_mode	= 0644,
	.show		= epf_virtio_cfs_features_show,
	.store		= epf_virtio_cfs_features_store,
};
EXPORT_SYMBOL_GPL(epf_virtio_cfs_attr_features);

struct configfs_attribute epf_virtio_cfs_attr_poll_cpu = {
	.ca_name	= "poll_cpu",
	.ca_owner	= THIS_MODULE,
	.ca_mode	= 0644,
	.show		= epf_virtio_cfs_poll_cpu_show,
	.store		= epf_virtio_cfs_poll_cpu_store,
};
EXPORT_SYMBOL_GPL(epf_virtio_cfs_attr_poll_cpu);

struct configfs_attribute epf_virtio_cfs_attr_dma_threshold = {
	.ca_name	= "dma_threshold",
	.ca_owner	= THIS_MODULE,
	.ca_mode	= 0644,
	.show		= epf_virtio_cfs_dma_threshold_show,
	.store		= epf_virtio_cfs_dma_threshold_store,
};
EXPORT_SYMBOL_GPL(epf_virtio_cfs_attr_dma_threshold);

struct configfs_attribute epf_virtio_cfs_attr_dma_rings = {
	.ca_name	= "dma_rings",
	.ca_owner	= THIS_MODULE,
	.ca_mode	= 0644,
	.show		= epf_virtio_cfs_dma_rings_show,
	.store		= epf_virtio_cfs_dma_rings_store,
};
EXPORT_SYMBOL_GPL(epf_virtio_cfs_attr_dma_rings);
