// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio network device behind a PCIe endpoint function, with a native
 * ethernet interface on the endpoint side.
 *
 * The host sees a legacy virtio-net device (one queue pair, no control
 * queue) and its stock virtio_net driver gives it an ethernet interface.
 * On the endpoint, each function instance is an ethernet interface,
 * epvnet<n>: what the host transmits is received there, what is sent there
 * lands in the host's receive buffers.  The frames are copied by the core's
 * poll thread; there is no second virtio device in between.
 *
 * Queue 0 is the host's receiveq (endpoint to host), queue 1 its transmitq
 * (host to endpoint).
 *
 * Policies:
 *  - The configfs "mac" is the host's address (VIRTIO_NET_F_MAC); the
 *    endpoint interface has its own.  The configfs "mtu" is the largest
 *    frame payload both ways (VIRTIO_NET_F_MTU): the host's interface
 *    starts with it and cannot go above it, the endpoint's takes it at
 *    bind and cannot go above it either.
 *  - The endpoint interface has carrier while the host driver has the
 *    device running (DRIVER_OK), and none otherwise.
 *  - Frames sent without carrier, and frames waiting for the host when it
 *    resets the device, are dropped and counted (tx_dropped).  While the
 *    host posts no receive buffers, frames wait in a short backlog and the
 *    stack is held back once it is full.
 *  - Host frames that are too short, too long or carry a header the
 *    negotiated features do not allow are dropped and counted (rx_errors);
 *    while the endpoint interface is down they are dropped (rx_dropped).
 *  - Checksum offload follows the features the host accepted: the host's
 *    partial checksums are passed up as such (VIRTIO_NET_F_CSUM), and the
 *    endpoint interface offers checksum offload only while the host takes
 *    partial checksums (VIRTIO_NET_F_GUEST_CSUM).
 *  - TCP segmentation offload both ways, as the host accepted it: host
 *    frames of up to 64 KiB with a GSO header (VIRTIO_NET_F_HOST_TSO4/6,
 *    HOST_ECN, with CSUM) become GSO skbs on the endpoint, their headers
 *    checked by the stack as any untrusted GSO packet's; the endpoint
 *    interface offers TSO while the host takes such frames
 *    (VIRTIO_NET_F_GUEST_TSO4/6, GUEST_ECN, with GUEST_CSUM), and a GSO skb
 *    built before the host stopped taking its kind is segmented here.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/hex.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/workqueue.h>
#include <net/gso.h>

/* MTU: default and limits of the configfs attribute */
#define EPF_VNET_MTU			ETH_DATA_LEN
#define EPF_VNET_MTU_MAX		65535

/* Largest frame on the link, without the virtio header */
#define EPF_VNET_FRAME(mtu)		((mtu) + ETH_HLEN + VLAN_HLEN)
#define EPF_VNET_FRAME_MAX		EPF_VNET_FRAME(EPF_VNET_MTU_MAX)

/* Device features this driver implements (and offers by default) */
#define EPF_VNET_FEATURES		(BIT(VIRTIO_NET_F_CSUM) |	\
					 BIT(VIRTIO_NET_F_GUEST_CSUM) |	\
					 BIT(VIRTIO_NET_F_MTU) |	\
					 BIT(VIRTIO_NET_F_MAC) |	\
					 BIT(VIRTIO_NET_F_MRG_RXBUF) |	\
					 BIT(VIRTIO_NET_F_STATUS) |	\
					 BIT(VIRTIO_NET_F_HOST_TSO4) |	\
					 BIT(VIRTIO_NET_F_HOST_TSO6) |	\
					 BIT(VIRTIO_NET_F_HOST_ECN) |	\
					 BIT(VIRTIO_NET_F_GUEST_TSO4) |	\
					 BIT(VIRTIO_NET_F_GUEST_TSO6) |	\
					 BIT(VIRTIO_NET_F_GUEST_ECN) |	\
					 BIT(VIRTIO_RING_F_EVENT_IDX) | \
					 BIT(VIRTIO_F_ANY_LAYOUT))

/* Device configuration: up to the MTU, which is all we offer */
#define EPF_VNET_CONFIG_SIZE		offsetofend(struct virtio_net_config, mtu)

/* Frames waiting for the host before the stack is held back */
#define EPF_VNET_TX_BACKLOG		256

/* Host frames waiting for NAPI before the poll thread stops taking more */
#define EPF_VNET_RX_BACKLOG		256

/* Host frames taken per process call before NAPI gets them */
#define EPF_VNET_RX_BATCH		64

/*
 * Most host receive buffers one frame may span with mergeable buffers.  A
 * stock host posts buffers of at least a full ethernet frame, so even a
 * 64 KiB frame needs far fewer; a host that posts tiny ones loses frames.
 */
#define EPF_VNET_TX_BUFS		EPF_VIRTIO_GROUP_MAX

/* Offloads of the endpoint interface that the host must take */
#define EPF_VNET_OFFLOADS		(NETIF_F_HW_CSUM | NETIF_F_SG |	\
					 NETIF_F_TSO | NETIF_F_TSO6 |	\
					 NETIF_F_TSO_ECN)

/* Largest frame with a segmentation offload, either way */
#define EPF_VNET_GSO_MAX		GSO_LEGACY_MAX_SIZE

/*
 * Host frames up to this size (a frame of the default MTU, header
 * included) go into one linear skb, a page fragment; larger ones (jumbo
 * and GSO frames) get a linear part of EPF_VNET_RX_HEAD bytes after the
 * virtio header, for the protocol headers, and the rest in pages: the
 * poll thread's atomic allocations stay within a page
 */
#define EPF_VNET_RX_LINEAR		2048
#define EPF_VNET_RX_HEAD		256

/* Virtqueues, named from the host's side */
#define EPF_VNET_Q_RX			0
#define EPF_VNET_Q_TX			1
#define EPF_VNET_NR_QUEUES		2

/* Counters beyond the interface's statistics, for ethtool -S */
enum epf_vnet_stat {
	EPF_VNET_RX_GSO,	/* host frames with segmentation offload */
	EPF_VNET_RX_BACKLOG_FULL, /* times host frames waited for NAPI */
	EPF_VNET_TX_GSO,	/* frames to the host with segmentation offload */
	EPF_VNET_TX_SEGMENTED,	/* GSO skbs segmented here for the host */
	EPF_VNET_TX_NO_BUFS,	/* passes that left a frame for want of host buffers */
	EPF_VNET_TX_STOPS,	/* times the stack was held back */
	EPF_VNET_NR_STATS,
};

