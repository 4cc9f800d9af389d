// SPDX-License-Identifier: GPL-2.0
/*
 * A host-side test driver for legacy virtio-pci endpoint functions.
 *
 * Loaded on the host side of the test rig instead of virtio_pci, it sets up
 * the device at @dev itself, and then either breaks the virtio protocol in
 * the way @attack names, or (attack "none") behaves, takes the device's
 * interrupts the way @irq names and counts them, with one receive buffer
 * posted on queue 0.  What it saw is in read-only module parameters:
 * "status" (the device status after the attack; -1 before), "irqs" (all
 * interrupts), "cfg_irqs" (those whose ISR had the configuration bit) and
 * "rx_irqs" (those whose ISR had the queue bit once the device had given
 * the receive buffer back).  Behaving, it also writes "VEP!" to the bytes
 * at configuration offset 8 (a console's emerg_wr, a driver-written field),
 * and "config_now" reads the first VEP_HOSTILE_NOW configuration bytes
 * (MSI-X off) when read, so a test can check that a device-side change to
 * the configuration did not undo the host's write.
 *
 * Attacks, all on queue 1 (the device reads from it) unless said otherwise:
 *   bad-pfn     queue 0 given a page frame beyond any memory
 *   desc-loop   a chain whose two descriptors point at each other
 *   bad-head    an available ring entry beyond the queue size
 *   bad-next    a descriptor whose next index is beyond the queue size
 *   huge-len    a 4 GiB descriptor
 *   bad-addr    a buffer at an address no memory backs
 *   indirect    an indirect descriptor, a feature never negotiated
 *   bad-idx     an available index far ahead of the ring
 *   big-endian  a sound one-descriptor chain, written as a big-endian host's
 *               legacy driver would (rings are in the driver's own order)
 *
 * Queue 0 (the device writes to it, and takes a chain only when it has
 * data for the host, which the test gives it none of):
 *   avail-overrun  a whole ring of chains made available, then, once the
 *                  device had time to see them, one more entry: more
 *                  entries than the ring holds wait for the device
 *   overlap        a chain of two descriptors, then a second chain whose
 *                  next descriptor is the first chain's second, while the
 *                  first chain still waits for the device
 *
 * Descriptor rewritten while the device reads it: queue 1 gets a sound
 * one-descriptor chain, which the host keeps switching to a 4 GiB
 * descriptor that chains to itself and back, for VEP_HOSTILE_FLIP_MS, and
 * makes it available once the switching runs.  The device must take one
 * version whole: either it gives the chain back ("used" 1) or it finds
 * the bad version and needs a reset, never both, never neither.
 *   desc-rewrite
 *
 * Net attacks: well-formed rings, but one bad frame on the transmit queue
 * (queue 1) of a virtio-net device; the device must drop and count it,
 * give the chain back and keep running.  "used" says how many chains of
 * queue 1 came back.
 *   net-gso     a header with a segmentation type no virtio-net defines
 *   net-csum    a partial checksum that starts beyond the frame
 *   net-big     a frame far larger than an MTU of 1500
 * and, with VIRTIO_NET_F_HOST_TSO4 negotiated (features=0x801), a TCP/IPv4
 * segmentation header, sound but for one field:
 *   net-tso-size    a segment size of 0
 *   net-tso-nocsum  no partial checksum (the spec requires one with GSO)
 *   net-tso-csum    a checksum that starts beyond the frame
 *   net-tso-hdrlen  a header length beyond the frame
 *   net-tso-v6      the TCP/IPv6 type, which was not negotiated
 *   net-tso-mss     a frame far larger than an MTU of 1500 whose segment
 *                   size is larger still: no GSO packet comes of it
 *
 * Set-up attack: the driver reads the device configuration (at offset 20,
 * MSI-X off), enables MSI-X, writes its vectors over offsets 20-23 and
 * fails the device the way virtio_pci does when a probe fails.  The device
 * must put its configuration back for the next driver: "config" holds the
 * first bytes at offset 20 then, and "restored" how many milliseconds that
 * took (-1: it never did within two seconds).
 *   msix-fail
 *
 * Set-up fallback, as virtio_pci's vp_find_vqs() falls back when a queue
 * cannot be set up with a vector of its own (its QUEUE_PFN read back not
 * 0, when the device was late to take the last one): MSI-X on, queue 0
 * given its ring and vector 1, queue 1 given up, queue 0 torn down, MSI-X
 * off for VEP_HOSTILE_RETRY_MS (a slow host), then MSI-X on again with
 * vector 1 shared by both queues, and DRIVER_OK.  The device must take
 * the second attempt: "status" is its status after DRIVER_OK, "config"
 * the first configuration bytes at offset 24, where a driver with MSI-X
 * reads them.
 *   msix-retry
 *
 * Reset under writes: a whole ring of small receive buffers on queue 0
 * (a console's receiveq), which the endpoint test fills from its side.
 * Once the device gave the first one back, the driver resets the device as
 * a stock driver does (status 0, read back) and at once takes the buffers
 * away: it fills them with a poison, as if they were freed and reused.
 * "late" says how many bytes of them the device wrote after that, "used"
 * how many chains it gave back after it, "early" how many before it.  A
 * device that keeps writing for the rest of its pass writes most of the
 * ring; one that looks at the status before each write, at most the chain
 * it was writing.
 *   reset-write
 *
 * Vsock attacks, on a virtio-vsock device (three queues; queue 1 is the
 * driver's tx queue, queue 0 its rx queue, with VEP_HOSTILE_VS_RX receive
 * buffers posted).  The source CID is the device's guest CID, read from
 * its configuration, and the destination is the host (CID 2), unless the
 * attack says otherwise.  The single-packet attacks put one bad packet on
 * queue 1, then a sound connection request to VEP_HOSTILE_VS_NOBODY, a
 * port nobody listens on: the device must drop and count the first, give
 * both chains back ("used") and answer the second with a reset
 * ("replies" chains back on queue 0, "reply_op" the first one's op).
 *   vsock-short  a chain shorter than a packet header
 *   vsock-len    a header whose length goes beyond the chain
 *   vsock-op     an operation no virtio-vsock defines
 *   vsock-cid    a source that is not the guest CID, then a destination
 *                that is not the host (two bad packets, then the request)
 *   vsock-type   a socket type no virtio-vsock defines
 * and two that need more:
 *   vsock-credit  a connection to port VEP_HOSTILE_VS_PORT on the
 *                 endpoint, then data far beyond the credit the endpoint
 *                 gave, sent without waiting: "credit" is the buffer the
 *                 endpoint's socket announced, "sent" the bytes sent.  The
 *                 socket must keep what its credit covers, and no more
 *   vsock-flood   connection requests to a port nobody listens on, and
 *                 resets for connections that do not exist, as fast as
 *                 the ring takes them, with no receive buffer after the
 *                 first few: the device owes a reset for each request and
 *                 cannot give them, so it must stop taking packets.
 *                 "used" says how many chains it took in the flood,
 *                 "used_later" how many after another half second
 *
 * Reset-state check: before any driver enabled MSI-X, every entry of the
 * device's MSI-X table must be masked (PCIe r6.0, 7.7.2.5), or a host that
 * enables MSI-X without masking unused entries (firmware, another OS) has
 * the device write to address 0.  Nothing is written; "msix_entries" says
 * how many entries the table has, "msix_masked" how many were masked.
 *   msix-table
 *
 * It is a test tool, not a driver to bind: it claims nothing, and it refuses
 * a device that has a driver.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

/* Net attacks: the frame after the header, and the oversized one */
#define VEP_HOSTILE_FRAME	60
#define VEP_HOSTILE_BIG		3000

