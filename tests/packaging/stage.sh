# tests/packaging/stage.sh: sourced by tests/unit/packaging*.sh (after
# tests/lib.sh), from the repository's top.
#
# stage_packaged KVER MODDIR TOOL [LOADER]: keeps what the packages installed
# for KVER (DKMS's kvmmig.ko from MODDIR, the packaged kvmmig-ctl TOOL, run
# through LOADER if given: another distribution's loader and libraries) in
# build/packaging/KVER/, where tests/run finds it and runs
# tests/packaging/autoload.sh in the module suite's test host of KVER: one
# boot for both. Kept before the purge, so the copies are what was installed.
stage_packaged() {
	local kver=$1 moddir=$2 tool=$3 loader=${4:-} dir=build/packaging/$1
	rm -rf "$dir" && mkdir -p "$dir/dkms"
	if ! cp "$moddir"/kvmmig.ko* "$dir/dkms/" 2>/dev/null || ! cp "$tool" "$dir/kvmmig-ctl.packaged"; then
		fail "the DKMS module and the packaged tool are kept for the test host [$kver]" \
			"no $moddir/kvmmig.ko* or $tool"
		rm -rf "$dir"
		return
	fi
	printf '#!/bin/sh\nexec %s%s/kvmmig-ctl.packaged "$@"\n' "${loader:+$loader }" "$PWD/$dir" >"$dir/kvmmig-ctl"
	chmod 755 "$dir/kvmmig-ctl"
}
