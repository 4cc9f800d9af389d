// SPDX-License-Identifier: GPL-2.0
/*
 * vep-bar: read or write a PCI memory BAR through its sysfs resource file
 * (/sys/bus/pci/devices/DEV/resourceN), for kernels without /dev/mem.
 *
 *   vep-bar FILE OFFSET LEN         copy LEN bytes at OFFSET to stdout
 *   vep-bar -w FILE OFFSET          copy stdin (at most 64 KiB) to OFFSET
 *   vep-bar -l FILE OFFSET [VALUE]  one 32-bit register: print it as
 *                                   0x%08x, or write VALUE to it
 *
 * OFFSET, LEN and VALUE may be decimal or 0x hex.  The BAR is mapped
 * uncached (what sysfs gives) and accessed in aligned 32-bit words where
 * the range allows, else in bytes.  Exit status 0 on success, 1 on an
 * error (a range beyond the BAR, a failed mmap), 2 on bad usage.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void vep_bar_usage(void)
{
	fprintf(stderr, "usage: vep-bar FILE OFFSET LEN\n"
		"       vep-bar -w FILE OFFSET\n"
		"       vep-bar -l FILE OFFSET [VALUE]\n");
	exit(2);
}

static uint64_t vep_bar_num(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		vep_bar_usage();
	return v;
}

static void vep_bar_die(const char *what)
{
	fprintf(stderr, "vep-bar: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Single accesses the compiler may neither merge, split nor drop */
static uint32_t vep_bar_rd32(const uint8_t *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

static void vep_bar_wr32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

/* Copy N bytes between BAR (uncached) and BUF, words where aligned */
static void vep_bar_copy(uint8_t *bar, uint8_t *buf, size_t n, int to_bar)
{
	size_t i = 0;
	uint32_t w;

	while (i < n) {
		if (!((uintptr_t)(bar + i) & 3) && n - i >= 4) {
			if (to_bar) {
				memcpy(&w, buf + i, 4);
				vep_bar_wr32(bar + i, w);
			} else {
				w = vep_bar_rd32(bar + i);
				memcpy(buf + i, &w, 4);
			}
			i += 4;
		} else if (to_bar) {
			__atomic_store_n(bar + i, buf[i], __ATOMIC_RELAXED);
			i++;
		} else {
			buf[i] = __atomic_load_n(bar + i, __ATOMIC_RELAXED);
			i++;
		}
	}
}

int main(int argc, char **argv)
{
	int write_mode = 0, reg = 0, opt, fd;
	uint64_t off, len, page, start;
	uint8_t *map, *at;
	uint8_t buf[65536];
	struct stat st;
	uint32_t val;
	ssize_t n = 0;
	size_t got;

	while ((opt = getopt(argc, argv, "wlh")) != -1) {
		switch (opt) {
		case 'w':
			write_mode = 1;
			break;
		case 'l':
			reg = 1;
			break;
		default:
			vep_bar_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || (write_mode && reg) || (write_mode && argc != 2) ||
	    (reg && argc > 3) || (!write_mode && !reg && argc != 3))
		vep_bar_usage();

	fd = open(argv[0], O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st))
		vep_bar_die(argv[0]);
	off = vep_bar_num(argv[1]);
	len = reg ? 4 : write_mode ? 0 : vep_bar_num(argv[2]);
	if (off > (uint64_t)st.st_size || len > st.st_size - off ||
	    (reg && (off & 3))) {
		fprintf(stderr, "vep-bar: %s: bad range 0x%llx+0x%llx (size 0x%llx)\n",
			argv[0], (unsigned long long)off,
			(unsigned long long)len, (unsigned long long)st.st_size);
		return 1;
	}

	/* map only the pages asked for (a window may be big) */
	page = sysconf(_SC_PAGESIZE);
	start = off & ~(page - 1);
	if (write_mode) {
		while (len < sizeof(buf) &&
		       (n = read(0, buf + len, sizeof(buf) - len)) > 0)
			len += n;
		if (n < 0)
			vep_bar_die("stdin");
		if (len > st.st_size - off ||
		    (len == sizeof(buf) && read(0, &val, 1) > 0)) {
			fprintf(stderr, "vep-bar: input beyond the BAR or 64 KiB\n");
			return 1;
		}
	}
	if (!len)
		return 0;
	map = mmap(NULL, off - start + len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, start);
	if (map == MAP_FAILED)
		vep_bar_die("mmap");
	at = map + (off - start);

	if (reg && argc == 3) {
		val = vep_bar_num(argv[2]);
		vep_bar_wr32(at, val);
	} else if (reg) {
		printf("0x%08x\n", vep_bar_rd32(at));
	} else if (write_mode) {
		vep_bar_copy(at, buf, len, 1);
	} else {
		while (len) {
			got = len < sizeof(buf) ? len : sizeof(buf);
			vep_bar_copy(at, buf, got, 0);
			if (fwrite(buf, 1, got, stdout) != got)
				vep_bar_die("stdout");
			at += got;
			len -= got;
		}
	}
	return fflush(stdout) ? 1 : 0;
}