/* Ring alignment of legacy virtio-pci */
#define VEP_HOSTILE_ALIGN	VIRTIO_PCI_VRING_ALIGN

/* How long the device may take to take a queue, and to fail the device */
#define VEP_HOSTILE_PFN_MS	2000
#define VEP_HOSTILE_FAIL_MS	5000

/* How long the device gets to see chains before the next step of an attack */
#define VEP_HOSTILE_MIRROR_MS	500

/* How long desc-rewrite keeps switching the descriptor */
#define VEP_HOSTILE_FLIP_MS	300
/* ... of which this long before the chain is made available */
#define VEP_HOSTILE_FLIP_WARM_MS	20

/* Configuration bytes checked after msix-fail, and how long to wait */
#define VEP_HOSTILE_CFG		8

/* Configuration bytes config_now shows, and where the host writes its own */
#define VEP_HOSTILE_NOW		12
#define VEP_HOSTILE_POKE	8
#define VEP_HOSTILE_RESTORE_MS	2000

/* msix-retry: how long MSI-X stays off between the two attempts */
#define VEP_HOSTILE_RETRY_MS	50

/* ISR bit for used buffers (the configuration bit has a name) */
#define VEP_HOSTILE_ISR_QUEUE	0x1

/* reset-write: size of each receive buffer, the poison of a freed one */
#define VEP_HOSTILE_RW_LEN	64
#define VEP_HOSTILE_POISON	0x5a

/* Queues of the device used here, and size of the buffer behind them */
#define VEP_HOSTILE_NVQS	3
#define VEP_HOSTILE_BUF		4096

/*
 * Vsock attacks: receive buffers posted (each a quarter of the buffer),
 * the port nobody listens on, the endpoint test's listening port, the
 * driver's own port, the payload of each packet of vsock-credit (the
 * whole buffer, read again for each) and how many of them, and how long
 * vsock-flood floods
 */
#define VEP_HOSTILE_VS_RX	4
#define VEP_HOSTILE_VS_RX_LEN	(VEP_HOSTILE_BUF / VEP_HOSTILE_VS_RX)
#define VEP_HOSTILE_VS_NOBODY	9999
#define VEP_HOSTILE_VS_PORT	5001
#define VEP_HOSTILE_VS_SRC	7000
#define VEP_HOSTILE_VS_DATA	VEP_HOSTILE_BUF
#define VEP_HOSTILE_VS_PKTS	96
#define VEP_HOSTILE_VS_FLOOD_MS	1000

static char *dev;
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "Host PCI address of the device (DDDD:BB:DD.F)");

static char *attack = "none";
module_param(attack, charp, 0444);
MODULE_PARM_DESC(attack, "How to break the protocol (see the source)");

static char *irq = "intx";
module_param(irq, charp, 0444);
MODULE_PARM_DESC(irq, "Interrupts to use when behaving: msi or intx");

static int status = -1;
module_param(status, int, 0444);
MODULE_PARM_DESC(status, "Device status after the attack (-1: none yet)");

static unsigned int irqs;
module_param(irqs, uint, 0444);
MODULE_PARM_DESC(irqs, "Interrupts taken from the device");

static unsigned int cfg_irqs;
module_param(cfg_irqs, uint, 0444);
MODULE_PARM_DESC(cfg_irqs, "Interrupts for a configuration change");

static unsigned int rx_irqs;
module_param(rx_irqs, uint, 0444);
MODULE_PARM_DESC(rx_irqs, "Queue interrupts after the receive buffer came back");

static unsigned int features;
module_param(features, uint, 0444);
MODULE_PARM_DESC(features, "Features to accept (a subset of the device's)");

static int used = -1;
module_param(used, int, 0444);
MODULE_PARM_DESC(used, "Chains of queue 1 given back after a net attack or desc-rewrite");

static int late = -1;
module_param(late, int, 0444);
MODULE_PARM_DESC(late, "reset-write: bytes the device wrote after the reset");

static int early = -1;
module_param(early, int, 0444);
MODULE_PARM_DESC(early, "reset-write: buffers back before the reset");

static int restored = -1;
module_param(restored, int, 0444);
MODULE_PARM_DESC(restored, "msix-fail: ms until the configuration was back (-1: never)");

static int msix_entries = -1;
module_param(msix_entries, int, 0444);
MODULE_PARM_DESC(msix_entries, "msix-table: entries in the MSI-X table");

static int msix_masked = -1;
module_param(msix_masked, int, 0444);
MODULE_PARM_DESC(msix_masked, "msix-table: entries found masked");

static int replies = -1;
module_param(replies, int, 0444);
MODULE_PARM_DESC(replies, "vsock attacks: chains of queue 0 given back");

static int reply_op = -1;
module_param(reply_op, int, 0444);
MODULE_PARM_DESC(reply_op, "vsock attacks: op of the first packet from the device");

static int credit = -1;
module_param(credit, int, 0444);
MODULE_PARM_DESC(credit, "vsock-credit: receive buffer the endpoint's socket announced");

static int sent = -1;
module_param(sent, int, 0444);
MODULE_PARM_DESC(sent, "vsock-credit: bytes sent on the connection");

static int used_later = -1;
module_param(used_later, int, 0444);
MODULE_PARM_DESC(used_later, "vsock-flood: chains of queue 1 given back half a second after the flood");

static char config[2 * VEP_HOSTILE_CFG + 1];
module_param_string(config, config, sizeof(config), 0444);
MODULE_PARM_DESC(config, "msix-fail, msix-retry: first configuration bytes (offset 20, 24), in hex");

/**
 * struct vep_hostile_vq - one queue set up by this driver
 * @ring: the vring memory
 * @ring_dma: its bus address
 * @size: its size in bytes
 * @vr: the vring within @ring
 */
struct vep_hostile_vq {
	void *ring;
	dma_addr_t ring_dma;
	size_t size;
	struct vring vr;
};

/**
 * struct vep_hostile - the device under test
 * @pdev: the PCI device
 * @regs: BAR0, the legacy register file
 * @num: queue size the device offers
 * @vq: the queues
 * @cid: vsock attacks: the guest CID of the device configuration
 * @chains: vsock attacks: chains posted on queue 1 so far
 * @buf: one buffer the descriptors point at
 * @buf_dma: its bus address
 * @rx: vsock attacks: the receive buffers and the packet headers sent
 * @rx_dma: its bus address
 * @irq: Linux interrupt number requested, or 0
 * @msi: @irq is an MSI vector
 */
