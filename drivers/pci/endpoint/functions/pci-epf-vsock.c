// SPDX-License-Identifier: GPL-2.0
/*
 * Virtio socket device behind a PCIe endpoint function: AF_VSOCK between
 * a PCIe host and its endpoint, with the endpoint in the hypervisor's role.
 *
 * The host sees a legacy virtio-vsock device, and its stock
 * vmw_vsock_virtio_transport driver takes the guest CID of the device
 * configuration (configfs "guest_cid", default 3).  The endpoint registers
 * the kernel's host-to-guest vsock transport, built on
 * virtio_transport_common as vhost_vsock's is: its sockets reach the host
 * at that CID, and the host's reach the endpoint at CID 2
 * (VMADDR_CID_HOST).  The core's poll thread moves each packet between the
 * host's rings and the sockets; there is no second virtio device.
 *
 * Queue 0 is the host's rx queue (endpoint to host), queue 1 its tx queue
 * (host to endpoint), queue 2 its event queue, whose buffers stay with the
 * device: no event is ever sent.
 *
 * Policies:
 *  - A kernel has one host-to-guest transport.  The first function bound
 *    registers it and the last one unbound gives it back; a bind fails if
 *    another module (vhost_vsock) holds it.  Each bound function serves
 *    one guest CID, which no other bound function may have.
 *  - Packets for a CID whose host driver is not running wait, as they
 *    would for a virtual machine not started yet; when the host driver
 *    resets the device, goes away with the link, or the function is
 *    unbound, the packets waiting for it are dropped and the endpoint's
 *    sockets connected to it are reset (ECONNRESET): none hangs.  A
 *    socket still connecting waits out its connect timeout.
 *  - Host packets are checked before the sockets see them: a header
 *    beyond its buffer, a payload larger than a packet may be, a source
 *    other than the guest CID or a destination other than the host, a
 *    socket type or an operation the device does not implement.  Each is
 *    dropped and counted by cause (configfs "dropped").
 *  - Replies the sockets owe the host (a reset for a connection request
 *    to a port nobody listens on, for one) are bounded: while a queue's
 *    worth of them waits for host buffers, the host's tx queue is not
 *    read, as vhost_vsock does.  A host flooding requests holds itself up.
 *    While two queues' worth of packets of any kind wait, its credit
 *    requests are dropped (counted): what answers them is no reply.
 *  - Credit-based flow control is the sockets' (virtio_transport_common);
 *    a packet beyond the credit the socket gave is dropped there.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci-epf.h>
#include <linux/pci-epf-virtio.h>
#include <linux/pci_ids.h>
#include <linux/rculist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <net/af_vsock.h>
#include <net/net_namespace.h>

/* vsock has no transitional device ID: any of the range binds legacy */
#define EPF_VSOCK_PCI_DEVICE_ID		0x1012

#define EPF_VSOCK_Q_RX			0
#define EPF_VSOCK_Q_TX			1
#define EPF_VSOCK_Q_EVENT		2
#define EPF_VSOCK_NR_QUEUES		3

#define EPF_VSOCK_FEATURES		(BIT(VIRTIO_VSOCK_F_SEQPACKET) | \
					 BIT(VIRTIO_RING_F_EVENT_IDX))

/* The guest CID when none is set */
#define EPF_VSOCK_DEFAULT_CID		3

/* Host packets taken, and host buffers filled, per pass: each way its turn */
#define EPF_VSOCK_BUDGET		64

/*
 * While this many queues' worth of packets wait for the host's buffers,
 * its credit requests are dropped: the credit updates that answer them
 * are no replies, so the bound on replies does not hold them back
 */
#define EPF_VSOCK_BACKLOG_QUEUES	2

/* Why a host packet was dropped: the lines of configfs "dropped" */
enum {
	EPF_VSOCK_DROP_SHORT,
	EPF_VSOCK_DROP_LEN,
	EPF_VSOCK_DROP_CID,
	EPF_VSOCK_DROP_TYPE,
	EPF_VSOCK_DROP_OP,
	EPF_VSOCK_DROP_BACKLOG,
	EPF_VSOCK_DROP_RXBUF,
	EPF_VSOCK_DROP_NR,
};

static const char * const epf_vsock_drop_names[EPF_VSOCK_DROP_NR] = {
	[EPF_VSOCK_DROP_SHORT]	= "header_beyond_buffer",
	[EPF_VSOCK_DROP_LEN]	= "bad_length",
	[EPF_VSOCK_DROP_CID]	= "bad_cid",
	[EPF_VSOCK_DROP_TYPE]	= "bad_type",
	[EPF_VSOCK_DROP_OP]	= "bad_op",
	[EPF_VSOCK_DROP_BACKLOG] = "credit_request_backlogged",
	[EPF_VSOCK_DROP_RXBUF]	= "host_buffer_too_small",
};

