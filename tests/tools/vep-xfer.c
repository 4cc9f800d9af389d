// SPDX-License-Identifier: GPL-2.0
/*
 * vep-xfer: bulk throughput and echo round trips across a pair of
 * terminals, for the benchmarks.
 *
 *   vep-xfer [-s BYTES] [-b BLOCK] [-a AHEAD] [-W CPU] [-R CPU] [-t SEC] TX RX
 *   vep-xfer -l COUNT [-g GAP_MS] [-W CPU] [-R CPU] TX RX
 *
 * TX and RX are terminal paths; "pty-m" and "pty-s" name the master and
 * the slave of a pty pair made for the run (the tty layer on its own).
 *
 * Bulk mode: a writer process on CPU W writes BYTES of a known pattern to
 * TX, BLOCK bytes per write, never more than AHEAD bytes ahead of what the
 * reader got; the reader (this process, on CPU R) reads RX and checks
 * every byte.  Prints
 *
 *   bytes B usec U mibps X wr_cpu_us A rd_cpu_us C errors E
 *
 * (U: first write to last byte read; A, C: CPU time of writer and reader).
 *
 * Echo mode (-l): an echo process on CPU R sends back each byte it reads
 * on RX; this process, on CPU W, writes one byte to TX after GAP_MS of
 * silence and times until it is back on TX, COUNT times.  Prints
 *
 *   rtt_us min A median B max C lost L
 *
 * Across two machines each end runs on its own machine:
 *
 *   vep-xfer -w [-s BYTES] [-b BLOCK] [-W CPU] TTY
 *   vep-xfer -r [-s BYTES] [-R CPU] [-t SEC] TTY
 *   vep-xfer -e [-R CPU] [-t SEC] TTY
 *   vep-xfer -l COUNT [-g GAP_MS] [-W CPU] TTY
 *
 * -w writes BYTES of the pattern to TTY, as the terminal's flow control
 * lets it, and prints "bytes B usec U wr_cpu_us A".  -r reads BYTES from
 * TTY and checks them, and prints the bulk line above with U counted from
 * the first byte read (the writer, started later, is not waited for) and
 * A as 0.  -e sends back what it reads on TTY until SEC seconds passed
 * (default 300) or it is killed; -l with one terminal times echoes from
 * such a far end.
 *
 * Terminals are put in raw mode.  Exit status 0 if all data arrived
 * intact and in time.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Pattern period: a prime, so it never lines up with block sizes */
#define VEP_XFER_PERIOD	65521

static unsigned char vep_xfer_pat[2 * VEP_XFER_PERIOD];
static int vep_xfer_ptm = -1, vep_xfer_pts = -1;

static long long vep_xfer_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void vep_xfer_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		return;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(fd, TCSANOW, &t);
	tcflush(fd, TCIOFLUSH);
}

static void vep_xfer_die(const char *what)
{
	fprintf(stderr, "vep-xfer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int vep_xfer_open(const char *path)
{
	int fd;

	if (!strcmp(path, "pty-m") || !strcmp(path, "pty-s")) {
		if (vep_xfer_ptm < 0) {
			vep_xfer_ptm = posix_openpt(O_RDWR | O_NOCTTY);
			if (vep_xfer_ptm < 0 || grantpt(vep_xfer_ptm) ||
			    unlockpt(vep_xfer_ptm))
				vep_xfer_die("/dev/ptmx");
			vep_xfer_pts = open(ptsname(vep_xfer_ptm),
					    O_RDWR | O_NOCTTY);
			if (vep_xfer_pts < 0)
				vep_xfer_die("pty slave");
			vep_xfer_raw(vep_xfer_ptm);
			vep_xfer_raw(vep_xfer_pts);
		}
		return path[4] == 'm' ? vep_xfer_ptm : vep_xfer_pts;
	}

	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0)
		vep_xfer_die(path);
	vep_xfer_raw(fd);
	return fd;
}

static void vep_xfer_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		vep_xfer_die("sched_setaffinity");
}

static long long vep_xfer_cpu_us(const struct rusage *ru)
{
	return ru->ru_utime.tv_sec * 1000000LL + ru->ru_utime.tv_usec +
	       ru->ru_stime.tv_sec * 1000000LL + ru->ru_stime.tv_usec;
}

/* Shared between writer and reader, through __atomic accesses */
struct vep_xfer_shared {
	unsigned long long got;
	long long t0;
};

static unsigned long long vep_xfer_got(struct vep_xfer_shared *sh)
{
	return __atomic_load_n(&sh->got, __ATOMIC_ACQUIRE);
}

/*
 * Read up to @bytes of the pattern from @fd, checking every byte, until
 * @secs seconds passed or the terminal ends; @sh, if given, learns the
 * count as it grows.  Returns the count, with the mismatches in @errors and
 * the time of the first byte (or of the end, if none came) in @first.
 */