struct vep_hostile {
	struct pci_dev *pdev;
	void __iomem *regs;
	u16 num;
	struct vep_hostile_vq vq[VEP_HOSTILE_NVQS];
	u64 cid;
	u16 chains;
	void *buf;
	dma_addr_t buf_dma;
	void *rx;
	dma_addr_t rx_dma;
	int irq;
	bool msi;
};

static struct vep_hostile *vep_hostile_dev;

/* config_now: the configuration bytes at offset 20, read when asked */
static int vep_hostile_config_now(char *page, const struct kernel_param *kp)
{
	struct vep_hostile *h = READ_ONCE(vep_hostile_dev);
	u8 cfg[VEP_HOSTILE_NOW];
	int i;

	if (!h || status < 0)
		return -ENODEV;
	for (i = 0; i < VEP_HOSTILE_NOW; i++)
		cfg[i] = ioread8(h->regs + VIRTIO_PCI_CONFIG_OFF(false) + i);

	return sysfs_emit(page, "%*phN\n", VEP_HOSTILE_NOW, cfg);
}

static const struct kernel_param_ops vep_hostile_now_ops = {
	.get = vep_hostile_config_now,
};
module_param_cb(config_now, &vep_hostile_now_ops, NULL, 0444);
MODULE_PARM_DESC(config_now, "Configuration bytes at offset 20 now, in hex");

static irqreturn_t vep_hostile_irq(int irq, void *data)
{
	struct vep_hostile *h = data;
	u8 isr;

	/* Without MSI-X the ISR register says why the device interrupted */
	isr = ioread8(h->regs + VIRTIO_PCI_ISR);
	if (!h->msi && !isr)
		return IRQ_NONE;

	WRITE_ONCE(irqs, irqs + 1);
	if (isr & VIRTIO_PCI_ISR_CONFIG)
		WRITE_ONCE(cfg_irqs, cfg_irqs + 1);
	if ((isr & VEP_HOSTILE_ISR_QUEUE) && READ_ONCE(h->vq[0].vr.used->idx))
		WRITE_ONCE(rx_irqs, rx_irqs + 1);

	return IRQ_HANDLED;
}

/* Give queue @q a ring, or the page frame @pfn if it is not 0 */
static int vep_hostile_setup_vq(struct vep_hostile *h, u16 q, u32 pfn)
{
	struct vep_hostile_vq *vq = &h->vq[q];
	struct device *d = &h->pdev->dev;
	unsigned long timeout;

	iowrite16(q, h->regs + VIRTIO_PCI_QUEUE_SEL);
	if (ioread16(h->regs + VIRTIO_PCI_QUEUE_NUM) != h->num) {
		dev_err(d, "queue %u has another size\n", q);
		return -EINVAL;
	}

	/* Patient, unlike setup_vq(): wait for the device to take the last */
	timeout = jiffies + msecs_to_jiffies(VEP_HOSTILE_PFN_MS);
	while (ioread32(h->regs + VIRTIO_PCI_QUEUE_PFN)) {
		if (time_after(jiffies, timeout)) {
			dev_err(d, "QUEUE_PFN never cleared\n");
			return -ETIMEDOUT;
		}
		usleep_range(100, 200);
	}

	/* A queue set up again keeps its ring */
	if (!vq->ring) {
		vq->size = vring_size(h->num, VEP_HOSTILE_ALIGN);
		vq->ring = dma_alloc_coherent(d, vq->size, &vq->ring_dma,
					      GFP_KERNEL);
		if (!vq->ring)
			return -ENOMEM;
	}
	vring_init(&vq->vr, h->num, vq->ring, VEP_HOSTILE_ALIGN);

	if (!pfn)
		pfn = vq->ring_dma >> VIRTIO_PCI_QUEUE_ADDR_SHIFT;
	iowrite32(pfn, h->regs + VIRTIO_PCI_QUEUE_PFN);

	return 0;
}

static void vep_hostile_free_vqs(struct vep_hostile *h)
{
	int q;

	for (q = 0; q < VEP_HOSTILE_NVQS; q++)
		if (h->vq[q].ring)
			dma_free_coherent(&h->pdev->dev, h->vq[q].size,
					  h->vq[q].ring, h->vq[q].ring_dma);
}

/* Make chain @head of queue @q available and tell the device */
static void vep_hostile_post(struct vep_hostile *h, u16 q, u16 head,
			     u16 idx_step)
{
	struct vring *vr = &h->vq[q].vr;
	u16 idx = le16_to_cpu((__force __le16)vr->avail->idx);

	vr->avail->ring[idx % h->num] = (__force __virtio16)cpu_to_le16(head);
	/* The entry must be visible before the index that covers it */
	dma_wmb();
	vr->avail->idx = (__force __virtio16)cpu_to_le16(idx + idx_step);
	iowrite16(q, h->regs + VIRTIO_PCI_QUEUE_NOTIFY);
}

static void vep_hostile_desc(struct vep_hostile *h, u16 q, u16 i, u64 addr,
			     u32 len, u16 flags, u16 next)
{
	struct vring_desc *d = &h->vq[q].vr.desc[i];

	d->addr = (__force __virtio64)cpu_to_le64(addr);
	d->len = (__force __virtio32)cpu_to_le32(len);
	d->flags = (__force __virtio16)cpu_to_le16(flags);
	d->next = (__force __virtio16)cpu_to_le16(next);
}

