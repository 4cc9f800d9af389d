// SPDX-License-Identifier: GPL-2.0
/*
 * vep-stallwatch: where a VM's vCPU thread was while it did not run.
 *
 *   vep-stallwatch PID THREAD OUTFILE
 *
 * Every 10 ms, reads the scheduler's run and wait times of each thread of
 * process PID (a QEMU) and the steal time of each host CPU, and keeps the
 * last 120 s in memory.  On SIGUSR1 it writes to OUTFILE (replacing it)
 * the longest spells of the last 120 s in which thread THREAD (by name,
 * "CPU 1/TCG") ran less than a quarter of the time, longest first:
 *
 *   AGO_MS LEN_MS ran R waited W (runnable, not run) steal S | NAME RUN ...
 *
 * AGO_MS is how long before the signal the spell began.  A spell with W
 * near LEN_MS: the thread wanted its host CPU and others had it (the
 * threads listed, or a hypervisor: steal).  W near 0: it was not runnable,
 * halted by its guest or blocked inside QEMU; a guest that was spinning
 * then (a poll thread in a set-up) says the second.  A thread that ran
 * throughout has no spell: whatever the guest saw then happened inside it.
 * Once the thread is gone (its QEMU ended), sampling stops and the dump
 * covers what came before.  SIGTERM ends it.  Meant for the test harness,
 * beside the rig; about a hundredth of a millisecond of CPU per sample.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VEP_SW_TICK_NS	10000000L
#define VEP_SW_SAMPLES	12000
#define VEP_SW_THREADS	16
#define VEP_SW_CPUS	8
#define VEP_SW_SPELLS	12

struct vep_sw_thread {
	int tid;
	char comm[24];
	unsigned long long run, wait;
};

struct vep_sw_sample {
	long long t;				/* ns, CLOCK_MONOTONIC */
	unsigned int run[VEP_SW_THREADS];	/* us in the tick */
	unsigned int wait[VEP_SW_THREADS];
	unsigned int steal[VEP_SW_CPUS];	/* us in the tick */
};

static struct vep_sw_thread vep_sw_th[VEP_SW_THREADS];
static int vep_sw_nth;
static struct vep_sw_sample vep_sw_ring[VEP_SW_SAMPLES];
static long vep_sw_head;			/* samples taken */
static unsigned long long vep_sw_steal[VEP_SW_CPUS];
static int vep_sw_ncpu;
/* set by the signal handler; read after each sleep, a call the compiler cannot see through */
static sig_atomic_t vep_sw_dump, vep_sw_stop;

static long long vep_sw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The threads of @pid, names and all; their counters start from now */
static void vep_sw_scan(int pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir)) && vep_sw_nth < VEP_SW_THREADS) {
		struct vep_sw_thread *t = &vep_sw_th[vep_sw_nth];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		t->tid = atoi(d->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid,
			 t->tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(t->comm, sizeof(t->comm), f))
			t->comm[0] = 0;
		fclose(f);
		t->comm[strcspn(t->comm, "\n")] = 0;
		vep_sw_nth++;
	}
	closedir(dir);
}

static int vep_sw_schedstat(int pid, int tid, unsigned long long *run,
			    unsigned long long *wait)
{
	char path[64];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%llu %llu", run, wait);
	fclose(f);
	return n == 2 ? 0 : -1;
}

/* Steal time per CPU, in USER_HZ ticks as /proc/stat gives it */
static void vep_sw_read_steal(unsigned long long *steal)
{
	char line[256];
	FILE *f = fopen("/proc/stat", "r");

	vep_sw_ncpu = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8];
		int cpu;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu",
			   &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7]) != 9 || cpu >= VEP_SW_CPUS)
			continue;
		steal[cpu] = v[7];
		if (cpu + 1 > vep_sw_ncpu)
			vep_sw_ncpu = cpu + 1;
	}
	fclose(f);
}

/* Returns -1 once thread @who is gone (its QEMU ended): no sample then */
static int vep_sw_sample(int pid, int who, long long t)
{
	struct vep_sw_sample *s = &vep_sw_ring[vep_sw_head % VEP_SW_SAMPLES];
	unsigned long long steal[VEP_SW_CPUS] = { 0 };
	long us_per_tick = 1000000L / sysconf(_SC_CLK_TCK);
	unsigned long long run, wait;
	int i;

	if (vep_sw_schedstat(pid, vep_sw_th[who].tid, &run, &wait))
		return -1;

	memset(s, 0, sizeof(*s));
	s->t = t;
	for (i = 0; i < vep_sw_nth; i++) {
		struct vep_sw_thread *th = &vep_sw_th[i];

		if (vep_sw_schedstat(pid, th->tid, &run, &wait))
			continue;
		s->run[i] = (run - th->run) / 1000;
		s->wait[i] = (wait - th->wait) / 1000;
		th->run = run;
		th->wait = wait;
	}
	vep_sw_read_steal(steal);
	for (i = 0; i < vep_sw_ncpu; i++) {
		s->steal[i] = (steal[i] - vep_sw_steal[i]) * us_per_tick;
		vep_sw_steal[i] = steal[i];
	}
	vep_sw_head++;
	return 0;
}

