#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the benchmarks: boot the rig once per suite (bench/guest/SUITE.sh),
# then print a table of each suite's results with ratios and write it as
# CSV.
#
#   scripts/bench.sh [-k KVER] [-s console|net|vsock|two-console|two-net|two|two-setup|all]
#                    [-n MIB] [-t SECS] [-r REPS] [-a 'ARCH...']
#                    [-p 'dedicated PATH...']
#
# Each measurement is repeated REPS times (default 3), the paths taking
# turns in every repetition, and reported as median (min..max), side by
# side from the same boot, with the count of runs that gave a value when
# some failed, and the CPU placement every path ran with.  Console transfers
# move MIB MiB (default 8); net iperf3 runs last SECS seconds (default 5).
# The console logs go to build/bench/SUITE.log, the tables to
# build/bench/SUITE.csv.  The suites across two machines (two-console,
# two-net; "two" runs both) run once per endpoint architecture (-a,
# default "x86_64 arm64"), each table in build/bench/SUITE.ARCH.csv, the
# rig's logs in build/bench/logs/.  The console suite measures the paths
# -p names (default "dedicated dma hvc mediated pty"), dedicated first: it is
# the numerator of every ratio.  Numbers from a shared, noisy machine
# under TCG: compare the ratios, not the values.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}
mib=8
# Across two machines the console moves about a twentieth of what it does
# in the one-kernel rig (see bench/README): 1 MiB unless -n says
two_mib=1
secs=5
reps=3
suite=all
arches="x86_64 arm64"
cpaths="dedicated dma hvc mediated pty"
while getopts "k:s:n:t:r:a:p:h" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	s) suite=$OPTARG ;;
	n) mib=$OPTARG two_mib=$OPTARG ;;
	t) secs=$OPTARG ;;
	r) reps=$OPTARG ;;
	a) arches=$OPTARG ;;
	p) cpaths=$OPTARG ;;
	*) sed -n '/^#   scripts/,/^$/p' "$0" >&2; exit 2 ;;
	esac
done

# The console paths: known names, dedicated first, and the ratio headings
# and the number of functions to set up per repetition that go with them
read -ra cplist <<<"$cpaths"
cpaths=${cplist[*]}
cratios=
cfns=0
for p in "${cplist[@]}"; do
	case $p in
	dedicated | dma | hvc | mediated) cfns=$((cfns + 1)) ;;
	pty) ;;
	*) echo "bench.sh: -p: unknown console path $p" >&2; exit 2 ;;
	esac
	[ "$p" = dedicated ] || cratios="$cratios ded/${p:0:3}"
done
if [ "${cplist[0]:-}" != dedicated ]; then
	echo "bench.sh: -p: dedicated must come first, it is every ratio's numerator" >&2
	exit 2
fi

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
# The functions, and the references the console suite measures them against
while IFS= read -r m; do iargs+=(-m "$m"); done \
	< <(find "$top/drivers" "$top/tests/ref" -name '*.ko' | sort)
# The vsock suite's no-device reference, from the kernel's own build
iargs+=(-m "$kdir/net/vmw_vsock/vsock_loopback.ko")
while IFS= read -r e; do iargs+=(-f "$e"); done \
	< <("$top/scripts/tools.sh" "$kdir" "$top/build/tools-$kver")
"$top/scripts/initramfs.sh" "${iargs[@]}"

