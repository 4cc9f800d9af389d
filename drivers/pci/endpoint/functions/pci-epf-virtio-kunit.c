// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the virtio endpoint core: how the device configuration
 * is shared with the host.  The host writes the configuration in BAR
 * memory at any time, the device driver changes its own copy at any time,
 * and the poll thread merges the two: a write of either side to bytes the
 * other did not write may never be lost, and where both wrote a byte the
 * device's value wins.
 */

#include <kunit/test.h>
#include <linux/module.h>
#include <linux/string.h>

#include "pci-epf-virtio-kunit.h"

/* A virtio-console configuration: cols, rows, max_nr_ports, emerg_wr */
#define EPF_VIRTIO_KUNIT_SIZE	12

/**
 * struct epf_virtio_kunit_cfg - one configuration, as the core keeps it
 * @bar: what the host sees and writes (BAR memory)
 * @cfg: the device's copy
 * @cfg_bar: the configuration as last written to or taken from @bar
 */
struct epf_virtio_kunit_cfg {
	u8 bar[EPF_VIRTIO_KUNIT_SIZE];
	u8 cfg[EPF_VIRTIO_KUNIT_SIZE];
	u8 cfg_bar[EPF_VIRTIO_KUNIT_SIZE];
};

/* The poll thread's take of the host's writes, on @c */
static bool epf_virtio_kunit_take(struct epf_virtio_kunit_cfg *c,
				  unsigned int *first, unsigned int *last)
{
	return epf_virtio_cfg_take_host(c->bar, c->cfg, c->cfg_bar,
					EPF_VIRTIO_KUNIT_SIZE, first, last);
}

/* The poll thread's write of the device's changes (all of @c if @all) */
static void epf_virtio_kunit_put(struct epf_virtio_kunit_cfg *c, bool all)
{
	epf_virtio_cfg_put_device(c->bar, c->cfg, c->cfg_bar,
				  EPF_VIRTIO_KUNIT_SIZE, all);
}

/* Power-on state: the configuration written whole, the host has read it */
static void epf_virtio_kunit_power_on(struct epf_virtio_kunit_cfg *c)
{
	unsigned int i;

	for (i = 0; i < EPF_VIRTIO_KUNIT_SIZE; i++)
		c->cfg[i] = 0x10 + i;
	memset(c->bar, 0xee, sizeof(c->bar));
	epf_virtio_kunit_put(c, true);
}

static void epf_virtio_kunit_power_on_writes_all(struct kunit *test)
{
	struct epf_virtio_kunit_cfg c;
	unsigned int first, last;

	epf_virtio_kunit_power_on(&c);
	KUNIT_EXPECT_MEMEQ(test, c.bar, c.cfg, EPF_VIRTIO_KUNIT_SIZE);
	KUNIT_EXPECT_MEMEQ(test, c.cfg_bar, c.cfg, EPF_VIRTIO_KUNIT_SIZE);
	KUNIT_EXPECT_FALSE(test, epf_virtio_kunit_take(&c, &first, &last));
}

/*
 * The device changes bytes 2-3 (a console's rows); before the poll thread
 * writes them out, the host writes bytes 0 and 8, around them.  The host's
 * two bytes are taken, the device's stay, and then reach the BAR.
 */