static unsigned long long vep_xfer_check(int fd, unsigned long long bytes,
					 int secs, struct vep_xfer_shared *sh,
					 unsigned long long *errors,
					 long long *first)
{
	static unsigned char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned long long got = 0;
	long long deadline;
	ssize_t n, i;

	*errors = 0;
	*first = 0;
	deadline = vep_xfer_now_us() + secs * 1000000LL;
	while (got < bytes) {
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			break;
		if (vep_xfer_now_us() > deadline)
			break;
		if (!(p.revents & POLLIN))
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (!got)
			*first = vep_xfer_now_us();
		if ((unsigned long long)n > bytes - got)
			n = bytes - got;
		for (i = 0; i < n; i++)
			if (buf[i] != vep_xfer_pat[(got + i) % VEP_XFER_PERIOD])
				(*errors)++;
		got += n;
		if (sh)
			__atomic_store_n(&sh->got, got, __ATOMIC_RELEASE);
	}
	if (!got)
		*first = vep_xfer_now_us();
	return got;
}

static void vep_xfer_writer(int fd, unsigned long long bytes, size_t block,
			    unsigned long long ahead,
			    struct vep_xfer_shared *sh)
{
	const struct timespec nap = { 0, 100000 };
	unsigned long long off = 0;
	size_t len, done;
	ssize_t n;

	__atomic_store_n(&sh->t0, vep_xfer_now_us(), __ATOMIC_RELEASE);
	while (off < bytes) {
		while (off > vep_xfer_got(sh) + ahead)
			nanosleep(&nap, NULL);
		len = bytes - off < block ? bytes - off : block;
		for (done = 0; done < len; done += n) {
			size_t at = (off + done) % VEP_XFER_PERIOD;
			size_t part = len - done;

			if (part > VEP_XFER_PERIOD)
				part = VEP_XFER_PERIOD;
			n = write(fd, vep_xfer_pat + at, part);
			if (n <= 0)
				_exit(1);
		}
		off += len;
	}
	_exit(0);
}

static int vep_xfer_bulk(int tx, int rx, unsigned long long bytes,
			 size_t block, unsigned long long ahead, int wcpu,
			 int rcpu, int secs)
{
	struct vep_xfer_shared *sh;
	unsigned long long errors, got;
	struct rusage wru, rru;
	long long t0, t1, first;
	int status = 0;
	pid_t child;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;

	vep_xfer_pin(rcpu);
	child = fork();
	if (child < 0)
		vep_xfer_die("fork");
	if (!child) {
		vep_xfer_pin(wcpu);
		vep_xfer_writer(tx, bytes, block, ahead, sh);
	}

	got = vep_xfer_check(rx, bytes, secs, sh, &errors, &first);
	t1 = vep_xfer_now_us();

	if (got < bytes)
		kill(child, SIGKILL);
	if (wait4(child, &status, 0, &wru) < 0)
		memset(&wru, 0, sizeof(wru));
	getrusage(RUSAGE_SELF, &rru);

	t0 = __atomic_load_n(&sh->t0, __ATOMIC_ACQUIRE);
	printf("bytes %llu usec %lld mibps %.2f wr_cpu_us %lld rd_cpu_us %lld errors %llu\n",
	       got, t1 - t0, t1 > t0 ? got / 1.048576 / (t1 - t0) : 0.0,
	       vep_xfer_cpu_us(&wru), vep_xfer_cpu_us(&rru), errors);
	return got == bytes && !errors && WIFEXITED(status) &&
	       !WEXITSTATUS(status) ? 0 : 1;
}

/* -w: the pattern to @fd; the far end's reader checks it */
static int vep_xfer_put(int fd, unsigned long long bytes, size_t block,
			int wcpu)
{
	unsigned long long off = 0;
	struct rusage ru;
	long long t0, t1;
	size_t len, part, at;
	ssize_t n;

	vep_xfer_pin(wcpu);
	t0 = vep_xfer_now_us();
	while (off < bytes) {
		len = bytes - off < block ? bytes - off : block;
		at = off % VEP_XFER_PERIOD;
		part = len > VEP_XFER_PERIOD ? VEP_XFER_PERIOD : len;
		n = write(fd, vep_xfer_pat + at, part);
		if (n <= 0) {
			fprintf(stderr, "vep-xfer: write: %s\n",
				n ? strerror(errno) : "nothing written");
			break;
		}
		off += n;
	}
	/* What the terminal still holds is the far end's to wait for */
	t1 = vep_xfer_now_us();
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %llu usec %lld wr_cpu_us %lld\n", off, t1 - t0,
	       vep_xfer_cpu_us(&ru));
	return off == bytes ? 0 : 1;
}

/* -r: @bytes of the pattern from @fd, timed from the first byte */
static int vep_xfer_get(int fd, unsigned long long bytes, int rcpu, int secs)
{
	unsigned long long errors, got;
	long long t0, t1;
	struct rusage ru;

	vep_xfer_pin(rcpu);
	got = vep_xfer_check(fd, bytes, secs, NULL, &errors, &t0);
	t1 = vep_xfer_now_us();
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %llu usec %lld mibps %.2f wr_cpu_us 0 rd_cpu_us %lld errors %llu\n",
	       got, t1 - t0, t1 > t0 ? got / 1.048576 / (t1 - t0) : 0.0,
	       vep_xfer_cpu_us(&ru), errors);
	return got == bytes && !errors ? 0 : 1;
}

