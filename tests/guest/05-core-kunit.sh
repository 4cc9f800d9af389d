#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The core's KUnit tests (drivers/pci/endpoint/functions/
# pci-epf-virtio-kunit.c): loading the test module runs its suite, whose
# KTAP report goes to the kernel log.  Each KUnit case is a case here, and
# the suite's own totals must agree with them.

. /tests/lib/tap.sh
. /tests/lib/rig.sh

SUITE=pci_epf_virtio_config

tap_check "load pci-epf-virtio" rig_insmod pci-epf-virtio
rig_mark kunit
tap_check "load the KUnit test module (its suite runs)" \
	rig_insmod pci-epf-virtio-kunit

# The suite's lines, timestamps off: "# Subtest: SUITE", its plan "1..N",
# "ok N name" per case (indented by 4), then "# SUITE: pass:P fail:F
# skip:S total:T" at the left margin
rig_dmesg_since kunit | sed 's/^\[[ 0-9.]*] //' |
	sed -n "/# Subtest: $SUITE\$/,/^# $SUITE: /p" >/tmp/kunit.suite
grep -E '^    (not )?ok [0-9]+ ' /tmp/kunit.suite >/tmp/kunit.cases
planned=$(sed -n 's/^    1\.\.\([0-9][0-9]*\)$/\1/p' /tmp/kunit.suite)
ran=0 failed=0 skipped=0
while read -r line; do
	case $line in
	"not ok "*)
		tap_fail "kunit: ${line#not ok [0-9]* }"
		failed=$((failed + 1)) ;;
	*"# SKIP"*)
		name=${line#ok [0-9]* }
		tap_skip "kunit: ${name%% # SKIP*}" "${name#* # SKIP}"
		skipped=$((skipped + 1)) ;;
	*)
		tap_ok "kunit: ${line#ok [0-9]* }" ;;
	esac
	ran=$((ran + 1))
done </tmp/kunit.cases
# what KUnit said of the failed cases: every line but the passed ones
[ $failed -eq 0 ] || grep -v '^    ok ' /tmp/kunit.suite | sed 's/^/# /'
totals=$(tail -n 1 /tmp/kunit.suite | grep "^# $SUITE: pass:")
if [ -n "$totals" ]; then
	tap_diag "kunit: ${totals#"# "}"
else
	tap_diag "kunit: no totals from the suite"
fi
want="pass:$((ran - failed - skipped)) fail:$failed skip:$skipped total:$ran"
tap_check "the suite ran the $ran case(s) it planned (${planned:-no plan}), its totals agree" \
	sh -c "[ -n '$planned' ] && [ $ran -eq '$planned' ] && [ $ran -gt 0 ] &&
		[ '$totals' = '# $SUITE: $want' ]"
tap_check "unload the KUnit test module" rmmod pci_epf_virtio_kunit
rig_check_dmesg
tap_end
exit $?
