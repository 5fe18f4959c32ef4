#!/bin/bash
# text-differs.sh: tests/testhost sets a test host's death aside as the
# emulator's (and tests/run runs it once more) when the oops died on kernel
# text that is not the image's. This checks that judgement on a synthetic
# image: the 7.3 oops seen in CI (memory "41 03 00 00 ..." where the image
# has "41 03 87 fc 06 00 00") counts, the same oops on intact text does not,
# nor text the image does not contain (a module's), nor a log without one.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
judge=tests/testhost.d/text-differs.py

before="87 0c 05 00 00 0a 41 c6 87 08 05 00 00 00 41 c6 87 0b 05 00 00 00 41 39 5e 70 74 74 41 8b 87 f0 05 00 00 48 8b 1d 02 7a 20 01"
image_at="41 03 87 fc 06 00 00 41 2b 87 d8 05 00 00 41 39 87 d4 05 00 00 0f"
python3 - "$tmp/vmlinux" "$before $image_at" <<'PY'
import os, sys
text = bytes.fromhex(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.write(os.urandom(1 << 20) + text + os.urandom(1 << 20))
PY
oops() { # oops FAULTING-BYTES: a console log whose oops shows these bytes at rip
	printf '[   77.881817] RIP: 0010:__tcp_transmit_skb+0x5ae/0x1140\n'
	printf '[   77.881833] Code: %s <%s> %s\n' "$before" "${1%% *}" "${1#* }"
	printf '[   77.882005] Kernel panic - not syncing: Fatal exception in interrupt\n'
}
oops "41 03 00 00 00 00 00 41 2b 87 d8 05 00 00 41 39 87 d4 05 00 00 0f" >"$tmp/zeroed.log"
oops "$image_at" >"$tmp/intact.log"
sed 's/87 0c 05 00 00 0a/87 0c 05 00 00 0b/' "$tmp/zeroed.log" >"$tmp/module.log"
printf '[ 1.0] nothing happened\n' >"$tmp/none.log"
not() { ! "$@"; }

expect_output "the oops on zeroed text is the emulator's, both byte strings named" \
	"image 41 03 87 fc 06 00 00 41, memory 41 03 00 00 00 00 00 41" "$judge" "$tmp/vmlinux" "$tmp/zeroed.log"
expect "the same oops on the image's own text is not" not "$judge" "$tmp/vmlinux" "$tmp/intact.log"
expect "text the image does not contain (a module's) is not" not "$judge" "$tmp/vmlinux" "$tmp/module.log"
expect "a log without an oops is not" not "$judge" "$tmp/vmlinux" "$tmp/none.log"
finish