/* -e: send back what comes, for a far end's -l */
static int vep_xfer_mirror(int fd, int rcpu, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long deadline;
	unsigned char buf[256];
	ssize_t n;

	vep_xfer_pin(rcpu);
	deadline = vep_xfer_now_us() + secs * 1000000LL;
	while (vep_xfer_now_us() < deadline) {
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			return 1;
		if (!(p.revents & POLLIN))
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 1;
		if (write(fd, buf, n) != n)
			return 1;
	}
	return 0;
}

static int vep_xfer_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Wait up to a second for @want on @fd: 0 when it came */
static int vep_xfer_wait(int fd, unsigned char want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned char c;

	for (;;) {
		if (poll(&p, 1, 1000) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		if (c == want)
			return 0;
	}
}

static int vep_xfer_echo(int tx, int rx, int count, int gap_ms, int wcpu,
			 int rcpu)
{
	long long *us;
	unsigned char c, buf[256];
	int i, lost = 0;
	pid_t child;
	ssize_t n;

	us = calloc(count, sizeof(*us));
	if (!us)
		return 2;

	/* No RX: the echo is the far end's (-e) */
	child = rx < 0 ? 0 : fork();
	if (child < 0)
		vep_xfer_die("fork");
	if (rx >= 0 && !child) {
		vep_xfer_pin(rcpu);
		while ((n = read(rx, buf, sizeof(buf))) > 0)
			if (write(rx, buf, n) != n)
				_exit(1);
		_exit(0);
	}
	vep_xfer_pin(wcpu);

	for (i = 0; i < count; i++) {
		long long t0;

		usleep(gap_ms * 1000);
		c = 'a' + i % 26;
		t0 = vep_xfer_now_us();
		if (write(tx, &c, 1) != 1 || vep_xfer_wait(tx, c)) {
			lost++;
			us[i] = 1000000;
			continue;
		}
		us[i] = vep_xfer_now_us() - t0;
	}
	if (child) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}

	qsort(us, count, sizeof(*us), vep_xfer_cmp);
	printf("rtt_us min %lld median %lld max %lld lost %d\n",
	       us[0], us[count / 2], us[count - 1], lost);
	return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long long bytes = 16 << 20, ahead = 256 << 10;
	size_t block = 65536;
	int wcpu = -1, rcpu = -1, secs = 300, count = 0, gap_ms = 50;
	int opt, tx, rx, paths = 2;
	unsigned int i, x = 1;
	char mode = 0;

	while ((opt = getopt(argc, argv, "s:b:a:W:R:t:l:g:wre")) != -1) {
		switch (opt) {
		case 'w':
		case 'r':
		case 'e':
			if (mode)
				goto usage;
			mode = opt;
			break;
		case 's':
			bytes = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			block = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			ahead = strtoull(optarg, NULL, 0);
			break;
		case 'W':
			wcpu = atoi(optarg);
			break;
		case 'R':
			rcpu = atoi(optarg);
			break;
		case 't':
			secs = atoi(optarg);
			break;
		case 'l':
			count = atoi(optarg);
			break;
		case 'g':
			gap_ms = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (mode || (count && argc - optind == 1))
		paths = 1;
	if ((mode && count) || argc - optind != paths || !bytes || !block ||
	    secs < 1 || count < 0 || gap_ms < 0)
		goto usage;

	for (i = 0; i < VEP_XFER_PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		vep_xfer_pat[i] = x >> 8;
	}
	memcpy(vep_xfer_pat + VEP_XFER_PERIOD, vep_xfer_pat, VEP_XFER_PERIOD);

	tx = vep_xfer_open(argv[optind]);
	rx = paths == 2 ? vep_xfer_open(argv[optind + 1]) : -1;
	switch (mode) {
	case 'w':
		return vep_xfer_put(tx, bytes, block, wcpu);
	case 'r':
		return vep_xfer_get(tx, bytes, rcpu, secs);
	case 'e':
		return vep_xfer_mirror(tx, rcpu, secs);
	}
	if (count)
		return vep_xfer_echo(tx, rx, count, gap_ms, wcpu, rcpu);
	return vep_xfer_bulk(tx, rx, bytes, block, ahead, wcpu, rcpu, secs);

usage:
	fprintf(stderr,
		"usage: vep-xfer [-s BYTES] [-b BLOCK] [-a AHEAD] [-W CPU] [-R CPU] [-t SEC] TX RX\n"
		"       vep-xfer -l COUNT [-g GAP_MS] [-W CPU] [-R CPU] TX RX\n"
		"       vep-xfer -w [-s BYTES] [-b BLOCK] [-W CPU] TTY\n"
		"       vep-xfer -r [-s BYTES] [-R CPU] [-t SEC] TTY\n"
		"       vep-xfer -e [-R CPU] [-t SEC] TTY\n"
		"       vep-xfer -l COUNT [-g GAP_MS] [-W CPU] TTY\n");
	return 2;
}
