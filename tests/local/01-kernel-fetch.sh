#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/kernel.sh against an archive made here: a signed file:// archive
# whose Release file expired thirty days ago, served over HTTP on loopback, carrying two fake
# linux-source packages (9.1 and 9.2).  It checks that the fetch takes an
# expired archive, that a pinned version the archive lacks falls back to
# the newest one it carries (and says so), that --resolve tells when two
# kernels became the same source, and that a failed update falls back to
# the lists already fetched.
#
# apt reads the machine's own configuration (/etc/apt/apt.conf.d), which
# may relax the very check under test: here apt sees none of it
# (APT_CONFIG names a file that points its parts directory elsewhere), as
# on a fresh machine.  Nothing is downloaded from the network.
#
# vep-timeout: 120

set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vep-fetch.XXXXXX")
repo=$tmp/repo
export GNUPGHOME=$tmp/gnupg
mkdir -p "$GNUPGHOME" "$repo/pool" "$repo/dists/t/main/binary-all" \
	"$tmp/no-parts"
chmod 700 "$GNUPGHOME"

# fake_source VERSION DEBVERSION: a linux-source-VERSION package whose
# tarball holds a Makefile naming VERSION
fake_source() {
	local d=$tmp/pkg-$1
	mkdir -p "$d/DEBIAN" "$d/usr/src" "$tmp/tree/linux-source-$1"
	echo "FAKE_VERSION = $1" >"$tmp/tree/linux-source-$1/Makefile"
	tar -cJf "$d/usr/src/linux-source-$1.tar.xz" -C "$tmp/tree" \
		"linux-source-$1"
	printf '%s\n' "Package: linux-source-$1" "Version: $2" \
		"Architecture: all" "Maintainer: vep tests <vep@localhost>" \
		"Description: fake kernel source $1" >"$d/DEBIAN/control"
	dpkg-deb -Zxz --build "$d" "$repo/pool/linux-source-$1_$2_all.deb" \
		>/dev/null
}

# make_archive: the Packages index and a signed InRelease that expired
make_archive() {
	local f pk=$repo/dists/t/main/binary-all/Packages
	for f in "$repo"/pool/*.deb; do
		dpkg-deb -f "$f"
		echo "Filename: ${f#"$repo"/}"
		echo "Size: $(stat -c %s "$f")"
		echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"
		echo
	done >"$pk"
	{
		echo "Suite: t"
		echo "Codename: t"
		echo "Architectures: all amd64 arm64"
		echo "Components: main"
		echo "Date: $(date -uR -d '-40 days')"
		echo "Valid-Until: $(date -uR -d '-30 days')"
		echo "SHA256:"
		echo " $(sha256sum "$pk" | cut -d' ' -f1) $(stat -c %s "$pk") main/binary-all/Packages"
	} >"$repo/dists/t/Release"
	gpg --batch --quiet --clearsign -o "$repo/dists/t/InRelease" \
		"$repo/dists/t/Release"
}

setup() {
	gpg --batch --quiet --passphrase '' --quick-gen-key \
		'vep tests <vep@localhost>' ed25519 sign never &&
	gpg --batch --quiet --export >"$tmp/key.gpg" &&
	fake_source 9.1 9.1.3-1 && fake_source 9.2 9.2.1-1 && make_archive &&
	echo "deb [signed-by=$tmp/key.gpg] http://127.0.0.1:$port t main" \
		>"$tmp/list" &&
	printf 'Dir::Etc::Parts "%s";\nDir::Etc::main "/dev/null";\n' \
		"$tmp/no-parts" >"$tmp/apt.conf"
}
# serve: the archive over HTTP on a free loopback port (sets port)
server=
serve() {
	local i
	(cd "$repo" && exec python3 -u -m http.server 0 --bind 127.0.0.1) \
		>"$tmp/http.log" 2>&1 &
	server=$!
	for i in $(seq 50); do
		port=$(sed -n 's/.* port \([0-9][0-9]*\) .*/\1/p' "$tmp/http.log")
		[ -z "$port" ] || return 0
		sleep 0.1
	done
	return 1
}
trap '[ -z "$server" ] || kill "$server" 2>/dev/null
      gpgconf --kill gpg-agent 2>/dev/null; rm -rf "$tmp"' EXIT

