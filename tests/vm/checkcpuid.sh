#!/bin/bash
# checkcpuid.sh: the destination's check before any page moves (check-cpuid, which
# kvmmig-ctl incoming asks with the source's HELLO): every feature word QEMU compares,
# the vendor, the address width, the XSAVE layout and size, the CPU model and the TSC
# rate refuse a guest this host cannot give its CPU, naming why; malformed CPUID text
# is refused, not skimmed. The guest's CPUID is this VMM's own status lines, altered.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/vm/vmlib.sh
vm_build

vm_start dst --cpus 1 --mem 32M --incoming
status=$(vm_ctl dst status)
own=$(echo "$status" | grep '^cpuid ')
if [ -z "$own" ]; then
	fail "the incoming VMM reports its CPUID" "status: $(echo "$status" | head -n 3 | tr '\n' ' ')"
	finish
	exit
fi

# alter FUNCTION INDEX REG OP VALUE: $own with register REG (eax..edx) of leaf
# FUNCTION.INDEX ORed with (OP "|") or set to (OP "=") VALUE; a missing leaf is added.
alter() {
	local f=$(($1)) i=$2 r=$3 op=$4 v=$(($5)) found=0 w fn idx a b c d
	while read -r w fn idx a b c d; do
		if [ $((fn)) = $f ] && [ "$idx" = "$i" ]; then
			found=1
			case $r in
			eax) a=$([ "$op" = "|" ] && echo $((a | v)) || echo $v) ;;
			ebx) b=$([ "$op" = "|" ] && echo $((b | v)) || echo $v) ;;
			ecx) c=$([ "$op" = "|" ] && echo $((c | v)) || echo $v) ;;
			edx) d=$([ "$op" = "|" ] && echo $((d | v)) || echo $v) ;;
			esac
		fi
		printf 'cpuid 0x%x %u 0x%x 0x%x 0x%x 0x%x\n' $((fn)) "$idx" $((a)) $((b)) $((c)) $((d))
	done <<<"$own"
	if [ $found = 0 ]; then
		a=0 b=0 c=0 d=0
		eval "${r:1:1}=$v"
		printf 'cpuid 0x%x %u 0x%x 0x%x 0x%x 0x%x\n' $f "$i" $((a)) $((b)) $((c)) $((d))
	fi
}

# refused NAME REGEX: check-cpuid of stdin must be refused with an error matching REGEX.
refused() { vm_refused "$1" "$2" check-cpuid; }
accepted() {
	local out
	if out=$(vm_ctl dst check-cpuid 2>&1); then
		pass "$1"
	else
		fail "$1" "refused: $out"
	fi
}

accepted "the VMM's own CPUID passes" <<<"$own"

# Feature words the check of nine registers did not compare.
alter 0xd 1 eax "|" 0x8 | refused "XSAVES (leaf 0xd.1) this host lacks is refused" \
	"0xd\.1 EAX has 0x8 that this host's KVM cannot provide: XSAVES$"
alter 0x7 1 eax "|" $((1 << 21)) | refused "a leaf 7.1 feature this host lacks is refused" \
	"7\.1 EAX has 0x200000 .*: AMX_FP16$"
alter 0x80000008 0 ebx "|" $((1 << 12)) | refused "AMD's IBPB (leaf 0x80000008 EBX) this host lacks is refused" \
	"0x80000008 EBX has 0x1000 .*: AMD_IBPB$"
alter 0x80000021 0 eax "|" $((1 << 29)) | refused "a leaf 0x80000021 bit this host lacks is refused" \
	"0x80000021 EAX has 0x20000000 .*: SRSO_NO$"
alter 0x6 0 eax "|" $((1 << 7)) | refused "a leaf 6 bit this host lacks is refused" "leaf 6 EAX has 0x80 .*: HWP$"

# The vendor, the physical address width, the XSAVE layout and size.
# vendor EBX EDX ECX: $own with leaf 0's vendor string replaced.
vendor() {
	echo "$own" | sed "s/^\(cpuid 0x0 0 0x[0-9a-f]*\) .*/\1 $1 $3 $2/"
}
if echo "$own" | grep -q '^cpuid 0x0 0 0x[0-9a-f]* 0x68747541 '; then
	vendor 0x756e6547 0x49656e69 0x6c65746e | refused "a guest of another vendor is refused" \
		"vendor is 'GenuineIntel', this host's 'AuthenticAMD'"
else
	vendor 0x68747541 0x69746e65 0x444d4163 | refused "a guest of another vendor is refused" \
		"vendor is 'AuthenticAMD', this host's"
fi
phys=$(echo "$own" | awk '$2 == "0x80000008" && $3 == 0 { print $4 }')
if [ -n "$phys" ]; then
	alter 0x80000008 0 eax "=" $(((phys & ~0xff) | ((phys & 0xff) + 1))) |
		refused "a guest with a wider physical address than this host's is refused" \
			"physical address width is $(((phys & 0xff) + 1)) bits"