/* Queue 1 gets what the attack names; false if the name is unknown */
static bool vep_hostile_break_ring(struct vep_hostile *h)
{
	u64 buf = h->buf_dma;
	u16 n = h->num;

	if (!strcmp(attack, "desc-loop")) {
		vep_hostile_desc(h, 1, 0, buf, 16, VRING_DESC_F_NEXT, 1);
		vep_hostile_desc(h, 1, 1, buf, 16, VRING_DESC_F_NEXT, 0);
		vep_hostile_post(h, 1, 0, 1);
	} else if (!strcmp(attack, "bad-head")) {
		vep_hostile_post(h, 1, n + 7, 1);
	} else if (!strcmp(attack, "bad-next")) {
		vep_hostile_desc(h, 1, 0, buf, 16, VRING_DESC_F_NEXT, n + 3);
		vep_hostile_post(h, 1, 0, 1);
	} else if (!strcmp(attack, "huge-len")) {
		vep_hostile_desc(h, 1, 0, buf, 0xfffff000, 0, 0);
		vep_hostile_post(h, 1, 0, 1);
	} else if (!strcmp(attack, "bad-addr")) {
		vep_hostile_desc(h, 1, 0, 1ULL << 46, 64, 0, 0);
		vep_hostile_post(h, 1, 0, 1);
	} else if (!strcmp(attack, "indirect")) {
		vep_hostile_desc(h, 1, 0, buf, 16, VRING_DESC_F_INDIRECT, 0);
		vep_hostile_post(h, 1, 0, 1);
	} else if (!strcmp(attack, "bad-idx")) {
		vep_hostile_desc(h, 1, 0, buf, 16, 0, 0);
		vep_hostile_post(h, 1, 0, n + 100);
	} else if (!strcmp(attack, "big-endian")) {
		struct vring *vr = &h->vq[1].vr;

		vr->desc[0].addr = (__force __virtio64)cpu_to_be64(buf);
		vr->desc[0].len = (__force __virtio32)cpu_to_be32(16);
		vr->desc[0].flags = 0;
		vr->desc[0].next = 0;
		vr->avail->ring[0] = 0;
		dma_wmb();
		vr->avail->idx = (__force __virtio16)cpu_to_be16(1);
		iowrite16(1, h->regs + VIRTIO_PCI_QUEUE_NOTIFY);
	} else if (!strcmp(attack, "avail-overrun")) {
		u16 i;

		for (i = 0; i < n; i++) {
			vep_hostile_desc(h, 0, i, buf, 16, VRING_DESC_F_WRITE, 0);
			vep_hostile_post(h, 0, i, 1);
		}
		msleep(VEP_HOSTILE_MIRROR_MS);
		/* Head 0 again, in the slot of the first entry, not yet read */
		vep_hostile_post(h, 0, 0, 1);
	} else if (!strcmp(attack, "overlap")) {
		vep_hostile_desc(h, 0, 0, buf, 16,
				 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		vep_hostile_desc(h, 0, 1, buf + 16, 16, VRING_DESC_F_WRITE, 0);
		vep_hostile_post(h, 0, 0, 1);
		msleep(VEP_HOSTILE_MIRROR_MS);
		vep_hostile_desc(h, 0, 2, buf + 32, 16,
				 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		vep_hostile_post(h, 0, 2, 1);
	} else {
		return false;
	}

	return true;
}

/*
 * Queue 1 gets one frame with what a net attack names, as a single
 * descriptor: a legacy header without mergeable buffers, then an ethernet
 * frame.  Returns false if the name is unknown.
 */
static bool vep_hostile_bad_frame(struct vep_hostile *h)
{
	struct virtio_net_hdr *hdr = h->buf;
	u32 len = VEP_HOSTILE_FRAME;
	u8 *frame = h->buf + sizeof(*hdr);

	memset(h->buf, 0, VEP_HOSTILE_BUF);
	/* Broadcast, from a locally administered address, IPv4 */
	memset(frame, 0xff, ETH_ALEN);
	frame[ETH_ALEN] = 0x02;
	frame[2 * ETH_ALEN] = 0x08;

	if (!strcmp(attack, "net-gso")) {
		hdr->gso_type = 0x42;
		hdr->gso_size = (__force __virtio16)cpu_to_le16(1000);
		hdr->hdr_len = (__force __virtio16)cpu_to_le16(34);
	} else if (!strcmp(attack, "net-csum")) {
		hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		hdr->csum_start = (__force __virtio16)cpu_to_le16(2000);
		hdr->csum_offset = (__force __virtio16)cpu_to_le16(6);
	} else if (!strcmp(attack, "net-big")) {
		len = VEP_HOSTILE_BIG;
	} else if (!strncmp(attack, "net-tso-", 8)) {
		/* Ethernet, 20 bytes of IPv4, then TCP */
		u16 size = 1000, start = 34, hlen = 54;

		hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		hdr->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		if (!strcmp(attack, "net-tso-size")) {
			size = 0;
		} else if (!strcmp(attack, "net-tso-nocsum")) {
			hdr->flags = 0;
		} else if (!strcmp(attack, "net-tso-csum")) {
			start = 2000;
		} else if (!strcmp(attack, "net-tso-hdrlen")) {
			hlen = 4000;
		} else if (!strcmp(attack, "net-tso-v6")) {
			hdr->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		} else if (!strcmp(attack, "net-tso-mss")) {
			size = 4000;
			len = VEP_HOSTILE_BIG;
		} else {
			return false;
		}
		hdr->gso_size = (__force __virtio16)cpu_to_le16(size);
		hdr->hdr_len = (__force __virtio16)cpu_to_le16(hlen);
		hdr->csum_start = (__force __virtio16)cpu_to_le16(start);
		hdr->csum_offset = (__force __virtio16)cpu_to_le16(16);
	} else {
		return false;
	}

	vep_hostile_desc(h, 1, 0, h->buf_dma, sizeof(*hdr) + len, 0, 0);
	vep_hostile_post(h, 1, 0, 1);

	return true;
}

/* vsock attacks: header slot @i of the second page of the vsock area */
static struct virtio_vsock_hdr *vep_hostile_vs_hdr(struct vep_hostile *h,
						   unsigned int i,
						   dma_addr_t *dma)
{
	size_t off = VEP_HOSTILE_BUF + i * 64;

	*dma = h->rx_dma + off;
	return h->rx + off;
}

/* A stream packet header from the guest CID to the host's port @dport */
static void vep_hostile_vs_fill(struct vep_hostile *h,
				struct virtio_vsock_hdr *hdr, u16 op,
				u32 dport, u32 len)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = cpu_to_le64(h->cid);
	hdr->dst_cid = cpu_to_le64(VMADDR_CID_HOST);
	hdr->src_port = cpu_to_le32(VEP_HOSTILE_VS_SRC);
	hdr->dst_port = cpu_to_le32(dport);
	hdr->len = cpu_to_le32(len);
	hdr->type = cpu_to_le16(VIRTIO_VSOCK_TYPE_STREAM);
	hdr->op = cpu_to_le16(op);
	hdr->buf_alloc = cpu_to_le32(256 * 1024);
}

static u16 vep_hostile_used_idx(struct vep_hostile *h, u16 q)
{
	return le16_to_cpu((__force __le16)READ_ONCE(h->vq[q].vr.used->idx));
}

/* Wait up to @ms for queue @q's used index to reach @idx */
static bool vep_hostile_wait_used(struct vep_hostile *h, u16 q, u16 idx,
				  unsigned int ms)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(ms);

	while ((s16)(vep_hostile_used_idx(h, q) - idx) < 0) {
		if (time_after(jiffies, timeout))
			return false;
		usleep_range(200, 400);
	}

	return true;
}

/*
 * Post a chain on queue 1: header slot @slot (@hlen bytes of it), then
 * @plen bytes of the buffer if @plen is not 0.  Chain j uses descriptors
 * 2j and 2j+1; the device gives queue 1's chains back in order, so at
 * most half a ring of them may be out.  False if the device did not make
 * room in time.
 */
static bool vep_hostile_vs_post(struct vep_hostile *h, unsigned int slot,
				u32 hlen, u32 plen)
{
	u16 j = h->chains % (h->num / 2);
	dma_addr_t hdr_dma;

	if (!vep_hostile_wait_used(h, 1, h->chains - h->num / 2 + 1,
				   VEP_HOSTILE_FAIL_MS))
		return false;
	vep_hostile_vs_hdr(h, slot, &hdr_dma);
	vep_hostile_desc(h, 1, 2 * j, hdr_dma, hlen,
			 plen ? VRING_DESC_F_NEXT : 0, 2 * j + 1);
	if (plen)
		vep_hostile_desc(h, 1, 2 * j + 1, h->buf_dma, plen, 0, 0);
	vep_hostile_post(h, 1, 2 * j, 1);
	h->chains++;

	return true;
}

