#!/bin/bash
# digest.sh: the memory digest behind `kvmmig-ctl migrate --verify`, both
# versions (1: every byte; 2: the pages written, vmm/digest.h). A VM's
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
src2=$(vm_ctl dg digest 2)
expect_output "the VMM says which digests it computes" '^digest-versions 1 2$' vm_ctl dg status
expect_output "a digest version it does not compute is refused" "no version '3'" vm_ctl dg digest 3
vm_ctl dg quit >/dev/null
expect_output "digest is 16 hex digits, paused only" '^[0-9a-f]{16}$' echo "$src"
expect_output "digest 2 is 16 hex digits, and not version 1's" '^[0-9a-f]{16}$' sh -c "[ '$src2' != '$src' ] && echo '$src2'"

vm_start dgin --cpus 1 --mem 64M --incoming --mem-file "$vm_images/dg.mem"
expect_output "an incoming copy of the same memory has the same digest" "^$src\$" vm_ctl dgin digest
expect_output "and the same digest 2" "^$src2\$" vm_ctl dgin digest 2
vm_ctl dgin quit >/dev/null

# One byte of guest memory differs: 1 MiB + 123 into the image.
printf '\x5a' | dd of="$vm_images/dg.mem" bs=1 seek=$((1048576 + 123)) conv=notrunc status=none
vm_start dgbad --cpus 1 --mem 64M --incoming --mem-file "$vm_images/dg.mem"
bad=$(vm_ctl dgbad digest) bad2=$(vm_ctl dgbad digest 2)
if [ -n "$bad" ] && [ "$bad" != "$src" ]; then pass "one changed byte changes the digest ($src -> $bad)"
else fail "one changed byte changes the digest" "digest $bad, source $src"; fi
if [ -n "$bad2" ] && [ "$bad2" != "$src2" ]; then pass "one changed byte changes digest 2 ($src2 -> $bad2)"
else fail "one changed byte changes digest 2" "digest 2 $bad2, source $src2"; fi
vm_ctl dgbad quit >/dev/null

# In 2 MiB huge pages (--hugepages 2M, a hugetlb memfd, which answers
# SEEK_DATA with "all of it"): a sparse guest's digest is the same, and it
# reads only the huge pages written (mincore), not the 32 of the guest.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
read -r hp_was <$hp/nr_hugepages
[ "$hp_was" -ge 40 ] || echo 40 >$hp/nr_hugepages
read -r hp_now <$hp/nr_hugepages
[ "$hp_now" -ge 33 ] || fail "this host reserves 33 huge pages of 2 MiB for the digest cases" "it has $hp_now"
hp_used() { local n f; read -r n <$hp/nr_hugepages; read -r f <$hp/free_hugepages; echo $((n - f)); }
vm_start dgs --cpus 1 --mem 64M --payload "$dirtymem" --append "pages=1024 rate=16"
wait_iter dgs 50 >/dev/null
vm_ctl dgs pause >/dev/null && vm_ctl dgs save-memory dgs.mem >/dev/null
sparse=$(vm_ctl dgs digest) sparse2=$(vm_ctl dgs digest 2)
vm_ctl dgs quit >/dev/null
used0=$(hp_used)
vm_start dghp --cpus 1 --mem 64M --hugepages 2M --incoming --mem-file "$vm_images/dgs.mem"
loaded=$(hp_used)
expect_output "an incoming copy in 2 MiB huge pages has the same digest" "^$sparse\$" vm_ctl dghp digest
expect_output "and the same digest 2" "^$sparse2\$" vm_ctl dghp digest 2
used=$(($(hp_used) - used0))
if [ "$used" -gt 0 ] && [ "$used" -le 8 ] && [ "$(hp_used)" = "$loaded" ]; then
	pass "its digest read only the huge pages the guest wrote: $used of 32 in use"
else
	fail "its digest read only the huge pages the guest wrote" "$used of 32 in use ($((loaded - used0)) after loading)"
fi
vm_ctl dghp quit >/dev/null
vm_wait_exit dghp
echo "$hp_was" >$hp/nr_hugepages

vm_start dgrun --cpus 1 --mem 64M --payload "$dirtymem" --append "rate=16"
expect_output "a running VM refuses digest" "pause first" vm_ctl dgrun digest
vm_ctl dgrun quit >/dev/null
finish
