#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The outbound window budget across two machines, with 8 windows: see
# tests/lib/two-windows.sh.
#
# vep-timeout: 900
# vep-two-default: no

BUDGET=8
. "$(dirname "$0")/../lib/two-windows.sh"
