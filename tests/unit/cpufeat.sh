#!/bin/bash
# cpufeat.sh: builds and runs the CPUID feature-word and CPU-model unit test (no KVM, fast).
set -u
cd "$(dirname "$0")/../.."
out=build/tests/cpufeat_test
mkdir -p build/tests
if ! gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi -o "$out" tests/unit/cpufeat_test.c \
	user/common/cpufeat.c user/common/cpumodel.c 2>build/tests/cpufeat_test.log; then
	echo "FAIL: cpufeat: unit test builds: $(head -n 3 build/tests/cpufeat_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