static void epf_virtio_kunit_host_writes_around_device(struct kunit *test)
{
	struct epf_virtio_kunit_cfg c;
	unsigned int first = 0, last = 0;

	epf_virtio_kunit_power_on(&c);
	c.cfg[2] = 0x21;
	c.cfg[3] = 0x00;
	WRITE_ONCE(c.bar[0], 0xa0);
	WRITE_ONCE(c.bar[8], 0xa8);

	KUNIT_ASSERT_TRUE(test, epf_virtio_kunit_take(&c, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 0U);
	KUNIT_EXPECT_EQ(test, last, 8U);
	KUNIT_EXPECT_EQ(test, c.cfg[0], 0xa0);
	KUNIT_EXPECT_EQ(test, c.cfg[8], 0xa8);
	KUNIT_EXPECT_EQ(test, c.cfg[2], 0x21);
	KUNIT_EXPECT_EQ(test, c.cfg[3], 0x00);
	KUNIT_EXPECT_EQ(test, c.cfg[5], 0x15);

	epf_virtio_kunit_put(&c, false);
	KUNIT_EXPECT_MEMEQ(test, c.bar, c.cfg, EPF_VIRTIO_KUNIT_SIZE);
}

/*
 * The host writes byte 9 after the poll thread took its writes but before
 * the device's change is written out: writing the change leaves byte 9
 * alone, and the next pass takes it.
 */
static void epf_virtio_kunit_device_write_keeps_host(struct kunit *test)
{
	struct epf_virtio_kunit_cfg c;
	unsigned int first = 0, last = 0;

	epf_virtio_kunit_power_on(&c);
	c.cfg[2] = 0x21;
	KUNIT_EXPECT_FALSE(test, epf_virtio_kunit_take(&c, &first, &last));
	WRITE_ONCE(c.bar[9], 0xa9);

	epf_virtio_kunit_put(&c, false);
	KUNIT_EXPECT_EQ(test, c.bar[2], 0x21);
	KUNIT_EXPECT_EQ(test, c.bar[9], 0xa9);

	KUNIT_ASSERT_TRUE(test, epf_virtio_kunit_take(&c, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 9U);
	KUNIT_EXPECT_EQ(test, last, 9U);
	KUNIT_EXPECT_EQ(test, c.cfg[9], 0xa9);
	KUNIT_EXPECT_MEMEQ(test, c.bar, c.cfg, EPF_VIRTIO_KUNIT_SIZE);
}

/*
 * The host writes a byte, the poll thread takes it, then the device
 * changes the same byte: the host's write is reported, and the device's
 * value then reaches the BAR.
 */
static void epf_virtio_kunit_same_byte_host_first(struct kunit *test)
{
	struct epf_virtio_kunit_cfg c;
	unsigned int first = 0, last = 0;

	epf_virtio_kunit_power_on(&c);
	WRITE_ONCE(c.bar[4], 0xa4);
	KUNIT_ASSERT_TRUE(test, epf_virtio_kunit_take(&c, &first, &last));
	KUNIT_EXPECT_EQ(test, first, 4U);
	KUNIT_EXPECT_EQ(test, last, 4U);
	KUNIT_EXPECT_EQ(test, c.cfg[4], 0xa4);
	c.cfg[4] = 0x44;
	epf_virtio_kunit_put(&c, false);
	KUNIT_EXPECT_EQ(test, c.bar[4], 0x44);
	KUNIT_EXPECT_FALSE(test, epf_virtio_kunit_take(&c, &first, &last));
}

/*
 * The device changes a byte, then the host writes the same byte before
 * the poll thread's pass: the device's value stays and goes over the
 * host's, and nothing is reported as a host write.
 */
static void epf_virtio_kunit_same_byte_device_first(struct kunit *test)
{
	struct epf_virtio_kunit_cfg c;
	unsigned int first = 0, last = 0;

	epf_virtio_kunit_power_on(&c);
	c.cfg[4] = 0x44;
	WRITE_ONCE(c.bar[4], 0xa4);
	KUNIT_EXPECT_FALSE(test, epf_virtio_kunit_take(&c, &first, &last));
	KUNIT_EXPECT_EQ(test, c.cfg[4], 0x44);
	epf_virtio_kunit_put(&c, false);
	KUNIT_EXPECT_EQ(test, c.bar[4], 0x44);
	KUNIT_EXPECT_MEMEQ(test, c.bar, c.cfg, EPF_VIRTIO_KUNIT_SIZE);
}

/*
 * A queue's MSI-X vector went unseen: Linux's two schemes give it whatever
 * QUEUE_VECTOR held before (@pre) or holds now; another scheme keeps @pre
 */
static void epf_virtio_kunit_vector_own(struct kunit *test)
{
	/* Queue 0 of three, each its own: 1, then the next's 2 seen */
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(0, 2, 0x1200), 1);
	/* Queue 0's own write seen late */
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(0, 1, 0x1200), 1);
	/* Queue 2: its own 3, or the next's 4; before it, queue 1's 2 */
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(2, 3, 2), 3);
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(2, 4, 2), 3);
}

static void epf_virtio_kunit_vector_shared(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(0, 1, 0xffff), 1);
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(3, 1, 1), 1);
}

static void epf_virtio_kunit_vector_other(struct kunit *test)
{
	/* Not Linux's scheme: what was there before */
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(1, 7, 5), 5);
	KUNIT_EXPECT_EQ(test, epf_virtio_guess_vector(0, 0xffff, 0), 0);
}

static struct kunit_case epf_virtio_kunit_cases[] = {
	KUNIT_CASE(epf_virtio_kunit_power_on_writes_all),
	KUNIT_CASE(epf_virtio_kunit_host_writes_around_device),
	KUNIT_CASE(epf_virtio_kunit_device_write_keeps_host),
	KUNIT_CASE(epf_virtio_kunit_same_byte_host_first),
	KUNIT_CASE(epf_virtio_kunit_same_byte_device_first),
	KUNIT_CASE(epf_virtio_kunit_vector_own),
	KUNIT_CASE(epf_virtio_kunit_vector_shared),
	KUNIT_CASE(epf_virtio_kunit_vector_other),
	{}
};

static struct kunit_suite epf_virtio_kunit_suite = {
	.name = "pci_epf_virtio_config",
	.test_cases = epf_virtio_kunit_cases,
};

kunit_test_suite(epf_virtio_kunit_suite);

MODULE_DESCRIPTION("KUnit tests of the virtio PCIe endpoint function core");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");
