#!/bin/bash
# tests/bench/inhost.sh: the whole benchmark inside one test host (started by
# tests/bench/run). Writes raw results to $KVMMIG_SCRATCH: link.txt,
# mig.jsonl (+ consoles under mig/), converge.jsonl (+ converge/), harvest.txt,
# scale.txt.
set -u
cd "$KVMMIG_REPO"
export PATH=$KVMMIG_REPO/build:$PATH KVMMIG_RUN_DIR=/tmp/kvmmig-run
mkdir -p "$KVMMIG_RUN_DIR"
S=$KVMMIG_SCRATCH
. "$S/params"
step() { echo "bench: [$(date +%T)] $*"; }
kernel=$KVMMIG_REPO/build/testhost/$(uname -r)/boot/vmlinuz-$(uname -r)
step "link: iperf3 over loopback"
tests/bench/link.sh 127.0.0.1 "$LINK_SECS" "$CHANNELS" | tee "$S/link.txt"
step "migrations: kvmmig vs QEMU, Linux guest ${GUEST_MEM} MiB, rates $RATES pages/s"
python3 tests/bench/migbench.py --kernel "$kernel" --initrd build/bench/guest-initramfs.cpio.gz \
	--mem "$GUEST_MEM" --wss "$WSS" --rates "$RATES" --max-downtime "$MAX_DOWNTIME" \
	--warm "$WARM" --methods "$METHODS" --channels "$CHANNELS" --timeout "$MIG_TIMEOUT" \
	$([ "${PROFILE:-0}" = 1 ] && echo --profile) \
	--out "$S/mig" | tee "$S/mig.jsonl"
step "convergence: a guest dirtying twice the link's ${CONVERGE_LINK} MB/s, methods $CONVERGE_METHODS"
python3 tests/bench/converge.py --kernel "$kernel" --initrd build/bench/guest-initramfs.cpio.gz \
	--mem "$GUEST_MEM" --link "$CONVERGE_LINK" --max-downtime "$MAX_DOWNTIME" \
	--methods "$CONVERGE_METHODS" --out "$S/converge" | tee "$S/converge.jsonl"
step "harvest: module vs userspace, sizes $HARVEST_SIZES MiB, strides $STRIDES"
tests/bench/harvest.sh "$HARVEST_SIZES" "$STRIDES" "$HARVEST_ROUNDS" "$HARVEST_MS" | tee "$S/harvest.txt"
step "scale: kvmmig total time by guest memory, sizes $SCALE_SIZES MiB"
tests/bench/scale.sh "$SCALE_SIZES" "$MAX_DOWNTIME" | tee "$S/scale.txt"
step done