/* The header the device wrote in the receive buffer of used entry @i */
static const struct virtio_vsock_hdr *
vep_hostile_vs_reply(struct vep_hostile *h, u16 i)
{
	struct vring *vr = &h->vq[0].vr;
	u32 id = le32_to_cpu((__force __le32)vr->used->ring[i % h->num].id);

	if (id >= VEP_HOSTILE_VS_RX)
		return NULL;

	return h->rx + id * VEP_HOSTILE_VS_RX_LEN;
}

/* vsock-credit: see the top of the file */
static int vep_hostile_vs_credit(struct vep_hostile *h)
{
	const struct virtio_vsock_hdr *reply;
	struct virtio_vsock_hdr *hdr;
	dma_addr_t dma;
	unsigned int i;

	hdr = vep_hostile_vs_hdr(h, 0, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_REQUEST,
			    VEP_HOSTILE_VS_PORT, 0);
	if (!vep_hostile_vs_post(h, 0, sizeof(*hdr), 0) ||
	    !vep_hostile_wait_used(h, 0, 1, VEP_HOSTILE_FAIL_MS)) {
		pr_err("vsock-credit: no answer to the connection request\n");
		return -ETIMEDOUT;
	}
	reply = vep_hostile_vs_reply(h, 0);
	reply_op = reply ? le16_to_cpu(reply->op) : -1;
	if (reply_op != VIRTIO_VSOCK_OP_RESPONSE) {
		pr_err("vsock-credit: the request was answered with op %d\n",
		       reply_op);
		return -ECONNREFUSED;
	}
	credit = le32_to_cpu(reply->buf_alloc);

	/* Data, sent without a look at the credit */
	hdr = vep_hostile_vs_hdr(h, 1, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_RW, VEP_HOSTILE_VS_PORT,
			    VEP_HOSTILE_VS_DATA);
	memset(h->buf, 'v', VEP_HOSTILE_BUF);
	for (i = 0; i < VEP_HOSTILE_VS_PKTS; i++)
		if (!vep_hostile_vs_post(h, 1, sizeof(*hdr),
					 VEP_HOSTILE_VS_DATA))
			break;
	sent = i * VEP_HOSTILE_VS_DATA;
	vep_hostile_wait_used(h, 1, h->chains, VEP_HOSTILE_FAIL_MS);
	used = vep_hostile_used_idx(h, 1);
	replies = vep_hostile_used_idx(h, 0);
	pr_info("vsock-credit: %d bytes sent against a credit of %d; %d chains back, %d packets from the device\n",
		sent, credit, used, replies);

	return 0;
}

/* vsock-flood: see the top of the file */
static int vep_hostile_vs_flood(struct vep_hostile *h)
{
	unsigned long end = jiffies + msecs_to_jiffies(VEP_HOSTILE_VS_FLOOD_MS);
	struct virtio_vsock_hdr *hdr;
	dma_addr_t dma;

	hdr = vep_hostile_vs_hdr(h, 0, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_REQUEST,
			    VEP_HOSTILE_VS_NOBODY, 0);
	hdr = vep_hostile_vs_hdr(h, 1, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_RST,
			    VEP_HOSTILE_VS_NOBODY, 0);

	while (time_before(jiffies, end)) {
		/* A ring held by the device: the host waits, and tries again */
		if ((u16)(h->chains - vep_hostile_used_idx(h, 1)) >= h->num / 2) {
			usleep_range(500, 1000);
			continue;
		}
		vep_hostile_vs_post(h, h->chains & 1, sizeof(*hdr), 0);
	}
	used = vep_hostile_used_idx(h, 1);
	msleep(VEP_HOSTILE_MIRROR_MS);
	used_later = vep_hostile_used_idx(h, 1);
	replies = vep_hostile_used_idx(h, 0);
	status = ioread8(h->regs + VIRTIO_PCI_STATUS);
	pr_info("vsock-flood: %u chains posted, %d taken, %d half a second later; %d packets from the device\n",
		h->chains, used, used_later, replies);

	return 0;
}

/* The vsock attacks: see the top of the file */
static int vep_hostile_vsock(struct vep_hostile *h)
{
	struct virtio_vsock_hdr *hdr;
	const struct virtio_vsock_hdr *reply;
	unsigned int bad = 1, i;
	dma_addr_t dma;
	u32 hlen;

	for (i = 0; i < VEP_HOSTILE_VS_RX; i++) {
		vep_hostile_desc(h, 0, i,
				 h->rx_dma + i * VEP_HOSTILE_VS_RX_LEN,
				 VEP_HOSTILE_VS_RX_LEN,
				 VRING_DESC_F_WRITE, 0);
		vep_hostile_post(h, 0, i, 1);
	}

	if (!strcmp(attack, "vsock-credit"))
		return vep_hostile_vs_credit(h);
	if (!strcmp(attack, "vsock-flood"))
		return vep_hostile_vs_flood(h);

	hdr = vep_hostile_vs_hdr(h, 0, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_REQUEST,
			    VEP_HOSTILE_VS_NOBODY, 0);
	hlen = sizeof(*hdr);
	if (!strcmp(attack, "vsock-short")) {
		hlen = sizeof(*hdr) / 2;
	} else if (!strcmp(attack, "vsock-len")) {
		hdr->op = cpu_to_le16(VIRTIO_VSOCK_OP_RW);
		hdr->len = cpu_to_le32(1000);
	} else if (!strcmp(attack, "vsock-op")) {
		hdr->op = cpu_to_le16(42);
	} else if (!strcmp(attack, "vsock-cid")) {
		hdr->src_cid = cpu_to_le64(h->cid + 1);
		hdr = vep_hostile_vs_hdr(h, 1, &dma);
		vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_REQUEST,
				    VEP_HOSTILE_VS_NOBODY, 0);
		hdr->dst_cid = cpu_to_le64(h->cid);
		bad = 2;
	} else if (!strcmp(attack, "vsock-type")) {
		hdr->type = cpu_to_le16(42);
	} else {
		pr_err("unknown attack \"%s\"\n", attack);
		return -EINVAL;
	}
	hdr = vep_hostile_vs_hdr(h, bad, &dma);
	vep_hostile_vs_fill(h, hdr, VIRTIO_VSOCK_OP_REQUEST,
			    VEP_HOSTILE_VS_NOBODY, 0);

	for (i = 0; i < bad; i++)
		vep_hostile_vs_post(h, i, i ? sizeof(*hdr) : hlen, 0);
	vep_hostile_vs_post(h, bad, sizeof(*hdr), 0);

	/* What came back, or did not, is for the test to judge */
	vep_hostile_wait_used(h, 1, bad + 1, VEP_HOSTILE_FAIL_MS);
	vep_hostile_wait_used(h, 0, 1, VEP_HOSTILE_FAIL_MS);
	/* Anything more than the one reset would come now */
	msleep(VEP_HOSTILE_MIRROR_MS / 5);
	used = vep_hostile_used_idx(h, 1);
	replies = vep_hostile_used_idx(h, 0);
	reply = replies > 0 ? vep_hostile_vs_reply(h, 0) : NULL;
	reply_op = reply ? le16_to_cpu(reply->op) : -1;
	status = ioread8(h->regs + VIRTIO_PCI_STATUS);
	pr_info("%s: device status %#x, %d chain(s) back, %d packet(s) from the device, the first with op %d\n",
		attack, status, used, replies, reply_op);

	return 0;
}

