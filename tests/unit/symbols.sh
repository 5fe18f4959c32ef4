#!/bin/bash
# symbols.sh: kvmmig.ko takes from each supported kernel only what that
# kernel exports to every module. For each kernel of scripts/kernels, reads
# its Module.symvers and checks every symbol build/<kver>/kvmmig.ko imports:
# exported at all (7.x no longer exports vfs_ioctl), not restricted to a
# module list (7.x: file_is_kvm to module:kvm-amd,kvm-intel only), in a
# namespace only if the module imports it, and GPL-only exports only to a
# GPL module. Upstream KVM keeps closing its exports: this is the check that
# says so before modpost on a user's machine does.
#
#   tests/unit/symbols.sh [KO]   KO: check that one module against every
#                                kernel instead (e.g. an older build)
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh

# check_imports KO SYMVERS: one line per import the kernel would refuse.
check_imports() {
	local ko=$1 symvers=$2 ns license
	ns=$(modinfo -F import_ns "$ko" 2>/dev/null | tr '\n' ' ')
	license=$(modinfo -F license "$ko" 2>/dev/null | head -n1)
	nm -u "$ko" | awk '{print $2}' |
		awk -v ns=" $ns " -v license="$license" -F'\t' '
		NR == FNR { mod[$2] = $3; kind[$2] = $4; space[$2] = $5; next }
		{
			s = $1
			if (!(s in mod)) { print s ": not exported"; next }
			if (space[s] ~ /^module:/) {
				# EXPORT_SYMBOL_FOR_MODULES: a comma list, - and _ alike.
				n = split(substr(space[s], 8), allowed, ",")
				ok = 0
				for (i = 1; i <= n; i++) { a = allowed[i]; gsub(/-/, "_", a); if (a == "kvmmig") ok = 1 }
				if (!ok) print s ": exported by " mod[s] " only to " space[s]
			} else if (space[s] != "" && index(ns, " " space[s] " ") == 0) {
				print s ": in namespace " space[s] " (" mod[s] "), not imported"
			}
			if (kind[s] == "EXPORT_SYMBOL_GPL" && license !~ /GPL/)
				print s ": GPL-only (" mod[s] "), module license is " license
		}' "$symvers" -
}

kernels=$(scripts/kernels --labels 2>&1) ||
	fail "every supported kernel's headers are installed" "$(echo "$kernels" | grep '^kernels:' | tr '\n' ' ')"
checked=0
while read -r label kver kdir; do
	[ -n "$kdir" ] && [ -d "$kdir" ] || continue
	name="kvmmig.ko imports only what $kver exports to it"
	symvers=$kdir/Module.symvers
	if [ ! -s "$symvers" ]; then
		fail "$name" "no $symvers"
		continue
	fi
	ko=${1:-build/$kver/kvmmig.ko}
	if [ ! -e "$ko" ]; then
		# A hint at what blocks it, from the newest module that did build
		# (for another kernel: imports that come from inlines may differ).
		other=$(ls -d build/*/kvmmig.ko 2>/dev/null | sort -V | tail -n1)
		why=$([ -n "$other" ] && check_imports "$other" "$symvers" | tr '\n' ';' | sed 's/;$//; s/;/; /g')
		[ -n "$why" ] && why="; $other (another kernel's build) would import: $why"
		fail "$name" "no $ko built (make module-all)$why"
		continue
	fi
	bad=$(check_imports "$ko" "$symvers")
	if [ -z "$bad" ]; then
		pass "$name ($(nm -u "$ko" | wc -l) symbols${1:+, $ko})"
	else
		fail "$name" "$ko: $(echo "$bad" | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
	fi
	checked=$((checked + 1))
done <<<"$(echo "$kernels" | grep -v '^kernels:')"
[ $checked -gt 0 ] || fail "some supported kernel was checked" "none found (scripts/kernels --labels)"
finish
