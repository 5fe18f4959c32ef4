#!/bin/bash
# digest.sh: builds and runs the guest-memory digest unit test (userspace, fast).
set -u
cd "$(dirname "$0")/../.."
out=build/tests/digest_test
mkdir -p build/tests
if ! gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Iinclude/uapi -o "$out" tests/unit/digest_test.c user/vmm/digest.c 2>build/tests/digest_test.log; then
	echo "FAIL: digest: unit test builds: $(head -n 3 build/tests/digest_test.log | tr '\n' ' ')"
	exit 1
fi
"$out"