/**
 * struct epf_vsock - one function: one host, one guest CID
 * @epf: the endpoint function
 * @evd: its virtio device
 * @cfs: configfs tunables; its lock also serializes @guest_cid
 * @guest_cid: the host's CID; fixed while bound
 * @node: in epf_vsock_bound while bound (RCU for the transport's lookups)
 * @running: the host driver has the device running (DRIVER_OK)
 * @seqpacket: ... and accepted VIRTIO_VSOCK_F_SEQPACKET
 * @send_queue: packets for the host, from the sockets; its own lock
 * @replies: reply packets in @send_queue and @out_skb (hence its lock)
 * @to_host: the host rx chain being filled, while @to_host_busy
 * @to_host_busy: @to_host holds a chain
 * @out_skb: the packet going into @to_host, out of @send_queue
 * @out_hdr: the header of its piece in @to_host
 * @out_data: the payload of that piece (in @out_skb, or in @bounce)
 * @out_part: payload bytes of that piece
 * @out_sent: bytes of the piece (header first) in @to_host so far
 * @from_host: the host tx chain being read, while @from_host_busy
 * @from_host_busy: @from_host holds a chain
 * @in_hdr: the header of the packet in @from_host, in memory of its own
 *	(the core may copy into it by DMA)
 * @in_hdr_got: header bytes read so far
 * @in_skb: the packet read from @from_host, its header in place
 * @in_len: its payload length
 * @in_got: payload bytes read so far
 * @bounce: the payload of a piece of a nonlinear packet, on its way out
 * @dropped: host packets dropped, by cause
 *
 * Everything from @to_host on belongs to the poll thread.  A copy that
 * cannot be done now (host memory out of reach) goes on from where it
 * stopped at the next pass.
 */
struct epf_vsock {
	struct pci_epf *epf;
	struct epf_virtio *evd;
	struct epf_virtio_cfs cfs;
	u32 guest_cid;
	struct list_head node;
	bool running;
	bool seqpacket;
	struct sk_buff_head send_queue;
	atomic_t replies;
	struct epf_virtio_buf to_host;
	bool to_host_busy;
	struct sk_buff *out_skb;
	struct virtio_vsock_hdr out_hdr;
	const void *out_data;
	u32 out_part;
	u32 out_sent;
	struct epf_virtio_buf from_host;
	bool from_host_busy;
	struct virtio_vsock_hdr *in_hdr;
	u32 in_hdr_got;
	struct sk_buff *in_skb;
	u32 in_len;
	u32 in_got;
	u8 *bounce;
	atomic64_t dropped[EPF_VSOCK_DROP_NR];
};

/* Bound functions; the mutex serializes bind and unbind, RCU the lookups */
static DEFINE_MUTEX(epf_vsock_lock);
static LIST_HEAD(epf_vsock_bound);
static unsigned int epf_vsock_nr_bound;

static struct virtio_transport epf_vsock_transport;

/* The bound function serving @cid, or NULL; caller holds rcu_read_lock() */
static struct epf_vsock *epf_vsock_find(u64 cid)
{
	struct epf_vsock *vsock;

	list_for_each_entry_rcu(vsock, &epf_vsock_bound, node)
		if (vsock->guest_cid == cid)
			return vsock;

	return NULL;
}

static void epf_vsock_drop(struct epf_vsock *vsock, int why)
{
	atomic64_inc(&vsock->dropped[why]);
	dev_dbg_ratelimited(&vsock->epf->dev, "Host packet dropped: %s\n",
			    epf_vsock_drop_names[why]);
}

/* ------------------------------------------------------------------------
 * The transport: the endpoint's sockets
 */

static u32 epf_vsock_get_local_cid(void)
{
	return VMADDR_CID_HOST;
}

/*
 * Any port of any CID the socket layer picked this transport for, from a
 * socket of a namespace that may reach hosts
 */
static bool epf_vsock_stream_allow(struct vsock_sock *vsk, u32 cid, u32 port)
{
	return vsock_net_mode_global(vsk);
}

static bool epf_vsock_seqpacket_allow(struct vsock_sock *vsk, u32 cid)
{
	struct epf_vsock *vsock;
	bool allow = false;

	if (!vsock_net_mode_global(vsk))
		return false;

	rcu_read_lock();
	vsock = epf_vsock_find(cid);
	if (vsock)
		allow = READ_ONCE(vsock->seqpacket);
	rcu_read_unlock();

	return allow;
}

/*
 * MSG_ZEROCOPY sends: the pages of such a packet are copied into the
 * host's buffers like any other's, and it completes once sent
 */
static bool epf_vsock_msgzerocopy_allow(void)
{
	return true;
}

/* A packet from a socket, for the host at its destination CID */
static int epf_vsock_send_pkt(struct sk_buff *skb, struct net *net)
{
	struct virtio_vsock_hdr *hdr = virtio_vsock_hdr(skb);
	struct epf_vsock *vsock;
	int len = skb->len;

	rcu_read_lock();
	vsock = epf_vsock_find(le64_to_cpu(hdr->dst_cid));
	if (!vsock) {
		rcu_read_unlock();
		kfree_skb(skb);
		return -ENODEV;
	}

	spin_lock_bh(&vsock->send_queue.lock);
	if (virtio_vsock_skb_reply(skb))
		atomic_inc(&vsock->replies);
	__skb_queue_tail(&vsock->send_queue, skb);
	spin_unlock_bh(&vsock->send_queue.lock);
	epf_virtio_wake(vsock->evd);
	rcu_read_unlock();

	return len;
}

