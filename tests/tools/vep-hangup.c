// SPDX-License-Identifier: GPL-2.0
/*
 * vep-hangup: what a getty does to a terminal before its prompt, for a
 * machine that has no getty which does it (the arm64 endpoint's busybox
 * image): lead a new session, open TTY as its controlling terminal, hang
 * it up with vhangup(), open it again and read it until killed.
 *
 *   vep-hangup TTY
 *
 * Exit status: 1 if an open or the hangup failed, 0 if the terminal hung
 * up or ended while read; killed (by timeout(1), say) otherwise.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[256];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: vep-hangup TTY\n");
		return 2;
	}
	if (setsid() < 0) {
		perror("vep-hangup: setsid");
		return 1;
	}
	/* The hangup signals this session too */
	signal(SIGHUP, SIG_IGN);
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror("vep-hangup: open");
		return 1;
	}
	if (vhangup() < 0) {
		perror("vep-hangup: vhangup");
		return 1;
	}
	close(fd);
	signal(SIGHUP, SIG_DFL);

	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror("vep-hangup: open after the hangup");
		return 1;
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return 0;
}