static const char epf_vnet_stat_names[EPF_VNET_NR_STATS][ETH_GSTRING_LEN] = {
	[EPF_VNET_RX_GSO] = "rx0_gso_packets",
	[EPF_VNET_RX_BACKLOG_FULL] = "rx0_backlog_full",
	[EPF_VNET_TX_GSO] = "tx0_gso_packets",
	[EPF_VNET_TX_SEGMENTED] = "tx0_segmented",
	[EPF_VNET_TX_NO_BUFS] = "tx0_no_host_buffers",
	[EPF_VNET_TX_STOPS] = "tx0_queue_stops",
};

/* The interface's own statistics, as ethtool -S shows them too */
#define EPF_VNET_NETDEV_STATS	10

static const char epf_vnet_netdev_stat_names[EPF_VNET_NETDEV_STATS][ETH_GSTRING_LEN] = {
	"rx0_packets", "rx0_bytes", "rx0_errors", "rx0_length_errors",
	"rx0_header_errors", "rx0_dropped",
	"tx0_packets", "tx0_bytes", "tx0_errors", "tx0_dropped",
};

/**
 * struct epf_vnet - one network function instance
 * @epf: the endpoint function
 * @evd: the virtio device
 * @ndev: the endpoint interface; this structure is its private data
 * @napi: passes host frames up the endpoint's stack
 * @features_work: updates the interface's offloads after a host change
 * @cfs: configfs tunables; its lock also serializes @mac and @mtu
 * @mac: the host's MAC address
 * @mtu: largest frame payload on the link
 * @tx_queue: frames from the stack waiting for host receive buffers
 * @rx_queue: host frames waiting for NAPI
 * @rx_full: the poll thread stopped taking host frames for @rx_queue
 * @host_offloads: offloads of %EPF_VNET_OFFLOADS whose frames the host
 *	takes
 * @le: byte order of the host's virtio fields
 * @hdr_len: size of the virtio header before each frame
 * @mrg: mergeable receive buffers negotiated
 * @csum_in: the host may send partial checksums
 * @csum_out: the host takes partial checksums
 * @gso_in: VIRTIO_NET_HDR_GSO_* types the host may send, as bits
 * @ecn_in: the host may send TCP segments with ECN for segmentation
 * @rx_max: largest host frame accepted, header included
 * @rx_buf: host transmit chain being read
 * @rx_busy: @rx_buf holds a chain
 * @rx_skb: buffer for the frame of @rx_buf (header first)
 * @rx_done: bytes of @rx_skb read so far
 * @tx_skb: frame being written to the host
 * @tx_data: @tx_skb's bytes, in the skb or in @tx_bounce
 * @tx_bounce: contiguous copy of a fragmented frame
 * @tx_hdr: virtio header of @tx_skb
 * @tx_total: bytes to write for @tx_skb, header included
 * @tx_pos: bytes of @tx_total written so far
 * @tx_bufs: host receive chains for @tx_skb
 * @tx_len: bytes written into each of @tx_bufs
 * @tx_nbufs: chains in @tx_bufs
 * @tx_cur: chain of @tx_bufs being written
 * @tx_room: room in @tx_bufs
 * @rx_queued: frames went to @rx_queue since NAPI was last scheduled
 * @in_process: in the process callback (NAPI is scheduled at its end)
 * @stats: counters for ethtool -S, by enum epf_vnet_stat
 * @speed: link speed ethtool reports (SPEED_UNKNOWN until one is set)
 * @duplex: duplex ethtool reports
 *
 * The fields from @le on belong to the poll thread (process, activate and
 * reset callbacks).
 */
struct epf_vnet {
	struct pci_epf *epf;
	struct epf_virtio *evd;
	struct net_device *ndev;
	struct napi_struct napi;
	struct work_struct features_work;

	struct epf_virtio_cfs cfs;
	/* Under cfs.lock */
	u8 mac[ETH_ALEN];
	unsigned int mtu;

	/* Its own lock: start_xmit and reset vs the poll thread */
	struct sk_buff_head tx_queue;
	/* Its own lock: the poll thread vs NAPI and open/stop */
	struct sk_buff_head rx_queue;
	bool rx_full;
	netdev_features_t host_offloads;

	bool le;
	unsigned int hdr_len;
	bool mrg;
	bool csum_in;
	bool csum_out;
	unsigned int gso_in;
	bool ecn_in;
	unsigned int rx_max;
	struct epf_virtio_buf rx_buf;
	bool rx_busy;
	struct sk_buff *rx_skb;
	unsigned int rx_done;
	struct sk_buff *tx_skb;
	const u8 *tx_data;
	u8 *tx_bounce;
	struct virtio_net_hdr_mrg_rxbuf tx_hdr;
	unsigned int tx_total;
	unsigned int tx_pos;
	struct epf_virtio_buf *tx_bufs;
	u32 tx_len[EPF_VNET_TX_BUFS];
	unsigned int tx_nbufs;
	unsigned int tx_cur;
	size_t tx_room;
	bool rx_queued;
	bool in_process;

	atomic64_t stats[EPF_VNET_NR_STATS];
	/* Under the RTNL lock, as ethtool's callbacks are */
	u32 speed;
	u8 duplex;
};

static void epf_vnet_count(struct epf_vnet *vnet, enum epf_vnet_stat stat)
{
	atomic64_inc(&vnet->stats[stat]);
}

/* ------------------------------------------------------------------------
 * Data paths (poll thread)
 */

/* A dropped host frame's chain went back: its copies ended */
static void epf_vnet_rx_dropped(struct epf_virtio *evd, void *ctx, int err)
{
	dev_kfree_skb_any(ctx);
}

/*
 * Drop the host frame being read; its chain is given back empty, and its
 * buffer freed once no copy is in flight into it
 */
static void epf_vnet_rx_drop(struct epf_vnet *vnet,
			     struct epf_virtio_queue *vq)
{
	struct sk_buff *skb = vnet->rx_skb;

	vnet->rx_skb = NULL;
	vnet->rx_busy = false;
	epf_virtio_complete_async(vq, &vnet->rx_buf, 0, epf_vnet_rx_dropped,
				  skb);
}

/*
 * Whether a host frame's virtio header asks only for what the host
 * accepted: a partial checksum with VIRTIO_NET_F_CSUM, a negotiated GSO
 * type with a partial checksum (the spec's rule for drivers), a GSO size
 * and a header length within the frame (a hint, but one no sound driver
 * gets wrong), and a frame beyond the MTU only with GSO
 */
