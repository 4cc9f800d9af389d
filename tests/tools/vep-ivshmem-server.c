// SPDX-License-Identifier: GPL-2.0
/*
 * vep-ivshmem-server: the ivshmem server of the two-machine rig.
 *
 *   vep-ivshmem-server -S SOCKET [-m SIZE] [-n VECTORS] [-p PIDFILE] [-D]
 *                      [-L OFFSET] [-R ID] [-F] [-v]
 *
 * Listens on the Unix stream socket SOCKET and serves QEMU's
 * ivshmem-doorbell devices as QEMU's docs/specs/ivshmem-spec.rst describes.
 * Each message is a little-endian int64, some with one file descriptor
 * (SCM_RIGHTS).  A new client gets the protocol version (0), its own ID,
 * then -1 with the shared memory; every other client then gets the new ID
 * VECTORS times, each with one of the new client's eventfds, and the new
 * client gets the same for every other client; last, the new client gets
 * its own ID VECTORS times with its own eventfds (its interrupts).  When a
 * client goes, the others (if they heard of it) get its ID with no
 * descriptor; with -D, each of them then also gets its vector 0 raised,
 * so that its driver looks.
 * With -L, the server keeps a little-endian 32-bit bitmap of the clients
 * connected (bit ID % 32) at OFFSET of the shared memory: a client's bit
 * is set once it has all its messages, and cleared before the others hear
 * that it went.
 * The machine of client ID (-R, default 0) has a reset line, PCIe's PERST#:
 * SIGUSR1 asserts it, SIGUSR2 deasserts it.  While it is asserted, the
 * client's bit in the bitmap reads 0, as if it had gone; each change
 * raises vector 0 of every other client, so that its driver looks.
 *
 * The shared memory is a memfd of SIZE bytes (a power of two, at least
 * 4K; K and M suffixes; default 64K).  VECTORS defaults to 4.  IDs start
 * at 0 and are never reused while the server runs.
 *
 * Once it listens, the server prints "ready" on stdout; without -F it
 * then runs on in the background, and the process that printed exits 0.
 * -p writes the server's pid to PIDFILE first.  SIGTERM or SIGINT: the
 * server removes SOCKET and PIDFILE and exits 0.  -v logs clients on
 * stderr.  Exit status 1 if it cannot start, 2 on bad usage.
 */

#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define VEP_IVS_MAX_PEERS	64
#define VEP_IVS_MAX_VECTORS	64
#define VEP_IVS_MAX_ID		65535	/* the doorbell has 16 bits for it */

struct vep_ivs_peer {
	int sock;
	int64_t id;
	int efd[VEP_IVS_MAX_VECTORS];
	bool told;	/* the others heard of it */
	bool up;	/* had all its messages */
	bool dead;
};

static struct vep_ivs_peer *vep_ivs_peers[VEP_IVS_MAX_PEERS];
static int vep_ivs_npeers;
static unsigned int vep_ivs_vectors = 4;
static int64_t vep_ivs_next_id;
static int vep_ivs_shm = -1;
static uint32_t *vep_ivs_live;		/* -L: the bitmap in the shm */
static bool vep_ivs_kick;
static bool vep_ivs_verbose;
static int64_t vep_ivs_reset_id;	/* -R: whose reset line the signals are */
static bool vep_ivs_in_reset;
/* set by the handlers, which run only inside ppoll() */
static sig_atomic_t vep_ivs_stop;
static sig_atomic_t vep_ivs_reset_req = -1;	/* 1 assert, 0 deassert */

