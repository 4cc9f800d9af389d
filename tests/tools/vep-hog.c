// SPDX-License-Identifier: GPL-2.0
/*
 * vep-hog: keep one CPU from every normal task for a while.
 *
 *   vep-hog CPU MS
 *
 * Moves itself to CPU, becomes SCHED_FIFO (priority 50) and spins for MS
 * milliseconds, so that a normal-priority thread bound to CPU (an
 * endpoint's poll thread) does not run meanwhile.  Real-time throttling
 * (/proc/sys/kernel/sched_rt_runtime_us) still gives normal tasks their
 * share unless the caller turned it off.  Exits 0 after the spin, 1 if it
 * could not become what it was asked to be.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long vep_hog_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sched_param sp = { .sched_priority = 50 };
	long long end;
	cpu_set_t set;
	int cpu;

	if (argc != 3) {
		fprintf(stderr, "usage: vep-hog CPU MS\n");
		return 2;
	}
	cpu = atoi(argv[1]);

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "vep-hog: CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		fprintf(stderr, "vep-hog: SCHED_FIFO: %s\n", strerror(errno));
		return 1;
	}

	end = vep_hog_ms() + atoll(argv[2]);
	while (vep_hog_ms() < end)
		;

	return 0;
}
