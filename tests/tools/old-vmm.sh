#!/bin/bash
# old-vmm.sh [COMMIT]: builds kvmmig-vm as it was at COMMIT (default
# 7429f67: the last VMM before state blob record versions, which reads
# version-1 blobs only) into build/old-vmm/COMMIT/ once, and prints the
# binary's path. Exit 2, saying why, when the repository's history does not
# have COMMIT (a shallow clone): a test then cannot meet an older VMM.
set -u
cd "$(dirname "$0")/../.."
commit=${1:-7429f67}
dir=$PWD/build/old-vmm/$commit
if [ -x "$dir/build/kvmmig-vm" ]; then
	echo "$dir/build/kvmmig-vm"
	exit 0
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
	echo "old-vmm.sh: commit $commit is not in this repository's history (shallow clone?)" >&2
	exit 2
fi
rm -rf "$dir" && mkdir -p "$dir" &&
	git archive "$commit" Makefile user include kmod/version.h | tar -x -C "$dir" &&
	make -s -C "$dir" user BUILD="$dir/build" >"$dir/build.log" 2>&1 ||
	{ echo "old-vmm.sh: building kvmmig-vm at $commit failed: see $dir/build.log" >&2; exit 1; }
echo "$dir/build/kvmmig-vm"
