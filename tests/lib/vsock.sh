#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the vsock function's test groups (one-kernel rig, where the
# host's virtio_vsock and the function's transport share this kernel).
# Source after tap.sh; $PORT is the port to use, $fn the function's
# configfs directory.

# vsock_xfer NAME CID [RUN]: 64 MiB of random data from a socket that
# connects to CID (run through RUN, e.g. on_ep, if given) to a listener on
# this kernel, checksums compared; the listener is started first and ends
# when the sender closes.  The time taken is a "#" line, and on a failure
# the function's cost counters and drops too.
vsock_xfer() {
	vx_src=/tmp/vsock.src
	head -c 67108864 /dev/urandom >"$vx_src"
	vx_want=$(sha256sum <"$vx_src" | cut -d' ' -f1)
	rm -f /tmp/vsock.got
	timeout 330 socat -u VSOCK-LISTEN:$PORT,reuseaddr \
		OPEN:/tmp/vsock.got,creat,trunc &
	vx_l=$!
	sleep 0.5
	vx_t0=$(date +%s)
	${3:-} timeout 300 socat -u OPEN:"$vx_src" VSOCK-CONNECT:"$2":$PORT
	vx_rc=$?
	[ $vx_rc -eq 0 ] || kill "$vx_l" 2>/dev/null
	wait "$vx_l"
	[ $vx_rc -eq 0 ] || {
		sed 's/^/# cost: /' /sys/kernel/debug/pci_epf_virtio/*/cost
		tr '\n' ' ' <"$fn/vsock/dropped" | sed 's/^/# dropped: /'
		echo
	}
	vx_t=$(($(date +%s) - vx_t0))
	vx_got=$(sha256sum </tmp/vsock.got | cut -d' ' -f1)
	tap_diag "$1: 64 MiB in ${vx_t} s"
	tap_check "$1: 64 MiB, checksums match" test "$vx_rc" -eq 0 -a \
		"$vx_got" = "$vx_want"
	rm -f "$vx_src" /tmp/vsock.got
}
