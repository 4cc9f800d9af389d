/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Functions of the virtio endpoint core that its KUnit tests call
 * (pci-epf-virtio-kunit.c); static unless the kernel has KUnit.
 */
#ifndef PCI_EPF_VIRTIO_KUNIT_H
#define PCI_EPF_VIRTIO_KUNIT_H

#include <linux/types.h>

#if IS_ENABLED(CONFIG_KUNIT)
void epf_virtio_cfg_put_device(u8 *bar_cfg, const u8 *cfg, u8 *cfg_bar,
			       unsigned int size, bool all);
bool epf_virtio_cfg_take_host(const u8 *bar_cfg, u8 *cfg, u8 *cfg_bar,
			      unsigned int size, unsigned int *first,
			      unsigned int *last);
u16 epf_virtio_guess_vector(u16 q, u16 vec, u16 pre);
#endif

#endif /* PCI_EPF_VIRTIO_KUNIT_H */