static bool epf_vnet_rx_hdr_ok(struct epf_vnet *vnet,
			       const struct virtio_net_hdr *hdr,
			       unsigned int len)
{
	u8 gso = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !vnet->csum_in)
		return false;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return !(hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
		       len <= EPF_VNET_FRAME(vnet->mtu);

	return gso < BITS_PER_TYPE(vnet->gso_in) &&
	       (vnet->gso_in & BIT(gso)) &&
	       (!(hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) || vnet->ecn_in) &&
	       (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	       __virtio16_to_cpu(vnet->le, hdr->gso_size) &&
	       __virtio16_to_cpu(vnet->le, hdr->hdr_len) <= len;
}

/* A host frame is in: check its header and queue it for NAPI */
static bool epf_vnet_rx_frame(struct epf_vnet *vnet, struct sk_buff *skb)
{
	struct net_device *ndev = vnet->ndev;
	struct virtio_net_hdr_mrg_rxbuf hdr;

	memcpy(&hdr, skb->data, vnet->hdr_len);
	__skb_pull(skb, vnet->hdr_len);

	if (!netif_running(ndev)) {
		DEV_STATS_INC(ndev, rx_dropped);
		goto drop;
	}

	/*
	 * The rest (offsets, sizes) the helper and the stack check.  A GSO
	 * header whose segment size is no smaller than the payload makes no
	 * GSO packet: then the frame must fit the MTU like any other.
	 */
	if (!epf_vnet_rx_hdr_ok(vnet, &hdr.hdr, skb->len) ||
	    virtio_net_hdr_to_skb(skb, &hdr.hdr, vnet->le) ||
	    (!skb_is_gso(skb) && skb->len > EPF_VNET_FRAME(vnet->mtu))) {
		net_dbg_ratelimited("%s: bad header from the host (flags %#x, gso %#x)\n",
				    ndev->name, hdr.hdr.flags,
				    hdr.hdr.gso_type);
		DEV_STATS_INC(ndev, rx_errors);
		DEV_STATS_INC(ndev, rx_frame_errors);
		goto drop;
	}

	if (skb_is_gso(skb))
		epf_vnet_count(vnet, EPF_VNET_RX_GSO);
	skb->protocol = eth_type_trans(skb, ndev);
	skb_queue_tail(&vnet->rx_queue, skb);

	return true;

drop:
	dev_kfree_skb_any(skb);
	return false;
}

/* A host frame's copy ended and its chain went back: on to NAPI */
static void epf_vnet_rx_done(struct epf_virtio *evd, void *ctx, int err)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);
	struct sk_buff *skb = ctx;

	if (err) {
		DEV_STATS_INC(vnet->ndev, rx_dropped);
		dev_kfree_skb_any(skb);
		return;
	}

	if (!epf_vnet_rx_frame(vnet, skb))
		return;

	/* Within process, once for all; else now */
	if (vnet->in_process) {
		vnet->rx_queued = true;
	} else {
		local_bh_disable();
		napi_schedule(&vnet->napi);
		local_bh_enable();
	}
}

/*
 * A buffer for a host frame of @len bytes, header included, all of it
 * filled in: linear up to EPF_VNET_RX_LINEAR, else EPF_VNET_RX_HEAD bytes
 * of frame in the linear part and the rest in pages
 */
static struct sk_buff *epf_vnet_rx_alloc(struct epf_vnet *vnet,
					 unsigned int len)
{
	unsigned int head = len <= EPF_VNET_RX_LINEAR ? len :
			    vnet->hdr_len + EPF_VNET_RX_HEAD;
	struct sk_buff *skb;
	unsigned int i;

	if (DIV_ROUND_UP(len - head, PAGE_SIZE) > MAX_SKB_FRAGS)
		return NULL;

	/* Keep the IP header aligned once the header is off */
	skb = netdev_alloc_skb(vnet->ndev, head + NET_IP_ALIGN + 3);
	if (!skb)
		return NULL;
	skb_reserve(skb, NET_IP_ALIGN + (-vnet->hdr_len & 3));
	skb_put(skb, head);

	for (i = 0, len -= head; len; i++) {
		unsigned int n = min_t(unsigned int, len, PAGE_SIZE);
		struct page *page = dev_alloc_page();

		if (!page) {
			kfree_skb(skb);
			return NULL;
		}
		skb_add_rx_frag(skb, i, page, 0, n, PAGE_SIZE);
		len -= n;
	}

	return skb;
}

/* Where byte @off of @skb goes, and how many bytes from there are its */
static u8 *epf_vnet_rx_dest(struct sk_buff *skb, unsigned int off,
			    unsigned int *room)
{
	unsigned int i;

	if (off < skb_headlen(skb)) {
		*room = skb_headlen(skb) - off;
		return skb->data + off;
	}
	off -= skb_headlen(skb);
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		skb_frag_t *frag = &skb_shinfo(skb)->frags[i];

		if (off < skb_frag_size(frag)) {
			*room = skb_frag_size(frag) - off;
			return skb_frag_address(frag) + off;
		}
		off -= skb_frag_size(frag);
	}

	*room = 0;
	return NULL;
}

/* Host transmitq to the endpoint's stack */
static bool epf_vnet_host_to_ep(struct epf_vnet *vnet)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vnet->evd,
							   EPF_VNET_Q_TX);
	struct net_device *ndev = vnet->ndev;
	unsigned int frames = 0, room;
	bool progress = false;
	struct sk_buff *skb;
	size_t len;
	ssize_t got;
	u8 *dest;
	int ret;

	while (frames < EPF_VNET_RX_BATCH) {
		if (!vnet->rx_busy) {
			if (skb_queue_len(&vnet->rx_queue) >=
			    EPF_VNET_RX_BACKLOG) {
				/* NAPI wakes us when it has caught up */
				if (!READ_ONCE(vnet->rx_full))
					epf_vnet_count(vnet,
						       EPF_VNET_RX_BACKLOG_FULL);
				WRITE_ONCE(vnet->rx_full, true);
				break;
			}

			ret = epf_virtio_getdesc(vq, &vnet->rx_buf);
			if (ret <= 0)
				break;
			vnet->rx_busy = true;
			vnet->rx_done = 0;
			progress = true;

			/* Never trust the host's lengths */
			len = epf_virtio_buf_readable(&vnet->rx_buf);
			if (len < vnet->hdr_len + ETH_HLEN || len > vnet->rx_max) {
				net_dbg_ratelimited("%s: host frame of %zu bytes\n",
						    ndev->name, len);
				DEV_STATS_INC(ndev, rx_errors);
				DEV_STATS_INC(ndev, rx_length_errors);
				epf_vnet_rx_drop(vnet, vq);
				continue;
			}

			skb = epf_vnet_rx_alloc(vnet, len);
			if (!skb) {
				DEV_STATS_INC(ndev, rx_dropped);
				epf_vnet_rx_drop(vnet, vq);
				continue;
			}
			vnet->rx_skb = skb;
		}

		skb = vnet->rx_skb;
		if (vnet->rx_done < skb->len) {
			/* The frame reaches NAPI once its copies ended */
			dest = epf_vnet_rx_dest(skb, vnet->rx_done, &room);
			got = epf_virtio_pull_async(vnet->evd, &vnet->rx_buf,
						    dest, room);
			if (got < 0)
				break;	/* Host memory out of reach: later */
			if (!got) {
				/* Cannot be: the chain was measured */
				DEV_STATS_INC(ndev, rx_errors);
				epf_vnet_rx_drop(vnet, vq);
				continue;
			}
			vnet->rx_done += got;
			progress = true;
			continue;
		}

		/* All of the frame is read or on its way: give the chain back */
		vnet->rx_skb = NULL;
		vnet->rx_busy = false;
		frames++;
		if (epf_virtio_complete_async(vq, &vnet->rx_buf, 0,
					      epf_vnet_rx_done, skb))
			break;
	}

	return progress;
}

