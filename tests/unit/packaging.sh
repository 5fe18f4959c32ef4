#!/bin/bash
# packaging.sh: the Debian packages from this tree. Builds kvmmig-dkms and
# kvmmig-tools with dpkg-buildpackage, installs them, checks DKMS built the
# module for every supported kernel, keeps the DKMS-built module and the
# packaged tool for the module suite's test host of each kernel (tests/run
# runs tests/packaging/autoload.sh there, in a boot it makes anyway), then
# purges and checks nothing is left. Needs root; leaves an existing
# installation of kvmmig packages alone (skips).
set -u
cd "$(dirname "$0")/../.."
repo=$PWD
. tests/lib.sh
. tests/packaging/stage.sh

if [ "$(id -u)" != 0 ]; then echo "SKIP: packaging: needs root"; exit 0; fi
if dpkg-query -W kvmmig-dkms kvmmig-tools >/dev/null 2>&1; then
	echo "SKIP: packaging: kvmmig packages are installed on this machine; not touching them"
	exit 0
fi

work=$(mktemp -d)
trap 'apt-get purge -y -qq kvmmig-dkms kvmmig-tools >/dev/null 2>&1; rm -rf "$work"' EXIT

version=$(sed -n 's/^#define KVMMIG_VERSION "\(.*\)"/\1/p' kmod/version.h)
if grep -q "^PACKAGE_VERSION=\"$version\"$" dkms.conf &&
	head -n1 debian/changelog | grep -q "^kvmmig ($version)"; then
	pass "dkms.conf and debian/changelog carry the module's version $version"
else
	fail "dkms.conf and debian/changelog carry the module's version $version" \
		"dkms.conf: $(grep PACKAGE_VERSION dkms.conf), changelog: $(head -n1 debian/changelog)"
fi

# Build from the working tree as it is (committed or not), outside the repo.
mkdir -p "$work/kvmmig"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/kvmmig" 2>/dev/null
if (cd "$work/kvmmig" && dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
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

debs=("$work"/kvmmig-dkms_*_all.deb "$work"/kvmmig-tools_*_amd64.deb)
if apt-get install -y -qq "${debs[@]}" >"$work/install.log" 2>&1; then
	pass "packages install"
else
	fail "packages install" "$(grep -m2 -iE 'error' "$work/install.log" | tr '\n' ' ')"
	exit 1
fi
installed_files=$(dpkg -L kvmmig-dkms kvmmig-tools | sort -u)
for f in /usr/sbin/kvmmig-ctl /usr/share/man/man8/kvmmig-ctl.8.gz \
	/usr/share/bash-completion/completions/kvmmig-ctl; do
	if [ -f "$f" ]; then pass "kvmmig-tools installs $f"
	else fail "kvmmig-tools installs $f" "missing"; fi
done
if [ -f user/vm/kvmmig-vm.8 ]; then
	for f in /usr/sbin/kvmmig-vm /usr/share/man/man8/kvmmig-vm.8.gz; do
		if [ -f "$f" ]; then pass "kvmmig-tools installs $f"
		else fail "kvmmig-tools installs $f" "missing"; fi
	done
fi

kvers=$(ls -d /usr/src/linux-headers-6.1.*-amd64 /usr/src/linux-headers-6.12.*-amd64 2>/dev/null |
	sed 's|/usr/src/linux-headers-||')
for kver in $kvers; do
	if dkms status "kvmmig/$version" -k "$kver" | grep -q ': installed'; then
		pass "dkms status: built and installed for $kver"
	else
		fail "dkms status: built and installed for $kver" "$(dkms status kvmmig)"
	fi
done

# The DKMS-built module (not the tree build) and the packaged tool, for
# tests/packaging/autoload.sh in the module suite's test host of each kernel.
for kver in $kvers; do
	stage_packaged "$kver" /lib/modules/"$kver"/updates/dkms /usr/sbin/kvmmig-ctl
done

# Without packages: make install and module-install, staged in a DESTDIR.
stage=$work/stage
if make -s install DESTDIR="$stage" PREFIX=/usr >"$work/make-install.log" 2>&1 &&
	[ -x "$stage/usr/sbin/kvmmig-ctl" ] && [ -f "$stage/usr/share/man/man8/kvmmig-ctl.8" ] &&
	[ -f "$stage/usr/share/bash-completion/completions/kvmmig-ctl" ]; then
	pass "make install puts the tools, man pages and completion under DESTDIR"
else
	fail "make install puts the tools, man pages and completion under DESTDIR" \
		"$(tail -n 2 "$work/make-install.log" | tr '\n' ' ')"
fi
for kver in $kvers; do
	if make -s module-install KDIR="/usr/src/linux-headers-$kver" DESTDIR="$stage" \
		>"$work/module-install.log" 2>&1 &&
		grep -q '^updates/kvmmig.ko:' "$stage/lib/modules/$kver/modules.dep"; then
		pass "make module-install installs and depmods the module [$kver]"
	else
		fail "make module-install installs and depmods the module [$kver]" \
			"$(tail -n 2 "$work/module-install.log" | tr '\n' ' ')"
	fi
done

if apt-get purge -y -qq kvmmig-dkms kvmmig-tools >"$work/purge.log" 2>&1; then
	pass "packages purge"
else
	fail "packages purge" "$(tail -n 2 "$work/purge.log" | tr '\n' ' ')"
fi
left=$(for f in $installed_files; do [ -f "$f" ] && echo "$f"; done
	ls /lib/modules/*/updates/dkms/kvmmig.ko* /var/lib/dkms/kvmmig 2>/dev/null)
if [ -z "$left" ]; then pass "purge removes every installed file and DKMS build"
else fail "purge removes every installed file and DKMS build" "left: $(echo $left)"; fi
finish
