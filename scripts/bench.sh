#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmarks: boot the rig once per suite (bench/guest/SUITE.sh),
# then print a table of each suite's results with ratios and write it as
# CSV.
#
#   scripts/bench.sh [-k KVER] [-s console|net|all] [-n MIB] [-t SECS]
#                    [-r REPS]
#
# Each measurement is repeated REPS times (default 3) and reported as
# median (min..max), side by side from the same boot.  Console transfers
# move MIB MiB (default 8); net iperf3 runs last SECS seconds (default 5).
# The console logs go to build/bench/SUITE.log, the tables to
# build/bench/SUITE.csv.  Numbers from a shared, noisy machine under TCG:
# compare the ratios, not the values.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
mib=8
secs=5
reps=3
suite=all
while getopts "k:s:n:t:r:h" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	s) suite=$OPTARG ;;
	n) mib=$OPTARG ;;
	t) secs=$OPTARG ;;
	r) reps=$OPTARG ;;
	*) sed -n '/^#   scripts/,/^$/p' "$0" >&2; exit 2 ;;
	esac
done

"$top/scripts/deps.sh"
kdir=$("$top/scripts/kernel.sh" "$kver")
make -s -C "$kdir" M="$top" W=1 modules >&2

out=$top/build/bench
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

iargs=(-o "$tmp/initramfs.cpio.gz" -f "$top/tests/lib:/tests/lib"
       -f "$top/tests/known-warnings:/tests/known-warnings"
       -f "$top/bench/guest:/bench")
while IFS= read -r m; do iargs+=(-m "$m"); done \
	< <(find "$top/drivers" -name '*.ko' | sort)
while IFS= read -r e; do iargs+=(-f "$e"); done \
	< <("$top/scripts/tools.sh" "$kdir" "$top/build/tools-$kver")
"$top/scripts/initramfs.sh" "${iargs[@]}"

# console_suite: console throughput, echo and CPU cost, dedicated vs
# mediated vs pty
console_suite() {
	# Time limit: boot and set-up, then 3 paths x REPS x (2 transfers that give
	# up after max(30, 8 x MIB) s each, and an echo round of at most 20 s).  A
	# guest that hangs (see bench/README) is cut off there.
	local xfer_secs limit

	xfer_secs=$((mib * 8 > 30 ? mib * 8 : 30))
	limit=$((180 + 3 * reps * (2 * xfer_secs + 30)))

	echo "bench.sh: console benchmark, $reps x $mib MiB, kernel $kver" >&2
	"$top/scripts/qemu.sh" -k "$kdir/arch/x86/boot/bzImage" \
		-i "$tmp/initramfs.cpio.gz" -r /bench/console.sh -t "$limit" \
		-a "vep.bench_mib=$mib vep.bench_reps=$reps" \
		-l "$out/console.log" >/dev/null || rc=1
	tr -d '\r' <"$out/console.log" | grep '^# ' >&2 || true
	grep -q "^VEP-EXIT 0" <(tr -d '\r' <"$out/console.log") ||
		echo "bench.sh: the console run failed; see $out/console.log" >&2

	tr -d '\r' <"$out/console.log" | { grep '^BENCH ' || true; } | awk -v csv="$out/console.csv" '
	function med(key,    n, i, j, t, a) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i]
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		lo[key] = a[1]; hi[key] = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function add(key, v) {
		if (v == "-") return
		val[key, ++cnt[key]] = v
	}
	$3 == "rtt" { add($2 SUBSEP "rtt", $6); next }
	{
		add($2 SUBSEP $3 "_mibps", $5)
		add($2 SUBSEP $3 "_ep", $6)
		add($2 SUBSEP $3 "_rig", $7)
	}
	END {
		np = split("dedicated mediated pty", paths, " ")
		nm = split("h2e_mibps e2h_mibps rtt h2e_ep e2h_ep h2e_rig e2h_rig", ms, " ")
		name["h2e_mibps"] = "host->endpoint MiB/s"
		name["e2h_mibps"] = "endpoint->host MiB/s"
		name["rtt"] = "1-byte echo round trip, us"
		name["h2e_ep"] = "endpoint CPU ms/MiB, host->endpoint"
		name["e2h_ep"] = "endpoint CPU ms/MiB, endpoint->host"
		name["h2e_rig"] = "all CPU ms/MiB, host->endpoint"
		name["e2h_rig"] = "all CPU ms/MiB, endpoint->host"
		print "metric,path,runs,median,min,max" > csv
		printf "%-38s %16s %16s %16s %9s %9s\n", "median (min..max)", "dedicated", \
			"mediated", "pty", "ded/med", "ded/pty"
		for (m = 1; m <= nm; m++) {
			line = sprintf("%-38s", name[ms[m]])
			for (p = 1; p <= np; p++) {
				key = paths[p] SUBSEP ms[m]
				if (!cnt[key]) { md[p] = ""; line = line sprintf(" %16s", "-"); continue }
				md[p] = med(key)
				line = line sprintf(" %16s", sprintf("%g (%g..%g)", md[p], lo[key], hi[key]))
				printf "%s,%s,%d,%g,%g,%g\n", ms[m], paths[p], cnt[key], \
					md[p], lo[key], hi[key] > csv
			}
			for (p = 2; p <= 3; p++)
				line = line sprintf(" %9s", md[1] != "" && md[p] != "" && md[p] > 0 ? \
					sprintf("%.2f", md[1] / md[p]) : "-")
			print line
		}
	}'
	echo "bench.sh: table written to $out/console.csv" >&2
}