/* Drop the frame being written to the host */
static void epf_vnet_tx_drop(struct epf_vnet *vnet, bool error)
{
	if (error)
		DEV_STATS_INC(vnet->ndev, tx_errors);
	else
		DEV_STATS_INC(vnet->ndev, tx_dropped);
	dev_kfree_skb_any(vnet->tx_skb);
	vnet->tx_skb = NULL;
}

/* A frame's chains went back to the host (or were dropped) */
static void epf_vnet_tx_sent(struct epf_virtio *evd, void *ctx, int err)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);
	struct sk_buff *skb = ctx;

	if (err) {
		DEV_STATS_INC(vnet->ndev, tx_dropped);
		dev_kfree_skb_any(skb);
		return;
	}

	DEV_STATS_INC(vnet->ndev, tx_packets);
	DEV_STATS_ADD(vnet->ndev, tx_bytes, skb->len);
	if (skb_is_gso(skb))
		epf_vnet_count(vnet, EPF_VNET_TX_GSO);
	dev_consume_skb_any(skb);
}

/* A frame that did not fit its chains is done with */
static void epf_vnet_tx_failed(struct epf_virtio *evd, void *ctx, int err)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);

	DEV_STATS_INC(vnet->ndev, tx_errors);
	dev_kfree_skb_any(ctx);
}

/*
 * Give back the chains of @tx_bufs with what was written into them, as one
 * frame; @done (if any) gets @skb once the last of them went back, its
 * copies ended
 */
static int epf_vnet_tx_complete(struct epf_vnet *vnet,
				struct epf_virtio_queue *vq,
				epf_virtio_done_t done, struct sk_buff *skb)
{
	int ret;

	ret = epf_virtio_complete_group(vq, vnet->tx_bufs, vnet->tx_len,
					vnet->tx_nbufs, done, skb);
	memset(vnet->tx_len, 0, vnet->tx_nbufs * sizeof(*vnet->tx_len));
	vnet->tx_nbufs = 0;
	vnet->tx_cur = 0;
	vnet->tx_room = 0;

	return ret;
}

/* The host's features for what the endpoint sends: NETIF_F_* */
static netdev_features_t epf_vnet_host_takes(struct epf_virtio *evd)
{
	netdev_features_t f = 0;

	if (!epf_virtio_has_feature(evd, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	f |= NETIF_F_HW_CSUM | NETIF_F_SG;
	if (epf_virtio_has_feature(evd, VIRTIO_NET_F_GUEST_TSO4))
		f |= NETIF_F_TSO;
	if (epf_virtio_has_feature(evd, VIRTIO_NET_F_GUEST_TSO6))
		f |= NETIF_F_TSO6;
	if ((f & (NETIF_F_TSO | NETIF_F_TSO6)) &&
	    epf_virtio_has_feature(evd, VIRTIO_NET_F_GUEST_ECN))
		f |= NETIF_F_TSO_ECN;

	return f;
}

/*
 * A GSO skb whose kind the host does not take (any more): segment it, and
 * queue the segments in its place.  False if it has to be dropped.
 */
static bool epf_vnet_tx_segment(struct epf_vnet *vnet, struct sk_buff *skb)
{
	netdev_features_t f = vnet->csum_out ? NETIF_F_HW_CSUM | NETIF_F_SG : 0;
	struct sk_buff *segs, *seg, *next;
	struct sk_buff_head list;
	unsigned long flags;

	segs = skb_gso_segment(skb, f);
	if (IS_ERR_OR_NULL(segs))
		return false;

	__skb_queue_head_init(&list);
	skb_list_walk_safe(segs, seg, next) {
		skb_mark_not_on_list(seg);
		__skb_queue_tail(&list, seg);
	}
	spin_lock_irqsave(&vnet->tx_queue.lock, flags);
	skb_queue_splice(&list, &vnet->tx_queue);
	spin_unlock_irqrestore(&vnet->tx_queue.lock, flags);
	consume_skb(skb);
	epf_vnet_count(vnet, EPF_VNET_TX_SEGMENTED);

	return true;
}

/* Whether the host takes @skb's segmentation offload (set at activation) */
static bool epf_vnet_tx_gso_ok(struct epf_vnet *vnet, struct sk_buff *skb)
{
	return skb_gso_ok(skb, READ_ONCE(vnet->host_offloads));
}

/* Take the next frame from the stack and get its header ready */
static bool epf_vnet_tx_next(struct epf_vnet *vnet)
{
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&vnet->tx_queue))) {
		vnet->tx_skb = skb;

		if (skb_is_gso(skb) && !epf_vnet_tx_gso_ok(vnet, skb)) {
			vnet->tx_skb = NULL;
			if (!epf_vnet_tx_segment(vnet, skb)) {
				vnet->tx_skb = skb;
				epf_vnet_tx_drop(vnet, true);
			}
			continue;
		}

		if (skb->len > (skb_is_gso(skb) ? EPF_VNET_GSO_MAX :
				EPF_VNET_FRAME(vnet->mtu))) {
			epf_vnet_tx_drop(vnet, false);
			continue;
		}

		/* Offloads may have changed since the stack built it */
		if (skb->ip_summed == CHECKSUM_PARTIAL && !vnet->csum_out &&
		    skb_checksum_help(skb)) {
			epf_vnet_tx_drop(vnet, true);
			continue;
		}

		if (virtio_net_hdr_from_skb(skb, &vnet->tx_hdr.hdr, vnet->le,
					    vnet->csum_out, 0)) {
			epf_vnet_tx_drop(vnet, true);
			continue;
		}
		vnet->tx_hdr.num_buffers = 0;

		/*
		 * The frame in one piece: its own, for a DMA copy left in
		 * flight, else the bounce buffer
		 */
		if (skb_is_nonlinear(skb) &&
		    (!epf_virtio_dma_wants(vnet->evd, skb->len) ||
		     skb_shared(skb) || skb_linearize(skb))) {
			skb_copy_bits(skb, 0, vnet->tx_bounce, skb->len);
			vnet->tx_data = vnet->tx_bounce;
		} else {
			vnet->tx_data = skb->data;
		}
		vnet->tx_total = vnet->hdr_len + skb->len;
		vnet->tx_pos = 0;

		return true;
	}

	return false;
}

