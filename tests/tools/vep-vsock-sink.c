// SPDX-License-Identifier: GPL-2.0
/*
 * vep-vsock-sink: a vsock listener that reads only when told to.
 *
 *   vep-vsock-sink PORT GO_FILE
 *
 * Listens on PORT (any CID), takes one connection and reads nothing until
 * GO_FILE exists, so that what the peer sends meanwhile stays in the
 * socket, up to the credit the socket gave.  Then it reads until the peer
 * closes or nothing came for a second, and prints "BYTES N".  Gives up
 * (exit 1) if no connection came, or GO_FILE did not appear, within 60 s.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define VEP_SINK_WAIT_S	60

int main(int argc, char **argv)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK };
	struct timeval tv = { .tv_sec = VEP_SINK_WAIT_S };
	long long total = 0;
	char buf[65536];
	int l, c, i;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: vep-vsock-sink PORT GO_FILE\n");
		return 2;
	}
	addr.svm_cid = VMADDR_CID_ANY;
	addr.svm_port = strtoul(argv[1], NULL, 0);

	l = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(l, 1)) {
		perror("vep-vsock-sink: listen");
		return 1;
	}
	/* The accept gives up after a while too */
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c = accept(l, NULL, NULL);
	if (c < 0) {
		perror("vep-vsock-sink: accept");
		return 1;
	}

	for (i = 0; access(argv[2], F_OK); i++) {
		if (i >= VEP_SINK_WAIT_S * 20) {
			fprintf(stderr, "vep-vsock-sink: %s never came\n",
				argv[2]);
			return 1;
		}
		usleep(50000);
	}

	tv.tv_sec = 1;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(c, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		fprintf(stderr, "vep-vsock-sink: read: %s\n", strerror(errno));
	printf("BYTES %lld\n", total);

	return 0;
}
