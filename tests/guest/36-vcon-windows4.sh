#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A controller with 4 outbound windows and console functions beyond what
# it can serve: see tests/lib/windows.sh.
#
# vep-timeout: 300

BUDGET=4
. /tests/lib/windows.sh
