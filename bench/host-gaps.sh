#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# How long a thread at the two-machine rig's poll-vCPU priority (nice -15)
# loses its host CPU to a spinning neighbour at each nice value, on this
# machine: the measurement behind the priorities of scripts/rig2.sh
# (raise_vcpus).  tests/tools/vep-gap spins on CPU 1 for SECONDS at nice
# -15 while a second one spins beside it on the same CPU, the nice values
# taking turns in every repetition; a run with no neighbour is the
# machine's own noise.  Needs root (negative nice) and two CPUs; run it on
# a quiet machine, never beside a rig.
#
#   bench/host-gaps.sh [SECONDS [REPS [NICES]]]    (default 20 2 "none 0 5 19")
#
# Prints per turn "NEIGHBOUR GAPS >1ms N >5ms N >10ms N max US".

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
reps=${2:-2}
nices=${3:-none 0 5 19}
bin=$top/build/tools-host/vep-gap

mkdir -p "$(dirname "$bin")"
cc -O2 -Wall -o "$bin" "$top/tests/tools/vep-gap.c"

for ((r = 1; r <= reps; r++)); do
	for n in $nices; do
		if [ "$n" != none ]; then
			nice -n "$n" "$bin" 1 $((secs + 2)) >/dev/null &
			nb=$!
		fi
		printf '%s %s ' "$r" "$n"
		nice -n -15 "$bin" 1 "$secs"
		[ "$n" = none ] || wait "$nb"
	done
done