/*
 * Take host receive buffers for the frame until they can hold it, header
 * included (a single one without mergeable buffers).  False if the host has
 * none posted for now.  More than EPF_VNET_TX_BUFS of them are too small to
 * be real: they go back and the frame is dropped (@tx_skb is then NULL).
 */
static bool epf_vnet_tx_take_bufs(struct epf_vnet *vnet,
				  struct epf_virtio_queue *vq)
{
	struct epf_virtio_buf *buf;

	while (vnet->tx_pos == 0 &&
	       (!vnet->tx_nbufs ||
		(vnet->mrg && vnet->tx_room < vnet->tx_total))) {
		if (vnet->tx_nbufs == EPF_VNET_TX_BUFS) {
			epf_vnet_tx_complete(vnet, vq, NULL, NULL);
			epf_vnet_tx_drop(vnet, true);
			return true;
		}
		buf = &vnet->tx_bufs[vnet->tx_nbufs];
		if (epf_virtio_getdesc(vq, buf) <= 0)
			return false;
		vnet->tx_room += epf_virtio_buf_writable(buf);
		vnet->tx_nbufs++;
	}

	return true;
}

/*
 * Write the header, then the frame, across the buffers taken, from where
 * the last call stopped.  Returns 0 (@tx_pos short of @tx_total if the
 * buffers ran out), or a negative error code if host memory is out of
 * reach for now.
 */
static int epf_vnet_tx_write(struct epf_vnet *vnet)
{
	struct epf_virtio_buf *buf;
	unsigned int len;
	const u8 *src;
	ssize_t n;

	while (vnet->tx_pos < vnet->tx_total) {
		buf = &vnet->tx_bufs[vnet->tx_cur];
		if (vnet->tx_pos < vnet->hdr_len) {
			src = (const u8 *)&vnet->tx_hdr + vnet->tx_pos;
			len = vnet->hdr_len - vnet->tx_pos;
			n = epf_virtio_push(vnet->evd, buf, src, len);
		} else {
			src = vnet->tx_data + vnet->tx_pos - vnet->hdr_len;
			len = vnet->tx_total - vnet->tx_pos;
			/* The skb stays until its chains went back */
			if (vnet->tx_data == vnet->tx_bounce)
				n = epf_virtio_push(vnet->evd, buf, src, len);
			else
				n = epf_virtio_push_async(vnet->evd, buf, src,
							  len);
		}

		if (n < 0)
			return n;
		if (!n) {
			/* This buffer is full: on to the next */
			if (vnet->tx_cur + 1 >= vnet->tx_nbufs)
				break;	/* Cannot be: room was counted */
			vnet->tx_cur++;
			continue;
		}
		vnet->tx_len[vnet->tx_cur] += n;
		vnet->tx_pos += n;
	}

	return 0;
}

/* Endpoint frames to the host receiveq */
static bool epf_vnet_ep_to_host(struct epf_vnet *vnet)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vnet->evd,
							   EPF_VNET_Q_RX);
	struct net_device *ndev = vnet->ndev;
	bool progress = false;
	struct sk_buff *skb;

	for (;;) {
		if (!vnet->tx_skb && !epf_vnet_tx_next(vnet))
			break;

		if (!epf_vnet_tx_take_bufs(vnet, vq)) {
			/* The host posted none */
			epf_vnet_count(vnet, EPF_VNET_TX_NO_BUFS);
			break;
		}
		if (!vnet->tx_skb) {
			progress = true;	/* Dropped */
			continue;
		}

		if (vnet->tx_pos == 0 && vnet->tx_room < vnet->tx_total) {
			/* One buffer per frame, and this one is too short */
			epf_vnet_tx_drop(vnet, false);
			progress = true;
			continue;
		}

		if (vnet->tx_pos == 0 && vnet->mrg)
			vnet->tx_hdr.num_buffers =
				__cpu_to_virtio16(vnet->le, vnet->tx_nbufs);

		if (epf_vnet_tx_write(vnet) < 0)
			break;		/* Host memory out of reach */
		/* Copies of the frame may be in flight: the skb goes with them */
		skb = vnet->tx_skb;
		vnet->tx_skb = NULL;
		progress = true;
		if (vnet->tx_pos < vnet->tx_total) {
			/* Not a cut frame to the host: the chains go back empty */
			memset(vnet->tx_len, 0,
			       vnet->tx_nbufs * sizeof(*vnet->tx_len));
			epf_vnet_tx_complete(vnet, vq, epf_vnet_tx_failed, skb);
			continue;
		}
		if (epf_vnet_tx_complete(vnet, vq, epf_vnet_tx_sent, skb))
			break;
	}

	/* Room again for the stack (also after start_xmit stopped it) */
	if (netif_queue_stopped(ndev) &&
	    skb_queue_len(&vnet->tx_queue) < EPF_VNET_TX_BACKLOG / 2) {
		local_bh_disable();
		netif_wake_queue(ndev);
		local_bh_enable();
	}

	return progress;
}

static bool epf_vnet_process(struct epf_virtio *evd)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);
	bool progress;

	vnet->in_process = true;
	progress = epf_vnet_host_to_ep(vnet);
	progress |= epf_vnet_ep_to_host(vnet);
	vnet->in_process = false;

	/* Frames whose chains went back, here or at the last retire */
	if (vnet->rx_queued) {
		vnet->rx_queued = false;
		/* Not in softirq context: let NAPI run when BHs come back */
		local_bh_disable();
		napi_schedule(&vnet->napi);
		local_bh_enable();
	}

	return progress;
}

static int epf_vnet_activate(struct epf_virtio *evd)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);

	vnet->le = EPF_VIRTIO_HOST_LE;
	vnet->mrg = epf_virtio_has_feature(evd, VIRTIO_NET_F_MRG_RXBUF);
	vnet->hdr_len = vnet->mrg ? sizeof(struct virtio_net_hdr_mrg_rxbuf) :
				    sizeof(struct virtio_net_hdr);
	vnet->csum_in = epf_virtio_has_feature(evd, VIRTIO_NET_F_CSUM);
	vnet->csum_out = epf_virtio_has_feature(evd, VIRTIO_NET_F_GUEST_CSUM);
	vnet->gso_in = 0;
	if (vnet->csum_in &&
	    epf_virtio_has_feature(evd, VIRTIO_NET_F_HOST_TSO4))
		vnet->gso_in |= BIT(VIRTIO_NET_HDR_GSO_TCPV4);
	if (vnet->csum_in &&
	    epf_virtio_has_feature(evd, VIRTIO_NET_F_HOST_TSO6))
		vnet->gso_in |= BIT(VIRTIO_NET_HDR_GSO_TCPV6);
	vnet->ecn_in = vnet->gso_in &&
		       epf_virtio_has_feature(evd, VIRTIO_NET_F_HOST_ECN);
	vnet->rx_max = vnet->hdr_len +
		       max_t(unsigned int, EPF_VNET_FRAME(vnet->mtu),
			     vnet->gso_in ? EPF_VNET_GSO_MAX : 0);
	vnet->rx_busy = false;
	vnet->tx_nbufs = 0;
	vnet->tx_cur = 0;
	vnet->tx_room = 0;
	/* A reset drops chains with lengths written into them: all go */
	memset(vnet->tx_len, 0, sizeof(vnet->tx_len));

	WRITE_ONCE(vnet->host_offloads, epf_vnet_host_takes(evd));
	schedule_work(&vnet->features_work);

	netif_carrier_on(vnet->ndev);
	epf_virtio_wake(evd);

	netdev_dbg(vnet->ndev, "host driver up\n");

	return 0;
}

