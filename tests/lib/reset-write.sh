# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# The reset-write attack's "stopped mid-pass" case, for both rigs
# (tests/guest/35-vcon-hostile.sh, tests/two/two-35-vcon-hostile.sh).
# Source after tap.sh.

# reset_write_midpass F0 F1 EARLY LATE BACK: one TAP line for whether the
# function's fence stopped a pass under way, from its fence count before
# (F0) and after (F1) the attack and the host test driver's counts:
# buffers back before the reset (EARLY), bytes written (LATE) and buffers
# given back (BACK) after it.  False when the case failed.
#
# The fence stops a pass under way.  A reset with none under way leaves
# it nothing to do: one after the device had filled the whole ring, or one
# between two passes (the pass that gave the first buffers back ended
# before the host's reset, and the next one's poll of the registers saw
# it).  Then the caller's check that nothing was written after the reset
# is the whole test, and this case says so.
reset_write_midpass() {
	rw_name="reset-write: the function stopped mid-pass"
	if [ "${2:-0}" -gt "${1:-0}" ]; then
		tap_ok "$rw_name ($1 fences, then $2)"
	elif [ "$3" -ge 64 ]; then
		tap_skip "$rw_name" \
			"the host reset the device only after all $3 buffers were back"
	elif [ "$4" -eq 0 ] && [ "$5" -eq 0 ]; then
		tap_skip "$rw_name" \
			"no pass was under way at the reset: $3 buffers back before it, nothing written after it, no fence taken"
	else
		tap_fail "$rw_name ($1 fences, then $2)" \
			"$4 bytes written and $5 buffer(s) given back after the reset, and no fence taken"
		return 1
	fi
}