# table CSV PATHS RATIOS METRICS: the table of a suite, from its results on
# stdin, and the same as CSV.  PATHS: the paths, the first one the
# numerator of every ratio; RATIOS: the ratio headings, one per other
# path; METRICS:
# "key=name" pairs separated by "|", in table order.  The results are
# lines
#
#   P TEXT...                 the placement every path ran with
#   V PATH METRIC REP VALUE   a value (a number, or n/a:REASON, with "-"
#                             for spaces in REASON: not measured, and
#                             unless REASON is "no-endpoint" or
#                             "no-iperf3-on-the-endpoint" an error)
#   F PATH METRIC REP         a failed repetition
#
# Each cell is "median (min..max)" of the values; one with fewer values than
# repetitions says so ("[2/3 ok]": the others failed or never ran), one
# without any says "failed (0/3 ok)", one that could not be measured
# "n/a (REASON)".
table() {
	awk -v csv="$1" -v pathlist="$2" -v ratiolist="$3" -v metriclist="$4" \
	    -v reps="$reps" '
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
	$1 == "P" { sub(/^P /, ""); placement = $0; next }
	$1 == "F" { failed[$2 SUBSEP $3]++; next }
	$1 == "V" && $5 ~ /^n\/a:/ {
		key = $2 SUBSEP $3
		why[key] = substr($5, 5)
		gsub(/-/, " ", why[key])
		nacnt[key]++
		next
	}
	$1 == "V" && $5 ~ /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ {
		key = $2 SUBSEP $3
		val[key, ++cnt[key]] = $5 + 0
		next
	}
	$1 == "V" {
		printf "bench.sh: ERROR: %s %s run %s: not a number: %s\n", \
			$2, $3, $4, $5 > "/dev/stderr"
		failed[$2 SUBSEP $3]++
	}
	END {
		np = split(pathlist, paths, " ")
		split(ratiolist, ratios, " ")
		nm = split(metriclist, mdef, "|")
		print "metric,path,reps,ok,failed,median,min,max,note" > csv
		# Cells first, to size the columns
		cell[0, 0] = "median (min..max)"
		for (p = 1; p <= np; p++) cell[0, p] = paths[p]
		for (p = 2; p <= np; p++) cell[0, np + p - 1] = ratios[p - 1]
		short = 0
		for (m = 1; m <= nm; m++) {
			eq = index(mdef[m], "=")
			metric = substr(mdef[m], 1, eq - 1)
			cell[m, 0] = substr(mdef[m], eq + 1)
			for (p = 1; p <= np; p++) {
				key = paths[p] SUBSEP metric
				ok = cnt[key] + 0
				bad = reps - ok - nacnt[key]
				md[p] = ""
				if (nacnt[key]) {
					cell[m, p] = "n/a (" why[key] ")"
					printf "%s,%s,%d,%d,%d,,,,n/a (%s)\n", metric, \
						paths[p], reps, ok, bad, why[key] > csv
					if (why[key] != "no endpoint" &&
					    why[key] != "no iperf3 on the endpoint")
						printf "bench.sh: ERROR: %s, %s: not measured in %d of %d runs: %s\n", \
							cell[m, 0], paths[p], nacnt[key], reps, \
							why[key] > "/dev/stderr"
					continue
				}
				if (!ok) {
					cell[m, p] = sprintf("failed (0/%d ok)", reps)
					printf "%s,%s,%d,0,%d,,,,failed\n", metric, \
						paths[p], reps, bad > csv
					short = 1
					continue
				}
				md[p] = med(key)
				cell[m, p] = sprintf("%g (%g..%g)", md[p], lo[key], hi[key])
				if (ok < reps) {
					cell[m, p] = cell[m, p] sprintf(" [%d/%d ok]", ok, reps)
					short = 1
				}
				printf "%s,%s,%d,%d,%d,%g,%g,%g,\n", metric, paths[p], \
					reps, ok, bad, md[p], lo[key], hi[key] > csv
			}
			for (p = 2; p <= np; p++)
				cell[m, np + p - 1] = md[1] != "" && md[p] != "" && md[p] > 0 ? \
					sprintf("%.2f", md[1] / md[p]) : "-"
		}
		for (c = 0; c <= 2 * np - 1; c++)
			for (m = 0; m <= nm; m++)
				if (length(cell[m, c]) > w[c]) w[c] = length(cell[m, c])
		print "placement, the same for every path: " \
			(placement != "" ? placement : "(not reported: the run failed early)")
		for (m = 0; m <= nm; m++) {
			line = sprintf("%-" w[0] "s", cell[m, 0])
			for (c = 1; c <= 2 * np - 1; c++)
				line = line sprintf("  %" w[c] "s", cell[m, c])
			print line
		}
		if (short)
			printf "[k/%d ok]: only k of %d runs gave a value; the others failed or did not run (see the \"#\" lines and the log)\n", \
				reps, reps
	}'
}