static void vep_ivs_log(const char *fmt, ...)
{
	va_list ap;

	if (!vep_ivs_verbose)
		return;
	va_start(ap, fmt);
	fputs("vep-ivshmem-server: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void vep_ivs_signal(int sig)
{
	if (sig == SIGUSR1 || sig == SIGUSR2)
		vep_ivs_reset_req = sig == SIGUSR1;
	else
		vep_ivs_stop = 1;
}

/* One message: VAL, with descriptor FD unless FD < 0; 0 if it went out */
static int vep_ivs_send(int sock, int64_t val, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint64_t le = htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(le) ? 0 : -1;
}

/* -L: the bitmap of the peers connected, in one store */
static void vep_ivs_update_live(void)
{
	uint32_t live = 0;
	int i;

	if (!vep_ivs_live)
		return;
	for (i = 0; i < vep_ivs_npeers; i++)
		if (!vep_ivs_peers[i]->dead && vep_ivs_peers[i]->up &&
		    !(vep_ivs_in_reset &&
		      vep_ivs_peers[i]->id == vep_ivs_reset_id))
			live |= 1U << (vep_ivs_peers[i]->id % 32);
	__atomic_store_n(vep_ivs_live, htole32(live), __ATOMIC_SEQ_CST);
}

/* Raise vector 0 of Q, so that its driver looks at the shared memory */
static void vep_ivs_ring0(struct vep_ivs_peer *q)
{
	static const uint64_t one = 1;

	if (write(q->efd[0], &one, sizeof(one)) != sizeof(one))
		vep_ivs_log("peer %lld: vector 0: %s", (long long)q->id,
			    strerror(errno));
}

/* Tell Q about P: P's ID once per vector, with P's eventfd for it */
static void vep_ivs_announce(struct vep_ivs_peer *q, struct vep_ivs_peer *p)
{
	unsigned int i;

	for (i = 0; i < vep_ivs_vectors && !q->dead; i++)
		if (vep_ivs_send(q->sock, p->id, p->efd[i]))
			q->dead = true;
}

static void vep_ivs_free(struct vep_ivs_peer *p)
{
	unsigned int i;

	close(p->sock);
	for (i = 0; i < vep_ivs_vectors; i++)
		if (p->efd[i] >= 0)
			close(p->efd[i]);
	free(p);
}

/*
 * Remove the peers marked dead, telling the others each time (which may
 * find more of them dead).
 */
static void vep_ivs_reap(void)
{
	struct vep_ivs_peer *p, *q;
	int i, j;

again:
	for (i = 0; i < vep_ivs_npeers; i++) {
		p = vep_ivs_peers[i];
		if (!p->dead)
			continue;
		vep_ivs_npeers--;
		memmove(&vep_ivs_peers[i], &vep_ivs_peers[i + 1],
			(vep_ivs_npeers - i) * sizeof(p));
		vep_ivs_log("peer %lld gone", (long long)p->id);
		vep_ivs_update_live();
		for (j = 0; j < vep_ivs_npeers && p->told; j++) {
			q = vep_ivs_peers[j];
			if (q->dead)
				continue;
			if (vep_ivs_send(q->sock, p->id, -1)) {
				q->dead = true;
				continue;
			}
			if (vep_ivs_kick)
				vep_ivs_ring0(q);
		}
		vep_ivs_free(p);
		goto again;
	}
}

/* SIGUSR1, SIGUSR2: the reset line of client -R changes to ON */
static void vep_ivs_reset(bool on)
{
	struct vep_ivs_peer *q;
	int i;

	vep_ivs_log("peer %lld: reset %s", (long long)vep_ivs_reset_id,
		    on ? "asserted" : "deasserted");
	if (on == vep_ivs_in_reset)
		return;
	vep_ivs_in_reset = on;
	vep_ivs_update_live();
	for (i = 0; i < vep_ivs_npeers; i++) {
		q = vep_ivs_peers[i];
		if (q->dead || !q->up || q->id == vep_ivs_reset_id)
			continue;
		vep_ivs_ring0(q);
	}
}

static void vep_ivs_accept(int lsock)
{
	struct timeval tv = { .tv_sec = 2 };
	struct vep_ivs_peer *p, *q;
	unsigned int i;
	int fd, j;

	fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			fprintf(stderr, "vep-ivshmem-server: accept: %s\n",
				strerror(errno));
		return;
	}
	if (vep_ivs_npeers == VEP_IVS_MAX_PEERS ||
	    vep_ivs_next_id > VEP_IVS_MAX_ID) {
		fprintf(stderr, "vep-ivshmem-server: client refused: %s\n",
			vep_ivs_npeers == VEP_IVS_MAX_PEERS ?
			"too many clients" : "no IDs left");
		close(fd);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return;
	}
	p->sock = fd;
	for (i = 0; i < vep_ivs_vectors; i++)
		p->efd[i] = -1;
	for (i = 0; i < vep_ivs_vectors; i++) {
		p->efd[i] = eventfd(0, EFD_CLOEXEC);
		if (p->efd[i] < 0) {
			fprintf(stderr, "vep-ivshmem-server: eventfd: %s\n",
				strerror(errno));
			vep_ivs_free(p);
			return;
		}
	}
	p->id = vep_ivs_next_id++;
	/* a client that stops reading costs the others 2 s, not forever */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	vep_ivs_peers[vep_ivs_npeers++] = p;
	vep_ivs_log("peer %lld connected", (long long)p->id);

	if (vep_ivs_send(fd, 0, -1) || vep_ivs_send(fd, p->id, -1) ||
	    vep_ivs_send(fd, -1, vep_ivs_shm)) {
		p->dead = true;
		return;
	}
	p->told = true;
	for (j = 0; j < vep_ivs_npeers; j++) {
		q = vep_ivs_peers[j];
		if (q != p && !q->dead)
			vep_ivs_announce(q, p);
	}
	for (j = 0; j < vep_ivs_npeers && !p->dead; j++) {
		q = vep_ivs_peers[j];
		if (q != p && !q->dead)
			vep_ivs_announce(p, q);
	}
	vep_ivs_announce(p, p);
	p->up = !p->dead;
	vep_ivs_update_live();
}

/* A client's socket is readable: it has gone, or sent what nobody asked */
static void vep_ivs_input(struct vep_ivs_peer *p)
{
	char buf[256];
	ssize_t n;

	n = recv(p->sock, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		p->dead = true;
}

static int vep_ivs_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int s, c;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vep-ivshmem-server: socket path too long\n");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto fail;
	/* a socket nobody listens on any more is in the way: remove it */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) &&
		    errno == ECONNREFUSED)
			unlink(path);
		if (c >= 0)
			close(c);
	}
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 16))
		goto fail;
	return s;
