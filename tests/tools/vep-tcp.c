// SPDX-License-Identifier: GPL-2.0
/*
 * vep-tcp: a checked bulk transfer over TCP, for the network tests, or
 * over AF_VSOCK with -V (ADDR is then a CID).
 *
 *   vep-tcp [-V] [-q] -l PORT -n BYTES [-t SEC]         receive and check
 *   vep-tcp [-V] [-q] -c ADDR PORT -n BYTES [-t SEC]    send
 *
 * With -q (for benchmarks) the data is zeros, neither made nor checked
 * byte by byte: only the count of bytes is checked, and the sums are 0.
 *
 * The sender writes BYTES of a pattern that depends on each byte's
 * position; the receiver takes one connection, checks every byte and
 * prints
 *
 *   bytes B errors E usec U kibps K sum S
 *
 * (S: a 32-bit sum of the data, the same on both sides; the sender prints
 * "bytes B sum S").  The sender retries connecting until the time limit.
 * Exit status 0 if all BYTES arrived intact within SEC seconds (default
 * 120).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define BLOCK	65536

/* AF_INET, or AF_VSOCK with -V */
static int family = AF_INET;

/* -q: zeros, not checked */
static int quick;

/* An address of the family for ADDR (NULL: any) and PORT; 0 if it is bad */
static socklen_t make_addr(struct sockaddr_storage *ss, const char *addr,
			   int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_vm *svm = (struct sockaddr_vm *)ss;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_VSOCK) {
		svm->svm_family = AF_VSOCK;
		svm->svm_port = port;
		svm->svm_cid = VMADDR_CID_ANY;
		if (addr) {
			svm->svm_cid = strtoul(addr, &end, 0);
			if (*end)
				return 0;
		}
		return sizeof(*svm);
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	if (addr && inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return 0;
	return sizeof(*sin);
}

static unsigned char pattern_at(uint64_t pos)
{
	return (unsigned char)(pos * 131 + (pos >> 12) * 7 + (pos >> 24));
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "vep-tcp: timed out\n");
	_exit(2);
}

static int receive(int port, uint64_t bytes)
{
	static unsigned char buf[BLOCK];
	uint64_t got = 0, errors = 0, t0 = 0, t1;
	struct sockaddr_storage sa;
	socklen_t salen;
	uint32_t sum = 0;
	int ls, s, one = 1;
	ssize_t n, i;

	ls = socket(family, SOCK_STREAM, 0);
	if (ls < 0) {
		perror("socket");
		return 1;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	salen = make_addr(&sa, NULL, port);
	if (bind(ls, (struct sockaddr *)&sa, salen) || listen(ls, 1)) {
		perror("bind/listen");
		return 1;
	}
	/* Tell a caller waiting for us that we listen */
	printf("listening\n");
	fflush(stdout);

	s = accept(ls, NULL, NULL);
	if (s < 0) {
		perror("accept");
		return 1;
	}
	t0 = now_us();
	for (;;) {
		n = read(s, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("read");
			break;
		}
		if (!n)
			break;
		for (i = 0; !quick && i < n; i++) {
			if (buf[i] != pattern_at(got + i))
				errors++;
			sum += buf[i];
		}
		got += n;
	}
	t1 = now_us();
	if (t1 == t0)
		t1++;
	printf("bytes %llu errors %llu usec %llu kibps %llu sum %u\n",
	       (unsigned long long)got, (unsigned long long)errors,
	       (unsigned long long)(t1 - t0),
	       (unsigned long long)(got * 1000000 / 1024 / (t1 - t0)), sum);
	close(s);
	close(ls);

	return got == bytes && !errors ? 0 : 1;
}

static int send_all(const char *addr, int port, uint64_t bytes)
{
	static unsigned char buf[BLOCK];
	struct sockaddr_storage sa;
	uint64_t sent = 0;
	uint32_t sum = 0;
	socklen_t salen;
	size_t len, i;
	ssize_t n;
	int s;

	salen = make_addr(&sa, addr, port);
	if (!salen) {
		fprintf(stderr, "vep-tcp: bad address %s\n", addr);
		return 1;
	}

	for (;;) {
		s = socket(family, SOCK_STREAM, 0);
		if (s < 0) {
			perror("socket");
			return 1;
		}
		if (!connect(s, (struct sockaddr *)&sa, salen))
			break;
		close(s);
		usleep(100000);	/* until the receiver listens */
	}

	while (sent < bytes) {
		len = bytes - sent < BLOCK ? bytes - sent : BLOCK;
		for (i = 0; !quick && i < len; i++) {
			buf[i] = pattern_at(sent + i);
			sum += buf[i];
		}
		for (i = 0; i < len; i += n) {
			n = write(s, buf + i, len - i);
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n <= 0) {
				perror("write");
				return 1;
			}
		}
		sent += len;
	}
	shutdown(s, SHUT_WR);
	/* Wait for the receiver to close: all data is in */
	while (read(s, buf, sizeof(buf)) > 0)
		;
	close(s);
	printf("bytes %llu sum %u\n", (unsigned long long)sent, sum);

	return 0;
}

static void usage(void)
{
	fprintf(stderr, "Usage: vep-tcp [-V] [-q] -l PORT -n BYTES [-t SEC]\n"
			"       vep-tcp [-V] [-q] -c ADDR PORT -n BYTES [-t SEC]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	uint64_t bytes = 0;
	int listen_port = -1, timeout = 120, opt;

	while ((opt = getopt(argc, argv, "Vql:c:n:t:")) != -1) {
		switch (opt) {
		case 'V':
			family = AF_VSOCK;
			break;
		case 'q':
			quick = 1;
			break;
		case 'l':
			listen_port = atoi(optarg);
			break;
		case 'c':
			addr = optarg;
			break;
		case 'n':
			bytes = strtoull(optarg, NULL, 0);
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		default:
			usage();
		}
	}

	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm(timeout);

	if (listen_port >= 0 && !addr)
		return receive(listen_port, bytes);
	if (addr && optind == argc - 1)
		return send_all(addr, atoi(argv[optind]), bytes);
	usage();
	return 1;
}
