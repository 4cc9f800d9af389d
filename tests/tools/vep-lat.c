// SPDX-License-Identifier: GPL-2.0
/*
 * vep-lat: one-byte latency across a pair of terminals.
 *
 *   vep-lat [-n COUNT] [-g GAP_MS] [-e] TX_TTY RX_TTY
 *
 * Writes one byte to TX_TTY, waits for it on RX_TTY and measures the time
 * between the two, COUNT times with GAP_MS of silence before each byte (so
 * that a polling device is found idle).  With -e, the far side echoes: the
 * byte is read back from TX_TTY after a reader of RX_TTY in this process
 * sent it back (a round trip).  Prints "min median max" in microseconds.
 * Both terminals are put in raw mode.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int vep_lat_open(const char *path)
{
	struct termios t;
	int fd;

	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "vep-lat: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
	}
	tcflush(fd, TCIOFLUSH);
	return fd;
}

static long long vep_lat_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Wait up to one second for @want on @fd; 0 when it came */
static int vep_lat_wait(int fd, char want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	for (;;) {
		if (poll(&p, 1, 1000) <= 0)
			return -1;
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == want)
			return 0;
	}
}

static int vep_lat_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int count = 20, gap_ms = 200, echo = 0;
	int tx, rx, opt, i, lost = 0;
	long long *us;
	char c;

	while ((opt = getopt(argc, argv, "n:g:e")) != -1) {
		switch (opt) {
		case 'n':
			count = atoi(optarg);
			break;
		case 'g':
			gap_ms = atoi(optarg);
			break;
		case 'e':
			echo = 1;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || count < 1 || gap_ms < 0)
		goto usage;

	tx = vep_lat_open(argv[optind]);
	rx = vep_lat_open(argv[optind + 1]);
	us = calloc(count, sizeof(*us));
	if (!us)
		return 2;

	for (i = 0; i < count; i++) {
		long long t0;

		usleep(gap_ms * 1000);
		c = 'a' + i % 26;
		t0 = vep_lat_now_us();
		if (write(tx, &c, 1) != 1 || vep_lat_wait(rx, c)) {
			lost++;
			us[i] = 1000000;
			continue;
		}
		if (echo && (write(rx, &c, 1) != 1 || vep_lat_wait(tx, c))) {
			lost++;
			us[i] = 1000000;
			continue;
		}
		us[i] = vep_lat_now_us() - t0;
	}

	qsort(us, count, sizeof(*us), vep_lat_cmp);
	printf("%lld %lld %lld\n", us[0], us[count / 2], us[count - 1]);
	free(us);
	if (lost)
		fprintf(stderr, "vep-lat: %d of %d lost\n", lost, count);
	return lost ? 1 : 0;

usage:
	fprintf(stderr, "usage: vep-lat [-n COUNT] [-g GAP_MS] [-e] TX_TTY RX_TTY\n");
	return 2;
}