if ! { serve && setup; } >"$tmp/setup.log" 2>&1; then
	tap_fail "make a signed test archive" "$(tail -n 5 "$tmp/setup.log")"
	tap_end
	exit 1
fi
tap_ok "make a signed test archive with an expired Release file"

export APT_CONFIG=$tmp/apt.conf VEP_APT_LIST=$tmp/list VEP_CACHE=$tmp/cache

# The archive does what the real one did: plain apt refuses it.
mkdir -p "$tmp/plain/lists/partial" "$tmp/plain/archives/partial"
apt-get -o Dir::Etc::sourcelist="$tmp/list" -o Dir::Etc::sourceparts=- \
	-o Dir::State::Lists="$tmp/plain/lists" -o Dir::Cache="$tmp/plain" \
	-qq update >"$tmp/plain.log" 2>&1
if grep -q 'is expired' "$tmp/plain.log"; then
	tap_ok "plain apt-get update refuses the expired archive"
else
	tap_fail "plain apt-get update refuses the expired archive" \
		"$(tail -n 3 "$tmp/plain.log")"
fi

# kernel_src KVER: run "kernel.sh --src KVER", output in $tmp/out, $tmp/err
kernel_src() {
	"$top/scripts/kernel.sh" --src "$1" >"$tmp/out" 2>"$tmp/err"
}

# src_is VERSION: the tree kernel.sh printed is the one of VERSION
src_is() {
	local d
	d=$(cat "$tmp/out")
	[ "$(wc -l <"$tmp/out")" -eq 1 ] && [ -d "$d" ] &&
		grep -qx "FAKE_VERSION = $1" "$d/Makefile"
}

if kernel_src 9.1 && src_is 9.1 && ! grep -q WARNING "$tmp/err"; then
	tap_ok "the pinned version is fetched from the expired archive"
else
	tap_fail "the pinned version is fetched from the expired archive" \
		"$(tail -n 3 "$tmp/err")"
fi

if kernel_src 9.0 && src_is 9.2 &&
   grep -q 'linux-source-9.0 is gone.*linux-source-9.2' "$tmp/err"; then
	tap_ok "a pinned version the archive lacks falls back to the newest, with a warning"
else
	tap_fail "a pinned version the archive lacks falls back to the newest, with a warning" \
		"out: $(cat "$tmp/out"); err: $(tail -n 3 "$tmp/err")"
fi

# resolve_is STATUS KVER...: "kernel.sh --resolve KVER..." exits with
# STATUS; its output stays in $tmp/out and $tmp/err (printed on failure)
resolve_is() {
	local want=$1 rc=0
	shift
	"$top/scripts/kernel.sh" --resolve "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	cat "$tmp/out" "$tmp/err"
	[ $rc -eq "$want" ]
}
two_sources() {
	resolve_is 0 9.1 9.2 &&
	[ "$(cat "$tmp/out")" = "$(printf '%s\n' '9.1 linux-source-9.1 9.1.3-1' \
					   '9.2 linux-source-9.2 9.2.1-1')" ]
}
one_source() {
	resolve_is 3 9.2 9.0 &&
	grep -q 'kernels 9.2 and 9.0 resolve to the same source' "$tmp/err"
}
tap_check "--resolve names two different sources" two_sources
tap_check "--resolve fails when two kernels become the same source" one_source

# The archive goes away after a day: the lists already fetched serve.
find "$VEP_CACHE/apt" -name .updated -exec touch -d '-2 days' {} +
kill "$server"
wait "$server" 2>/dev/null
server=
if kernel_src 9.1 && src_is 9.1 &&
   grep -q 'the update failed; using the package lists' "$tmp/err"; then
	tap_ok "an update that fails uses the lists fetched before, with a warning"
else
	tap_fail "an update that fails uses the lists fetched before, with a warning" \
		"$(tail -n 3 "$tmp/err")"
fi

# ... but with no lists at all it says so and fails.
rm -rf "$VEP_CACHE/apt"
if ! kernel_src 9.1 && grep -q 'no older package lists' "$tmp/err"; then
	tap_ok "no archive and no lists: a clear error"
else
	tap_fail "no archive and no lists: a clear error" \
		"$(tail -n 3 "$tmp/err")"
fi

tap_end
