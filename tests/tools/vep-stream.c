// SPDX-License-Identifier: GPL-2.0
/*
 * vep-stream: a two-way stream of self-checking lines over a terminal.
 *
 *   vep-stream [-s] [-l LOG] [-m MIN] [-r FILE] TAG PEER TTY
 *
 * Opens TTY in raw mode (its input flushed) and, until the terminal hangs
 * up or SIGTERM comes, writes numbered lines tagged TAG from a child
 * process while reading and checking the lines tagged PEER that the far
 * side writes.
 *
 * A line is "<tag><session> <seq> <payload> <sum>\n", 64 bytes of
 * printable hex, so that a terminal still in its cooked default mode
 * passes it unchanged.  The session is chosen by each writer; the payload
 * and sum follow from session and seq.
 *
 * The reader checks that within each peer session the lines follow one
 * another with no gap, duplicate or damage.  Damaged lines ("junk") are
 * excused only right before a session's first line: that is the line a
 * terminal cut when it went away, or the part of one a new reader came in
 * after.  Lines with our own tag are a cooked terminal's echo, counted.
 *
 * With -s every peer session must begin at its line 0: for a reader that
 * was there before the peer's writers started, a session that begins later
 * lost lines.  With -l, a line "session S first F last L" (hex) is added to
 * LOG for each peer session as it ends, so that a test can hold the last
 * line against what the peer's writer said it wrote.
 *
 * With -m, FILE (-r) is created once MIN lines went each way.  At the end
 * one line is printed on stdout:
 *
 *   sessions S lines L min M junk J echo E wrote W errors X self Z
 *
 * (M: fewest lines of a peer session, W: lines this writer wrote whole, Z:
 * its session, in hex) and the exit status is 0 if there were no errors: a
 * gap, a duplicate, unexcused junk, a late start (-s) or a failed write.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define VEP_STREAM_LINE		64
#define VEP_STREAM_BATCH	32
#define VEP_STREAM_PAYLOAD	39

/* Shared with the writer child: __atomic accesses while it runs */
struct vep_stream_shared {
	unsigned long wrote;
	int werr;
};

/* The writer's session, chosen before the fork */
static unsigned int vep_stream_self;

/* Set by the SIGTERM handler; __atomic accesses */
static int vep_stream_stop;

static void vep_stream_sigterm(int sig)
{
	__atomic_store_n(&vep_stream_stop, 1, __ATOMIC_RELAXED);
}

static uint32_t vep_stream_fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

/* Format line @seq of @session into @buf (VEP_STREAM_LINE bytes) */
static void vep_stream_format(char *buf, char tag, unsigned int session,
			      unsigned long seq)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t x = (uint32_t)seq * 2654435761u ^ session;
	int n, i;

	n = sprintf(buf, "%c%04x %08lx ", tag, session, seq & 0xffffffffUL);
	for (i = 0; i < VEP_STREAM_PAYLOAD; i++) {
		x = x * 1103515245u + 12345u;
		buf[n++] = hex[(x >> 16) & 15];
	}
	n += sprintf(buf + n, " %08x",
		     (unsigned int)vep_stream_fnv(buf, n));
	buf[n] = '\n';
}

/* Parse and check @len bytes (no newline): 0 if a good line */
static int vep_stream_parse(const char *s, size_t len, char *tag,
			    unsigned int *session, unsigned long *seq)
{
	char want[VEP_STREAM_LINE + 1];

	if (len != VEP_STREAM_LINE - 1)
		return -1;
	if (sscanf(s + 1, "%4x %8lx", session, seq) != 2)
		return -1;
	*tag = s[0];
	vep_stream_format(want, *tag, *session, *seq);
	return memcmp(want, s, len) ? -1 : 0;
}

static int vep_stream_open(const char *path)
{
	struct termios t;
	int fd;

	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "vep-stream: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
	}
	/* What came in cooked mode (and its pending echo) is dropped */
	tcflush(fd, TCIFLUSH);
	return fd;
}

static void vep_stream_writer(int fd, char tag, struct vep_stream_shared *sh)
{
	char buf[VEP_STREAM_LINE * VEP_STREAM_BATCH];
	unsigned int session = vep_stream_self;
	unsigned long seq = 0;
	size_t off;
	ssize_t n;
	int i;

	signal(SIGTERM, SIG_DFL);
	for (;;) {
		for (i = 0; i < VEP_STREAM_BATCH; i++)
			vep_stream_format(buf + i * VEP_STREAM_LINE, tag,
					  session, seq + i);
		for (off = 0; off < sizeof(buf); off += n) {
			n = write(fd, buf + off, sizeof(buf) - off);
			if (n <= 0) {
				/* A hangup ends the stream; anything else is an error */
				if (n < 0 && errno != EIO)
					__atomic_store_n(&sh->werr, errno,
							 __ATOMIC_RELAXED);
				_exit(0);
			}
			__atomic_store_n(&sh->wrote,
					 seq + (off + n) / VEP_STREAM_LINE,
					 __ATOMIC_RELAXED);
		}
		seq += VEP_STREAM_BATCH;
	}
}