/* A socket goes away: its packets still waiting go too */
static int epf_vsock_cancel_pkt(struct vsock_sock *vsk)
{
	struct epf_vsock *vsock;
	int n;

	rcu_read_lock();
	vsock = epf_vsock_find(vsk->remote_addr.svm_cid);
	if (vsock) {
		n = virtio_transport_purge_skbs(vsk, &vsock->send_queue);
		/* Host packets are read again once the replies drop */
		if (n && atomic_sub_return(n, &vsock->replies) <
			 (int)vsock->cfs.params.queue_size)
			epf_virtio_wake(vsock->evd);
	}
	rcu_read_unlock();

	return vsock ? 0 : -ENODEV;
}

static struct virtio_transport epf_vsock_transport = {
	.transport = {
		.module			= THIS_MODULE,

		/*
		 * No has_remote_cid: every CID above the host's comes here,
		 * which is what the host's side of a PCIe link wants
		 */
		.get_local_cid		= epf_vsock_get_local_cid,

		.init			= virtio_transport_do_socket_init,
		.destruct		= virtio_transport_destruct,
		.release		= virtio_transport_release,
		.connect		= virtio_transport_connect,
		.shutdown		= virtio_transport_shutdown,
		.cancel_pkt		= epf_vsock_cancel_pkt,

		.dgram_enqueue		= virtio_transport_dgram_enqueue,
		.dgram_dequeue		= virtio_transport_dgram_dequeue,
		.dgram_bind		= virtio_transport_dgram_bind,
		.dgram_allow		= virtio_transport_dgram_allow,

		.stream_enqueue		= virtio_transport_stream_enqueue,
		.stream_dequeue		= virtio_transport_stream_dequeue,
		.stream_has_data	= virtio_transport_stream_has_data,
		.stream_has_space	= virtio_transport_stream_has_space,
		.stream_rcvhiwat	= virtio_transport_stream_rcvhiwat,
		.stream_is_active	= virtio_transport_stream_is_active,
		.stream_allow		= epf_vsock_stream_allow,

		.seqpacket_dequeue	= virtio_transport_seqpacket_dequeue,
		.seqpacket_enqueue	= virtio_transport_seqpacket_enqueue,
		.seqpacket_allow	= epf_vsock_seqpacket_allow,
		.seqpacket_has_data	= virtio_transport_seqpacket_has_data,

		.msgzerocopy_allow	= epf_vsock_msgzerocopy_allow,

		.notify_poll_in		= virtio_transport_notify_poll_in,
		.notify_poll_out	= virtio_transport_notify_poll_out,
		.notify_recv_init	= virtio_transport_notify_recv_init,
		.notify_recv_pre_block	= virtio_transport_notify_recv_pre_block,
		.notify_recv_pre_dequeue = virtio_transport_notify_recv_pre_dequeue,
		.notify_recv_post_dequeue = virtio_transport_notify_recv_post_dequeue,
		.notify_send_init	= virtio_transport_notify_send_init,
		.notify_send_pre_block	= virtio_transport_notify_send_pre_block,
		.notify_send_pre_enqueue = virtio_transport_notify_send_pre_enqueue,
		.notify_send_post_enqueue = virtio_transport_notify_send_post_enqueue,
		.notify_buffer_size	= virtio_transport_notify_buffer_size,
		.notify_set_rcvlowat	= virtio_transport_notify_set_rcvlowat,

		.unsent_bytes		= virtio_transport_unsent_bytes,
		.read_skb		= virtio_transport_read_skb,
	},

	.send_pkt = epf_vsock_send_pkt,
};

/*
 * Reset a socket whose peer is a host no function serves running any more.
 * Called under the vsock table's lock, which keeps the socket alive; the
 * socket's own lock is not taken, as vhost_vsock and vmci do.
 */
static void epf_vsock_reset_orphan(struct sock *sk)
{
	struct vsock_sock *vsk = vsock_sk(sk);
	struct epf_vsock *vsock;
	bool running;

	rcu_read_lock();
	vsock = epf_vsock_find(vsk->remote_addr.svm_cid);
	running = vsock && READ_ONCE(vsock->running);
	rcu_read_unlock();
	/* Its close is on its way already: let it end as it would */
	if (running || vsk->close_work_scheduled)
		return;

	sock_set_flag(sk, SOCK_DONE);
	vsk->peer_shutdown = SHUTDOWN_MASK;
	sk->sk_state = TCP_CLOSE;
	sk->sk_err = ECONNRESET;
	sk_error_report(sk);
}

/* ------------------------------------------------------------------------
 * The host's rings
 */

