# SPDX-License-Identifier: GPL-2.0
#
# TAP helpers for the guest test scripts (busybox ash; sourced, not run).
#
#   . /tests/lib/tap.sh
#   tap_ok NAME                 prints "ok - NAME"
#   tap_fail NAME [REASON]      prints "not ok - NAME" (and "# REASON")
#   tap_check NAME CMD [ARG...] runs CMD; ok if it exits 0, else not ok with
#                               the exit status and the last 20 lines of its
#                               output as diagnostics; returns CMD's status
#   tap_skip NAME REASON        prints "ok - NAME # SKIP REASON"
#   tap_diag TEXT...            prints each line of TEXT as "# line"
#   tap_note TEXT...            the same, on the group's own output (fd 6)
#                               even from a command whose output tap_check
#                               keeps back: for what must always show
#   tap_end                     returns 1 if any case failed, else 0; end a
#                               group script with "tap_end; exit $?"
#
# Case lines carry no numbers: tests/run.sh numbers them across groups.  The
# counters TAP_PASSED, TAP_FAILED and TAP_SKIPPED are kept up to date.

TAP_PASSED=0
TAP_FAILED=0
TAP_SKIPPED=0

# The group's own output, for tap_note
exec 6>&1

tap_diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

tap_note() {
	printf '%s\n' "$*" | sed 's/^/# /' >&6
}

tap_ok() {
	printf 'ok - %s\n' "$1"
	TAP_PASSED=$((TAP_PASSED + 1))
}

tap_fail() {
	printf 'not ok - %s\n' "$1"
	TAP_FAILED=$((TAP_FAILED + 1))
	[ -z "${2:-}" ] || tap_diag "$2"
	return 0
}

tap_skip() {
	printf 'ok - %s # SKIP %s\n' "$1" "${2:-}"
	TAP_SKIPPED=$((TAP_SKIPPED + 1))
}

tap_check() {
	local name out rc
	name=$1
	shift
	out=$(mktemp /tmp/tap.XXXXXX)
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "$name"
	else
		tap_fail "$name" "exit status $rc: $*"
		[ -s "$out" ] && tail -n 20 "$out" | sed 's/^/#   /'
	fi
	rm -f "$out"
	return $rc
}

tap_end() {
	tap_diag "passed $TAP_PASSED, failed $TAP_FAILED, skipped $TAP_SKIPPED"
	[ "$TAP_FAILED" -eq 0 ]
}