/* desc-rewrite: see the top of the file */
static int vep_hostile_rewrite(struct vep_hostile *h)
{
	struct vring_desc *d = &h->vq[1].vr.desc[0];
	struct vring_used *u = h->vq[1].vr.used;
	unsigned long timeout, post_at;
	unsigned int flips = 0, flips_before = 0;
	bool posted = false;
	u8 s;

	vep_hostile_desc(h, 1, 0, h->buf_dma, 16, 0, 0);

	/*
	 * The chain is made available only once the switching runs at full
	 * speed: posted first, the device could read it before the loop's
	 * first pass (which a translating emulator makes slow).
	 */
	post_at = jiffies + msecs_to_jiffies(VEP_HOSTILE_FLIP_WARM_MS);
	timeout = jiffies + msecs_to_jiffies(VEP_HOSTILE_FLIP_MS);
	while (time_before(jiffies, timeout)) {
		WRITE_ONCE(d->len, (__force __virtio32)cpu_to_le32(0xfffff000));
		WRITE_ONCE(d->flags,
			   (__force __virtio16)cpu_to_le16(VRING_DESC_F_NEXT));
		WRITE_ONCE(d->len, (__force __virtio32)cpu_to_le32(16));
		WRITE_ONCE(d->flags, 0);
		flips++;
		if (!posted && time_after_eq(jiffies, post_at)) {
			vep_hostile_post(h, 1, 0, 1);
			posted = true;
			flips_before = flips;
		}
		if (!(flips % 1024))
			cond_resched();
	}
	/* A vCPU held off past the whole loop: the chain goes out sound */
	if (!posted) {
		vep_hostile_post(h, 1, 0, 1);
		flips_before = flips;
	}

	timeout = jiffies + msecs_to_jiffies(VEP_HOSTILE_FAIL_MS);
	do {
		msleep(20);
		s = ioread8(h->regs + VIRTIO_PCI_STATUS);
	} while (!(s & VIRTIO_CONFIG_S_NEEDS_RESET) && !READ_ONCE(u->idx) &&
		 time_before(jiffies, timeout));

	status = s;
	used = vep_hostile_used_idx(h, 1);
	pr_info("%s: %u switches, %u of them after the chain was posted, device status %#x, %d chain(s) back\n",
		attack, flips, flips - flips_before, status, used);

	return 0;
}

static int vep_hostile_request_irq(struct vep_hostile *h)
{
	struct pci_dev *pdev = h->pdev;
	int ret;

	if (!strcmp(irq, "msi")) {
		ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
		if (ret < 0)
			return ret;
		h->msi = true;
		h->irq = pci_irq_vector(pdev, 0);
	} else if (!strcmp(irq, "intx")) {
		h->irq = pdev->irq;
	} else {
		return -EINVAL;
	}

	ret = request_irq(h->irq, vep_hostile_irq, h->msi ? 0 : IRQF_SHARED,
			  KBUILD_MODNAME, h);
	if (ret) {
		h->irq = 0;
		if (h->msi)
			pci_free_irq_vectors(pdev);
	}

	return ret;
}

static void vep_hostile_free_irq(struct vep_hostile *h)
{
	if (h->irq)
		free_irq(h->irq, h);
	if (h->msi)
		pci_free_irq_vectors(h->pdev);
}

/* The first configuration bytes, where a driver with @msix or not reads them */
static void vep_hostile_read_cfg(struct vep_hostile *h, u8 *cfg, bool msix)
{
	int i;

	for (i = 0; i < VEP_HOSTILE_CFG; i++)
		cfg[i] = ioread8(h->regs + VIRTIO_PCI_CONFIG_OFF(msix) + i);
}

/* MSI-X on with every vector masked (@on), or back to @ctrl */
static void vep_hostile_msix(struct vep_hostile *h, u16 ctrl, bool on)
{
	if (on)
		ctrl |= PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
	pci_write_config_word(h->pdev, h->pdev->msix_cap + PCI_MSIX_FLAGS,
			      ctrl);
}

/*
 * Fail after the MSI-X vectors went in, as virtio_pci's probe does when a
 * queue cannot be set up, then wait for the configuration to come back.
 * Called after the ACKNOWLEDGE | DRIVER handshake.
 */
static int vep_hostile_msix_fail(struct vep_hostile *h)
{
	u8 before[VEP_HOSTILE_CFG], now[VEP_HOSTILE_CFG];
	int msix = h->pdev->msix_cap;
	void __iomem *r = h->regs;
	unsigned long start;
	u16 ctrl;

	if (!msix)
		return -ENODEV;
	vep_hostile_read_cfg(h, before, false);

	/*
	 * MSI-X on, every vector masked: the device sees what it would see
	 * from virtio_pci, and nothing is allocated that a driver-less device
	 * would keep (its MSI data is released only by a driver's unbind)
	 */
	pci_read_config_word(h->pdev, msix + PCI_MSIX_FLAGS, &ctrl);
	vep_hostile_msix(h, ctrl, true);
	iowrite16(0, r + VIRTIO_MSI_CONFIG_VECTOR);
	iowrite16(0, r + VIRTIO_PCI_QUEUE_SEL);
	iowrite16(1, r + VIRTIO_MSI_QUEUE_VECTOR);

	/* Queue 0 gave up: vectors off, MSI-X off, the device failed */
	iowrite16(VIRTIO_MSI_NO_VECTOR, r + VIRTIO_MSI_QUEUE_VECTOR);
	iowrite16(VIRTIO_MSI_NO_VECTOR, r + VIRTIO_MSI_CONFIG_VECTOR);
	vep_hostile_msix(h, ctrl, false);
	iowrite8(ioread8(r + VIRTIO_PCI_STATUS) | VIRTIO_CONFIG_S_FAILED,
		 r + VIRTIO_PCI_STATUS);

	start = jiffies;
	do {
		vep_hostile_read_cfg(h, now, false);
		if (!memcmp(now, before, sizeof(now))) {
			restored = jiffies_to_msecs(jiffies - start);
			break;
		}
		usleep_range(1000, 2000);
	} while (time_before(jiffies, start +
			     msecs_to_jiffies(VEP_HOSTILE_RESTORE_MS)));

	snprintf(config, sizeof(config), "%*phN", (int)sizeof(now), now);
	status = ioread8(r + VIRTIO_PCI_STATUS);
	pr_info("%s: configuration %s, back after %d ms\n", attack, config,
		restored);

	return 0;
}

/* Give queue @q its ring and MSI-X vector @vec, as setup_vq() does */
static int vep_hostile_msix_vq(struct vep_hostile *h, u16 q, u16 vec)
{
	int ret;

	ret = vep_hostile_setup_vq(h, q, 0);
	if (ret)
		return ret;
	iowrite16(vec, h->regs + VIRTIO_MSI_QUEUE_VECTOR);
	if (ioread16(h->regs + VIRTIO_MSI_QUEUE_VECTOR) != vec)
		return -EBUSY;

	return 0;
}

