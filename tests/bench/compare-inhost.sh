#!/bin/bash
# tests/bench/compare-inhost.sh: tests/bench/compare's part inside a test
# host, one pair ($S/pair): migbench once with the older tree's kvmmig.ko and
# tools and once with the newer's (this tree, or NEW's worktree), the order alternating from pair to pair;
# every result line gets "tree": "old" or "new" and "pair": N.
set -u
cd "$KVMMIG_REPO"
S=$KVMMIG_SCRATCH
. "$S/params"
kver=$(uname -r)
kernel=$KVMMIG_REPO/build/testhost/$kver/boot/vmlinuz-$kver
run() { # run TREE-NAME TREE-DIR PAIR
	local name=$1 dir=$2 pair=$3
	echo "compare: [$(date +%T)] pair $pair: $name ($dir)"
	# A run directory of its own: a VMM killed at the end of the other
	# tree's run leaves its control socket behind under the same name.
	export KVMMIG_RUN_DIR
	KVMMIG_RUN_DIR=$(mktemp -d /tmp/kvmmig-run.XXXXXX)
	rmmod kvmmig 2>/dev/null
	insmod "$dir/build/$kver/kvmmig.ko" || { echo "compare: insmod $dir/build/$kver/kvmmig.ko failed"; return; }
	PATH=$dir/build:$PATH python3 tests/bench/migbench.py --kernel "$kernel" \
		--initrd build/bench/guest-initramfs.cpio.gz --mem "$GUEST_MEM" --wss "$WSS" \
		--rates "$RATES" --max-downtime 300 --warm 5 --methods "$METHODS" --timeout 60 \
		--out "$S/mig-$name-$pair" |
		python3 -c 'import json, sys
for l in sys.stdin:
    try:
        r = json.loads(l)
    except ValueError:
        continue
    r["tree"], r["pair"] = sys.argv[1], int(sys.argv[2])
    print(json.dumps(r), flush=True)' "$name" "$pair" | tee -a "$S/results.jsonl"
}
. "$S/pair"
if [ $((PAIR % 2)) = 1 ]; then
	run old "$KVMMIG_REPO/$OLD" "$PAIR"; run new "$KVMMIG_REPO/${NEW:-.}" "$PAIR"
else
	run new "$KVMMIG_REPO/${NEW:-.}" "$PAIR"; run old "$KVMMIG_REPO/$OLD" "$PAIR"
fi
rmmod kvmmig 2>/dev/null
echo "compare: [$(date +%T)] done"