# run_suite NAME SCRIPT LIMIT ARGS: boot the rig to run SCRIPT with kernel
# arguments ARGS, at most LIMIT seconds; the console goes to
# build/bench/NAME.log, its "#" lines to stderr
run_suite() {
	"$top/scripts/qemu.sh" -k "$kdir/arch/x86/boot/bzImage" \
		-i "$tmp/initramfs.cpio.gz" -r "$2" -t "$3" -a "$4" \
		-l "$out/$1.log" >/dev/null || rc=1
	tr -d '\r' <"$out/$1.log" | grep '^# ' >&2 || true
	grep -q "^VEP-EXIT 0" <(tr -d '\r' <"$out/$1.log") ||
		echo "bench.sh: the $1 run failed; see $out/$1.log" >&2
}

# The board the cost model estimates for (bench/README, "A cost model"):
# a CPU read across the link (non-posted) and a CPU write (posted), in
# ns; the DMA engine's rate in MB/s and its cost per transfer in us; how
# many times faster the board's CPU runs the endpoint's work than the
# rig's vCPU does
board_read_ns=${VEP_BOARD_READ_NS:-1000}
board_write_ns=${VEP_BOARD_WRITE_NS:-50}
board_dma_mbps=${VEP_BOARD_DMA_MBPS:-2000}
board_dma_us=${VEP_BOARD_DMA_US:-5}
board_cpu_x=${VEP_BOARD_CPU_X:-20}
for v in board_read_ns board_write_ns board_dma_mbps board_dma_us board_cpu_x; do
	case ${!v} in
	'' | *[!0-9.]* | *.*.*)
		echo "bench.sh: VEP_${v^^} (${!v}): not a number" >&2; exit 2 ;;
	esac
done
if ! awk -v r="$board_dma_mbps" -v x="$board_cpu_x" 'BEGIN { exit !(r > 0 && x > 0) }'; then
	echo "bench.sh: VEP_BOARD_DMA_MBPS and VEP_BOARD_CPU_X must be above 0" >&2
	exit 2
fi
board_model="CPU read $board_read_ns ns, CPU write $board_write_ns ns, DMA $board_dma_mbps MB/s + $board_dma_us us a transfer, endpoint CPU $board_cpu_x x the rig's"