/* Whether the host's packet header @hdr may go to the sockets */
static int epf_vsock_hdr_check(struct epf_vsock *vsock,
			       const struct virtio_vsock_hdr *hdr,
			       size_t readable)
{
	u32 len = le32_to_cpu(hdr->len);
	u16 type = le16_to_cpu(hdr->type);
	u16 op = le16_to_cpu(hdr->op);

	if (len > VIRTIO_VSOCK_MAX_PKT_BUF_SIZE || len > readable)
		return EPF_VSOCK_DROP_LEN;
	if (le64_to_cpu(hdr->src_cid) != vsock->guest_cid ||
	    le64_to_cpu(hdr->dst_cid) != VMADDR_CID_HOST)
		return EPF_VSOCK_DROP_CID;
	if (type != VIRTIO_VSOCK_TYPE_STREAM &&
	    (type != VIRTIO_VSOCK_TYPE_SEQPACKET ||
	     !epf_virtio_has_feature(vsock->evd, VIRTIO_VSOCK_F_SEQPACKET)))
		return EPF_VSOCK_DROP_TYPE;
	if (op < VIRTIO_VSOCK_OP_REQUEST || op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return EPF_VSOCK_DROP_OP;

	return -1;
}

/* Where payload byte @off of a packet being read goes, and room there */
static void *epf_vsock_skb_at(struct sk_buff *skb, u32 off, u32 *room)
{
	unsigned int i;

	if (!skb_is_nonlinear(skb)) {
		*room = skb_tailroom(skb) - off;
		return skb->data + off;
	}

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

/* Too many answers wait for the host's buffers */
static bool epf_vsock_send_backlog(struct epf_vsock *vsock)
{
	return skb_queue_len_lockless(&vsock->send_queue) >=
	       EPF_VSOCK_BACKLOG_QUEUES * vsock->cfs.params.queue_size;
}

/*
 * The header of the host tx chain being read, checked, and an skb for its
 * payload.  Returns 0 with a packet to read, -EAGAIN to go on at the next
 * pass (host memory out of reach, or no memory for the skb: the chain is
 * kept, nothing is lost), or -EBADMSG if the chain was dropped.
 */
static int epf_vsock_in_start(struct epf_vsock *vsock,
			      struct epf_virtio_queue *vq)
{
	struct epf_virtio_buf *buf = &vsock->from_host;
	struct virtio_vsock_hdr *hdr = vsock->in_hdr;
	struct sk_buff *skb;
	ssize_t n;
	int why;

	while (vsock->in_hdr_got < sizeof(*hdr)) {
		n = epf_virtio_pull(vsock->evd, buf,
				    (u8 *)hdr + vsock->in_hdr_got,
				    sizeof(*hdr) - vsock->in_hdr_got);
		if (n <= 0)
			return -EAGAIN;
		vsock->in_hdr_got += n;
	}

	why = epf_vsock_hdr_check(vsock, hdr, epf_virtio_buf_readable(buf));
	/*
	 * A credit update answers each credit request and is no reply: a
	 * host that asks and never reads could make the queue grow
	 */
	if (why < 0 && epf_vsock_send_backlog(vsock) &&
	    le16_to_cpu(hdr->op) == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		why = EPF_VSOCK_DROP_BACKLOG;
	if (why >= 0) {
		dev_dbg_ratelimited(&vsock->epf->dev,
				    "Host packet %llu:%u -> %llu:%u, type %u op %u, %u bytes\n",
				    le64_to_cpu(hdr->src_cid),
				    le32_to_cpu(hdr->src_port),
				    le64_to_cpu(hdr->dst_cid),
				    le32_to_cpu(hdr->dst_port),
				    le16_to_cpu(hdr->type), le16_to_cpu(hdr->op),
				    le32_to_cpu(hdr->len));
		epf_vsock_drop(vsock, why);
		vsock->from_host_busy = false;
		epf_virtio_complete(vq, buf, 0);
		return -EBADMSG;
	}

	skb = virtio_vsock_alloc_skb(VIRTIO_VSOCK_SKB_HEADROOM +
				     le32_to_cpu(hdr->len), GFP_KERNEL);
	if (!skb)
		return -EAGAIN;
	memcpy(virtio_vsock_hdr(skb), hdr, sizeof(*hdr));
	vsock->in_skb = skb;
	vsock->in_len = le32_to_cpu(hdr->len);
	vsock->in_got = 0;

	return 0;
}

/*
 * One packet from the host's tx queue to the sockets, or the rest of one.
 * Returns true if a chain went back to the host.
 */
static bool epf_vsock_from_host_one(struct epf_vsock *vsock,
				    struct epf_virtio_queue *vq)
{
	struct epf_virtio_buf *buf = &vsock->from_host;
	struct sk_buff *skb;
	u32 room;
	void *dst;
	ssize_t n;
	int ret;

	if (!vsock->from_host_busy) {
		if (epf_virtio_getdesc(vq, buf) <= 0)
			return false;
		vsock->from_host_busy = true;
		vsock->in_hdr_got = 0;
		if (epf_virtio_buf_readable(buf) < sizeof(*vsock->in_hdr)) {
			epf_vsock_drop(vsock, EPF_VSOCK_DROP_SHORT);
			vsock->from_host_busy = false;
			epf_virtio_complete(vq, buf, 0);
			return true;
		}
	}
	if (!vsock->in_skb) {
		ret = epf_vsock_in_start(vsock, vq);
		if (ret)
			return ret == -EBADMSG;
	}

	skb = vsock->in_skb;
	while (vsock->in_got < vsock->in_len) {
		dst = epf_vsock_skb_at(skb, vsock->in_got, &room);
		if (WARN_ON_ONCE(!dst || !room))
			return false;
		n = epf_virtio_pull(vsock->evd, buf, dst,
				    min(room, vsock->in_len - vsock->in_got));
		if (n <= 0)
			return false;	/* Out of reach: from here later */
		vsock->in_got += n;
	}
	if (vsock->in_len)
		virtio_vsock_skb_put(skb, vsock->in_len);

	vsock->in_skb = NULL;
	vsock->from_host_busy = false;
	epf_virtio_complete(vq, buf, 0);
	virtio_transport_deliver_tap_pkt(skb);
	virtio_transport_recv_pkt(&epf_vsock_transport, skb, &init_net);

	return true;
}

/*
 * Too many replies wait for the host's buffers to read more of its
 * packets: each request of a host that never reads its rx queue would add
 * one (vhost_vsock stops there too).  Only replies: packets the sockets
 * send on their own wait for the host, and a host waits for its own
 * replies to be read before it reads its rx queue again.
 */
static bool epf_vsock_backlogged(struct epf_vsock *vsock)
{
	return atomic_read(&vsock->replies) >=
	       (int)vsock->cfs.params.queue_size;
}

static bool epf_vsock_from_host(struct epf_vsock *vsock)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vsock->evd,
							   EPF_VSOCK_Q_TX);
	unsigned int n = 0;

	/* What the sockets owe the host waits for its buffers first */
	while (n < EPF_VSOCK_BUDGET && !epf_vsock_backlogged(vsock)) {
		if (!epf_vsock_from_host_one(vsock, vq))
			break;
		n++;
	}

	return n;
}

/* The packet going out is all with the host: the next one may come */
static void epf_vsock_out_done(struct epf_vsock *vsock)
{
	struct sk_buff *skb = vsock->out_skb;

	vsock->out_skb = NULL;
	if (virtio_vsock_skb_reply(skb)) {
		spin_lock_bh(&vsock->send_queue.lock);
		atomic_dec(&vsock->replies);
		spin_unlock_bh(&vsock->send_queue.lock);
	}
	virtio_transport_consume_skb_sent(skb, true);
}

/*
 * The next piece of the packet going out: as much of it as the host rx
 * chain holds after a header of its own.  A packet larger than the chain
 * goes in pieces; the message boundaries of a seqpacket go with the last.
 * Returns false (the chain given back unused) if it holds no header.
 */
static bool epf_vsock_out_plan(struct epf_vsock *vsock,
			       struct epf_virtio_queue *vq)
{
	struct sk_buff *skb = vsock->out_skb;
	size_t room = epf_virtio_buf_writable(&vsock->to_host);
	u32 off = VIRTIO_VSOCK_SKB_CB(skb)->offset;

	if (room < sizeof(vsock->out_hdr)) {
		/* No driver posts such buffers */
		epf_vsock_drop(vsock, EPF_VSOCK_DROP_RXBUF);
		vsock->to_host_busy = false;
		epf_virtio_complete(vq, &vsock->to_host, 0);
		return false;
	}

	vsock->out_hdr = *virtio_vsock_hdr(skb);
	vsock->out_part = min_t(size_t, skb->len - off,
				room - sizeof(vsock->out_hdr));
	if (off + vsock->out_part < skb->len)
		vsock->out_hdr.flags &= ~cpu_to_le32(VIRTIO_VSOCK_SEQ_EOM |
						     VIRTIO_VSOCK_SEQ_EOR);
	vsock->out_hdr.len = cpu_to_le32(vsock->out_part);
	vsock->out_sent = 0;

	vsock->out_data = skb->data + off;
	if (skb_is_nonlinear(skb)) {
		/* Copied out once: the piece may take several passes */
		if (WARN_ON_ONCE(skb_copy_bits(skb, off, vsock->bounce,
					       vsock->out_part))) {
			/* The packet is lost, its chain given back empty */
			vsock->to_host_busy = false;
			epf_virtio_complete(vq, &vsock->to_host, 0);
			epf_vsock_out_done(vsock);
			return false;
		}
		vsock->out_data = vsock->bounce;
	}

	return true;
}

/*
 * The packet going out, or the first one waiting, into the host's next rx
 * chain.  Returns true if a chain went back to the host.
 */
static bool epf_vsock_to_host_one(struct epf_vsock *vsock,
				  struct epf_virtio_queue *vq)
{
	struct epf_virtio_buf *buf = &vsock->to_host;
	const u32 hlen = sizeof(vsock->out_hdr);
	const void *src;
	u32 len;
	ssize_t n;

	/*
	 * A packet leaves the queue only once a host buffer is there for it:
	 * until then a socket that goes away takes it back (cancel_pkt)
	 */
	if (!vsock->out_skb) {
		if (skb_queue_empty_lockless(&vsock->send_queue))
			return false;
		if (!vsock->to_host_busy) {
			if (epf_virtio_getdesc(vq, buf) <= 0)
				return false;
			vsock->to_host_busy = true;
		}
		vsock->out_skb = virtio_vsock_skb_dequeue(&vsock->send_queue);
		if (!vsock->out_skb)
			return false;
		if (!epf_vsock_out_plan(vsock, vq))
			return true;
	} else if (!vsock->to_host_busy) {
		/* The rest of a packet larger than the last buffer */
		if (epf_virtio_getdesc(vq, buf) <= 0)
			return false;
		vsock->to_host_busy = true;
		if (!epf_vsock_out_plan(vsock, vq))
			return true;
	}

	while (vsock->out_sent < hlen + vsock->out_part) {
		if (vsock->out_sent < hlen) {
			src = (const u8 *)&vsock->out_hdr + vsock->out_sent;
			len = hlen - vsock->out_sent;
		} else {
			src = vsock->out_data + vsock->out_sent - hlen;
			len = hlen + vsock->out_part - vsock->out_sent;
		}
		n = epf_virtio_push(vsock->evd, buf, src, len);
		if (n <= 0)
			return false;	/* Out of reach: from here later */
		vsock->out_sent += n;
	}

	vsock->to_host_busy = false;
	epf_virtio_complete(vq, buf, hlen + vsock->out_part);
	virtio_transport_deliver_tap_pkt(vsock->out_skb);

	VIRTIO_VSOCK_SKB_CB(vsock->out_skb)->offset += vsock->out_part;
	if (VIRTIO_VSOCK_SKB_CB(vsock->out_skb)->offset >=
	    vsock->out_skb->len)
		epf_vsock_out_done(vsock);

	return true;
}

static bool epf_vsock_to_host(struct epf_vsock *vsock)
{
	struct epf_virtio_queue *vq = epf_virtio_get_queue(vsock->evd,
							   EPF_VSOCK_Q_RX);
	unsigned int n = 0;

	while (n < EPF_VSOCK_BUDGET && epf_vsock_to_host_one(vsock, vq))
		n++;

	return n;
}

static bool epf_vsock_process(struct epf_virtio *evd)
{
	struct epf_vsock *vsock = epf_virtio_priv(evd);
	bool progress;

	progress = epf_vsock_to_host(vsock);
	progress |= epf_vsock_from_host(vsock);

	return progress;
}

static int epf_vsock_activate(struct epf_virtio *evd)
{
	struct epf_vsock *vsock = epf_virtio_priv(evd);

	WRITE_ONCE(vsock->seqpacket,
		   epf_virtio_has_feature(evd, VIRTIO_VSOCK_F_SEQPACKET));
	WRITE_ONCE(vsock->running, true);
	dev_dbg(&vsock->epf->dev, "Host driver running, CID %u\n",
		vsock->guest_cid);

	return 0;
}

/* Drop every packet waiting for the host, the one going out included */
static void epf_vsock_purge(struct epf_vsock *vsock)
{
	struct sk_buff_head gone;
	struct sk_buff *skb;

	__skb_queue_head_init(&gone);
	if (vsock->out_skb)
		__skb_queue_head(&gone, vsock->out_skb);
	vsock->out_skb = NULL;

	spin_lock_bh(&vsock->send_queue.lock);
	skb_queue_splice_tail_init(&vsock->send_queue, &gone);
	skb_queue_walk(&gone, skb)
		if (virtio_vsock_skb_reply(skb))
			atomic_dec(&vsock->replies);
	spin_unlock_bh(&vsock->send_queue.lock);

	while ((skb = __skb_dequeue(&gone))) {
		/* The sockets' count of bytes not sent yet goes down too */
		virtio_transport_consume_skb_sent(skb, false);
		kfree_skb(skb);
	}
}

/*
 * The host's queues are gone: what waited for it goes, and the sockets
 * connected to it are reset.  Packets a socket sends from now on wait for
 * the next host driver.
 */
static void epf_vsock_reset(struct epf_virtio *evd)
{
	struct epf_vsock *vsock = epf_virtio_priv(evd);

	WRITE_ONCE(vsock->running, false);
	WRITE_ONCE(vsock->seqpacket, false);
	if (vsock->to_host_busy) {
		epf_virtio_buf_release(&vsock->to_host);
		vsock->to_host_busy = false;
	}
	if (vsock->from_host_busy) {
		epf_virtio_buf_release(&vsock->from_host);
		vsock->from_host_busy = false;
	}
	kfree_skb(vsock->in_skb);
	vsock->in_skb = NULL;
	epf_vsock_purge(vsock);

	vsock_for_each_connected_socket(&epf_vsock_transport.transport,
					epf_vsock_reset_orphan);
	dev_dbg(&vsock->epf->dev, "Host driver gone, CID %u\n",
		vsock->guest_cid);
}

static const struct epf_virtio_ops epf_vsock_virtio_ops = {
	.activate = epf_vsock_activate,
	.reset = epf_vsock_reset,
	.process = epf_vsock_process,
};

static const struct epf_virtio_info epf_vsock_info = {
	.virtio_id = VIRTIO_ID_VSOCK,
	.pci_device_id = EPF_VSOCK_PCI_DEVICE_ID,
	.pci_class = PCI_CLASS_COMMUNICATION_OTHER << 8,
	.nvqs = EPF_VSOCK_NR_QUEUES,
	.config_size = sizeof(struct virtio_vsock_config),
	.features = EPF_VSOCK_FEATURES,
	.ops = &epf_vsock_virtio_ops,
};

/* The device configuration from the tunables; caller holds cfs.lock */
static void epf_vsock_set_config(struct epf_vsock *vsock)
{
	struct virtio_vsock_config cfg = {
		.guest_cid = cpu_to_le64(vsock->guest_cid),
	};

	lockdep_assert_held(&vsock->cfs.lock);
	epf_virtio_config_set(vsock->evd, 0, &cfg, sizeof(cfg), false);
}

/* ------------------------------------------------------------------------
 * configfs tunables
 */

static inline struct epf_vsock *epf_vsock_from_item(struct config_item *item)
{
	return container_of(epf_virtio_cfs_from_item(item), struct epf_vsock,
			    cfs);
}

static ssize_t epf_vsock_guest_cid_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%u\n", epf_vsock_from_item(item)->guest_cid);
}

