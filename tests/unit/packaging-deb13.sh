#!/bin/bash
# packaging-deb13.sh: the Debian packages on Debian 13. In the Debian 13
# build tree (scripts/install-deps, scripts/in-trixie) builds kvmmig-dkms and
# kvmmig-tools with dpkg-buildpackage, installs them there, checks DKMS
# built the module for Debian 13's 6.12 and trixie-backports' 7.3, and keeps
# each with the packaged kvmmig-ctl (Debian 13's build, run with the tree's
# own libraries) for tests/packaging/autoload.sh in the module suite's test
# host of that kernel (tests/run). Then purges them and checks the tree is
# as it was. Needs root.
set -u
cd "$(dirname "$0")/../.."
repo=$PWD
. tests/lib.sh
. tests/packaging/stage.sh
TEST_SUFFIX=" [Debian 13]"

if [ "$(id -u)" != 0 ]; then echo "SKIP: packaging on Debian 13: needs root"; exit 0; fi
trixie=${KVMMIG_TRIXIE_ROOT:-/var/cache/kvmmig/trixie}
in_trixie() { "$repo/scripts/in-trixie" "$@"; }
if ! in_trixie true 2>/dev/null; then
	fail "the Debian 13 build tree is there" "none at $trixie: run scripts/install-deps"
	exit 1
fi
if in_trixie dpkg-query -W kvmmig-dkms kvmmig-tools >/dev/null 2>&1; then
	fail "the Debian 13 tree has no kvmmig packages before the test" "installed: purge them in $trixie"
	exit 1
fi

# Inside the clone, so that the tree sees it at the same path.
work=$repo/build/packaging-deb13
rm -rf "$work" && mkdir -p "$work/kvmmig"
trap 'in_trixie apt-get purge -y -qq kvmmig-dkms kvmmig-tools >/dev/null 2>&1; rm -rf "$work"' EXIT

git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/kvmmig" 2>/dev/null
if in_trixie sh -c "cd '$work/kvmmig' && dpkg-buildpackage -b -us -uc" >"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage builds kvmmig-dkms and kvmmig-tools"
else
	fail "dpkg-buildpackage builds kvmmig-dkms and kvmmig-tools" "$(tail -n 3 "$work/build.log" | tr '\n' ' ')"
	exit 1
fi

# The tools link libjansson (--json, QMP): dh_shlibdeps must make the package depend on it.
if dpkg-deb -f "$work"/kvmmig-tools_*_amd64.deb Depends | grep -q 'libjansson4'; then
	pass "kvmmig-tools depends on libjansson4"
else
	fail "kvmmig-tools depends on libjansson4" "Depends: $(dpkg-deb -f "$work"/kvmmig-tools_*_amd64.deb Depends)"
fi

debs=$(cd "$work" && ls kvmmig-dkms_*_all.deb kvmmig-tools_*_amd64.deb | sed "s|^|$work/|")
if in_trixie apt-get install -y -qq $debs >"$work/install.log" 2>&1; then
	pass "packages install"
else
	fail "packages install" "$(grep -m2 -iE 'error|^E:' "$work/install.log" | tr '\n' ' ')"
	exit 1
fi

# DKMS on package install builds for the kernels it finds; make sure of the
# two supported ones, as an admin would for a kernel installed later.
version=$(sed -n 's/^#define KVMMIG_VERSION "\(.*\)"/\1/p' kmod/version.h)
kvers=$(scripts/kernels --labels 2>/dev/null | awk -v t="$trixie/" 'index($3, t) == 1 {print $2}')
[ -n "$kvers" ] || fail "Debian 13's kernels have headers in the tree" "scripts/kernels --labels: none under $trixie"
for kver in $kvers; do
	st=$(in_trixie dkms status "kvmmig/$version" -k "$kver" 2>&1)
	if ! echo "$st" | grep -q ': installed'; then
		in_trixie dkms install "kvmmig/$version" -k "$kver" >>"$work/dkms.log" 2>&1
		st=$(in_trixie dkms status "kvmmig/$version" -k "$kver" 2>&1)
	fi
	if echo "$st" | grep -q ': installed'; then
		pass "dkms builds and installs the module for $kver"
	else
		fail "dkms builds and installs the module for $kver" "$(echo "$st"; tail -n 3 "$work/dkms.log" | tr '\n' ' ')"
	fi
done

# The packaged tool, Debian 13's build, kept with each kernel's DKMS module
# (stage_packaged) and run in the test host through the tree's own dynamic
# loader and libraries (the test host's root is this Debian 12 machine's).
for kver in $kvers; do
	stage_packaged "$kver" "$trixie/usr/lib/modules/$kver/updates/dkms" "$trixie/usr/sbin/kvmmig-ctl" \
		"$trixie/lib64/ld-linux-x86-64.so.2 --library-path $trixie/usr/lib/x86_64-linux-gnu"
done

if in_trixie apt-get purge -y -qq kvmmig-dkms kvmmig-tools >"$work/purge.log" 2>&1; then
	pass "packages purge"
else
	fail "packages purge" "$(tail -n 2 "$work/purge.log" | tr '\n' ' ')"
fi
left=$(ls "$trixie"/usr/sbin/kvmmig-* "$trixie"/usr/lib/modules/*/updates/dkms/kvmmig.ko* \
	"$trixie"/var/lib/dkms/kvmmig "$trixie"/usr/src/kvmmig-* 2>/dev/null)
if [ -z "$left" ]; then pass "purge removes every installed file and DKMS build"
else fail "purge removes every installed file and DKMS build" "left: $(echo $left)"; fi
finish