else
	fail "the VMM reports leaf 0x80000008" "no such leaf in its status"
fi
t=$(alter 0xd 0 eax "|" 0x7)
t=$(own=$t alter 0xd 2 eax "=" 0x100)
own=$t alter 0xd 2 ebx "=" 0x300 | refused "an AVX state at another XSAVE offset is refused" \
	"XSAVE state component 2 \(AVX\) is 256 bytes at offset 768"
own=$(alter 0x1 0 ecx "|" $((1 << 26))) alter 0xd 0 ecx "=" 0x100000 |
	refused "an XSAVE area larger than this host's KVM saves is refused" \
		"XSAVE area is 1048576 bytes"

# The CPU model the guest was started with must be this VM's.
{ echo "cpu-model x86-64-v2 1"; echo "$own"; } |
	refused "a guest of another CPU model is refused, saying how to start the destination" \
		"runs CPU model x86-64-v2 version 1, this VM host version 1: start kvmmig-vm --incoming --cpu x86-64-v2"
{ echo "cpu-model x86-64-v9 1"; echo "$own"; } |
	refused "a CPU model this VMM does not know is refused" "does not know: upgrade kvmmig"
{ echo "cpu-model host 1"; echo "$own"; } | accepted "the same CPU model passes"

# TSC: an invariant TSC at another rate needs TSC scaling here.
khz=$(echo "$status" | sed -n 's/^tsc-khz //p')
scaling=$(echo "$status" | sed -n 's/^tsc-scaling //p')
if [ -z "$khz" ] || [ -z "$scaling" ]; then
	fail "status says the TSC rate and whether KVM scales it" "tsc-khz '$khz', tsc-scaling '$scaling'"
else
	pass "status says the TSC rate and whether KVM scales it ($khz kHz, scaling $scaling)"
	invtsc=$(alter 0x80000007 0 edx "|" 0x100)
	if [ "$scaling" = no ]; then
		{ echo "tsc-khz $((khz / 2))"; echo "$invtsc"; } |
			refused "an invariant-TSC guest at another rate is refused without TSC scaling" \
				"promised an invariant TSC at $((khz / 2)) kHz, this host's runs at $khz kHz"
	else
		{ echo "tsc-khz $((khz / 2))"; echo "$invtsc"; } |
			accepted "an invariant-TSC guest at another rate passes where KVM scales the TSC"
	fi
	{ echo "tsc-khz $khz"; echo "$invtsc"; } | accepted "an invariant-TSC guest at this host's rate passes"
	{ echo "tsc-khz $((khz / 2))"; alter 0x80000007 0 edx "=" 0; } |
		accepted "a guest not promised an invariant TSC passes at another rate"
fi

# Malformed text is refused, not skimmed for lines that parse.
printf 'cpuid x\n' | refused "a garbage cpuid line is refused" "malformed CPUID text: line 1"
{ echo "$own"; echo "hello world"; } | refused "an unknown line is refused" \
	"line $(($(echo "$own" | wc -l) + 1)): not a cpuid, cpu-model or tsc-khz line"
{ echo "$own"; echo "cpuid 0x12345678 0 0x0 0x0 0x0 0x0"; } | refused "a leaf out of range is refused" \
	"CPUID leaf out of range"
{ echo "$own"; echo "cpuid 0xd 300 0x0 0x0 0x0 0x0"; } | refused "a subleaf out of range is refused" \
	"CPUID leaf out of range"
{ echo "$own"; echo "$own" | head -n 1; } | refused "the same leaf twice is refused" "the same CPUID leaf twice"
{ echo "$own"; echo "cpuid 0x1 0 0x1 0x2 0x3"; } | refused "a short cpuid line is refused" "not 'cpuid 0xFUNCTION"
{ echo "$own"; echo "cpuid 0x2 7 0x1 0x2 0x3 0x123456789"; } | refused "a register over 32 bits is refused" \
	"not 'cpuid 0xFUNCTION"
for i in $(seq 0 299); do printf 'cpuid 0x%x 0 0x0 0x0 0x0 0x0\n' $((0x40000000 + i % 256 + (i / 256) * 0x40000000)); done |
	refused "more leaves than a state blob holds are refused" "more than 256 CPUID leaves"
printf '' | refused "no CPUID at all is refused" "no CPUID leaf 0 or 1"
{ echo "cpu-model host 1"; echo "cpu-model host 1"; echo "$own"; } | refused "two cpu-model lines are refused" \
	"a second cpu-model line"
{ echo "tsc-khz lots"; echo "$own"; } | refused "a bad tsc-khz is refused" "not 'tsc-khz KHZ'"

vm_ctl dst quit >/dev/null
finish
