#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What "make test" runs: build (or reuse) the rig kernel for $KVER, build the
# project's modules and the host-side tools against it, then run the guest
# test groups. Arguments are passed to tests/run.sh (e.g. group names).

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kver=${KVER:-7.2}

"$top/scripts/deps.sh"
kdir=$("$top/scripts/kernel.sh" "$kver")

echo "test.sh: building modules against $kdir" >&2
make -s -C "$kdir" M="$top" W=1 modules >&2

VEP_EXTRA=$("$top/scripts/tools.sh" "$kdir" "$top/build/tools-$kver" |
	    tr '\n' ' ')
VEP_MODULES=$(find "$top/drivers" "$top/tests/host" "$top/tests/ref" -name '*.ko' | sort | tr '\n' ' ')
export VEP_MODULES VEP_EXTRA
exec "$top/tests/run.sh" -k "$kver" "$@"