# console_rows ALL: a console suite's BENCH lines (stdin) as table input;
# a bulk line holds three metrics, the third DIR_ALL (all CPU of the rig,
# or of the host machine), and in the one-machine suite (ALL "rig") a
# fourth, DIR_khvcd.  A BENCH-COST line (after its bulk line) gives the
# link costs per MiB, and with the bulk line's endpoint CPU time the
# board estimate DIR_est, in MiB/s:
#
#   1 / (EP_CPU / CPU_X + (RING_RD + DATA_RD) x READ + WR x WRITE
#        + DMA x DMA_US + DMA_BYTES / DMA_RATE)
console_rows() {
	awk -v all="$1" -v rd_ns="$board_read_ns" -v wr_ns="$board_write_ns" \
	    -v dma_mbps="$board_dma_mbps" -v dma_us="$board_dma_us" \
	    -v cpu_x="$board_cpu_x" '
	BEGIN { nc = split("ringrd datard wr dma dmab chains", cm, " ") }
	$1 == "BENCH-PLACEMENT" { sub(/^BENCH-PLACEMENT /, "P "); print }
	$1 == "BENCH-FAIL" && $3 == "rtt" { print "F", $2, "rtt", $4 }
	$1 == "BENCH-FAIL" && $3 != "rtt" {
		print "F", $2, $3 "_mibps", $4
		print "F", $2, $3 "_ep", $4
		print "F", $2, $3 "_" all, $4
		if (all == "rig")
			print "F", $2, $3 "_khvcd", $4
		for (i = 1; i <= nc; i++)
			print "F", $2, $3 "_" cm[i], $4
		print "F", $2, $3 "_rdpc", $4
		print "F", $2, $3 "_est", $4
	}
	$1 == "BENCH-COST" {
		for (i = 1; i <= nc; i++)
			print "V", $2, $3 "_" cm[i], $4, $(i + 4)
		if ($5 ~ /^n\/a:/) {
			print "V", $2, $3 "_rdpc", $4, $5
			print "V", $2, $3 "_est", $4, $5
			next
		}
		# Ring reads per chain
		print "V", $2, $3 "_rdpc", $4, \
			($10 > 0 ? sprintf("%.1f", $5 / $10) : "n/a:no-chains")
		ep = epcpu[$2, $3, $4]
		if (ep == "" || ep ~ /^n\/a:/) {
			print "V", $2, $3 "_est", $4, "n/a:no-endpoint-CPU-figure"
			next
		}
		us = ep * 1000 / cpu_x + ($5 + $6) * rd_ns / 1000 + \
		     $7 * wr_ns / 1000 + $8 * dma_us + $9 / dma_mbps
		print "V", $2, $3 "_est", $4, \
			(us > 0 ? sprintf("%.1f", 1e6 / us) : "n/a:no-time")
	}
	$1 == "BENCH" && $3 == "rtt" { print "V", $2, "rtt", $4, $6 }
	$1 == "BENCH" && $3 != "rtt" {
		epcpu[$2, $3, $4] = $6
		print "V", $2, $3 "_mibps", $4, $5
		print "V", $2, $3 "_ep", $4, $6
		print "V", $2, $3 "_" all, $4, $7
		if (all == "rig")
			print "V", $2, $3 "_khvcd", $4, $8
	}'
}

# net_rows: a net suite's BENCH lines (stdin) as table input.  A
# BENCH-COST line gives a run's link costs per packet (per chain, both
# directions counted) and the board estimate RUN_est in Mbit/s:
#
#   bytes per packet x 8 / (EP_CPU / CPU_X + (RING_RD + DATA_RD) x READ
#                           + WR x WRITE + DMA x DMA_US + DMA_BYTES / DMA_RATE)
#
# all per packet
net_rows() {
	awk -v rd_ns="$board_read_ns" -v wr_ns="$board_write_ns" \
	    -v dma_mbps="$board_dma_mbps" -v dma_us="$board_dma_us" \
	    -v cpu_x="$board_cpu_x" '
	BEGIN { nc = split("ringrd datard wr dma bpp irq kick est", cm, " ") }
	$1 == "BENCH-PLACEMENT" { sub(/^BENCH-PLACEMENT /, "P "); print }
	$1 == "BENCH-FAIL" {
		print "F", $2, $3, $4
		if ($3 ~ /^tcp_[a-z0-9]*$/)
			for (i = 1; i <= nc; i++)
				print "F", $2, $3 "_" cm[i], $4
	}
	$1 == "BENCH" { print "V", $2, $3, $4, $5 }
	$1 == "BENCH-COST" && ($5 ~ /^n\/a:/ || $10 <= 0) {
		why = $5 ~ /^n\/a:/ ? $5 : "n/a:no-packets"
		for (i = 1; i <= nc; i++)
			print "V", $2, $3 "_" cm[i], $4, why
		next
	}
	$1 == "BENCH-COST" {
		n = $10
		print "V", $2, $3 "_ringrd", $4, sprintf("%.2f", $5 / n)
		print "V", $2, $3 "_datard", $4, sprintf("%.2f", $6 / n)
		print "V", $2, $3 "_wr", $4, sprintf("%.2f", $7 / n)
		print "V", $2, $3 "_dma", $4, sprintf("%.2f", $8 / n)
		print "V", $2, $3 "_bpp", $4, sprintf("%.0f", $11 / n)
		mib = $11 / 1048576
		print "V", $2, $3 "_irq", $4, \
			(mib > 0 ? sprintf("%.1f", $13 / mib) : "n/a:no-bytes")
		print "V", $2, $3 "_kick", $4, \
			(mib > 0 ? sprintf("%.1f", $14 / mib) : "n/a:no-bytes")
		us = $12 / n / cpu_x + ($5 + $6) / n * rd_ns / 1000 + \
		     $7 / n * wr_ns / 1000 + $8 / n * dma_us + $9 / n / dma_mbps
		print "V", $2, $3 "_est", $4, \
			(us > 0 ? sprintf("%.1f", $11 / n * 8 / us) : "n/a:no-time")
	}'
}