# net_suite: iperf3 and ping, dedicated vs mediated vs veth
net_suite() {
	# Boot and set-up, then 3 paths x REPS x (4 iperf3 runs of SECS s,
	# with margin, and a ping round)
	local limit=$((180 + 3 * reps * (4 * (secs + 20) + 10)))

	echo "bench.sh: net benchmark, $reps x $secs s, kernel $kver" >&2
	"$top/scripts/qemu.sh" -k "$kdir/arch/x86/boot/bzImage" \
		-i "$tmp/initramfs.cpio.gz" -r /bench/net.sh -t "$limit" \
		-a "vep.bench_secs=$secs vep.bench_reps=$reps" \
		-l "$out/net.log" >/dev/null || rc=1
	tr -d '\r' <"$out/net.log" | grep '^# ' >&2 || true
	grep -q "^VEP-EXIT 0" <(tr -d '\r' <"$out/net.log") ||
		echo "bench.sh: the net run failed; see $out/net.log" >&2

	tr -d '\r' <"$out/net.log" | { grep '^BENCH ' || true; } | awk -v csv="$out/net.csv" '
	{ key = $2 SUBSEP $3; val[key, ++cnt[key]] = $5 }
	function med(key,    n, i, j, t, a) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i]
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		lo[key] = a[1]; hi[key] = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		np = split("dedicated mediated veth", paths, " ")
		nm = split("tcp_h2e tcp_e2h udp_h2e udp_e2h udp_h2e_loss udp_e2h_loss ping_us", ms, " ")
		name["tcp_h2e"] = "TCP host->endpoint Mbit/s"
		name["tcp_e2h"] = "TCP endpoint->host Mbit/s"
		name["udp_h2e"] = "UDP host->endpoint Mbit/s"
		name["udp_e2h"] = "UDP endpoint->host Mbit/s"
		name["udp_h2e_loss"] = "UDP host->endpoint loss %"
		name["udp_e2h_loss"] = "UDP endpoint->host loss %"
		name["ping_us"] = "ping round trip, us"
		print "metric,path,runs,median,min,max" > csv
		printf "%-30s %20s %20s %20s %9s %9s\n", "median (min..max)", \
			"dedicated", "mediated", "veth", "ded/med", "ded/veth"
		for (m = 1; m <= nm; m++) {
			line = sprintf("%-30s", name[ms[m]])
			for (p = 1; p <= np; p++) {
				key = paths[p] SUBSEP ms[m]
				if (!cnt[key]) { md[p] = ""; line = line sprintf(" %20s", "-"); continue }
				md[p] = med(key)
				line = line sprintf(" %20s", sprintf("%g (%g..%g)", md[p], lo[key], hi[key]))
				printf "%s,%s,%d,%g,%g,%g\n", ms[m], paths[p], cnt[key], \
					md[p], lo[key], hi[key] > csv
			}
			for (p = 2; p <= 3; p++)
				line = line sprintf(" %9s", md[1] != "" && md[p] != "" && md[p] > 0 ? \
					sprintf("%.2f", md[1] / md[p]) : "-")
			print line
		}
	}'
	echo "bench.sh: table written to $out/net.csv" >&2
}

rc=0
case $suite in
console) console_suite ;;
net) net_suite ;;
all) console_suite; net_suite ;;
*) echo "bench.sh: unknown suite $suite" >&2; exit 2 ;;
esac

exit $rc