int main(int argc, char **argv)
{
	unsigned long lines = 0, junk = 0, pend_junk = 0, echo = 0, errors = 0;
	unsigned long cur_lines = 0, min_lines = ~0UL, sessions = 0;
	unsigned long min = 0, seq, last = 0, first = 0;
	unsigned int session, cur = ~0U;
	const char *ready = NULL;
	FILE *log = NULL;
	int strict = 0;
	struct vep_stream_shared *sh;
	struct sigaction sa;
	char buf[4096], tag, mytag, peer;
	size_t have = 0, i, start;
	int fd, opt, status;
	pid_t child;
	ssize_t n;

	while ((opt = getopt(argc, argv, "sl:m:r:")) != -1) {
		switch (opt) {
		case 's':
			strict = 1;
			break;
		case 'l':
			log = fopen(optarg, "a");
			if (!log) {
				fprintf(stderr, "vep-stream: %s: %s\n", optarg,
					strerror(errno));
				return 2;
			}
			setvbuf(log, NULL, _IOLBF, 0);
			break;
		case 'm':
			min = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 3 || strlen(argv[optind]) != 1 ||
	    strlen(argv[optind + 1]) != 1)
		goto usage;
	mytag = argv[optind][0];
	peer = argv[optind + 1][0];

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	/* No SA_RESTART: SIGTERM must end a blocked read */
	sa.sa_handler = vep_stream_sigterm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = vep_stream_open(argv[optind + 2]);

	/*
	 * The pid alone: no two live processes share it, and a test's
	 * streamers do not outlast a wrap of the pids, where a mix with the
	 * time made sessions started seconds apart collide
	 */
	vep_stream_self = getpid() & 0xffff;
	child = fork();
	if (child < 0)
		return 2;
	if (!child)
		vep_stream_writer(fd, mytag, sh);

	while (!__atomic_load_n(&vep_stream_stop, __ATOMIC_RELAXED)) {
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;	/* Hung up, or told to stop */
		have += n;
		for (start = 0, i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			/* A cooked terminal's echo ends lines with CR LF */
			n = i - start;
			if (n && buf[start + n - 1] == '\r')
				n--;
			if (vep_stream_parse(buf + start, n, &tag, &session,
					     &seq)) {
				junk++;
				pend_junk++;
			} else if (tag == mytag) {
				echo++;
			} else if (tag != peer) {
				junk++;
				pend_junk++;
			} else if (session != cur) {
				/* Junk right before a new session is excused */
				if (cur_lines && cur_lines < min_lines)
					min_lines = cur_lines;
				if (log && cur_lines)
					fprintf(log, "session %04x first %lx last %lx\n",
						cur, first, last);
				if (strict && seq) {
					fprintf(stderr,
						"vep-stream: session %04x begins at line %lx\n",
						session, seq);
					errors++;
				}
				first = seq;
				cur = session;
				cur_lines = 1;
				sessions++;
				lines++;
				last = seq;
				pend_junk = 0;
			} else {
				if (seq != last + 1 || pend_junk) {
					fprintf(stderr,
						"vep-stream: session %04x: line %lx after %lx (line %lu of the session), %lu damaged between\n",
						session, seq, last, cur_lines, pend_junk);
					errors++;
				}
				pend_junk = 0;
				last = seq;
				cur_lines++;
				lines++;
			}
			start = i + 1;
		}
		/* Keep a partial line; one longer than a line is junk */
		if (have - start > 2 * VEP_STREAM_LINE) {
			junk++;
			pend_junk++;
			start = have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;

		if (ready && lines >= min &&
		    __atomic_load_n(&sh->wrote, __ATOMIC_RELAXED) >= min) {
			close(open(ready, O_WRONLY | O_CREAT, 0644));
			ready = NULL;
		}
	}

	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	if (cur_lines && cur_lines < min_lines)
		min_lines = cur_lines;
	if (log && cur_lines)
		fprintf(log, "session %04x first %lx last %lx\n", cur, first,
			last);
	if (!sessions)
		min_lines = 0;
	if (sh->werr) {
		fprintf(stderr, "vep-stream: write: %s\n", strerror(sh->werr));
		errors++;
	}
	printf("sessions %lu lines %lu min %lu junk %lu echo %lu wrote %lu errors %lu self %04x\n",
	       sessions, lines, min_lines, junk, echo, sh->wrote, errors,
	       vep_stream_self);
	return errors ? 1 : 0;

usage:
	fprintf(stderr, "usage: vep-stream [-s] [-l LOG] [-m MIN] [-r FILE] TAG PEER TTY\n");
	return 2;
}
