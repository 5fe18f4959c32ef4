#!/bin/bash
# featmsr.sh: builds and runs the feature-MSR check's unit test (user/vmm/featmsr.c against fake
# Intel hosts; no KVM, fast): PERF_CAPABILITIES and the VMX capability MSRs by KVM's own rules.
set -u
cd "$(dirname "$0")/../.."
out=build/tests/featmsr_test
mkdir -p build/tests
if ! gcc -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi -fsanitize=address,undefined \
	-o "$out" tests/unit/featmsr_test.c 2>build/tests/featmsr_test.log; then
	echo "FAIL: featmsr: unit test builds: $(grep -m3 error build/tests/featmsr_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