fail:
	fprintf(stderr, "vep-ivshmem-server: %s: %s\n", path, strerror(errno));
	if (s >= 0)
		close(s);
	return -1;
}

static int vep_ivs_size(const char *s, unsigned long long *size)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v < 4096 || v > (1ULL << 40) || (v & (v - 1)))
		return -1;
	*size = v;
	return 0;
}

static void vep_ivs_usage(void)
{
	fprintf(stderr,
		"usage: vep-ivshmem-server -S SOCKET [-m SIZE] [-n VECTORS] [-p PIDFILE] [-D] [-L OFFSET] [-R ID] [-F] [-v]\n");
	exit(2);
}

static int vep_ivs_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", (long)pid) < 0 || fclose(f)) {
		fprintf(stderr, "vep-ivshmem-server: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *pidfile = NULL;
	unsigned long long size = 64 << 10;
	struct pollfd pfd[VEP_IVS_MAX_PEERS + 1];
	struct sigaction sa = { .sa_handler = vep_ivs_signal };
	sigset_t block, orig;
	unsigned long long live_off = ~0ULL;
	bool foreground = false;
	int opt, lsock, i, n;
	void *shm;
	char *end;
	pid_t pid;

	while ((opt = getopt(argc, argv, "S:m:n:p:DL:R:Fvh")) != -1) {
		switch (opt) {
		case 'S':
			path = optarg;
			break;
		case 'm':
			if (vep_ivs_size(optarg, &size))
				vep_ivs_usage();
			break;
		case 'n':
			vep_ivs_vectors = strtoul(optarg, &end, 0);
			if (*end || vep_ivs_vectors < 1 ||
			    vep_ivs_vectors > VEP_IVS_MAX_VECTORS)
				vep_ivs_usage();
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'D':
			vep_ivs_kick = true;
			break;
		case 'L':
			live_off = strtoull(optarg, &end, 0);
			if (*end || (live_off & 3))
				vep_ivs_usage();
			break;
		case 'R':
			vep_ivs_reset_id = strtoll(optarg, &end, 0);
			if (*end || vep_ivs_reset_id < 0 ||
			    vep_ivs_reset_id > VEP_IVS_MAX_ID)
				vep_ivs_usage();
			break;
		case 'F':
			foreground = true;
			break;
		case 'v':
			vep_ivs_verbose = true;
			break;
		default:
			vep_ivs_usage();
		}
	}
	if (!path || optind != argc)
		vep_ivs_usage();

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	vep_ivs_shm = memfd_create("vep-ivshmem", MFD_CLOEXEC);
	if (vep_ivs_shm < 0 || ftruncate(vep_ivs_shm, (off_t)size)) {
		fprintf(stderr, "vep-ivshmem-server: shared memory: %s\n",
			strerror(errno));
		return 1;
	}
	if (live_off != ~0ULL) {
		if (live_off >= size)
			vep_ivs_usage();
		shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   vep_ivs_shm, 0);
		if (shm == MAP_FAILED) {
			fprintf(stderr, "vep-ivshmem-server: mmap: %s\n",
				strerror(errno));
			return 1;
		}
		vep_ivs_live = (uint32_t *)((char *)shm + live_off);
	}
	lsock = vep_ivs_listen(path);
	if (lsock < 0)
		return 1;

	if (!foreground) {
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "vep-ivshmem-server: fork: %s\n",
				strerror(errno));
			unlink(path);
			return 1;
		}
		if (pid > 0) {
			if (pidfile && vep_ivs_pidfile(pidfile, pid)) {
				kill(pid, SIGTERM);
				return 1;
			}
			printf("ready\n");
			return 0;
		}
		setsid();
		if (!freopen("/dev/null", "r", stdin) ||
		    !freopen("/dev/null", "w", stdout))
			return 1;
	} else {
		if (pidfile && vep_ivs_pidfile(pidfile, getpid())) {
			unlink(path);
			return 1;
		}
		printf("ready\n");
		fflush(stdout);
	}

	while (!vep_ivs_stop) {
		if (vep_ivs_reset_req >= 0) {
			vep_ivs_reset(vep_ivs_reset_req);
			vep_ivs_reset_req = -1;
		}
		pfd[0].fd = lsock;
		pfd[0].events = POLLIN;
		for (i = 0; i < vep_ivs_npeers; i++) {
			pfd[i + 1].fd = vep_ivs_peers[i]->sock;
			pfd[i + 1].events = POLLIN;
		}
		n = vep_ivs_npeers;
		if (ppoll(pfd, n + 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "vep-ivshmem-server: poll: %s\n",
				strerror(errno));
			break;
		}
		/* the peers polled are the first n, in order */
		for (i = 0; i < n; i++) {
			if (pfd[i + 1].revents & (POLLERR | POLLHUP))
				vep_ivs_peers[i]->dead = true;
			else if (pfd[i + 1].revents & POLLIN)
				vep_ivs_input(vep_ivs_peers[i]);
		}
		vep_ivs_reap();
		if (pfd[0].revents & POLLIN) {
			vep_ivs_accept(lsock);
			vep_ivs_reap();
		}
	}

	for (i = 0; i < vep_ivs_npeers; i++)
		vep_ivs_free(vep_ivs_peers[i]);
	close(lsock);
	unlink(path);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