static ssize_t epf_vsock_guest_cid_store(struct config_item *item,
					 const char *page, size_t len)
{
	struct epf_vsock *vsock = epf_vsock_from_item(item);
	u32 cid;
	int ret;

	ret = kstrtou32(page, 0, &cid);
	if (ret)
		return ret;
	/* Not a reserved CID, the host's, nor VMADDR_CID_ANY */
	if (cid <= VMADDR_CID_HOST || cid == VMADDR_CID_ANY)
		return -EINVAL;

	mutex_lock(&vsock->cfs.lock);
	if (epf_virtio_cfs_locked_out(&vsock->cfs)) {
		ret = -EBUSY;
	} else {
		vsock->guest_cid = cid;
		epf_vsock_set_config(vsock);
	}
	mutex_unlock(&vsock->cfs.lock);

	return ret ? ret : len;
}

CONFIGFS_ATTR(epf_vsock_, guest_cid);

static ssize_t epf_vsock_dropped_show(struct config_item *item, char *page)
{
	struct epf_vsock *vsock = epf_vsock_from_item(item);
	ssize_t n = 0;
	unsigned int i;

	for (i = 0; i < EPF_VSOCK_DROP_NR; i++)
		n += sysfs_emit_at(page, n, "%s %lld\n",
				   epf_vsock_drop_names[i],
				   (long long)atomic64_read(&vsock->dropped[i]));

	return n;
}

