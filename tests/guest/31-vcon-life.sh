#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The console function's life cycle, with data moving: the endpoint stops
# and starts its link, the endpoint's tty is opened, closed and hung up
# while the host writes, and the host's hvc0 serves a login to the
# endpoint, and the host's driver is unbound and bound again 50 times.  Sides and CPUs as in 30-vcon.sh; set-up retries as in
# tests/lib/vcon.sh (host_wait_bound).
#
# vep-timeout: 600

. /tests/lib/tap.sh
. /tests/lib/rig.sh
. /tests/lib/term.sh
. /tests/lib/vcon.sh

term_require_kernel

vcon_load
term_sides
epc=$(rig_epc 0)
fn=$EPCFS/functions/pci_epf_vcon/con0

tap_check "con0 on controller 0, MSI-X, link up" vcon_fn con0 0 4
bdf=$(host_bdf 0)
tap_check "host virtio_console binds the device" host_wait_bound "$bdf" 30 ||
	{ tap_end; exit 1; }
term_sides

# --- endpoint stop/start ---------------------------------------------------------
n=0
why=
while [ $n -lt 20 ]; do
	echo 0 >"$epc/start" || { why="stop failed"; break; }
	rig_link 0 down || { why="link not down"; break; }
	echo 1 >"$epc/start" || { why="start failed"; break; }
	rig_link 0 up || { why="link not up"; break; }
	host_wait_bound "$bdf" 10 || { why="host driver not bound"; break; }
	n=$((n + 1))
done
tap_check "endpoint stopped and started 20 times ($n done${why:+: $why})" \
	test $n -eq 20
[ -n "$why" ] && dmesg | tail -n 8 | sed 's/^/# /'
term_sides
xfer_check "host to endpoint after the restarts: 256 KiB" 262144 \
	/dev/hvc0 /dev/hvcEP0 60
xfer_check "endpoint to host after the restarts: 256 KiB" 262144 \
	/dev/hvcEP0 /dev/hvc0 60

# --- host driver unbind/bind x50 ------------------------------------------------
#
# Every tenth bind moves 4 KiB each way.  (Not yet with the endpoint
# streaming through the rebinds: see the README's status.)
n=0
why=
while [ $n -lt 50 ]; do
	echo "$bdf" >"$VIRTIO_PCI/unbind" || { why="unbind failed"; break; }
	echo "$bdf" >"$VIRTIO_PCI/bind" || { why="bind failed"; break; }
	host_wait_bound "$bdf" 10 || { why="not bound"; break; }
	rig_wait 5 test -c /dev/hvc0 || { why="no hvc0"; break; }
	n=$((n + 1))
	[ $((n % 10)) -eq 0 ] || continue
	xfer_check "rebind $n: host to endpoint 4 KiB" 4096 /dev/hvc0 /dev/hvcEP0 20 ||
		{ why="no data"; break; }
	xfer_check "rebind $n: endpoint to host 4 KiB" 4096 /dev/hvcEP0 /dev/hvc0 20 ||
		{ why="no data"; break; }
done
tap_check "host driver unbound and bound 50 times ($n done${why:+: $why})" \
	test $n -eq 50
[ -n "$why" ] && dmesg | tail -n 12 | sed 's/^/# /'
term_sides
xfer_check "host to endpoint after the rebinds: 256 KiB" 262144 \
	/dev/hvc0 /dev/hvcEP0 60
xfer_check "endpoint to host after the rebinds: 256 KiB" 262144 \
	/dev/hvcEP0 /dev/hvc0 60

# --- open, close and hang up hvcEP0 while the host writes ------------------------
#
# The host writes all along; meanwhile the endpoint opens and closes its
# tty, reads a little, and has it hung up (agetty calls vhangup() when it
# starts).  Data that arrives while the tty is closed is discarded, as on a
# serial line; the host's writer must never get stuck.  The endpoint's
# side is one script started before the host writes: a process that moves
# to the endpoint's CPU while the host's writer spins could wait forever
# for the host's CPU to flush its TLB (a one-kernel rig hazard).
cat >/tmp/ep-opens.sh <<'EOS'
n=0
while [ $n -lt 30 ]; do
	case $((n % 3)) in
	0) sh -c 'exec 5</dev/hvcEP0; sleep 0.05' ;;
	1) timeout 1 head -c 100 /dev/hvcEP0 >/dev/null ;;
	2) timeout 1 agetty -L --nohints hvcEP0 vt100 </dev/null >/dev/null 2>&1 ;;
	esac
	n=$((n + 1))
done
echo "$n" >/tmp/ep-opens
EOS
head -c 65536 /dev/zero >/tmp/zero
rm -f /tmp/ep-opens
taskset "$EP_CPUS" sh /tmp/ep-opens.sh &
ep_opens=$!
exec 9<>/dev/hvc0
term_raw /dev/hvc0
taskset "$HOST_CPUS" sh -c \
	'while [ ! -e /tmp/ep-opens ]; do cat /tmp/zero; done' >&9 &
host_writer=$!
rig_wait 120 test -e /tmp/ep-opens
tap_check "endpoint opened, closed, hung up hvcEP0 30 times while the host wrote" \
	grep -qx 30 /tmp/ep-opens
if rig_wait 30 sh -c "! kill -0 $host_writer"; then
	tap_ok "host writer not stuck"
else
	tap_fail "host writer not stuck"
	rig_kill "$host_writer"
fi
rig_kill "$ep_opens"
wait $host_writer $ep_opens 2>/dev/null
exec 9>&-
xfer_check "host to endpoint afterwards: 64 KiB" 65536 /dev/hvc0 /dev/hvcEP0 30
xfer_check "endpoint to host afterwards: 64 KiB" 65536 /dev/hvcEP0 /dev/hvc0 30

# --- login the other way: a getty on the host's hvc0 ---------------------------
term_open /dev/hvcEP0
on_host /usr/bin/setsid agetty -L --nohints hvc0 vt100 </dev/null >/dev/null 2>&1 &
getty=$!
term_login "endpoint hvcEP0 logs in through a getty on the host's hvc0"
term_close
rig_kill "$getty"

tap_diag "host set-ups retried after a poll thread lapse: $SETUP_RETRIES"
tap_check "at most 3 set-up retries (the rig's vCPU stalls)" \
	test "$SETUP_RETRIES" -le 3

# --- teardown --------------------------------------------------------------------
tap_check "stop the link" sh -c "echo 0 > $epc/start"
tap_check "link down complete" rig_link 0 down
tap_check "unlink the function" rm "$epc/con0"
tap_check "remove the function" rmdir "$fn"
tap_check "unload pci-epf-vcon" rmmod pci_epf_vcon
tap_check "unload pci-epf-virtio" rmmod pci_epf_virtio
rig_check_dmesg
tap_end
exit $?