struct vep_sw_spell {
	long first, last;	/* sample indexes, absolute */
};

/* Write the longest spells in which thread @who ran under a quarter */
static void vep_sw_write(const char *out, int who)
{
	struct vep_sw_spell sp[VEP_SW_SPELLS] = { 0 };
	long first = vep_sw_head > VEP_SW_SAMPLES ?
		     vep_sw_head - VEP_SW_SAMPLES + 1 : 1;
	long long end = vep_sw_now();
	long i, start = -1;
	int n = 0, k, j;
	FILE *f;

	f = fopen(out, "w");
	if (!f)
		return;
	for (i = first; i <= vep_sw_head; i++) {
		struct vep_sw_sample *s = &vep_sw_ring[i % VEP_SW_SAMPLES];
		long long len = i < vep_sw_head ?
			s->t - vep_sw_ring[(i - 1) % VEP_SW_SAMPLES].t : 0;
		int low = i < vep_sw_head && s->run[who] * 4000LL < len;

		if (low && start < 0)
			start = i;
		if (low || start < 0)
			continue;
		/* spell [start, i - 1]: keep it if among the longest */
		for (k = 0; k < VEP_SW_SPELLS; k++) {
			long long a = sp[k].last ?
				vep_sw_ring[sp[k].last % VEP_SW_SAMPLES].t -
				vep_sw_ring[(sp[k].first - 1) % VEP_SW_SAMPLES].t : 0;
			long long b =
				vep_sw_ring[(i - 1) % VEP_SW_SAMPLES].t -
				vep_sw_ring[(start - 1) % VEP_SW_SAMPLES].t;

			if (b > a) {
				memmove(&sp[k + 1], &sp[k],
					(VEP_SW_SPELLS - k - 1) * sizeof(*sp));
				sp[k].first = start;
				sp[k].last = i - 1;
				if (n < VEP_SW_SPELLS)
					n++;
				break;
			}
		}
		start = -1;
	}

	for (k = 0; k < n; k++) {
		long long t0 = vep_sw_ring[(sp[k].first - 1) % VEP_SW_SAMPLES].t;
		long long t1 = vep_sw_ring[sp[k].last % VEP_SW_SAMPLES].t;
		unsigned long long run[VEP_SW_THREADS] = { 0 };
		unsigned long long wait = 0, steal[VEP_SW_CPUS] = { 0 };

		for (i = sp[k].first; i <= sp[k].last; i++) {
			struct vep_sw_sample *s =
				&vep_sw_ring[i % VEP_SW_SAMPLES];

			for (j = 0; j < vep_sw_nth; j++)
				run[j] += s->run[j];
			wait += s->wait[who];
			for (j = 0; j < vep_sw_ncpu; j++)
				steal[j] += s->steal[j];
		}
		fprintf(f, "%lld %lld ran %llu waited %llu steal",
			(end - t0) / 1000000, (t1 - t0) / 1000000,
			run[who] / 1000, wait / 1000);
		for (j = 0; j < vep_sw_ncpu; j++)
			fprintf(f, "%s%llu", j ? "," : " ", steal[j] / 1000);
		fprintf(f, " |");
		for (j = 0; j < vep_sw_nth; j++)
			if (j != who && run[j] >= 1000)
				fprintf(f, " %s %llu", vep_sw_th[j].comm,
					run[j] / 1000);
		fprintf(f, "\n");
	}
	fclose(f);
}

static void vep_sw_on_signal(int sig)
{
	if (sig == SIGUSR1)
		vep_sw_dump = 1;
	else
		vep_sw_stop = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = vep_sw_on_signal };
	struct timespec next;
	int pid, who = -1, gone = 0, i;

	if (argc != 4) {
		fprintf(stderr, "usage: vep-stallwatch PID THREAD OUTFILE\n");
		return 2;
	}
	pid = atoi(argv[1]);
	vep_sw_scan(pid);
	for (i = 0; i < vep_sw_nth; i++)
		if (!strcmp(vep_sw_th[i].comm, argv[2]))
			who = i;
	if (who < 0) {
		fprintf(stderr, "vep-stallwatch: no thread \"%s\" in %d\n",
			argv[2], pid);
		return 1;
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	vep_sw_sample(pid, who, vep_sw_now());
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!vep_sw_stop) {
		next.tv_nsec += VEP_SW_TICK_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		/* Once the VM is gone, what was seen stays to be written */
		if (!gone && vep_sw_sample(pid, who, vep_sw_now()))
			gone = 1;
		if (vep_sw_dump) {
			vep_sw_dump = 0;
			vep_sw_write(argv[3], who);
		}
	}
	return 0;
}