static void epf_vnet_reset(struct epf_virtio *evd)
{
	struct epf_vnet *vnet = epf_virtio_priv(evd);
	struct net_device *ndev = vnet->ndev;
	unsigned int i, dropped = 0;
	struct sk_buff *skb;

	netif_carrier_off(ndev);

	/* The chains are gone with the host's queues */
	if (vnet->rx_busy) {
		epf_virtio_buf_release(&vnet->rx_buf);
		vnet->rx_busy = false;
	}
	dev_kfree_skb_any(vnet->rx_skb);
	vnet->rx_skb = NULL;

	for (i = 0; i < vnet->tx_nbufs; i++)
		epf_virtio_buf_release(&vnet->tx_bufs[i]);
	vnet->tx_nbufs = 0;
	vnet->tx_cur = 0;
	vnet->tx_room = 0;

	/* Nobody to send the backlog to */
	if (vnet->tx_skb) {
		dev_kfree_skb_any(vnet->tx_skb);
		vnet->tx_skb = NULL;
		dropped++;
	}
	while ((skb = skb_dequeue(&vnet->tx_queue))) {
		dev_kfree_skb_any(skb);
		dropped++;
	}
	DEV_STATS_ADD(ndev, tx_dropped, dropped);

	local_bh_disable();
	netif_wake_queue(ndev);
	local_bh_enable();

	WRITE_ONCE(vnet->host_offloads, 0);
	schedule_work(&vnet->features_work);

	netdev_dbg(ndev, "host driver gone, %u frames dropped\n", dropped);
}

static const struct epf_virtio_ops epf_vnet_virtio_ops = {
	.activate = epf_vnet_activate,
	.reset = epf_vnet_reset,
	.process = epf_vnet_process,
};

static const struct epf_virtio_info epf_vnet_info = {
	.virtio_id = VIRTIO_ID_NET,
	.pci_device_id = VIRTIO_TRANS_ID_NET,
	.pci_class = PCI_CLASS_NETWORK_ETHERNET << 8,
	.nvqs = EPF_VNET_NR_QUEUES,
	.config_size = EPF_VNET_CONFIG_SIZE,
	.features = EPF_VNET_FEATURES,
	.ops = &epf_vnet_virtio_ops,
};

/* The device configuration from the tunables; caller holds cfs.lock */
static void epf_vnet_set_config(struct epf_vnet *vnet)
{
	bool le = EPF_VIRTIO_HOST_LE;
	struct virtio_net_config cfg = {
		.status = __cpu_to_virtio16(le, VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = __cpu_to_virtio16(le, 1),
		.mtu = __cpu_to_virtio16(le, vnet->mtu),
	};

	lockdep_assert_held(&vnet->cfs.lock);
	ether_addr_copy(cfg.mac, vnet->mac);
	epf_virtio_config_set(vnet->evd, 0, &cfg, EPF_VNET_CONFIG_SIZE, false);
}

/* ------------------------------------------------------------------------
 * Network interface
 */

static void epf_vnet_features_work(struct work_struct *work)
{
	struct epf_vnet *vnet = container_of(work, struct epf_vnet,
					     features_work);

	rtnl_lock();
	netdev_update_features(vnet->ndev);
	rtnl_unlock();
}

/* Host NAPI: the frames the poll thread queued */
static int epf_vnet_napi_poll(struct napi_struct *napi, int budget)
{
	struct epf_vnet *vnet = container_of(napi, struct epf_vnet, napi);
	struct net_device *ndev = vnet->ndev;
	struct sk_buff *skb;
	int done = 0;

	while (done < budget && (skb = skb_dequeue(&vnet->rx_queue))) {
		DEV_STATS_INC(ndev, rx_packets);
		DEV_STATS_ADD(ndev, rx_bytes, skb->len + ETH_HLEN);
		napi_gro_receive(napi, skb);
		done++;
	}

	if (done < budget && napi_complete_done(napi, done) &&
	    !skb_queue_empty(&vnet->rx_queue))
		napi_schedule(napi);

	if (READ_ONCE(vnet->rx_full) &&
	    skb_queue_len(&vnet->rx_queue) < EPF_VNET_RX_BACKLOG / 2) {
		WRITE_ONCE(vnet->rx_full, false);
		epf_virtio_wake(vnet->evd);
	}

	return done;
}

static int epf_vnet_open(struct net_device *ndev)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	/* Frames left from before the interface went down are stale */
	skb_queue_purge(&vnet->rx_queue);
	napi_enable(&vnet->napi);
	netif_start_queue(ndev);

	/* Host frames may be waiting */
	WRITE_ONCE(vnet->rx_full, false);
	epf_virtio_wake(vnet->evd);

	return 0;
}

static int epf_vnet_stop(struct net_device *ndev)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	netif_stop_queue(ndev);
	napi_disable(&vnet->napi);
	skb_queue_purge(&vnet->rx_queue);

	return 0;
}

static netdev_tx_t epf_vnet_start_xmit(struct sk_buff *skb,
				       struct net_device *ndev)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	if (!netif_carrier_ok(ndev)) {
		DEV_STATS_INC(ndev, tx_dropped);
		dev_kfree_skb_any(skb);
		return NETDEV_TX_OK;
	}

	skb_queue_tail(&vnet->tx_queue, skb);
	if (skb_queue_len(&vnet->tx_queue) >= EPF_VNET_TX_BACKLOG) {
		netif_stop_queue(ndev);
		epf_vnet_count(vnet, EPF_VNET_TX_STOPS);
	}

	/*
	 * One wake-up for a batch: the stack says when more frames follow at
	 * once.  The poll thread also restarts the queue if it drained
	 * meanwhile.
	 */
	if (!netdev_xmit_more() || netif_queue_stopped(ndev))
		epf_virtio_wake(vnet->evd);

	return NETDEV_TX_OK;
}

static netdev_features_t epf_vnet_fix_features(struct net_device *ndev,
					       netdev_features_t features)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	features &= ~(EPF_VNET_OFFLOADS & ~READ_ONCE(vnet->host_offloads));

	return features;
}