CONFIGFS_ATTR_RO(epf_vsock_, dropped);

static struct configfs_attribute *epf_vsock_attrs[] = {
	&epf_vsock_attr_guest_cid,
	&epf_virtio_cfs_attr_queue_size,
	&epf_virtio_cfs_attr_features,
	&epf_virtio_cfs_attr_poll_cpu,
	&epf_virtio_cfs_attr_dma_threshold,
	&epf_virtio_cfs_attr_dma_rings,
	&epf_vsock_attr_dropped,
	NULL,
};

static const struct config_item_type epf_vsock_group_type = {
	.ct_attrs = epf_vsock_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *epf_vsock_add_cfs(struct pci_epf *epf,
					      struct config_group *group)
{
	struct epf_vsock *vsock = epf_virtio_priv(epf_virtio_from_epf(epf));

	config_group_init_type_name(&vsock->cfs.group, "vsock",
				    &epf_vsock_group_type);

	return &vsock->cfs.group;
}

/* ------------------------------------------------------------------------
 * Endpoint function driver
 */

/* List the function for its CID, the transport registered with the first */
static int epf_vsock_serve(struct epf_vsock *vsock)
{
	struct device *dev = &vsock->epf->dev;
	int ret;

	lockdep_assert_held(&vsock->cfs.lock);

	mutex_lock(&epf_vsock_lock);
	rcu_read_lock();
	ret = epf_vsock_find(vsock->guest_cid) ? -EBUSY : 0;
	rcu_read_unlock();
	if (ret) {
		dev_err(dev, "Guest CID %u is another function's\n",
			vsock->guest_cid);
		goto out_unlock;
	}

	if (!epf_vsock_nr_bound) {
		ret = vsock_core_register(&epf_vsock_transport.transport,
					  VSOCK_TRANSPORT_F_H2G);
		if (ret) {
			dev_err(dev, "Cannot register the host-to-guest vsock transport (err=%d): is vhost_vsock loaded?\n",
				ret);
			goto out_unlock;
		}
	}
	epf_vsock_nr_bound++;
	list_add_tail_rcu(&vsock->node, &epf_vsock_bound);

out_unlock:
	mutex_unlock(&epf_vsock_lock);
	return ret;
}

/* Undo epf_vsock_serve(); the device is reset already */
static void epf_vsock_unserve(struct epf_vsock *vsock)
{
	mutex_lock(&epf_vsock_lock);
	list_del_rcu(&vsock->node);
	synchronize_rcu();
	if (!--epf_vsock_nr_bound)
		vsock_core_unregister(&epf_vsock_transport.transport);
	mutex_unlock(&epf_vsock_lock);

	/* What sockets sent since the reset: nothing sends any more */
	epf_vsock_purge(vsock);
}

static int epf_vsock_bind(struct pci_epf *epf)
{
	struct epf_vsock *vsock = epf_virtio_priv(epf_virtio_from_epf(epf));
	int ret;

	mutex_lock(&vsock->cfs.lock);
	ret = epf_vsock_serve(vsock);
	if (ret)
		goto out_unlock;

	ret = epf_virtio_cfs_bind(&vsock->cfs, vsock->evd);
	if (ret)
		epf_vsock_unserve(vsock);

out_unlock:
	mutex_unlock(&vsock->cfs.lock);
	return ret;
}

static void epf_vsock_unbind(struct pci_epf *epf)
{
	struct epf_vsock *vsock = epf_virtio_priv(epf_virtio_from_epf(epf));

	epf_virtio_cfs_unbind(&vsock->cfs, vsock->evd);
	epf_vsock_unserve(vsock);
}

static int epf_vsock_probe(struct pci_epf *epf,
			   const struct pci_epf_device_id *id)
{
	struct epf_vsock *vsock;
	struct epf_virtio *evd;
	int ret;

	vsock = kzalloc_obj(*vsock);
	if (!vsock)
		return -ENOMEM;

	vsock->epf = epf;
	vsock->guest_cid = EPF_VSOCK_DEFAULT_CID;
	INIT_LIST_HEAD(&vsock->node);
	skb_queue_head_init(&vsock->send_queue);
	epf_virtio_buf_init(&vsock->to_host);
	epf_virtio_buf_init(&vsock->from_host);
	epf_virtio_cfs_init(&vsock->cfs, epf, EPF_VSOCK_FEATURES);

	vsock->bounce = kvmalloc(VIRTIO_VSOCK_MAX_PKT_BUF_SIZE, GFP_KERNEL);
	if (!vsock->bounce) {
		ret = -ENOMEM;
		goto err_free_vsock;
	}
	vsock->in_hdr = kmalloc(sizeof(*vsock->in_hdr), GFP_KERNEL);
	if (!vsock->in_hdr) {
		ret = -ENOMEM;
		goto err_free_bounce;
	}

	evd = epf_virtio_create(epf, &epf_vsock_info, vsock);
	if (IS_ERR(evd)) {
		ret = PTR_ERR(evd);
		goto err_free_hdr;
	}
	vsock->evd = evd;

	mutex_lock(&vsock->cfs.lock);
	epf_vsock_set_config(vsock);
	mutex_unlock(&vsock->cfs.lock);

	return 0;

err_free_hdr:
	kfree(vsock->in_hdr);
err_free_bounce:
	kvfree(vsock->bounce);
err_free_vsock:
	kfree(vsock);
	return ret;
}

static void epf_vsock_remove(struct pci_epf *epf)
{
	struct epf_virtio *evd = epf_virtio_from_epf(epf);
	struct epf_vsock *vsock = epf_virtio_priv(evd);

	epf_virtio_destroy(evd);
	skb_queue_purge(&vsock->send_queue);
	epf_virtio_buf_release(&vsock->to_host);
	epf_virtio_buf_release(&vsock->from_host);
	kfree(vsock->in_hdr);
	kvfree(vsock->bounce);
	kfree(vsock);
}

static const struct pci_epf_device_id epf_vsock_ids[] = {
	{ .name = "pci_epf_vsock" },
	{},
};

static const struct pci_epf_ops epf_vsock_ops = {
	.bind = epf_vsock_bind,
	.unbind = epf_vsock_unbind,
	.add_cfs = epf_vsock_add_cfs,
};

static struct pci_epf_driver epf_vsock_driver = {
	.driver.name = "pci_epf_vsock",
	.probe = epf_vsock_probe,
	.remove = epf_vsock_remove,
	.id_table = epf_vsock_ids,
	.ops = &epf_vsock_ops,
	.owner = THIS_MODULE,
};

static int __init epf_vsock_init(void)
{
	int ret;

	ret = pci_epf_register_driver(&epf_vsock_driver);
	if (ret)
		pr_err("Failed to register the function driver (err=%d)\n",
		       ret);

	return ret;
}
module_init(epf_vsock_init);

static void __exit epf_vsock_exit(void)
{
	pci_epf_unregister_driver(&epf_vsock_driver);
}
module_exit(epf_vsock_exit);

MODULE_DESCRIPTION("Virtio socket PCIe endpoint function: AF_VSOCK to the host");
MODULE_LICENSE("GPL");