/*
 * A first attempt with a vector per queue that gives up at queue 1, then
 * a second one with a vector shared by the queues.  Called after the
 * ACKNOWLEDGE | DRIVER handshake.
 */
static int vep_hostile_msix_retry(struct vep_hostile *h)
{
	void __iomem *r = h->regs;
	u8 now[VEP_HOSTILE_CFG];
	int i, ret;
	u16 ctrl;

	if (!h->pdev->msix_cap)
		return -ENODEV;
	pci_read_config_word(h->pdev, h->pdev->msix_cap + PCI_MSIX_FLAGS,
			     &ctrl);
	ctrl &= ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	iowrite16(0, r + VIRTIO_PCI_QUEUE_SEL);
	h->num = ioread16(r + VIRTIO_PCI_QUEUE_NUM);
	if (!h->num || h->num & (h->num - 1))
		return -EINVAL;

	vep_hostile_msix(h, ctrl, true);
	iowrite16(0, r + VIRTIO_MSI_CONFIG_VECTOR);
	ret = vep_hostile_msix_vq(h, 0, 1);
	if (ret)
		goto out_msix_off;
	/* Queue 1 "read a QUEUE_PFN not 0": queue 0 goes, as in vp_del_vqs() */
	iowrite16(1, r + VIRTIO_PCI_QUEUE_SEL);
	iowrite16(0, r + VIRTIO_PCI_QUEUE_SEL);
	iowrite16(VIRTIO_MSI_NO_VECTOR, r + VIRTIO_MSI_QUEUE_VECTOR);
	ioread8(r + VIRTIO_PCI_ISR);
	iowrite32(0, r + VIRTIO_PCI_QUEUE_PFN);
	iowrite16(VIRTIO_MSI_NO_VECTOR, r + VIRTIO_MSI_CONFIG_VECTOR);
	vep_hostile_msix(h, ctrl, false);
	msleep(VEP_HOSTILE_RETRY_MS);

	vep_hostile_msix(h, ctrl, true);
	iowrite16(0, r + VIRTIO_MSI_CONFIG_VECTOR);
	for (i = 0; i < 2; i++) {
		ret = vep_hostile_msix_vq(h, i, 1);
		if (ret)
			goto out_msix_off;
	}
	iowrite8(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		 VIRTIO_CONFIG_S_DRIVER_OK, r + VIRTIO_PCI_STATUS);

	/* Time for the device to take DRIVER_OK, or to give up */
	msleep(VEP_HOSTILE_MIRROR_MS);
	status = ioread8(r + VIRTIO_PCI_STATUS);
	vep_hostile_read_cfg(h, now, true);
	snprintf(config, sizeof(config), "%*phN", (int)sizeof(now), now);
	pr_info("%s: device status %#x, configuration at 24 %s\n", attack,
		status, config);

out_msix_off:
	vep_hostile_msix(h, ctrl, false);
	return ret;
}

/* Count the MSI-X table's entries and the masked ones; writes nothing */
static int vep_hostile_msix_table(struct vep_hostile *h)
{
	struct pci_dev *pdev = h->pdev;
	int msix = pdev->msix_cap;
	void __iomem *table;
	u32 off, vctrl;
	u16 ctrl;
	u8 bir;
	int i;

	if (!msix)
		return -ENODEV;
	pci_read_config_word(pdev, msix + PCI_MSIX_FLAGS, &ctrl);
	pci_read_config_dword(pdev, msix + PCI_MSIX_TABLE, &off);
	bir = off & PCI_MSIX_TABLE_BIR;
	msix_entries = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	table = pci_iomap_range(pdev, bir, off & PCI_MSIX_TABLE_OFFSET,
				msix_entries * PCI_MSIX_ENTRY_SIZE);
	if (!table)
		return -ENOMEM;

	msix_masked = 0;
	for (i = 0; i < msix_entries; i++) {
		vctrl = ioread32(table + i * PCI_MSIX_ENTRY_SIZE +
				 PCI_MSIX_ENTRY_VECTOR_CTRL);
		if (vctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT)
			msix_masked++;
	}
	pci_iounmap(pdev, table);
	pr_info("%s: %d of %d MSI-X entries masked\n", attack, msix_masked,
		msix_entries);

	return 0;
}

/* reset-write (see the top of this file) */
static int vep_hostile_reset_write(struct vep_hostile *h)
{
	unsigned int n = min_t(unsigned int, h->num,
			       VEP_HOSTILE_BUF / VEP_HOSTILE_RW_LEN);
	struct vring *vr = &h->vq[0].vr;
	const u8 *p = h->buf;
	unsigned long timeout;
	unsigned int i;
	u16 idx;

	memset(h->buf, VEP_HOSTILE_POISON, VEP_HOSTILE_BUF);
	for (i = 0; i < n; i++) {
		vep_hostile_desc(h, 0, i, h->buf_dma + i * VEP_HOSTILE_RW_LEN,
				 VEP_HOSTILE_RW_LEN, VRING_DESC_F_WRITE, 0);
		vr->avail->ring[i] = (__force __virtio16)cpu_to_le16(i);
	}
	/* The entries must be visible before the index that covers them */
	dma_wmb();
	vr->avail->idx = (__force __virtio16)cpu_to_le16(n);
	iowrite16(0, h->regs + VIRTIO_PCI_QUEUE_NOTIFY);

	timeout = jiffies + msecs_to_jiffies(VEP_HOSTILE_FAIL_MS);
	while (!READ_ONCE(vr->used->idx)) {
		if (time_after(jiffies, timeout)) {
			pr_err("reset-write: the device gave no buffer back\n");
			return -ETIMEDOUT;
		}
		cond_resched();
		cpu_relax();
	}

	/* As virtio_pci resets: the status write, flushed by a read */
	iowrite8(0, h->regs + VIRTIO_PCI_STATUS);
	ioread8(h->regs + VIRTIO_PCI_STATUS);
	idx = vep_hostile_used_idx(h, 0);
	memset(h->buf, VEP_HOSTILE_POISON, VEP_HOSTILE_BUF);

	msleep(VEP_HOSTILE_MIRROR_MS);
	late = 0;
	for (i = 0; i < n * VEP_HOSTILE_RW_LEN; i++)
		late += p[i] != VEP_HOSTILE_POISON;
	used = (u16)(vep_hostile_used_idx(h, 0) - idx);
	early = idx;
	status = ioread8(h->regs + VIRTIO_PCI_STATUS);
	pr_info("reset-write: %u of %u buffers back before the reset; %d bytes written and %d buffers given back after it\n",
		idx, n, late, used);

	return 0;
}

