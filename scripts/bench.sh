#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the console benchmark: boot the rig once with bench/guest/console.sh,
# then print a table of the results with ratios and write it as CSV.
#
#   scripts/bench.sh [-k KVER] [-n MIB] [-r REPS]
#
# Each measurement is repeated REPS times (default 3; transfers of MIB
# MiB, default 8) and reported as median and min (max for round trips),
# side by side from the same boot.  The console log goes to
# build/bench/console.log, the table to build/bench/console.csv.  Numbers
# from a shared, noisy machine under TCG: compare the ratios, not the
# values.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
mib=8
reps=3
while getopts "k:n:r:h" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	n) mib=$OPTARG ;;
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

# Time limit: boot and set-up, then 3 paths x REPS x (2 transfers that give
# up after max(30, 8 x MIB) s each, and an echo round of at most 20 s).  A
# guest that hangs (see bench/README) is cut off there.
xfer_secs=$((mib * 8 > 30 ? mib * 8 : 30))
limit=$((180 + 3 * reps * (2 * xfer_secs + 30)))

echo "bench.sh: console benchmark, $reps x $mib MiB, kernel $kver" >&2
rc=0
"$top/scripts/qemu.sh" -k "$kdir/arch/x86/boot/bzImage" \
	-i "$tmp/initramfs.cpio.gz" -r /bench/console.sh -t "$limit" \
	-a "vep.bench_mib=$mib vep.bench_reps=$reps" \
	-l "$out/console.log" >/dev/null || rc=$?
tr -d '\r' <"$out/console.log" | grep '^# ' >&2 || true
[ $rc -eq 0 ] || echo "bench.sh: the guest run failed ($rc); see $out/console.log" >&2

tr -d '\r' <"$out/console.log" | grep '^BENCH ' | awk -v csv="$out/console.csv" '
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
exit $rc