static void epf_vnet_get_drvinfo(struct net_device *ndev,
				 struct ethtool_drvinfo *info)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, dev_name(&vnet->epf->dev),
		sizeof(info->bus_info));
}

static int epf_vnet_get_sset_count(struct net_device *ndev, int sset)
{
	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;

	return EPF_VNET_NETDEV_STATS + EPF_VNET_NR_STATS;
}

static void epf_vnet_get_strings(struct net_device *ndev, u32 sset, u8 *data)
{
	unsigned int i;

	if (sset != ETH_SS_STATS)
		return;

	for (i = 0; i < EPF_VNET_NETDEV_STATS; i++)
		ethtool_puts(&data, epf_vnet_netdev_stat_names[i]);
	for (i = 0; i < EPF_VNET_NR_STATS; i++)
		ethtool_puts(&data, epf_vnet_stat_names[i]);
}

static void epf_vnet_get_ethtool_stats(struct net_device *ndev,
				       struct ethtool_stats *stats, u64 *data)
{
	struct epf_vnet *vnet = netdev_priv(ndev);
	struct rtnl_link_stats64 st;
	unsigned int i;

	dev_get_stats(ndev, &st);
	*data++ = st.rx_packets;
	*data++ = st.rx_bytes;
	*data++ = st.rx_errors;
	*data++ = st.rx_length_errors;
	*data++ = st.rx_frame_errors;
	*data++ = st.rx_dropped;
	*data++ = st.tx_packets;
	*data++ = st.tx_bytes;
	*data++ = st.tx_errors;
	*data++ = st.tx_dropped;
	for (i = 0; i < EPF_VNET_NR_STATS; i++)
		*data++ = atomic64_read(&vnet->stats[i]);
}

static int epf_vnet_get_link_ksettings(struct net_device *ndev,
				       struct ethtool_link_ksettings *cmd)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	cmd->base.speed = vnet->speed;
	cmd->base.duplex = vnet->duplex;
	cmd->base.port = PORT_OTHER;

	return 0;
}

/* A speed to report, for tools that want one: the link has none of its own */
static int epf_vnet_set_link_ksettings(struct net_device *ndev,
				       const struct ethtool_link_ksettings *cmd)
{
	struct epf_vnet *vnet = netdev_priv(ndev);

	return ethtool_virtdev_set_link_ksettings(ndev, cmd, &vnet->speed,
						  &vnet->duplex);
}

static const struct ethtool_ops epf_vnet_ethtool_ops = {
	.get_drvinfo = epf_vnet_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = epf_vnet_get_sset_count,
	.get_strings = epf_vnet_get_strings,
	.get_ethtool_stats = epf_vnet_get_ethtool_stats,
	.get_link_ksettings = epf_vnet_get_link_ksettings,
	.set_link_ksettings = epf_vnet_set_link_ksettings,
};

static const struct net_device_ops epf_vnet_netdev_ops = {
	.ndo_open = epf_vnet_open,
	.ndo_stop = epf_vnet_stop,
	.ndo_start_xmit = epf_vnet_start_xmit,
	.ndo_fix_features = epf_vnet_fix_features,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

/* ------------------------------------------------------------------------
 * configfs tunables
 */

static inline struct epf_vnet *epf_vnet_from_item(struct config_item *item)
{
	return container_of(epf_virtio_cfs_from_item(item), struct epf_vnet,
			    cfs);
}

static ssize_t epf_vnet_mac_show(struct config_item *item, char *page)
{
	struct epf_vnet *vnet = epf_vnet_from_item(item);
	ssize_t ret;

	mutex_lock(&vnet->cfs.lock);
	ret = sysfs_emit(page, "%pM\n", vnet->mac);
	mutex_unlock(&vnet->cfs.lock);

	return ret;
}

static ssize_t epf_vnet_mac_store(struct config_item *item,
				  const char *page, size_t len)
{
	struct epf_vnet *vnet = epf_vnet_from_item(item);
	size_t n = strcspn(page, "\n");
	u8 mac[ETH_ALEN];
	int ret = 0;

	/* "xx:xx:xx:xx:xx:xx" of a unicast address, a newline allowed */
	if (n != MAC_ADDR_STR_LEN || len > n + 1 || !mac_pton(page, mac) ||
	    !is_valid_ether_addr(mac))
		return -EINVAL;

	mutex_lock(&vnet->cfs.lock);
	if (epf_virtio_cfs_locked_out(&vnet->cfs)) {
		ret = -EBUSY;
	} else {
		ether_addr_copy(vnet->mac, mac);
		epf_vnet_set_config(vnet);
	}
	mutex_unlock(&vnet->cfs.lock);

	return ret ? ret : len;
}

CONFIGFS_ATTR(epf_vnet_, mac);

static ssize_t epf_vnet_mtu_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%u\n", epf_vnet_from_item(item)->mtu);
}

static ssize_t epf_vnet_mtu_store(struct config_item *item,
				  const char *page, size_t len)
{
	struct epf_vnet *vnet = epf_vnet_from_item(item);
	unsigned int val;
	int ret;

	ret = kstrtouint(page, 0, &val);
	if (ret)
		return ret;

	mutex_lock(&vnet->cfs.lock);
	if (epf_virtio_cfs_locked_out(&vnet->cfs)) {
		ret = -EBUSY;
	} else if (val < ETH_MIN_MTU || val > EPF_VNET_MTU_MAX) {
		ret = -EINVAL;
	} else {
		vnet->mtu = val;
		epf_vnet_set_config(vnet);
	}
	mutex_unlock(&vnet->cfs.lock);

	return ret ? ret : len;
}

CONFIGFS_ATTR(epf_vnet_, mtu);

static ssize_t epf_vnet_ifindex_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%d\n", epf_vnet_from_item(item)->ndev->ifindex);
}

CONFIGFS_ATTR_RO(epf_vnet_, ifindex);

static struct configfs_attribute *epf_vnet_attrs[] = {
	&epf_vnet_attr_mac,
	&epf_vnet_attr_mtu,
	&epf_virtio_cfs_attr_queue_size,
	&epf_virtio_cfs_attr_features,
	&epf_virtio_cfs_attr_poll_cpu,
	&epf_virtio_cfs_attr_dma_threshold,
	&epf_virtio_cfs_attr_dma_rings,
	&epf_vnet_attr_ifindex,
	NULL,
};

