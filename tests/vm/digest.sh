#!/bin/bash
# digest.sh: the memory digest behind `kvmmig-ctl migrate --verify`. A VM's
# digest at pause equals that of a fresh incoming VM loaded from its memory
# image, and one changed byte in the image changes it: the check can fail.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

vm_start dg --cpus 1 --mem 64M --payload "$dirtymem" --append "rate=16"
wait_iter dg 50 >/dev/null
vm_ctl dg pause >/dev/null && vm_ctl dg save-memory dg.mem >/dev/null
src=$(vm_ctl dg digest)
vm_ctl dg quit >/dev/null
expect_output "digest is 16 hex digits, paused only" '^[0-9a-f]{16}$' echo "$src"

vm_start dgin --cpus 1 --mem 64M --incoming --mem-file "$vm_images/dg.mem"
expect_output "an incoming copy of the same memory has the same digest" "^$src\$" vm_ctl dgin digest
vm_ctl dgin quit >/dev/null

# One byte of guest memory differs: 1 MiB + 123 into the image.
printf '\x5a' | dd of="$vm_images/dg.mem" bs=1 seek=$((1048576 + 123)) conv=notrunc status=none
vm_start dgbad --cpus 1 --mem 64M --incoming --mem-file "$vm_images/dg.mem"
bad=$(vm_ctl dgbad digest)
if [ -n "$bad" ] && [ "$bad" != "$src" ]; then pass "one changed byte changes the digest ($src -> $bad)"
else fail "one changed byte changes the digest" "digest $bad, source $src"; fi
vm_ctl dgbad quit >/dev/null

vm_start dgrun --cpus 1 --mem 64M --payload "$dirtymem" --append "rate=16"
expect_output "a running VM refuses digest" "pause first" vm_ctl dgrun digest
vm_ctl dgrun quit >/dev/null
finish