# The cost model's rows of a console table
cost_metrics=
for d in "h2e host->endpoint" "e2h endpoint->host"; do
	cost_metrics+="|${d%% *}_ringrd=ring CPU reads/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_rdpc=ring CPU reads/chain, ${d#* }"
	cost_metrics+="|${d%% *}_datard=data CPU reads/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_wr=CPU writes/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_dma=DMA transfers/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_dmab=DMA bytes/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_chains=chains/MiB, ${d#* }"
	cost_metrics+="|${d%% *}_est=board estimate MiB/s, ${d#* }"
done

# The cost model's rows of a net table, for the TCP runs
net_cost_metrics=
for d in "h2e host->endpoint" "e2h endpoint->host"; do
	net_cost_metrics+="|tcp_${d%% *}_ringrd=TCP ring CPU reads/packet, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_datard=TCP data CPU reads/packet, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_wr=TCP CPU writes/packet, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_dma=TCP DMA transfers/packet, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_bpp=TCP bytes/packet, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_irq=TCP host interrupts/MiB, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_kick=TCP host notifies seen/MiB, ${d#* }"
	net_cost_metrics+="|tcp_${d%% *}_est=TCP board estimate Mbit/s, ${d#* }"
done

# console_suite: console throughput, echo, CPU and link cost, dedicated
# (MMIO) vs dedicated on DMA vs dedicated on hvc vs mediated vs pty
console_suite() {
	# Time limit: boot and set-up, then per repetition up to 3 function
	# set-ups and teardowns (60 s each at most) per function path (a
	# set-up that failed after a poll thread lapse is tried again), and
	# per path 2 transfers that give up after max(30, 8 x MIB) s each and
	# an echo round of at most 20 s.  A guest that hangs (see
	# bench/README) is cut off there.
	local xfer_secs limit np=${#cplist[@]}

	xfer_secs=$((mib * 8 > 30 ? mib * 8 : 30))
	limit=$((180 + reps * (cfns * 3 * 60 + np * (2 * xfer_secs + 30))))

	echo "bench.sh: console benchmark, $reps x $mib MiB, paths $cpaths, kernel $kver" >&2
	run_suite console /bench/console.sh "$limit" \
		"vep.bench_mib=$mib vep.bench_reps=$reps vep.bench_paths=${cpaths// /,}"

	# BENCH lines to table input: a bulk line holds three metrics
	tr -d '\r' <"$out/console.log" | console_rows rig |
		table "$out/console.csv" "$cpaths" "${cratios# }" \
		"h2e_mibps=host->endpoint MiB/s|e2h_mibps=endpoint->host MiB/s|rtt=1-byte echo round trip, us|h2e_ep=endpoint CPU ms/MiB, host->endpoint|e2h_ep=endpoint CPU ms/MiB, endpoint->host|h2e_rig=all CPU ms/MiB, host->endpoint|e2h_rig=all CPU ms/MiB, endpoint->host|h2e_khvcd=khvcd CPU ms/MiB, host->endpoint|e2h_khvcd=khvcd CPU ms/MiB, endpoint->host$cost_metrics"
	echo "bench.sh: board model of the estimates: $board_model" >&2
	echo "bench.sh: table written to $out/console.csv" >&2
}

# net_suite: iperf3, ping and link cost, dedicated (MMIO) vs dedicated on
# DMA vs mediated vs veth
net_suite() {
	# Boot and set-up, then per repetition 6 function set-ups and
	# teardowns (60 s each at most) and 7 paths x (6 iperf3 runs of SECS
	# s, with margin, and a ping round)
	local limit=$((180 + reps * (6 * 60 + 7 * (6 * (secs + 20) + 10))))

	echo "bench.sh: net benchmark, $reps x $secs s, kernel $kver" >&2
	run_suite net /bench/net.sh "$limit" \
		"vep.bench_secs=$secs vep.bench_reps=$reps"

	tr -d '\r' <"$out/net.log" | net_rows |
		table "$out/net.csv" "tso noidx tsodma dedicated dma mediated veth" \
		"tso/noidx tso/tsodma tso/ded tso/dma tso/med tso/veth" \
		"tcp_h2e=TCP host->endpoint Mbit/s|tcp_e2h=TCP endpoint->host Mbit/s|udp_h2e=UDP host->endpoint Mbit/s|udp_e2h=UDP endpoint->host Mbit/s|udp_h2e_loss=UDP host->endpoint loss %|udp_e2h_loss=UDP endpoint->host loss %|udp150_h2e_loss=UDP at 150 Mbit/s host->endpoint loss %|udp150_e2h_loss=UDP at 150 Mbit/s endpoint->host loss %|ping_us=ping round trip, us$net_cost_metrics"
	echo "bench.sh: board model of the estimates: $board_model" >&2
	echo "bench.sh: table written to $out/net.csv" >&2
}

# vsock_suite: stream throughput, vsock through the function vs TCP over
# the network function vs vsock's own loopback
vsock_suite() {
	# Boot, then per repetition two function set-ups and teardowns (60 s
	# each at most) and 3 paths x 2 transfers that give up after 300 s
	local vmib=$((mib * 8)) limit=$((180 + reps * (2 * 60 + 3 * 2 * 310)))

	echo "bench.sh: vsock benchmark, $reps x $vmib MiB, kernel $kver" >&2
	run_suite vsock /bench/vsock.sh "$limit" \
		"vep.bench_mib=$vmib vep.bench_reps=$reps"
	tr -d '\r' <"$out/vsock.log" | awk '
		$1 == "BENCH-PLACEMENT" { sub(/^BENCH-PLACEMENT /, "P "); print }
		$1 == "BENCH-FAIL" { print "F", $2, $3, $4 }
		$1 == "BENCH" { print "V", $2, $3, $4, $5 }' |
		table "$out/vsock.csv" "vsock tcp loopback" "vsock/tcp vsock/loop" \
		"h2e_mibps=host->endpoint MiB/s|e2h_mibps=endpoint->host MiB/s"
	echo "bench.sh: table written to $out/vsock.csv" >&2
}

# two_suite NAME ROWS PATHS RATIOS METRICS: a benchmark across the two
# machines (bench/two/NAME.sh, through scripts/test.sh, which builds the
# tools and tests/run.sh the images), once per endpoint
# architecture in $arches; ROWS (a command) turns its BENCH lines into
# table input
two_suite() {
	local name=$1 rows=$2 a log

	for a in $arches; do
		echo "bench.sh: $name, endpoint $a, $reps runs each, kernel $kver" >&2
		log=$out/logs/$name.$a.log
		rm -f "$log"
		VEP_LOGDIR=$out/logs VEP_TWO_ARCHES=$a VEP_BENCH_MIB=$two_mib \
			VEP_BENCH_SECS=$secs VEP_BENCH_REPS=$reps KVER=$kver \
			"$top/scripts/test.sh" "$name" \
			>"$out/$name.$a.tap" 2>&1 || rc=1
		grep -E '^(not ok|# )' "$out/$name.$a.tap" >&2 || true
		[ -f "$log" ] || { echo "bench.sh: no log $log" >&2; rc=1; continue; }
		tr -d '\r' <"$log" | $rows |
			table "$out/$name.$a.csv" "$3" "$4" "$5"
		echo "bench.sh: table written to $out/$name.$a.csv" >&2
	done
}

# two_console_suite: the console across two machines, dedicated vs
# mediated
two_console_suite() {
	two_suite two-console "console_rows host" "dedicated mediated" "ded/med" \
		"h2e_mibps=host->endpoint MiB/s|e2h_mibps=endpoint->host MiB/s|rtt=1-byte echo round trip, us|h2e_ep=endpoint CPU ms/MiB, host->endpoint|e2h_ep=endpoint CPU ms/MiB, endpoint->host|h2e_host=host CPU ms/MiB, host->endpoint|e2h_host=host CPU ms/MiB, endpoint->host"
}

# two_net_suite: the network across two machines: the dedicated function
# as it ships (tso) and with the mediated one's features, and mediated
two_net_suite() {
	two_suite two-net net_rows \
		"tso dedicated mediated" "tso/ded tso/med" \
		"tcp_h2e=TCP host->endpoint Mbit/s|tcp_e2h=TCP endpoint->host Mbit/s|udp_h2e=UDP host->endpoint Mbit/s|udp_e2h=UDP endpoint->host Mbit/s|udp_h2e_loss=UDP host->endpoint loss %|udp_e2h_loss=UDP endpoint->host loss %|ping_us=ping round trip, us"
}

# two_setup_suite: host set-ups the endpoint's poll thread missed across
# two machines, by the nice value of the endpoint's other vCPU; a table of
# sums per value and kind of set-up (bench/two/two-setup.sh)
two_setup_suite() {
	local a log

	for a in $arches; do
		echo "bench.sh: two-setup, endpoint $a, $reps runs, kernel $kver" >&2
		log=$out/logs/two-setup.$a.log
		rm -f "$log"
		VEP_LOGDIR=$out/logs VEP_TWO_ARCHES=$a VEP_BENCH_REPS=$reps \
			KVER=$kver "$top/scripts/test.sh" two-setup \
			>"$out/two-setup.$a.tap" 2>&1 || rc=1
		grep -E '^(not ok|# )' "$out/two-setup.$a.tap" >&2 || true
		[ -f "$log" ] || { echo "bench.sh: no log $log" >&2; rc=1; continue; }
		tr -d '\r' <"$log" | awk '
			$1 == "BENCH-FAIL" { fail++ }
			$1 == "BENCH-SETUP" {
				k = $2 "," $3
				if (!(k in n)) keys[++nk] = k
				n[k] += $5; f[k] += $6; u[k] += $7
			}
			END {
				print "nice,set-up,set-ups,failed,vectors unseen"
				for (i = 1; i <= nk; i++)
					print keys[i] "," n[keys[i]] "," f[keys[i]] "," u[keys[i]]
				if (fail) print "# " fail " turn(s) lost: the endpoint did not boot"
			}' | tee "$out/two-setup.$a.csv"
		echo "bench.sh: table written to $out/two-setup.$a.csv" >&2
	done
}

rc=0
case $suite in
console) console_suite ;;
net) net_suite ;;
vsock) vsock_suite ;;
two-console) two_console_suite ;;
two-net) two_net_suite ;;
two) two_console_suite; two_net_suite ;;
two-setup) two_setup_suite ;;
all) console_suite; net_suite; vsock_suite ;;
*) echo "bench.sh: unknown suite $suite" >&2; exit 2 ;;
esac

exit $rc