static const struct config_item_type epf_vnet_group_type = {
	.ct_attrs = epf_vnet_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *epf_vnet_add_cfs(struct pci_epf *epf,
					     struct config_group *group)
{
	struct epf_vnet *vnet = epf_virtio_priv(epf_virtio_from_epf(epf));

	config_group_init_type_name(&vnet->cfs.group, "vnet",
				    &epf_vnet_group_type);

	return &vnet->cfs.group;
}

/* ------------------------------------------------------------------------
 * Endpoint function driver
 */

static int epf_vnet_bind(struct pci_epf *epf)
{
	struct epf_vnet *vnet = epf_virtio_priv(epf_virtio_from_epf(epf));
	struct net_device *ndev = vnet->ndev;
	int ret;

	mutex_lock(&vnet->cfs.lock);

	/* The endpoint interface takes the link's MTU */
	rtnl_lock();
	ndev->max_mtu = vnet->mtu;
	ret = dev_set_mtu(ndev, vnet->mtu);
	rtnl_unlock();
	if (ret) {
		dev_err(&epf->dev, "Failed to set the MTU of %s (err=%d)\n",
			ndev->name, ret);
		goto out_unlock;
	}

	ret = epf_virtio_cfs_bind(&vnet->cfs, vnet->evd);

out_unlock:
	mutex_unlock(&vnet->cfs.lock);

	return ret;
}

static void epf_vnet_unbind(struct pci_epf *epf)
{
	struct epf_vnet *vnet = epf_virtio_priv(epf_virtio_from_epf(epf));

	epf_virtio_cfs_unbind(&vnet->cfs, vnet->evd);
}

static void epf_vnet_free_bufs(struct epf_vnet *vnet)
{
	unsigned int i;

	for (i = 0; i < EPF_VNET_TX_BUFS; i++)
		epf_virtio_buf_release(&vnet->tx_bufs[i]);
	epf_virtio_buf_release(&vnet->rx_buf);
	kfree(vnet->tx_bufs);
	kvfree(vnet->tx_bounce);
}

static int epf_vnet_probe(struct pci_epf *epf,
			  const struct pci_epf_device_id *id)
{
	struct net_device *ndev;
	struct epf_virtio *evd;
	struct epf_vnet *vnet;
	unsigned int i;
	int ret;

	ndev = alloc_netdev(sizeof(*vnet), "epvnet%d", NET_NAME_ENUM,
			    ether_setup);
	if (!ndev)
		return -ENOMEM;
	SET_NETDEV_DEV(ndev, &epf->dev);

	vnet = netdev_priv(ndev);
	vnet->epf = epf;
	vnet->ndev = ndev;
	vnet->mtu = EPF_VNET_MTU;
	epf_virtio_cfs_init(&vnet->cfs, epf, EPF_VNET_FEATURES);
	eth_random_addr(vnet->mac);
	skb_queue_head_init(&vnet->tx_queue);
	skb_queue_head_init(&vnet->rx_queue);
	INIT_WORK(&vnet->features_work, epf_vnet_features_work);
	epf_virtio_buf_init(&vnet->rx_buf);

	vnet->tx_bufs = kcalloc(EPF_VNET_TX_BUFS, sizeof(*vnet->tx_bufs),
				GFP_KERNEL);
	/* A GSO skb goes out through the bounce buffer if need be */
	BUILD_BUG_ON(EPF_VNET_GSO_MAX > EPF_VNET_FRAME_MAX);
	vnet->tx_bounce = kvmalloc(EPF_VNET_FRAME_MAX, GFP_KERNEL);
	if (!vnet->tx_bufs || !vnet->tx_bounce) {
		ret = -ENOMEM;
		goto err_free_bufs;
	}
	for (i = 0; i < EPF_VNET_TX_BUFS; i++)
		epf_virtio_buf_init(&vnet->tx_bufs[i]);

	evd = epf_virtio_create(epf, &epf_vnet_info, vnet);
	if (IS_ERR(evd)) {
		ret = PTR_ERR(evd);
		goto err_free_bufs;
	}
	vnet->evd = evd;
	mutex_lock(&vnet->cfs.lock);
	epf_vnet_set_config(vnet);
	mutex_unlock(&vnet->cfs.lock);

	ndev->netdev_ops = &epf_vnet_netdev_ops;
	ndev->ethtool_ops = &epf_vnet_ethtool_ops;
	vnet->speed = SPEED_UNKNOWN;
	vnet->duplex = DUPLEX_UNKNOWN;
	ndev->min_mtu = ETH_MIN_MTU;
	ndev->max_mtu = vnet->mtu;
	ndev->hw_features = EPF_VNET_OFFLOADS;
	ndev->features = EPF_VNET_OFFLOADS;
	ndev->vlan_features = EPF_VNET_OFFLOADS;
	netif_set_tso_max_size(ndev, EPF_VNET_GSO_MAX);
	eth_hw_addr_random(ndev);
	netif_napi_add(ndev, &vnet->napi, epf_vnet_napi_poll);
	netif_carrier_off(ndev);

	ret = register_netdev(ndev);
	if (ret) {
		dev_err(&epf->dev, "Failed to register the interface (err=%d)\n",
			ret);
		goto err_destroy_virtio;
	}

	dev_info(&epf->dev, "%s\n", ndev->name);

	return 0;

err_destroy_virtio:
	netif_napi_del(&vnet->napi);
	epf_virtio_destroy(evd);
err_free_bufs:
	epf_vnet_free_bufs(vnet);
	free_netdev(ndev);
	return ret;
}

static void epf_vnet_remove(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_virtio_from_epf(epf);
	struct epf_vnet *vnet = epf_virtio_priv(evd);
	struct net_device *ndev = vnet->ndev;

	/* Unbound already: nothing schedules the work any more */
	cancel_work_sync(&vnet->features_work);
	unregister_netdev(ndev);
	epf_virtio_destroy(evd);

	skb_queue_purge(&vnet->rx_queue);
	skb_queue_purge(&vnet->tx_queue);
	dev_kfree_skb_any(vnet->rx_skb);
	dev_kfree_skb_any(vnet->tx_skb);
	epf_vnet_free_bufs(vnet);
	free_netdev(ndev);
}

static const struct pci_epf_device_id epf_vnet_ids[] = {
	{ .name = "pci_epf_vnet" },
	{},
};

static const struct pci_epf_ops epf_vnet_ops = {
	.bind = epf_vnet_bind,
	.unbind = epf_vnet_unbind,
	.add_cfs = epf_vnet_add_cfs,
};

static struct pci_epf_driver epf_vnet_driver = {
	.driver.name = "pci_epf_vnet",
	.probe = epf_vnet_probe,
	.remove = epf_vnet_remove,
	.id_table = epf_vnet_ids,
	.ops = &epf_vnet_ops,
	.owner = THIS_MODULE,
};

static int __init epf_vnet_init(void)
{
	int ret;

	ret = pci_epf_register_driver(&epf_vnet_driver);
	if (ret)
		pr_err("Failed to register the function driver (err=%d)\n",
		       ret);

	return ret;
}
module_init(epf_vnet_init);

static void __exit epf_vnet_exit(void)
{
	pci_epf_unregister_driver(&epf_vnet_driver);
}
module_exit(epf_vnet_exit);

MODULE_DESCRIPTION("Virtio network PCIe endpoint function with a native interface");
MODULE_LICENSE("GPL");
