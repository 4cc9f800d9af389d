// SPDX-License-Identifier: GPL-2.0
/*
 * vep-gap: how long a spinning thread loses its CPU.
 *
 *   vep-gap CPU SECONDS
 *
 * Moves itself to CPU and reads CLOCK_MONOTONIC in a loop for SECONDS.
 * Every gap between two reads is time the thread did not run: other
 * threads on CPU, interrupts, or a hypervisor running something else.
 * Prints "GAPS >1ms N >5ms N >10ms N max US".  Run it at the nice value of
 * the thread it stands for (the rig's poll vCPU: -15), with competitors
 * beside it.  Exits 1 if it could not move to CPU.
 */

#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long vep_gap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long n1 = 0, n5 = 0, n10 = 0, max = 0;
	long long start, end, last, t, d;
	cpu_set_t set;

	if (argc != 3) {
		fprintf(stderr, "usage: vep-gap CPU SECONDS\n");
		return 2;
	}

	CPU_ZERO(&set);
	CPU_SET(atoi(argv[1]), &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("vep-gap: sched_setaffinity");
		return 1;
	}

	start = vep_gap_now_ns();
	end = start + atoll(argv[2]) * 1000000000LL;
	last = start;
	do {
		t = vep_gap_now_ns();
		d = t - last;
		last = t;
		n1 += d > 1000000;
		n5 += d > 5000000;
		n10 += d > 10000000;
		if (d > max)
			max = d;
	} while (t < end);

	printf("GAPS >1ms %lld >5ms %lld >10ms %lld max %lld\n",
	       n1, n5, n10, max / 1000);
	return 0;
}