static int vep_hostile_run(struct vep_hostile *h)
{
	bool behave = !strcmp(attack, "none");
	bool vsock = !strncmp(attack, "vsock-", 6);
	unsigned long timeout;
	int i, ret;
	u8 s;

	if (!strcmp(attack, "msix-table"))
		return vep_hostile_msix_table(h);

	/* Reset, then the legacy handshake */
	iowrite8(0, h->regs + VIRTIO_PCI_STATUS);
	iowrite8(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
		 h->regs + VIRTIO_PCI_STATUS);
	iowrite32(features & ioread32(h->regs + VIRTIO_PCI_HOST_FEATURES),
		  h->regs + VIRTIO_PCI_GUEST_FEATURES);

	if (!strcmp(attack, "msix-fail"))
		return vep_hostile_msix_fail(h);
	if (!strcmp(attack, "msix-retry"))
		return vep_hostile_msix_retry(h);

	iowrite16(0, h->regs + VIRTIO_PCI_QUEUE_SEL);
	h->num = ioread16(h->regs + VIRTIO_PCI_QUEUE_NUM);
	if (!h->num || h->num & (h->num - 1)) {
		dev_err(&h->pdev->dev, "bad queue size %u\n", h->num);
		return -EINVAL;
	}

	ret = vep_hostile_setup_vq(h, 0, strcmp(attack, "bad-pfn") ?
				   0 : 0x7ffffff0);
	if (ret)
		return ret;
	ret = vep_hostile_setup_vq(h, 1, 0);
	if (ret)
		return ret;
	if (vsock) {
		ret = vep_hostile_setup_vq(h, 2, 0);
		if (ret)
			return ret;
		h->cid = ioread32(h->regs + VIRTIO_PCI_CONFIG_OFF(false));
		h->cid |= (u64)ioread32(h->regs + VIRTIO_PCI_CONFIG_OFF(false) + 4) << 32;
	}

	if (behave) {
		ret = vep_hostile_request_irq(h);
		if (ret)
			return ret;
	}

	iowrite8(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		 VIRTIO_CONFIG_S_DRIVER_OK, h->regs + VIRTIO_PCI_STATUS);

	if (behave) {
		/* One receive buffer, so that the device can send */
		vep_hostile_desc(h, 0, 0, h->buf_dma, VEP_HOSTILE_BUF,
				 VRING_DESC_F_WRITE, 0);
		vep_hostile_post(h, 0, 0, 1);
		for (i = 0; i < 4; i++)
			iowrite8("VEP!"[i], h->regs + VIRTIO_PCI_CONFIG_OFF(false) +
				 VEP_HOSTILE_POKE + i);
		status = ioread8(h->regs + VIRTIO_PCI_STATUS);
		return 0;
	}

	if (vsock)
		return vep_hostile_vsock(h);

	if (!strncmp(attack, "net-", 4)) {
		if (!vep_hostile_bad_frame(h)) {
			pr_err("unknown attack \"%s\"\n", attack);
			return -EINVAL;
		}
		/* The device must give the chain back and go on */
		vep_hostile_wait_used(h, 1, 1, VEP_HOSTILE_FAIL_MS);
		used = vep_hostile_used_idx(h, 1);
		status = ioread8(h->regs + VIRTIO_PCI_STATUS);
		pr_info("%s: device status %#x, %d chain(s) back\n", attack,
			status, used);
		return 0;
	}

	if (!strcmp(attack, "desc-rewrite"))
		return vep_hostile_rewrite(h);
	if (!strcmp(attack, "reset-write"))
		return vep_hostile_reset_write(h);

	if (strcmp(attack, "bad-pfn") && !vep_hostile_break_ring(h)) {
		pr_err("unknown attack \"%s\"\n", attack);
		return -EINVAL;
	}

	/* A device that notices must say it needs a reset */
	timeout = jiffies + msecs_to_jiffies(VEP_HOSTILE_FAIL_MS);
	do {
		msleep(20);
		s = ioread8(h->regs + VIRTIO_PCI_STATUS);
	} while (!(s & VIRTIO_CONFIG_S_NEEDS_RESET) && time_before(jiffies, timeout));

	status = s;
	pr_info("%s: device status %#x%s\n", attack, s,
		s & VIRTIO_CONFIG_S_NEEDS_RESET ? " (needs reset)" : "");

	return 0;
}

static int __init vep_hostile_init(void)
{
	unsigned int domain, bus, slot, fn;
	struct vep_hostile *h;
	struct pci_dev *pdev;
	int ret;

	if (!dev || sscanf(dev, "%x:%x:%x.%x", &domain, &bus, &slot, &fn) != 4)
		return -EINVAL;

	pdev = pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	if (pdev->driver) {
		pci_err(pdev, "has a driver; unbind it first\n");
		ret = -EBUSY;
		goto err_put_dev;
	}

	h = kzalloc_obj(*h);
	if (!h) {
		ret = -ENOMEM;
		goto err_put_dev;
	}
	h->pdev = pdev;

	ret = pci_enable_device(pdev);
	if (ret)
		goto err_free_h;
	pci_set_master(pdev);

	h->regs = pci_iomap(pdev, 0, 0);
	if (!h->regs) {
		ret = -ENOMEM;
		goto err_disable_dev;
	}

	h->buf = dma_alloc_coherent(&pdev->dev, VEP_HOSTILE_BUF, &h->buf_dma,
				    GFP_KERNEL);
	if (!h->buf) {
		ret = -ENOMEM;
		goto err_unmap_regs;
	}

	/* Receive buffers and packet headers of the vsock attacks */
	h->rx = dma_alloc_coherent(&pdev->dev, 2 * VEP_HOSTILE_BUF, &h->rx_dma,
				   GFP_KERNEL);
	if (!h->rx) {
		ret = -ENOMEM;
		goto err_free_buf;
	}

	ret = vep_hostile_run(h);
	if (ret)
		goto err_reset_dev;

	vep_hostile_dev = h;

	return 0;

err_reset_dev:
	iowrite8(0, h->regs + VIRTIO_PCI_STATUS);
	/* The device notices a reset by polling: let it stop using the rings */
	msleep(100);
	vep_hostile_free_irq(h);
	vep_hostile_free_vqs(h);
	dma_free_coherent(&pdev->dev, 2 * VEP_HOSTILE_BUF, h->rx, h->rx_dma);
err_free_buf:
	dma_free_coherent(&pdev->dev, VEP_HOSTILE_BUF, h->buf, h->buf_dma);
err_unmap_regs:
	pci_iounmap(pdev, h->regs);
err_disable_dev:
	pci_clear_master(pdev);
	pci_disable_device(pdev);
err_free_h:
	kfree(h);
err_put_dev:
	pci_dev_put(pdev);
	return ret;
}

static void __exit vep_hostile_exit(void)
{
	struct vep_hostile *h = vep_hostile_dev;
	struct pci_dev *pdev = h->pdev;

	iowrite8(0, h->regs + VIRTIO_PCI_STATUS);
	msleep(100);
	vep_hostile_free_irq(h);
	vep_hostile_free_vqs(h);
	dma_free_coherent(&pdev->dev, 2 * VEP_HOSTILE_BUF, h->rx, h->rx_dma);
	dma_free_coherent(&pdev->dev, VEP_HOSTILE_BUF, h->buf, h->buf_dma);
	pci_iounmap(pdev, h->regs);
	pci_clear_master(pdev);
	pci_disable_device(pdev);
	kfree(h);
	pci_dev_put(pdev);
}

module_init(vep_hostile_init);
module_exit(vep_hostile_exit);

MODULE_DESCRIPTION("Host-side test driver that breaks the legacy virtio protocol");
MODULE_LICENSE("GPL");
